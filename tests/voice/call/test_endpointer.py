"""Utterance cutting: starts after sustained speech, keeps pre-roll, ends after a pause, drops blips,
and never hands a recogniser more than 30 s."""

import numpy as np

from voice.call.endpointer import Endpointer, SpeechStarted, Utterance, VoiceHeard

F = b"\x01\x00" * 320  # one 20 ms frame at 16 kHz


def frame(rms: float, seed: int = 0) -> bytes:
    """20 ms of white noise at this RMS."""
    return np.random.default_rng(seed).normal(0, rms, 320).astype(np.int16).tobytes()


def run(endpointer, pattern):
    """pattern: a string of 's' (speech) and '.' (silence) frames."""
    events = []
    for mark in pattern:
        events += endpointer.feed(F, mark == "s")
    return events


def test_utterance_with_pre_roll_and_trailing_silence():
    e = Endpointer()
    events = run(e, "." * 40 + "s" * 50 + "." * 35)
    assert isinstance(events[0], SpeechStarted)
    (utterance,) = [x for x in events if isinstance(x, Utterance)]
    # pre-roll (pre_roll_ms, including the frames that started it) + the rest of the speech + end_silence_ms
    pre_roll, start, silence = e.pre_roll_ms // e.frame_ms, e.start_ms // e.frame_ms, e.end_silence_ms // e.frame_ms
    assert len(utterance.pcm) == (pre_roll + 50 - start + silence) * len(F) and not utterance.cut
    assert not e.in_speech


def test_clicks_and_short_blips_are_not_speech():
    e = Endpointer()
    assert run(e, ("ss" + "." * 10) * 5) == []  # 40 ms bursts never start an utterance
    events = run(e, "sssss" + "." * 40)  # starts (100 ms) but only 100 ms voiced: dropped at the end
    assert events == [SpeechStarted()]


def test_a_quick_yes_is_an_utterance():
    """「はい」 said quickly is about 0.3 s, of which the VAD calls 150-300 ms speech, sometimes with a
    gap: it must reach the recogniser (the old 250 ms minimum dropped it)."""
    for pattern in ("s" * 7, "sssss.ss", "s" * 6 + ".." + "ss"):
        e = Endpointer()
        events = run(e, "." * 10 + pattern + "." * 35)
        assert [type(x) for x in events] == [SpeechStarted, Utterance], pattern


def test_long_speech_is_cut_at_30_seconds():
    e = Endpointer()
    events = run(e, "s" * 1600)
    cuts = [x for x in events if isinstance(x, Utterance)]
    assert cuts and all(x.cut for x in cuts)
    assert all(len(x.pcm) <= 1500 * len(F) for x in cuts)


def test_hangup_mid_sentence_flushes_what_was_said():
    e = Endpointer()
    run(e, "s" * 30)
    (utterance,) = e.flush()
    assert len(utterance.pcm) > 0 and e.flush() == []


def voiced(rms: float) -> bytes:
    """20 ms of a 200 Hz voice-like tone (whole periods: frames follow on) at this RMS."""
    t = np.arange(320) / 16000
    tone = np.sin(2 * np.pi * 200 * t) + 0.5 * np.sin(2 * np.pi * 400 * t)
    return (tone / np.sqrt(np.mean(tone ** 2)) * rms).astype(np.int16).tobytes()


def loudness(endpointer, pattern, noise_rms=200.0, voice=""):
    """pattern: 'V' a voiced frame 10x the noise's RMS, 'L' a noise frame as loud, '.' the noise; voice:
    the frames (by index) the VAD calls speech."""
    events = []
    for i, mark in enumerate(pattern):
        sound = voiced(noise_rms * 10) if mark == "V" else frame(noise_rms * (10 if mark == "L" else 1), i)
        events += endpointer.feed(sound, str(i) in voice.split(","))
    return events


def test_a_loud_voiced_answer_the_vad_does_not_hear_is_an_utterance_by_level():
    """Silero hears no voice in some quick answers (a high 「はい」): a run of voiced frames clearly
    louder than the line's noise is an utterance all the same, marked by_level, that never said a
    voice started."""
    events = loudness(Endpointer(), "." * 60 + "V" * 8 + "." * 40)
    assert events[0] == SpeechStarted(by_level=True)
    (utterance,) = [x for x in events if isinstance(x, Utterance)]
    assert utterance.by_level and not utterance.cut


def test_the_vad_joining_an_utterance_started_by_level_says_a_voice_is_heard():
    voice = ",".join(str(i) for i in range(64, 75))
    events = loudness(Endpointer(), "." * 60 + "V" * 15 + "." * 40, voice=voice)
    assert [type(x) for x in events] == [SpeechStarted, VoiceHeard, Utterance]
    assert not events[-1].by_level


def test_steady_noise_quiet_sound_a_bump_and_a_rustle_are_no_utterance_by_level():
    """The floor follows the line's own noise (loud or not); a sound under about -40 dBFS is never
    loud; a bump under 100 ms starts nothing; a loud rustle (noise, not voiced) is dropped."""
    assert loudness(Endpointer(), "." * 200, noise_rms=3000.0) == []
    assert loudness(Endpointer(), "." * 20 + "V" * 30 + "." * 40, noise_rms=20.0) == []
    assert loudness(Endpointer(), "." * 60 + "VVVV" + "." * 40) == []
    assert loudness(Endpointer(), "." * 60 + "L" * 20 + "." * 40) == [SpeechStarted(by_level=True)]
