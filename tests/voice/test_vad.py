"""Silero VAD through sherpa-onnx: speech is found in synthesized speech, not in silence or line noise,
and long silences do not run the model at all."""

from __future__ import annotations

import numpy as np
import pytest

from voice import audio
from voice.tts import synthesize
from voice.vad import QUIET_RESET_FRAMES, SileroVad


class Counting:
    """Wraps the sherpa-onnx model and counts the windows it is asked about."""

    def __init__(self, model):
        self.model, self.calls, self.resets = model, 0, 0

    def is_speech(self, window):
        self.calls += 1
        return self.model.is_speech(window)

    def reset(self):
        self.resets += 1
        self.model.reset()


@pytest.fixture(scope="module")
def speech():
    return audio.over_the_phone(synthesize("予約をお願いします"), 16000)


def decide(vad, samples):
    return [vad.is_speech(frame) for frame in audio.frames(samples, 16000)]


def test_speech_is_found_and_silence_is_not(speech):
    vad = SileroVad()
    silence = np.zeros(16000, np.int16)
    decisions = decide(vad, np.concatenate([silence, speech, silence]))
    assert not any(decisions[:50])  # the first second
    assert sum(decisions[50:50 + len(speech) // 320]) > 0.5 * len(speech) // 320
    assert not any(decisions[-20:])


def test_line_noise_is_not_speech():
    vad = SileroVad()
    noise = np.random.default_rng(3).normal(0, 300, 16000 * 2).astype(np.int16)  # about -40 dBFS hiss
    assert sum(decide(vad, noise)) < 5


def test_long_silence_skips_the_model_and_resets_it(speech):
    """After QUIET_RESET_FRAMES quiet frames the model is reset once and not run again until sound
    returns; a short gap inside speech still goes through the model."""
    vad = SileroVad()
    vad.model = counting = Counting(vad.model)
    decide(vad, speech)
    during_speech = counting.calls
    assert during_speech > 0
    decide(vad, np.zeros(16000 * 3, np.int16))  # 3 s of silence
    assert counting.resets == 1
    assert counting.calls - during_speech <= QUIET_RESET_FRAMES  # only the start of the pause
    before = counting.calls
    decide(vad, speech)
    assert counting.calls > before


@pytest.mark.parametrize("text,speed,half_tone", [("はい", 1.0, 0.0), ("はい", 1.0, -6.0), ("ええ", 1.2, 0.0),
                                                  ("ええ", 1.2, 3.0), ("いいえ", 1.2, 3.0)])
def test_a_quick_answer_after_silence_is_speech(text, speed, half_tone):
    """A 0.3 s 「はい」 straight after digital silence (the model skipped and reset) is found: the model
    hears the quiet before it first. Without that, its cold state missed the whole word."""
    import pyopenjtalk

    from voice import tts

    samples, rate = pyopenjtalk.tts(text, speed=speed, half_tone=half_tone)
    answer = audio.over_the_phone(tts.finish(samples, rate, 0.7), 16000)
    silence = np.zeros(16000, np.int16)
    decisions = decide(SileroVad(), np.concatenate([silence, answer, silence]))
    assert sum(decisions) * 20 >= 140, "".join("s" if d else "." for d in decisions)  # the endpointer's minimum


def test_priming_runs_the_model_only_when_sound_returns(speech):
    """After a long pause the skipped frames are kept (at most PRIME_FRAMES) and fed once, when sound
    comes back; silence alone still costs nothing."""
    from voice.vad import PRIME_FRAMES

    vad = SileroVad()
    vad.model = counting = Counting(vad.model)
    decide(vad, np.zeros(16000 * 3, np.int16))
    assert counting.calls == 0 and len(vad._quiet) == PRIME_FRAMES
    decide(vad, speech)
    assert counting.calls > 0 and len(vad._quiet) == 0
