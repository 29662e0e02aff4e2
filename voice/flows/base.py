"""What every flow is: a sans-io state machine built for one call with its context (the phone line,
the time the call came in, the settings), turning events into commands (voice/call/events.py)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from db.flows import Program
from voice import prompts
from voice.call.events import CallLog, Command, Event


@dataclass(frozen=True)
class Line:
    """A phone line as a call sees it (db PhoneLine, read when the call comes in)."""

    did: str
    flow: str
    label: str = ""
    tts_engine: str = "openjtalk"
    tts_voice: str = ""
    tts_speed: float = 1.0
    tts_volume: float = 0.7
    record: bool = True
    mode: str = "ai"  # "dtmf_only": the line's calls never reach speech recognition


@dataclass(frozen=True)
class FlowContext:
    call_id: str  # the SIP Call-ID: with a dialog step, the idempotency key of what the call books
    line: Line
    caller: str  # the caller's number as presented, "" when withheld
    started_at: datetime.datetime  # in Asia/Tokyo
    settings: object  # appliance.settings.Settings
    prompts: Mapping[str, str] = field(default_factory=prompts.defaults)  # "section.key" → what is said
    program: Program | None = None  # an IVR line's published flow graph, taken when the call came in


class Flow(Protocol):
    kind: str  # "ai" (recognises speech) or "ivr" (keys only): billed apart
    log: CallLog
    can_transfer: bool  # may put the caller through to staff: the worker keeps a call place for that leg

    def handle(self, event: Event) -> list[Command]: ...
