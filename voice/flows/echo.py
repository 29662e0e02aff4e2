"""The demo flow on the demo DID: greet, listen, read back what was recognised or which keys were
pressed; 0 then # transfers to the `staff` target (transfer_targets); after two silences in a row,
say goodbye and hang up."""

from __future__ import annotations

import itertools

from voice.call.events import (
    Answer,
    CallEnded,
    CallLog,
    CallStarted,
    Command,
    DigitsEntered,
    Event,
    HangUp,
    Listen,
    NoInput,
    PromptFinished,
    Say,
    SpeechRecognized,
    Transfer,
    TransferConnected,
    TransferFailed,
)
from voice.flows.base import FlowContext

MAX_SILENCES = 2
MIN_CONFIDENCE = 0.35
STAFF_KEY = "0"
STAFF_TARGET = "staff"


def spoken_digits(digits: str) -> str:
    names = {"*": "こめ", "#": "シャープ"}
    return "、".join(names.get(d, d) for d in digits) or "シャープ"


class EchoFlow:
    kind = "ai"  # speech recognition answers the caller (metered apart from key-press-only calls)
    can_transfer = True  # "staff" puts the caller through

    def __init__(self, context: FlowContext):
        self.context = context
        self.log = CallLog()
        self._ids = itertools.count(1)
        self.silences = 0
        self.ending = False

    def _say(self, key: str, **values) -> Say:
        self.log.path.append(key)
        return Say(self.context.prompts[f"echo.{key}"].format(**values), next(self._ids))

    def handle(self, event: Event) -> list[Command]:
        match event:
            case CallStarted():
                return [Answer(), self._say("greeting"), Listen(max_digits=8)]
            case SpeechRecognized(text=text, confidence=confidence) if text.strip() and confidence >= MIN_CONFIDENCE:
                self.silences = 0
                return [self._say("heard", text=text.strip()), Listen(max_digits=8)]
            case SpeechRecognized():
                self.silences = 0
                return [self._say("not_understood"), Listen(max_digits=8)]
            case DigitsEntered(digits=digits) if digits == STAFF_KEY:
                self.silences = 0
                return [self._say("transfer"), Transfer(STAFF_TARGET)]
            case TransferConnected():
                self.log.path.append("transferred")
                self.log.outcome = "transferred"
                return []
            case TransferFailed(reason=reason):
                self.log.path.append(f"transfer_{reason}")
                return [self._say("after_transfer"), Listen(max_digits=8)]
            case DigitsEntered(digits=digits):
                self.silences = 0
                return [self._say("digits", digits=spoken_digits(digits)), Listen(max_digits=8)]
            case NoInput():
                self.silences += 1
                if self.silences >= MAX_SILENCES:
                    self.ending = True
                    self.log.outcome = "no_input"
                    return [self._say("goodbye")]
                return [self._say("no_input"), Listen(max_digits=8)]
            case PromptFinished() if self.ending:
                return [HangUp("no_input")]
            case CallEnded(reason=reason):
                self.log.outcome = self.log.outcome or reason
                return []
        return []
