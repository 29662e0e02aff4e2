"""Cutting the caller's audio into utterances (sans-io): frames with a voice-activity decision go in,
"speech started" (for barge-in) and finished utterances come out. Any VAD can supply the decision."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SpeechStarted:
    pass


@dataclass(frozen=True)
class Utterance:
    pcm: bytes  # 16-bit mono at the frames' rate, with pre-roll and trailing silence
    cut: bool  # True when max_utterance_ms cut it (the caller was still speaking)


@dataclass
class Endpointer:
    frame_ms: int = 20
    start_ms: int = 100  # this much speech in a row starts an utterance and barges in (clicks and pops do not)
    end_silence_ms: int = 600  # this much silence ends it (a turn's latency starts with it)
    pre_roll_ms: int = 500  # audio kept from before the start, so the first syllable is not lost
    # a quick 「はい」 is 0.25-0.35 s, of which the VAD calls 0.15-0.3 s speech: 250 ms dropped it
    # (bench/bench_short_answers.py: 140 ms finds as many answers as 120 ms; starting sooner than
    # 100 ms found no more)
    min_utterance_ms: int = 140  # shorter bursts (a cough, line noise) are dropped
    max_utterance_ms: int = 30_000  # recognisers take at most 30 s segments

    def __post_init__(self):
        self._pre = deque(maxlen=max(1, self.pre_roll_ms // self.frame_ms))
        self._speech_run = 0
        self._silence_run = 0
        self._frames: list[bytes] | None = None  # None: not in an utterance
        self._voiced = 0

    @property
    def in_speech(self) -> bool:
        return self._frames is not None

    def feed(self, frame: bytes, is_speech: bool) -> list[SpeechStarted | Utterance]:
        out: list[SpeechStarted | Utterance] = []
        if self._frames is None:
            self._pre.append(frame)
            self._speech_run = self._speech_run + 1 if is_speech else 0
            if self._speech_run * self.frame_ms >= self.start_ms:
                self._frames = list(self._pre)
                self._voiced = self._speech_run
                self._silence_run = 0
                self._pre.clear()
                out.append(SpeechStarted())
            return out
        self._frames.append(frame)
        if is_speech:
            self._voiced += 1
            self._silence_run = 0
        else:
            self._silence_run += 1
        if self._silence_run * self.frame_ms >= self.end_silence_ms:
            out += self._finish(cut=False)
        elif len(self._frames) * self.frame_ms >= self.max_utterance_ms:
            out += self._finish(cut=True)
        return out

    def reset(self) -> None:
        """Forget what was heard (after a transfer attempt the caller's talk with nobody is not an answer)."""
        self.__post_init__()

    def flush(self) -> list[Utterance]:
        """The call ended: whatever was being said is an utterance if long enough."""
        return self._finish(cut=False) if self._frames is not None else []

    def _finish(self, cut: bool) -> list[Utterance]:
        frames, voiced = self._frames or [], self._voiced
        self._frames, self._voiced, self._speech_run, self._silence_run = None, 0, 0, 0
        if voiced * self.frame_ms < self.min_utterance_ms:
            return []
        return [Utterance(b"".join(frames), cut)]
