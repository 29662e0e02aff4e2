"""Cutting the caller's audio into utterances (sans-io): frames with a voice-activity decision go in,
"speech started" (for barge-in) and finished utterances come out. Any VAD can supply the decision.

The VAD is not the only ear: Silero hears nothing at all in some quick answers (a high 「はい」 of 0.3 s,
Kokoro's jf_nezumi saying 「ええ」), which left callers unheard at every read-back. So a run of frames
clearly louder than the line's noise floor is an utterance too, marked `by_level`, if enough of it is
voiced (periodic at a voice's pitch, as vowels are and a bump, hiss or rustle is not). It never barges
in (a bump must not cut a prompt short) and the session keeps it only if the recogniser hears words."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

_PITCH_LAGS = np.arange(40, 201)  # samples at 16 kHz: 400 Hz down to 80 Hz


@dataclass(frozen=True)
class SpeechStarted:
    by_level: bool = False  # only loudness says so (no barge-in); VoiceHeard follows if the VAD agrees


@dataclass(frozen=True)
class VoiceHeard:
    """The VAD now hears a voice in an utterance that loudness alone had started: it may barge in."""


@dataclass(frozen=True)
class Utterance:
    pcm: bytes  # 16-bit mono at the frames' rate, with pre-roll and trailing silence
    cut: bool  # True when max_utterance_ms cut it (the caller was still speaking)
    by_level: bool = False  # the VAD never heard a voice in it: words only if the recogniser finds some


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
    # loud: a frame this many times the noise floor's RMS (about 10 dB; speech in 10 dB noise is 3.3) and
    # at least min_level (about -40 dBFS); the floor is the quietest frame of the last floor_ms
    level_ratio: float = 3.0
    min_level: float = 300.0
    floor_ms: int = 1500
    # voiced: the frame (with the one before) repeats itself at a lag of a voice's pitch period (80-400 Hz)
    # this much; vowels of a quick high 「はい」 in 10 dB noise 0.66-0.94, pink and white noise at most 0.56
    periodicity: float = 0.6
    min_voiced_by_level_ms: int = 100  # a quick 「はい」 in 10 dB noise has 120 ms of voiced frames

    def __post_init__(self):
        self._pre = deque(maxlen=max(1, self.pre_roll_ms // self.frame_ms))
        self._levels: deque[float] = deque(maxlen=max(1, self.floor_ms // self.frame_ms))
        self._last = b""
        self._periodic_in_run = 0  # voiced frames in the current run of loud ones
        self._speech_run = 0
        self._loud_run = 0
        self._silence_run = 0
        self._frames: list[bytes] | None = None  # None: not in an utterance
        self._voiced = 0
        self._by_level = False

    @property
    def in_speech(self) -> bool:
        return self._frames is not None

    def feed(self, frame: bytes, is_speech: bool) -> list[SpeechStarted | VoiceHeard | Utterance]:
        out: list[SpeechStarted | VoiceHeard | Utterance] = []
        loud = self._loud(frame)
        periodic = loud and self._periodic(frame)
        self._last = frame
        self._speech_run = self._speech_run + 1 if is_speech else 0
        self._loud_run = self._loud_run + 1 if loud else 0
        self._periodic_in_run = self._periodic_in_run + periodic if loud else 0
        if self._frames is None:
            self._pre.append(frame)
            by_voice = self._speech_run * self.frame_ms >= self.start_ms
            if by_voice or self._loud_run * self.frame_ms >= self.start_ms:
                self._frames = list(self._pre)
                self._by_level = not by_voice
                self._voiced = self._speech_run if by_voice else self._periodic_in_run
                self._silence_run = 0
                self._pre.clear()
                out.append(SpeechStarted(by_level=self._by_level))
            return out
        self._frames.append(frame)
        if self._by_level and self._speech_run * self.frame_ms >= self.start_ms:
            self._by_level = False
            out.append(VoiceHeard())
        if is_speech or (self._by_level and periodic):
            self._voiced += 1
        if is_speech or (self._by_level and loud):
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

    def _loud(self, frame: bytes) -> bool:
        """Clearly louder than the quietest frame of the last floor_ms (the line's own noise)."""
        pcm = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
        level = float(np.sqrt(np.mean(pcm * pcm))) if len(pcm) else 0.0
        self._levels.append(level)
        return level >= max(self.min_level, self.level_ratio * min(self._levels))

    def _periodic(self, frame: bytes) -> bool:
        """Voiced: the normalised autocorrelation of this frame and the one before peaks at a lag of a
        voice's pitch period (2.5-12.5 ms at 16 kHz)."""
        x = np.frombuffer(self._last + frame, dtype=np.int16).astype(np.float64)
        x -= x.mean()
        n = len(x)
        spectrum = np.fft.rfft(x, 2 * n)
        r = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
        lags = _PITCH_LAGS[n // 2 > _PITCH_LAGS]
        if r[0] <= 0 or not len(lags):
            return False
        return float(np.max(r[lags] / r[0] * n / (n - lags))) >= self.periodicity

    def _finish(self, cut: bool) -> list[Utterance]:
        frames, voiced, by_level = self._frames or [], self._voiced, self._by_level
        self._frames, self._voiced, self._speech_run, self._loud_run, self._silence_run = None, 0, 0, 0, 0
        self._by_level, self._periodic_in_run = False, 0
        if voiced * self.frame_ms < (self.min_voiced_by_level_ms if by_level else self.min_utterance_ms):
            return []
        return [Utterance(b"".join(frames), cut, by_level)]
