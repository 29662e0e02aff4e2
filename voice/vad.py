"""Voice activity detection: Silero VAD (the ONNX file shipped in PyPI `silero-vad`) run by sherpa-onnx.

`silero-vad` is installed with --no-deps (its torch dependency is 5 GB and unused), so the package is
located, never imported: importing it would import torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

RATE = 16000
MODEL_FILE = "silero_vad.onnx"
SILENCE_RMS = 50  # about -56 dBFS: line noise, far below any speech on a phone line
QUIET_RESET_FRAMES = 10  # 200 ms below that resets the model's state


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

    def __init__(self, threshold: float = 0.5):
        import sherpa_onnx

        config = sherpa_onnx.VadModelConfig()
        config.silero_vad.model = str(model_path())
        config.silero_vad.threshold = threshold
        config.silero_vad.min_silence_duration = 0.1
        config.silero_vad.min_speech_duration = 0.1
        config.sample_rate = RATE
        config.num_threads = 1
        self.model = sherpa_onnx.VadModel.create(config)
        self.window = self.model.window_size()
        self._buffer = np.zeros(0, dtype=np.float32)
        self.speaking = False
        self._quiet_frames = QUIET_RESET_FRAMES

    def reset(self) -> None:
        self.model.reset()
        self._buffer = np.zeros(0, dtype=np.float32)
        self.speaking = False
        self._quiet_frames = QUIET_RESET_FRAMES  # counting on from here does not reset again

    def is_speech(self, frame: bytes) -> bool:
        """Feed one frame (16 kHz 16-bit mono); the decision of the latest complete window. After 200 ms
        quieter than any speech the model is reset and skipped until sound comes back: a caller is
        mostly silent, listening, and the model is most of a call's CPU."""
        pcm = np.frombuffer(frame, dtype=np.int16)
        quiet = not len(pcm) or float(np.sqrt(np.mean(pcm.astype(np.float32) ** 2))) < SILENCE_RMS
        if quiet:
            if self._quiet_frames >= QUIET_RESET_FRAMES:
                return False
            self._quiet_frames += 1
            if self._quiet_frames == QUIET_RESET_FRAMES:
                self.reset()
                return False
        else:
            self._quiet_frames = 0
        self._buffer = np.concatenate((self._buffer, pcm.astype(np.float32) / 32768.0))
        while len(self._buffer) >= self.window:
            self.speaking = bool(self.model.is_speech(self._buffer[: self.window]))
            self._buffer = self._buffer[self.window:]
        return self.speaking
