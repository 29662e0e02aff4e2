"""Utterance cutting: starts after sustained speech, keeps pre-roll, ends after a pause, drops blips,
and never hands a recogniser more than 30 s."""

from voice.call.endpointer import Endpointer, SpeechStarted, Utterance

F = b"\x01\x00" * 320  # one 20 ms frame at 16 kHz


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
