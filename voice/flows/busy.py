"""The overflow flow: every line is busy, so say so politely and hang up (no recording, no questions)."""

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


class BusyFlow:
    def __init__(self, announcement: str):
        self.announcement = announcement
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
