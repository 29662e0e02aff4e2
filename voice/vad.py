"""Voice activity detection: Silero VAD (the ONNX file shipped in PyPI `silero-vad`) run by sherpa-onnx.

`silero-vad` is installed with --no-deps (its torch dependency is 5 GB and unused), so the package is
located, never imported: importing it would import torch.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from pathlib import Path

import numpy as np

RATE = 16000
MODEL_FILE = "silero_vad.onnx"
SILENCE_RMS = 50  # about -56 dBFS: line noise, far below any speech on a phone line
QUIET_RESET_FRAMES = 10  # 200 ms below that resets the model's state
# when sound comes back the model first hears this much of the quiet before it: right after a reset,
# straight into speech, Silero's state is cold and a short answer (「はい」) was over before it said so
# (200 ms of priming still missed some; 500 ms costs ~14 windows once per pause)
PRIME_FRAMES = 25
# Tuned on short answers over μ-law in noise (bench/bench_short_answers.py): Silero gives a quick 「はい」
# or 「ええ」 (0.3 s) only 0.3-0.6, so 0.5 held for 0.1 s missed it; 0.35 for 0.05 s finds 97% of answers
# and no more of noise alone (what noise lets through, the filters and the dialog's closed sets refuse)
THRESHOLD = 0.35  # speech probability that starts speech (it goes on while above THRESHOLD - 0.15)
MIN_SPEECH_S = 0.05  # above the threshold this long before the VAD says speech
MIN_SILENCE_S = 0.1  # and below it this long before it says silence again


class VadProblem(Exception):
    pass


def model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise VadProblem("the Silero VAD model is missing: pip install --no-deps silero-vad (make run does)")
    path = Path(spec.submodule_search_locations[0]) / "data" / MODEL_FILE
    if not path.exists():
        raise VadProblem(f"{path} is missing: reinstall silero-vad")
    return path


class SileroVad:
    """Per-frame speech decisions for one call at a time (reset() between calls)."""

    def __init__(self, threshold: float = THRESHOLD, min_speech_s: float = MIN_SPEECH_S,
                 min_silence_s: float = MIN_SILENCE_S):
        import sherpa_onnx

        config = sherpa_onnx.VadModelConfig()
        config.silero_vad.model = str(model_path())
        config.silero_vad.threshold = self.threshold = threshold
        config.silero_vad.min_silence_duration = min_silence_s
        config.silero_vad.min_speech_duration = min_speech_s
        config.sample_rate = RATE
        config.num_threads = 1
        self.model = sherpa_onnx.VadModel.create(config)
        self.window = self.model.window_size()
        self._buffer = np.zeros(0, dtype=np.float32)
        self.speaking = False
        self._quiet_frames = QUIET_RESET_FRAMES
        self._quiet: deque[np.ndarray] = deque(maxlen=PRIME_FRAMES)  # the latest skipped frames

    def reset(self) -> None:
        self.model.reset()
        self._buffer = np.zeros(0, dtype=np.float32)
        self.speaking = False
        self._quiet_frames = QUIET_RESET_FRAMES  # counting on from here does not reset again
        self._quiet = deque(maxlen=PRIME_FRAMES)

    def is_speech(self, frame: bytes) -> bool:
        """Feed one frame (16 kHz 16-bit mono); the decision of the latest complete window. After 200 ms
        quieter than any speech the model is reset and skipped until sound comes back: a caller is
        mostly silent, listening, and the model is most of a call's CPU. When sound comes back the
        model hears the last PRIME_FRAMES of the quiet first (a few windows, once per pause)."""
        pcm = np.frombuffer(frame, dtype=np.int16)
        quiet = not len(pcm) or float(np.sqrt(np.mean(pcm.astype(np.float32) ** 2))) < SILENCE_RMS
        samples = pcm.astype(np.float32) / 32768.0
        if quiet:
            if self._quiet_frames >= QUIET_RESET_FRAMES:
                self._quiet.append(samples)
                return False
            self._quiet_frames += 1
            if self._quiet_frames == QUIET_RESET_FRAMES:
                self.reset()
                return False
        else:
            if self._quiet_frames >= QUIET_RESET_FRAMES and self._quiet:  # the model was skipped: prime it
                self._buffer = np.concatenate([self._buffer, *self._quiet])
                self._quiet.clear()
            self._quiet_frames = 0
        self._buffer = np.concatenate((self._buffer, samples))
        while len(self._buffer) >= self.window:
            self.speaking = bool(self.model.is_speech(self._buffer[: self.window]))
            self._buffer = self._buffer[self.window:]
        return self.speaking
