"""The phone lines staff edit (db/lines.py): a change is checked (flow, voice, speed, volume, name) with
Japanese messages, saved with one audit row naming what changed, and a change to nothing writes nothing."""

from __future__ import annotations

import json

import pytest

from db import lines
from db.models import AuditLog, PhoneLine
from tests.conftest import ADMIN, NOW, reload


@pytest.fixture
def line(db):
    return PhoneLine.create(did="0586000001", flow="booking", label="予約")


def change(**values) -> lines.LineChange:
    base = {"label": "予約", "flow": "booking", "tts_engine": "openjtalk", "tts_voice": "", "tts_speed": 1.0,
            "tts_volume": 0.7, "record": True}
    return lines.LineChange(**{**base, **values})


def test_a_change_is_saved_with_one_audit_row_of_what_changed(line):
    """Speed, voice and recording changed: the line has them, the audit row lists each with before
    and after (and nothing that stayed)."""
    lines.save(line.id, change(tts_speed=0.85, tts_engine="kokoro", tts_voice="jm_kumo", record=False), ADMIN, NOW)
    saved = reload(line)
    assert (saved.tts_speed, saved.tts_engine, saved.tts_voice, saved.record) == (0.85, "kokoro", "jm_kumo", False)
    (row,) = AuditLog.select().where(AuditLog.action == "phone_line.update")
    assert row.object_id == "0586000001" and row.actor == ADMIN.name
    assert json.loads(row.details) == {"tts_speed": [1.0, 0.85], "tts_engine": ["openjtalk", "kokoro"],
                                       "tts_voice": ["", "jm_kumo"], "record": [True, False]}


def test_saving_what_is_already_there_writes_nothing(line):
    lines.save(line.id, change(label="  予約  "), ADMIN, NOW)
    assert not AuditLog.select().where(AuditLog.action == "phone_line.update").exists()


BAD = [
    ({"flow": "fax"}, "この電話の流れは選べません。"),
    ({"tts_engine": "openjtalk", "tts_voice": "jm_kumo"}, "この声は選べません。"),
    ({"tts_engine": "espeak"}, "この声は選べません。"),
    ({"tts_speed": 0.4}, "話す速さは0.5から2.0の間で入力してください"),
    ({"tts_speed": 2.5}, "話す速さは0.5から2.0の間で入力してください"),
    ({"tts_volume": 0.0}, "音量は0.05から1.0の間で入力してください"),
    ({"label": "あ" * 101}, "名前は100文字以内にしてください。"),
    ({"label": "予約\n窓口"}, "名前に使えない文字"),
]


@pytest.mark.parametrize(("values", "message"), BAD)
def test_a_bad_change_is_refused_and_changes_nothing(line, values, message):
    with pytest.raises(lines.LineError) as refused:
        lines.save(line.id, change(**values), ADMIN, NOW)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert reload(line).flow == "booking" and reload(line).tts_speed == 1.0
    assert not AuditLog.select().where(AuditLog.action == "phone_line.update").exists()


def test_every_voice_has_a_label_and_each_engine_its_default():
    voices = lines.voices()
    assert ("openjtalk", "") in voices and ("kokoro", "") in voices and ("kokoro", "jf_alpha") in voices
    assert all(voices.values())


def test_a_key_press_only_line_keeps_a_key_press_flow(db):
    """A line where AI phone is not allowed (mode dtmf_only) cannot be switched to a flow that listens."""
    ivr = PhoneLine.create(did="0462000001", flow="ivr", mode="dtmf_only")
    with pytest.raises(lines.LineError, match="ボタン操作のみ"):
        lines.save(ivr.id, change(flow="booking"), ADMIN, NOW)
    assert reload(ivr).flow == "ivr"
