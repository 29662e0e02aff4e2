"""Real Japanese synthesis (Open JTalk, offline): phone-ready 16 kHz audio, slower speech is longer,
and the disk cache answers a repeated prompt without synthesising again."""

from __future__ import annotations

import numpy as np
import pytest

from voice import tts
from voice.tts import PromptCache, Voice

TEXT = "ご予約の日にちを教えてください"


def test_open_jtalk_speaks_japanese_at_16k():
    samples = tts.synthesize(TEXT)
    seconds = len(samples) / tts.RATE
    assert 1.5 < seconds < 5.0
    assert samples.dtype == np.int16
    assert 0.6 * 32767 < np.max(np.abs(samples)) <= 32767
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(samples), 1 / tts.RATE)
    assert spectrum[freqs > 4500].sum() < 0.02 * spectrum[(freqs > 300) & (freqs < 3400)].sum()


def test_slower_voice_is_longer():
    normal = len(tts.synthesize(TEXT, Voice(speed=1.0)))
    slow = len(tts.synthesize(TEXT, Voice(speed=0.8)))
    assert slow > 1.15 * normal


def test_cache(tmp_path, monkeypatch):
    cache = PromptCache(tmp_path)
    first = cache.get(TEXT)
    assert cache.path(TEXT, Voice()).exists()
    monkeypatch.setattr(tts, "synthesize", lambda *a, **k: pytest.fail("synthesised twice"))
    assert np.array_equal(cache.get(TEXT), first)
    assert cache.path(TEXT, Voice(speed=0.85)) != cache.path(TEXT, Voice())


@pytest.mark.parametrize("voice,text", [(Voice(engine="nope"), TEXT), (Voice(speed=3.0), TEXT), (Voice(), "  ")])
def test_bad_requests_are_refused(voice, text):
    with pytest.raises(ValueError):
        tts.synthesize(text, voice)
