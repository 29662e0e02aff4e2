"""The vocabulary between the SIP adapter and the call logic (sans-io, as mitmproxy's layers).

The adapter (voice/sip.py) turns what happens on a call into Events and carries out the Commands a
flow returns; flows never touch sockets, threads, audio devices or the clock, so they are tested by
feeding events and reading commands (tests/voice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- events: what happened -------------------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    dialled: str  # the DID that selected the flow
    caller: str  # caller number as presented (may be empty or "anonymous")


@dataclass(frozen=True)
class PromptFinished:
    prompt_id: int
    interrupted: bool = False  # barge-in: the caller spoke or pressed a key


@dataclass(frozen=True)
class DigitsEntered:
    digits: str  # a complete entry: ended by '#', by the entry's length, or by the inter-digit timeout
    ended_by: str  # "terminator" / "length" / "timeout"


@dataclass(frozen=True)
class SpeechRecognized:
    text: str
    confidence: float
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoInput:
    """The caller said and pressed nothing for the wait the flow asked for."""


@dataclass(frozen=True)
class TransferConnected:
    """The caller now talks with the transfer target (bridged) or was handed over (blind)."""

    target: str


@dataclass(frozen=True)
class TransferFailed:
    """The target was busy, did not answer, or could not be called; the caller is still on the line and
    has heard transfer_failed_announcement."""

    target: str
    reason: str  # "busy" / "no_answer" / "failed" / "unknown_target"


@dataclass(frozen=True)
class CallEnded:
    reason: str  # "caller_hangup" / "media_timeout" / "engine_hangup" / ...


Event = (CallStarted | PromptFinished | DigitsEntered | SpeechRecognized | NoInput | TransferConnected
         | TransferFailed | CallEnded)

# --- commands: what to do --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Say:
    """Speak text (synthesised and cached); `barge_in` lets speech or a key cut it short."""

    text: str
    prompt_id: int
    barge_in: bool = True


@dataclass(frozen=True)
class Listen:
    """Wait for speech or keys (both may come); NoInput after `timeout_s` of nothing."""

    timeout_s: float = 6.0
    max_digits: int = 1
    expected: tuple[str, ...] = ()  # the closed set of answers the question expects, if any


@dataclass(frozen=True)
class HangUp:
    reason: str


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a target named in transfer_targets; TransferConnected or TransferFailed follows."""

    target: str


Command = Answer | Say | Listen | HangUp | Transfer


@dataclass
class CallLog:
    """What a flow remembers of the call, for the call log (path through the flow, outcome)."""

    path: list[str] = field(default_factory=list)
    outcome: str = ""
