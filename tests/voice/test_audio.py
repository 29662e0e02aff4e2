"""Phone audio helpers: G.711 agrees with the ITU reference values, resampling keeps speech-band
tones and removes what 8 kHz cannot carry."""

from __future__ import annotations

import numpy as np
import pytest

from voice import audio


def tone(freq, rate, seconds=0.5, amplitude=8000):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level(samples):
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_ulaw_reference_values():
    """G.711 mu-law: 0 -> 0xFF, +32767 -> 0x80, -32768 -> 0x00; decoding is within one step."""
    assert audio.ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == bytes([0xFF, 0x80, 0x00])
    x = np.arange(-32768, 32768, 7, dtype=np.int32).astype(np.int16)
    back = audio.ulaw_decode(audio.ulaw_encode(x)).astype(np.int32)
    assert np.all(np.abs(back - x) <= np.maximum(4, np.abs(x.astype(np.int32)) // 16))


def test_alaw_reference_values():
    """G.711 A-law: 0 -> 0xD5, +max -> 0xAA, -max -> 0x2A."""
    assert audio.alaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == bytes([0xD5, 0xAA, 0x2A])
    x = np.arange(-32768, 32768, 7, dtype=np.int32).astype(np.int16)
    back = audio.alaw_decode(audio.alaw_encode(x)).astype(np.int32)
    assert np.all(np.abs(back - x) <= np.maximum(16, np.abs(x.astype(np.int32)) // 16))


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_speech_band_survives_the_phone_and_high_tones_do_not(law):
    kept = audio.over_the_phone(tone(1000, 16000), 16000, law)
    gone = audio.over_the_phone(tone(6000, 16000), 16000, law)
    assert abs(level(kept) - level(tone(1000, 16000))) < 0.1 * level(tone(1000, 16000))
    assert level(gone) < 0.02 * level(tone(6000, 16000))


def test_resample_lengths_and_frames():
    x = tone(440, 24000, seconds=1.0)
    y = audio.resample(x, 24000, 16000)
    assert len(y) == 16000 and y.dtype == np.int16
    chunks = audio.frames(y[:1000], 16000)
    assert [len(c) for c in chunks] == [640] * 4  # 20 ms at 16 kHz = 320 samples; the 4th is padded


def test_phone_band_removes_hum():
    hum = tone(50, 16000, seconds=1.0)
    assert level(audio.phone_band(hum, 16000)) < 0.05 * level(hum)
