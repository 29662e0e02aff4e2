"""PCM helpers for the phone: G.711 mu-law/A-law, good-quality resampling, phone band-limiting, and
cutting audio into 20 ms frames. Samples are int16 numpy arrays (mono)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from db.recordings import MU_BIAS, MU_CLIP, ulaw_decode

__all__ = ["FRAME_MS", "alaw_decode", "alaw_encode", "frames", "over_the_phone", "phone_band", "resample", "ringback",
           "ulaw_decode", "ulaw_encode"]

FRAME_MS = 20


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling with a Kaiser-windowed low-pass (no aliasing from 16k/24k down to 8k)."""
    if rate_in == rate_out:
        return samples.astype(np.int16, copy=False)
    g = np.gcd(rate_in, rate_out)
    out = signal.resample_poly(samples.astype(np.float32), rate_out // g, rate_in // g, window=("kaiser", 8.0))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def phone_band(samples: np.ndarray, rate: int) -> np.ndarray:
    """Band-limit to the telephone band (300-3400 Hz) so synthesized speech sounds as the line will
    carry it and nothing above the G.711 Nyquist limit is wasted or aliased."""
    sos = signal.butter(6, [300, min(3400, rate / 2 - 100)], btype="bandpass", fs=rate, output="sos")
    out = signal.sosfiltfilt(sos, samples.astype(np.float32))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def ringback(seconds: float, rate: int, level: float = 0.25) -> np.ndarray:
    """The Japanese ringback tone (呼出音): 400 Hz modulated at 16 Hz, 1 s on and 2 s off."""
    t = np.arange(int(seconds * rate)) / rate
    tone = np.sin(2 * np.pi * 400 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 16 * t))
    on = (t % 3.0) < 1.0
    return np.round(tone * on * level * 32767).astype(np.int16)


# G.711 (ITU-T), the segment/quantisation tables written out as arithmetic. μ-law decoding (and its
# constants) live in db/recordings.py, where the staff site reads recordings without the voice engine.


def ulaw_encode(samples: np.ndarray) -> bytes:
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), MU_CLIP) + MU_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def alaw_encode(samples: np.ndarray) -> bytes:
    x = samples.astype(np.int32) >> 3
    sign = np.where(x >= 0, 0x80, 0)
    magnitude = np.minimum(np.where(x < 0, -x - 1, x), 0xFFF)
    exponent = np.where(magnitude < 32, 0, np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> np.ndarray:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1))
    return np.where(sign, magnitude, -magnitude).astype(np.int16)


def frames(samples: np.ndarray, rate: int, frame_ms: int = FRAME_MS) -> list[bytes]:
    """Cut into frames of frame_ms (the last zero-padded), as a media port sends them."""
    size = rate * frame_ms // 1000
    padded = np.concatenate([samples.astype(np.int16), np.zeros((-len(samples)) % size, dtype=np.int16)])
    return [padded[i:i + size].tobytes() for i in range(0, len(padded), size)]


def over_the_phone(samples: np.ndarray, rate: int, law: str = "ulaw") -> np.ndarray:
    """What a caller's speech sounds like after a PSTN/SIP leg: 8 kHz G.711, back at `rate`."""
    narrow = resample(samples, rate, 8000)
    encode, decode = (ulaw_encode, ulaw_decode) if law == "ulaw" else (alaw_encode, alaw_decode)
    return resample(decode(encode(narrow)), 8000, rate)
