"""Transfers without SIP: a target name (db/targets.py: the table, and transfer_targets, whose syntax
appliance/settings.py checks at load) becomes the SIP URI to call; TransferAttempt decides each step of one transfer (bridged or
blind, the timeout, busy or unanswered targets) as actions the SIP adapter carries out."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.settings import SIP_URI, transfer_via_host
from db import targets

BUSY = frozenset({486, 600, 603})  # how a failed transfer leg ended, by its final SIP status
NO_ANSWER = frozenset({408, 480, 487})


def target_uri(settings, name: str) -> str | None:
    """The SIP URI to call for a target name, or None when no such target is configured."""
    target = targets.address(name, settings.transfer_targets)
    if target is None or SIP_URI.fullmatch(target):
        return target
    via = transfer_via_host(settings.transfer_via, settings.sip_trunk_mode, settings.sip_registrar)
    return f"sip:{target.replace('-', '')}@{via}"


def failure_reason(status: int) -> str:
    return "busy" if status in BUSY else "no_answer" if status in NO_ANSWER else "failed"


def admits(places: int, in_use: int, legs_promised: int, can_transfer: bool) -> bool:
    """Whether a worker with `places` call places takes one more call. A bridged transfer calls the
    target from the caller's worker, so every call that may be put through keeps a place for that leg
    (`legs_promised`: such calls not talking to a target yet): otherwise two transfers on a full worker
    leave one to fall back to REFER, which trunks and phones often refuse. Refused, the caller goes to
    the next worker (Kamailio's failover on 486)."""
    return in_use + legs_promised + (2 if can_transfer else 1) <= places


# --- one transfer of a call (sans-io): what the adapter must do, and what the call's session hears ---

@dataclass(frozen=True)
class CallTarget:
    """Bridged: call the target through Kamailio while the caller hears the ringback tone."""

    uri: str


@dataclass(frozen=True)
class ReferCaller:
    """Blind: ask the caller's side (REFER) to call the target itself."""

    uri: str


@dataclass(frozen=True)
class CancelTarget:
    """Stop ringing the target (CANCEL); its end comes back as target_ended."""


@dataclass(frozen=True)
class EndTarget:
    """The caller is gone: hang up the call to the target too."""


@dataclass(frozen=True)
class EndCaller:
    reason: str  # "transferred" (handed over by REFER) / "transfer_ended" (the target hung up)


@dataclass(frozen=True)
class Connected:
    """The caller now talks with the target (session.transfer_connected)."""


@dataclass(frozen=True)
class Failed:
    """The transfer did not happen (session.transfer_failed): the caller, still on the line, hears why."""

    reason: str  # "unknown_target" / "failed" / "busy" / "no_answer"


Action = CallTarget | ReferCaller | CancelTarget | EndTarget | EndCaller | Connected | Failed


class TransferAttempt:
    """One transfer: bridged (the worker calls the target and joins the calls, the recording going on)
    or blind (REFER). A bridged transfer needs a free call place; without one it falls back to blind.
    Unanswered within timeout_s: bridged CANCELs the target, blind gives up."""

    def __init__(self, uri: str | None, mode: str, timeout_s: float, now: float, *, place_free: bool):
        self.uri = uri
        self.mode = "blind" if mode == "bridged" and not place_free else mode
        self.deadline = now + timeout_s
        self.state = "ringing"  # → "talking" (connected) or "over" (failed, ended)
        self.cancelled = False  # we gave up on an unanswered target
        self.target_called = False  # bridged: a call to the target exists until target_ended

    @property
    def fell_back(self) -> bool:
        return self.mode == "blind" and self.uri is not None

    def start(self) -> list[Action]:
        if self.uri is None:
            return self._over("unknown_target")
        if self.mode == "blind":
            return [ReferCaller(self.uri)]
        self.target_called = True
        return [CallTarget(self.uri)]

    def could_not_place(self) -> list[Action]:
        self.target_called = False
        return self._over("failed")

    def tick(self, now: float) -> list[Action]:
        if self.state != "ringing" or now < self.deadline:
            return []
        if self.mode == "blind":
            return self._over("no_answer")  # the caller's side never reported an answer
        if self.cancelled:
            return []
        self.cancelled = True
        return [CancelTarget()]

    def refer_reported(self, status: int, final: bool) -> list[Action]:
        """NOTIFY from the caller's side on the call it placed (blind)."""
        if self.mode != "blind" or self.state != "ringing" or not final:
            return []
        if 200 <= status < 300:
            self.state = "talking"
            return [Connected(), EndCaller("transferred")]
        return self._over(failure_reason(status))

    def target_answered(self) -> list[Action]:
        if self.state != "ringing":
            return []
        self.state = "talking"
        return [Connected()]

    def target_ended(self, status: int) -> list[Action]:
        self.target_called = False
        if self.state == "talking":
            self.state = "over"
            return [EndCaller("transfer_ended")]
        if self.state == "over":
            return []
        return self._over("no_answer" if self.cancelled else failure_reason(status))

    def caller_ended(self) -> list[Action]:
        self.state = "over"
        return [EndTarget()] if self.target_called else []

    def _over(self, reason: str) -> list[Action]:
        self.state = "over"
        return [Failed(reason)]
