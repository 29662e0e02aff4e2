"""Call recordings: both directions mixed, kept as 8 kHz μ-law (phone quality, 8 KB/s) and encrypted
at rest in AES-GCM chunks (db/files.py). Read back (a WAV file, a segment of one) by db/recordings.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import signal

from db.files import EncryptedFileWriter, read_file
from db.recordings import BYTES_PER_SECOND, to_wav
from db.recordings import RATE as RATE_STORED
from voice import audio

__all__ = ["BYTES_PER_SECOND", "RATE_IN", "RATE_STORED", "SUFFIX", "TRANSCRIPT_SUFFIX", "CallRecorder", "Downsampler",
           "load_transcript", "save_transcript", "to_wav"]

RATE_IN = 16000
SUFFIX = ".ulaw.enc"
TRANSCRIPT_SUFFIX = ".heard.enc"


class Downsampler:
    """16 kHz → 8 kHz frame by frame, filter state carried across frames so the joins are clean."""

    def __init__(self):
        self.taps = signal.firwin(63, 3600, fs=RATE_IN)
        self.state = np.zeros(len(self.taps) - 1)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        filtered, self.state = signal.lfilter(self.taps, 1.0, samples.astype(np.float64), zi=self.state)
        return filtered[::2]


class CallRecorder:
    """Mixes what the caller sent with what the engine played, 20 ms at a time, into an encrypted file.
    The file appears under its final name only when the call ends (see EncryptedFileWriter)."""

    def __init__(self, path: Path, cipher):
        self.path = Path(path)
        self.writer = EncryptedFileWriter(self.path, cipher).__enter__()
        self.down = Downsampler()
        self.bytes = 0

    def add(self, heard: bytes, played: bytes | None) -> None:
        mixed = np.frombuffer(heard, dtype=np.int16).astype(np.int32)
        if played:
            other = np.frombuffer(played, dtype=np.int16)
            n = min(len(mixed), len(other))
            mixed[:n] += other[:n]
        narrow = self.down(np.clip(mixed, -32768, 32767))
        data = audio.ulaw_encode(np.clip(np.round(narrow), -32768, 32767).astype(np.int16))
        self.writer.write(data)
        self.bytes += len(data)

    @property
    def seconds(self) -> float:
        return self.bytes / BYTES_PER_SECOND

    def close(self) -> None:
        self.writer.__exit__(None, None, None)

    def abandon(self) -> None:
        self.writer.__exit__(RuntimeError, RuntimeError("abandoned"), None)


def save_transcript(path: Path, items: list[dict], cipher) -> None:
    """What the caller said (as recognised) and pressed, one JSON object per line, encrypted."""
    with EncryptedFileWriter(Path(path), cipher) as writer:
        for item in items:
            writer.write(json.dumps(item, ensure_ascii=False).encode() + b"\n")


def load_transcript(path: Path, cipher) -> list[dict]:
    return [json.loads(line) for line in read_file(Path(path), cipher).splitlines() if line.strip()]
