"""Reading call recordings back: the encrypted 8 kHz μ-law files the voice engine writes
(voice/recording.py CallRecorder, db/files.py) decrypted to PCM and to WAV, whole or a segment of it.

Here in db/ (not voice/) so that the staff site can play a call, or one answer of the caller, without
importing the voice engine. A segment decrypts only the chunks it needs; a whole recording is checked
to its end (a truncated file is refused, never played short).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from db.crypto import FieldCipher
from db.files import read_chunks, read_file

RATE = 8000  # samples per second, as stored
BYTES_PER_SECOND = RATE  # one μ-law byte per sample
PAD_BEFORE_S = 0.3  # a turn's segment starts a little before the caller's first sound...
PAD_AFTER_S = 0.5  # ...and ends a little after the last
KEYS_SECONDS = 1.5  # how long a key entry (no utterance length) is played for
MAX_SEGMENT_S = 60.0

# G.711 μ-law (ITU-T): voice/audio.py encodes with the same constants.
MU_BIAS, MU_CLIP = 0x84, 32635


def ulaw_decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + MU_BIAS) << exponent) - MU_BIAS
    return np.where(sign, -magnitude, magnitude).astype(np.int16)


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit mono WAV of int16 samples."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype=np.int16).tobytes())
    return buffer.getvalue()


def samples(path: Path, cipher: FieldCipher) -> np.ndarray:
    """The whole recording as 8 kHz int16 samples (DecryptionError for tampered or truncated files)."""
    return ulaw_decode(read_file(Path(path), cipher))


def to_wav(path: Path, cipher: FieldCipher) -> bytes:
    """The decrypted recording as a 16-bit 8 kHz WAV file (refuses tampered or truncated files)."""
    return wav_bytes(samples(path, cipher))


def segment_samples(path: Path, cipher: FieldCipher, start_s: float, end_s: float) -> np.ndarray:
    """Samples from start_s to end_s (clipped to the recording): only the chunks up to end_s are
    decrypted, each one authenticated."""
    start_s = max(0.0, float(start_s))
    end_s = max(start_s, min(float(end_s), start_s + MAX_SEGMENT_S))
    first, last = int(start_s * BYTES_PER_SECOND), int(round(end_s * BYTES_PER_SECOND))
    data, seen = bytearray(), 0
    chunks = read_chunks(Path(path), cipher)
    try:
        for chunk in chunks:
            lo, hi = max(first - seen, 0), min(last - seen, len(chunk))
            if lo < hi:
                data += chunk[lo:hi]
            seen += len(chunk)
            if seen >= last:
                break
    finally:
        chunks.close()
    return ulaw_decode(bytes(data))


def segment_wav(path: Path, cipher: FieldCipher, start_s: float, end_s: float) -> bytes:
    return wav_bytes(segment_samples(path, cipher, start_s, end_s))


def turn_window(offset_s: float | None, duration_s: float | None) -> tuple[float, float] | None:
    """Where a turn's answer is on the recording, with a little padding: (start_s, end_s), or None for a
    turn without a position (silence)."""
    if offset_s is None:
        return None
    length = duration_s if duration_s is not None else KEYS_SECONDS
    return max(0.0, offset_s - PAD_BEFORE_S), offset_s + max(0.0, length) + PAD_AFTER_S
