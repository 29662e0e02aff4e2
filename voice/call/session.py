"""One call's media logic (sans-io): turns caller audio, keys, synthesised prompts, recognition results,
the answers to requests and the passing of time into flow events, and the flow's commands into
effects for the SIP adapter.

The adapter (voice/sip) supplies each 20 ms frame with the VAD's decision, the digits, the prompt
audio it synthesised, the transcripts and request answers it got back, always with the current
monotonic time; it carries out the effects this returns. Nothing here reads a clock, a socket or a
thread, so every timing rule (barge-in, no-input timeouts, the inter-digit timeout, the flow's own
timers) is tested by feeding values.
"""

from __future__ import annotations

import datetime
import itertools
import logging
from collections import deque
from dataclasses import dataclass, replace

from voice.asr import Transcript
from voice.call.dtmf import DigitCollector
from voice.call.endpointer import Endpointer, SpeechStarted, Utterance, VoiceHeard
from voice.call.events import (
    Answer,
    CallEnded,
    CallStarted,
    Command,
    DigitsEntered,
    Event,
    HangUp,
    Listen,
    NoInput,
    PromptFinished,
    RecordCall,
    Replied,
    Say,
    SpeakSlower,
    SpeechRecognized,
    Transfer,
    TransferConnected,
    TransferFailed,
    UnknownCommand,
    Wake,
    Woken,
)
from voice.call.requests import Request

RATE = 16000
BYTES_PER_SECOND = RATE * 2
log = logging.getLogger(__name__)

BARGE_IN_AFTER_S = 0.3  # speech barges in once the prompt has been heard this long (before it: see asked_at)
PLAYOUT_MARGIN_S = 0.06  # the frames queued in the bridge still play after the last one is handed over

# --- effects: what the adapter must do --------------------------------------------------------------


@dataclass(frozen=True)
class AnswerCall:
    pass


@dataclass(frozen=True)
class EarlyMedia:
    """Answer 183 with media (the trunk's early media): the caller hears announcements free of charge
    until the flow first needs them (AnswerCall follows) or ends the call unanswered."""


@dataclass(frozen=True)
class Synthesize:
    prompt_id: int
    text: str
    audio: str = ""  # an uploaded file to play instead (the text if it cannot be read)


@dataclass(frozen=True)
class Play:
    prompt_id: int
    pcm: bytes  # 16 kHz 16-bit mono
    append: bool = False  # the next piece of the prompt already playing: queue it behind


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class Recognize:
    request_id: int
    pcm: bytes  # 16 kHz 16-bit mono
    expected: tuple[str, ...] = ()  # the answers to score (Listen.expected)


@dataclass(frozen=True)
class EndCall:
    reason: str


@dataclass(frozen=True)
class StartTransfer:
    target: str


@dataclass(frozen=True)
class SlowDown:
    """Speak every prompt from now on more slowly."""


@dataclass(frozen=True)
class StartRecording:
    """Record the call from now on, unless it is recorded already."""


@dataclass(frozen=True)
class Perform:
    """Carry out a request (voice/services.py); hand its result back with replied()."""

    request: Request


Effect = (AnswerCall | EarlyMedia | Synthesize | Play | StopPlayback | Recognize | EndCall | StartTransfer | Perform | SlowDown
          | StartRecording)

# prompts the engine itself says, never reported to the flow as PromptFinished
ANNOUNCEMENT_ID = -1  # the recording announcement
TRANSFER_FAILED_ID = -2  # transfer_failed_announcement, then TransferFailed goes to the flow


class CallSession:
    def __init__(self, flow, *, call_id: str, dialled: str, caller: str, started_at: datetime.datetime,
                 announcement: str = "", endpointer: Endpointer | None = None, ring_s: float = 0.0,
                 transfer_failed_announcement: str = "", speech: bool = True, early_media: bool = False):
        self.flow = flow
        self.call_id, self.dialled, self.caller, self.started_at = call_id, dialled, caller, started_at
        self.announcement = announcement.strip()
        self.ring_s = ring_s  # the caller hears ringing this long before the engine answers
        self.ringing_until: float | None = None
        self.early_media = early_media  # announcements before the answer, until the caller is needed
        self.early = False  # 183 sent: the caller hears us, the call is not answered yet
        self.speech = speech  # False: a key-press-only line, whose audio never reaches the recogniser
        self.endpointer = endpointer or Endpointer()
        self.digits = DigitCollector()
        self.pending: deque[Command] = deque()
        self.answered = False
        self.over = False
        self.end_reason = ""
        self._requests = itertools.count(1)
        # what the call is doing now: at most one prompt and one listen at a time
        self.saying: Say | None = None
        self.playing_until: float | None = None  # None while the prompt is being synthesised
        self.prompt_complete = False  # every piece of the prompt has arrived
        self.requested: set[int] = set()  # prompts asked for ahead of their turn
        self.prefetched: dict[int, list[tuple[bytes, bool]]] = {}  # their pieces, until their turn
        self.listening: Listen | None = None
        self.listen_deadline = 0.0
        self.recognizing: int | None = None  # request id awaited
        self.recognizing_by_level = False  # that utterance was loud but the VAD heard no voice in it
        self.recognizing_expected: tuple[str, ...] = ()  # the answers sent with it to be scored
        self.answered_at = 0.0  # monotonic: turns are placed on the recording from here
        self.spoken: tuple[float, float] = (0.0, 0.0)  # the utterance being recognised: its offset, length
        # when the latest prompt was first heard (None: not yet): speech that began before it is the
        # caller still answering the question before (「いいえ、……違います」), not an answer to this one
        self.asked_at: float | None = 0.0
        self.speech_began_at = 0.0
        self.transfer_failed_announcement = transfer_failed_announcement.strip()
        self.transferring: Transfer | None = None  # a transfer being placed: the flow waits
        self.failed_transfer: TransferFailed | None = None  # told to the flow after the announcement
        self.handed_over = False  # talking with the target (bridged): the flow is done with the call
        self.timers: dict[str, float] = {}  # the flow's Wake timers: name → when
        self.asked: set[int] = set()  # requests performed, their answers not yet delivered

    # --- inputs -------------------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        return self._deliver(CallStarted(self.call_id, self.dialled, self.caller, self.started_at), now)

    def audio(self, frame: bytes, is_speech: bool, now: float) -> list[Effect]:
        if self.over or not self.answered or self.transferring or self.handed_over or not self.speech:
            return []
        effects: list[Effect] = []
        for item in self.endpointer.feed(frame, is_speech):
            a_voice = isinstance(item, VoiceHeard) or (isinstance(item, SpeechStarted) and not item.by_level)
            if isinstance(item, SpeechStarted) or a_voice:
                # when it began: its voice, or for what only loudness started, its sound (noise may have
                # started the utterance long before the caller spoke)
                self.speech_began_at = now
            if a_voice and self.asked_at is not None and now - self.asked_at >= BARGE_IN_AFTER_S:
                effects += self._barge_in(now)
            if not isinstance(item, Utterance):
                continue
            if self.asked_at is None or self.speech_began_at < self.asked_at:
                log.info("call %s: speech that began before the question is not its answer", self.call_id)
            elif self.listening and self.recognizing is None:
                effects += self._recognize(item, self._place(item, now), self.listening.expected)
            elif (item.by_level and self.recognizing is None and self.saying is not None and self.saying.barge_in
                  and self.speech_began_at - self.asked_at >= BARGE_IN_AFTER_S
                  and (upcoming := next((c for c in self.pending if isinstance(c, Listen)), None)) is not None):
                # an answer the VAD did not hear, said over the prompt: recognised now, and if words are
                # heard in it, it cuts the prompt short then (a caller who said 「はい」 and heard the prompt
                # go on said it again, into the next question)
                effects += self._recognize(item, self._place(item, now), upcoming.expected)
        return effects

    def _place(self, utterance: Utterance, now: float) -> tuple[float, float]:
        """Where an utterance just finished is on the call's recording: its offset and length."""
        length = len(utterance.pcm) / BYTES_PER_SECOND
        return round(max(0.0, now - self.answered_at - length), 2), round(length, 2)

    def _recognize(self, utterance: Utterance, place: tuple[float, float], expected: tuple[str, ...]) -> list[Effect]:
        self.recognizing, self.recognizing_by_level, self.spoken = next(self._requests), utterance.by_level, place
        self.recognizing_expected = expected
        return [Recognize(self.recognizing, utterance.pcm, expected)]

    def digit(self, digit: str, now: float) -> list[Effect]:
        if self.over or not self.answered or self.transferring or self.handed_over:
            return []
        if self.recognizing_by_level:
            self.recognizing = None  # a key answers the question, not what loudness alone found
        effects = self._barge_in(now)
        entry = self.digits.digit(digit, now)
        if entry is not None:
            effects += self._entry(entry, now)
        return effects

    def prompt_ready(self, prompt_id: int, pcm: bytes, now: float, final: bool = True) -> list[Effect]:
        """A synthesised prompt, or one piece of it (a sentence: the first plays while the next is made)."""
        if prompt_id in self.prefetched:  # made ahead, for when its turn comes
            self.prefetched[prompt_id].append((pcm, final))
            return []
        if self.over or self.saying is None or self.saying.prompt_id != prompt_id:
            return []  # cut short by barge-in before it was ready
        self.prompt_complete = final
        seconds = len(pcm) / BYTES_PER_SECOND
        if self.playing_until is None:
            self.asked_at = now if self.asked_at is None else self.asked_at
            self.playing_until = now + seconds + PLAYOUT_MARGIN_S
            return [Play(prompt_id, pcm)]
        self.playing_until = max(self.playing_until, now + PLAYOUT_MARGIN_S) + seconds
        return [Play(prompt_id, pcm, append=True)]

    def recognized(self, request_id: int, transcript: Transcript, now: float) -> list[Effect]:
        if self.over or request_id != self.recognizing:
            return []  # a key press answered first: the late transcript is stale
        self.recognizing = None
        if self.recognizing_by_level and not transcript.failed and not transcript.text.strip():
            return []  # a noise, not a voice: the question goes on listening
        effects = self._barge_in(now) if self.listening is None else []  # said over the prompt: answers now
        if self.listening is None:
            return effects  # the flow went on without listening: nothing to answer
        self.listening = None
        offset, length = self.spoken
        scores = tuple(zip(self.recognizing_expected, transcript.scores, strict=True)) if transcript.scores else ()
        event = SpeechRecognized(transcript.text, transcript.confidence, transcript.alternatives, offset, length,
                                 transcript.failed, scores)
        return effects + self._deliver(event, now)

    def replied(self, request_id: int, result: object, now: float) -> list[Effect]:
        """The answer to a request this call performed (dropped after the call ended)."""
        if self.over or request_id not in self.asked:
            return []
        self.asked.discard(request_id)
        return self._deliver(Replied(request_id, result), now)

    def transfer_connected(self, now: float) -> list[Effect]:
        if self.over or self.transferring is None:
            return []
        target, self.transferring, self.handed_over = self.transferring.target, None, True
        self.flow.handle(TransferConnected(target))  # what it would say next is moot: the caller is gone
        self.pending.clear()
        return []

    def transfer_failed(self, reason: str, now: float) -> list[Effect]:
        if self.over or self.transferring is None:
            return []
        failed = TransferFailed(self.transferring.target, reason)
        self.transferring = None
        self.endpointer.reset()
        if not self.transfer_failed_announcement:
            return self._deliver(failed, now)
        self.failed_transfer = failed
        self.pending.appendleft(Say(self.transfer_failed_announcement, TRANSFER_FAILED_ID, barge_in=False))
        return self._run(now)

    def tick(self, now: float) -> list[Effect]:
        if self.over or self.transferring or self.handed_over:
            return []
        effects: list[Effect] = []
        if self.ringing_until is not None and now >= self.ringing_until:
            self.ringing_until = None
            effects += self._answer(now)
            effects += self._run(now)
        if (self.saying is not None and self.playing_until is not None and self.prompt_complete
                and now >= self.playing_until):
            effects += self._prompt_done(interrupted=False, now=now)
        entry = self.digits.tick(now)
        if entry is not None:
            effects += self._entry(entry, now)
        if (self.listening is not None and self.saying is None and self.recognizing is None
                and not self.endpointer.in_speech and not self.digits.buffer and now >= self.listen_deadline):
            self.listening = None
            effects += self._deliver(NoInput(), now)
        for name in [name for name, when in self.timers.items() if now >= when]:
            if self.timers.pop(name, None) is not None:  # an earlier Woken may have moved or stopped it
                effects += self._deliver(Woken(name), now)
        return effects

    def ended(self, reason: str, now: float) -> list[Effect]:
        """The call is gone (caller hung up, media timeout, engine shutdown): tell the flow, once."""
        if self.over:
            return []
        self.over = True
        self.end_reason = reason
        self.flow.handle(CallEnded(reason))
        return []

    # --- internals ----------------------------------------------------------------------------------

    def _answer(self, now: float) -> list[Effect]:
        self.answered, self.answered_at = True, now
        if self.announcement:
            self.pending.appendleft(Say(self.announcement, ANNOUNCEMENT_ID, barge_in=False))
        return [AnswerCall()]

    def _barge_in(self, now: float) -> list[Effect]:
        if self.saying is None or not self.saying.barge_in:
            return []
        return [StopPlayback(), *self._prompt_done(interrupted=True, now=now)]

    def _prompt_done(self, interrupted: bool, now: float) -> list[Effect]:
        said, self.saying, self.playing_until = self.saying, None, None
        if said.prompt_id == ANNOUNCEMENT_ID:
            return self._run(now)
        if said.prompt_id == TRANSFER_FAILED_ID:
            failed, self.failed_transfer = self.failed_transfer, None
            return self._deliver(failed, now)
        return self._deliver(PromptFinished(said.prompt_id, interrupted), now)

    def _entry(self, entry: DigitsEntered, now: float) -> list[Effect]:
        if self.listening is None:
            return []  # keys pressed when nothing was asked
        self.listening = None
        self.recognizing = None
        return self._deliver(replace(entry, offset_s=round(now - self.answered_at, 2)), now)

    def _deliver(self, event: Event, now: float) -> list[Effect]:
        if self.over:
            return []
        self.pending.extend(self.flow.handle(event))
        return self._run(now)

    def _run(self, now: float) -> list[Effect]:
        """Carry out queued commands until one has to wait (a prompt playing, a question asked)."""
        effects: list[Effect] = []
        while (self.pending and self.saying is None and self.listening is None and self.ringing_until is None
               and self.transferring is None and not self.over):
            command = self.pending.popleft()
            if self.early and not self.answered and _needs_the_caller(command, self.pending):
                self.pending.appendleft(command)
                effects += self._answer(now)  # the recording notice, if any, goes before it
                continue
            match command:
                case Answer() if not self.answered and self.early_media:
                    if not self.early:
                        self.early, self.answered_at = True, now
                        effects.append(EarlyMedia())
                case Answer() if not self.answered and self.ring_s > 0:
                    self.ringing_until = now + self.ring_s
                case Answer() if not self.answered:
                    effects += self._answer(now)
                case Answer():
                    pass  # answered already
                case Say():
                    self.saying, self.playing_until, self.prompt_complete = command, None, False
                    self.asked_at = None
                    upcoming = next((c for c in self.pending if isinstance(c, Listen)), None)
                    if upcoming is not None:
                        self._expect_keys(upcoming)  # keys may come during the prompt
                    if command.prompt_id not in self.requested:
                        effects.append(Synthesize(command.prompt_id, command.text, command.audio))
                    self.requested.discard(command.prompt_id)
                    for pcm, final in self.prefetched.pop(command.prompt_id, ()):
                        effects += self.prompt_ready(command.prompt_id, pcm, now, final)
                    # the prompt after this one is made while this one plays: no silence between them
                    following = next((c for c in self.pending if isinstance(c, Say)), None)
                    if following is not None and following.prompt_id not in self.requested:
                        self.requested.add(following.prompt_id)
                        self.prefetched[following.prompt_id] = []
                        effects.append(Synthesize(following.prompt_id, following.text, following.audio))
                case Listen():
                    self.listening = command
                    self.asked_at = now if self.asked_at is None else self.asked_at
                    self._expect_keys(command)
                    self.listen_deadline = now + command.timeout_s
                case Transfer():
                    self.transferring = command
                    self.digits.buffer = ""
                    effects.append(StartTransfer(command.target))
                case HangUp(reason=reason):
                    self.over = True
                    self.end_reason = reason
                    self.pending.clear()
                    effects.append(EndCall(reason))
                    self.flow.handle(CallEnded(reason))
                case Wake(name=name, after_s=after_s):
                    if after_s > 0:
                        self.timers[name] = now + after_s
                    else:
                        self.timers.pop(name, None)
                case Request():
                    self.asked.add(command.request_id)
                    effects.append(Perform(command))
                case SpeakSlower():
                    effects.append(SlowDown())
                case RecordCall():
                    effects.append(StartRecording())
                case _:
                    raise UnknownCommand(f"{type(self.flow).__name__} returned {command!r}, which is no command")
        return effects

    def _expect_keys(self, listen: Listen) -> None:
        self.digits.max_digits = listen.max_digits
        self.digits.terminator = listen.terminator
        self.digits.inter_digit_timeout_s = listen.inter_digit_timeout_s


def _needs_the_caller(command: Command, pending: deque[Command]) -> bool:
    """What an early-media call is answered for: a question, a transfer, a recording, or a prompt that
    leads to one (answered before the menu is read, so its keys count from its first word)."""
    asks = (Listen, Transfer, RecordCall)
    return isinstance(command, asks) or (isinstance(command, Say) and any(isinstance(c, asks) for c in pending))
