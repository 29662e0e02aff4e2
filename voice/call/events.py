"""The vocabulary between a call and its flow (sans-io, as mitmproxy's layers).

The SIP adapter (voice/sip) and the session (voice/call/session.py) turn what happens on a call into
Events and carry out the Commands a flow returns; flows never touch sockets, threads, audio devices,
the database or the clock, so they are tested by feeding events and reading commands
(tests/voice/playbook.py). A command with an answer (a booking, a look-up, an SMS) is a Request
(voice/call/requests.py): voice/services.py carries it out and its answer comes back as Replied.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

# --- events: what happened -------------------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    dialled: str  # the DID that selected the flow
    caller: str  # caller number as presented (may be empty or "anonymous")
    at: datetime.datetime  # when the call came in, in Asia/Tokyo


@dataclass(frozen=True)
class PromptFinished:
    prompt_id: int
    interrupted: bool = False  # barge-in: the caller spoke or pressed a key


@dataclass(frozen=True)
class DigitsEntered:
    digits: str  # a complete entry: ended by '#', by the entry's length, or by the inter-digit timeout
    ended_by: str  # "terminator" / "length" / "timeout"
    # where on the recording (seconds since the answer): for staff review, not what was entered
    offset_s: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class SpeechRecognized:
    text: str
    confidence: float
    alternatives: tuple[str, ...] = ()  # the recogniser's other hypotheses, best first
    # where on the recording (seconds since the answer) and how long: for staff review, not what was said
    offset_s: float = field(default=0.0, compare=False)
    duration_s: float = field(default=0.0, compare=False)
    failed: bool = False  # the recogniser could not be asked: the caller may have said anything
    # the answers the question expected (Listen.expected) with how much the audio speaks for each
    # (voice.asr.Transcript.scores); () when the recogniser cannot score
    scores: tuple[tuple[str, float], ...] = ()

    @property
    def hypotheses(self) -> tuple[str, ...]:
        return (self.text, *self.alternatives) if self.text else self.alternatives


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
class Woken:
    """A timer the flow set with Wake has run out."""

    name: str


@dataclass(frozen=True)
class Replied:
    """The answer to a Request (voice/call/requests.py): its result, or Refused with a reason."""

    request_id: int
    result: object


@dataclass(frozen=True)
class CallEnded:
    reason: str  # "caller_hangup" / "media_timeout" / "engine_hangup" / ...


Event = (CallStarted | PromptFinished | DigitsEntered | SpeechRecognized | NoInput | TransferConnected
         | TransferFailed | Woken | Replied | CallEnded)

# --- commands: what to do --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Say:
    """Speak text (synthesised and cached), or play an uploaded audio file (db/ivr_audio.py; the text is
    said instead if the file cannot be read); `barge_in` lets speech or a key cut it short."""

    text: str
    prompt_id: int
    barge_in: bool = True
    audio: str = ""


@dataclass(frozen=True)
class Listen:
    """Wait for speech or keys (both may come); NoInput after `timeout_s` of nothing. A key entry ends
    at `max_digits` keys, at `terminator` (none when empty) or after `inter_digit_timeout_s` without a
    key: a menu choice is 1 key, a date 4, a phone number 10-11 and #. `expected`: the answers a closed
    question expects, as callers say them; the recogniser scores each against what was said."""

    timeout_s: float = 6.0
    max_digits: int = 1
    terminator: str = "#"
    inter_digit_timeout_s: float = 3.0
    expected: tuple[str, ...] = ()


@dataclass(frozen=True)
class HangUp:
    reason: str


@dataclass(frozen=True)
class Transfer:
    """Hand the caller to a target named in transfer_targets; TransferConnected or TransferFailed follows."""

    target: str


@dataclass(frozen=True)
class Wake:
    """Woken(name) after `after_s` seconds; a Wake of the same name moves that timer, after_s <= 0
    stops it. Timers end with the call."""

    name: str
    after_s: float


@dataclass(frozen=True)
class RecordCall:
    """Record the call from now on (a transfer that must be recorded, on a line that does not record
    every call); nothing happens when it is recorded already or recording is off for the box."""


@dataclass(frozen=True)
class SpeakSlower:
    """The caller asked for slower speech: every prompt from now on is spoken more slowly."""


class UnknownCommand(TypeError):
    """A flow returned something that is no command: a bug to see, never to drop silently."""


Command = Answer | Say | Listen | HangUp | Transfer | Wake | SpeakSlower | RecordCall  # and every Request


@dataclass
class CallLog:
    """What a flow remembers of the call, for the call log: its path through the flow, its outcome, and
    for staff review the turns of a dialog (voice/calllog.py TURN_FIELDS: what was asked, heard or
    pressed, and what the flow made of it)."""

    path: list[str] = field(default_factory=list)
    outcome: str = ""
    turns: list[dict] = field(default_factory=list)
