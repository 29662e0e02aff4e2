"""The overflow flow: every line is busy, so say so politely (voice_busy_announcement) and hang up
(no recording, no questions)."""

from __future__ import annotations

from voice.call.events import (
    Answer,
    CallEnded,
    CallLog,
    CallStarted,
    Command,
    Event,
    HangUp,
    PromptFinished,
    Say,
)
from voice.flows.base import FlowContext


class BusyFlow:
    kind = "ivr"
    can_transfer = False

    def __init__(self, context: FlowContext):
        self.announcement = context.settings.voice_busy_announcement
        self.log = CallLog(path=["busy"])

    def handle(self, event: Event) -> list[Command]:
        match event:
            case CallStarted():
                return [Answer(), Say(self.announcement, 1, barge_in=False)]
            case PromptFinished():
                self.log.outcome = "busy"
                return [HangUp("busy")]
            case CallEnded(reason=reason):
                self.log.outcome = self.log.outcome or reason
        return []
