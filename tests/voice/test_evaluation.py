"""The evaluation set run through a recogniser: only marked turns, each as the segment of its call's
recording staff heard (brought to 16 kHz), scored by character errors on normalised texts; turns that
cannot be played are skipped and said so."""

from __future__ import annotations

import numpy as np
import pytest

from appliance import runtime
from db import crypto
from db.models import CallTurn
from tests.calls import caller_audio, make_call, tone, turn
from tests.conftest import NOW
from voice import evaluation
from voice.asr import Transcript


class ByPitch:
    """A recogniser that 'hears' the pitch of what it is given (so the test knows which segment it got)."""

    def __init__(self):
        self.lengths = []

    def transcribe(self, samples: np.ndarray, expected=()) -> Transcript:
        self.lengths.append(len(samples))
        spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
        hz = np.fft.rfftfreq(len(samples), 1 / 16000)[spectrum.argmax()]
        return Transcript({1000: "山田華子", 1500: "きたしょ"}.get(int(round(hz, -2)), "？"), 0.5)


def mark(call, step: str, text: str) -> None:
    CallTurn.update(corrected=text, corrected_by="clerk", corrected_at=NOW).where(
        (CallTurn.call == call) & (CallTurn.step == step)).execute()


@pytest.mark.parametrize(("expected", "heard", "score"), [
    ("山田華子", "山田花子", (1, 4)),
    ("予約をお願いします。", "予約をお願いします", (0, 9)),
    ("０９０", "090", (0, 3)),
    ("はい", "", (2, 2)),
    ("", "えー", (2, 0)),
])
def test_score_counts_character_edits_on_normalised_texts(expected, heard, score):
    assert evaluation.score(expected, heard) == score


def test_marked_turns_are_recognised_again_from_their_segment(db):
    audio = caller_audio(12.0, [(2.0, tone(1.0, 1000)), (7.0, tone(0.8, 1500))])
    call = make_call(NOW, audio=audio, turns=[
        turn("name", heard="山田花子", offset_s=2.0, duration_s=1.0),
        turn("venue", heard="北支所", offset_s=7.0, duration_s=0.8),
        turn("intent", heard="予約", offset_s=0.5, duration_s=0.5)])
    no_recording = make_call(NOW, turns=[turn("name", heard="すずき", offset_s=1.0, duration_s=1.0)])
    mark(call, "name", "山田華子")
    mark(call, "venue", "北支所")
    mark(no_recording, "name", "鈴木")
    recognizer = ByPitch()
    report = evaluation.evaluate(recognizer, runtime.settings().recordings_dir, crypto.cipher())
    assert recognizer.lengths == [int(1.8 * 16000), int(1.6 * 16000)]  # the padded segments, at 16 kHz
    assert [(i.step, i.expected, i.heard_then, i.heard_now, i.errors, i.length) for i in report.items] == [
        ("name", "山田華子", "山田花子", "山田華子", 0, 4), ("venue", "北支所", "北支所", "きたしょ", 4, 3)]
    assert (report.count, report.exact, report.errors, report.characters) == (2, 1, 4, 7)
    assert report.cer == pytest.approx(4 / 7)
    assert report.skipped == [(CallTurn.get(CallTurn.call == no_recording).id, "no_recording")]
    line = evaluation.summary_line(report)
    assert "2 item(s)" in line and "57.1%" in line and "exact matches 1/2" in line and "skipped 1" in line


def test_an_empty_evaluation_set_says_so(db):
    assert evaluation.marked_turns() == []
    assert evaluation.summary_line(evaluation.Report()).startswith("no marked turns")
