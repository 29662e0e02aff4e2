"""The call log services and phone lines, inside the test transaction (the services never commit):
callers stored encrypted with a blind index, durations counted from the answer, the first end kept,
and a restarted worker closing only its own leftovers."""

from __future__ import annotations

import datetime
import itertools
import json

from db import crypto
from db.connection import database
from db.models import CallRecord, CallTurn, PhoneLine
from tests.conftest import NOW
from voice import calllog
from voice.flows.base import Line

CALLER = "09012345678"
_ids = itertools.count(1)


def call_id():
    return f"test-calllog-{next(_ids)}@127.0.0.1"


def at(seconds):
    return NOW + datetime.timedelta(seconds=seconds)


def record(sip_call_id):
    return CallRecord.get(CallRecord.sip_call_id == sip_call_id)


def test_call_started_stores_the_caller_encrypted_with_a_blind_index(db):
    """The caller's number is not in the database as written; the model gives it back and the blind
    index lets calls from the same number be found."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=2, at=NOW, kind="ai")
    (raw,) = database.execute_sql("SELECT caller FROM call_record WHERE sip_call_id = ?", (cid,)).fetchone()
    raw = bytes(raw)
    assert CALLER.encode() not in raw and b"12345678" not in raw
    row = record(cid)
    assert row.caller == CALLER and row.did == "0586000001" and row.worker == 2 and row.kind == "ai"
    assert row.started_at == NOW and row.answered_at is None and row.ended_at is None
    assert row.caller_index == crypto.cipher().blind_index(CALLER, "phone")
    other = call_id()
    calllog.call_started(other, "0586000001", CALLER, worker=1, at=at(60))
    assert record(other).caller_index == row.caller_index


def test_anonymous_call_has_no_caller_or_index(db):
    """A call without a presented number stores neither a number nor an index."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", "", worker=1, at=NOW)
    row = record(cid)
    assert row.caller is None and row.caller_index is None


def test_retransmitted_invite_is_the_same_call(db):
    """A second call_started with the same SIP Call-ID changes nothing."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW)
    calllog.call_started(cid, "0586000002", "0311112222", worker=3, at=at(5))
    assert CallRecord.select().where(CallRecord.sip_call_id == cid).count() == 1
    row = record(cid)
    assert (row.did, row.caller, row.worker, row.started_at) == ("0586000001", CALLER, 1, NOW)


def test_answered_call_duration_counts_from_the_answer(db):
    """Ringing time is not talk time: duration runs from call_answered to call_ended; the path is
    stored as JSON (Japanese as is) and the recording fields are kept."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW)
    calllog.call_answered(cid, at(4))
    calllog.call_ended(cid, at(64.5), outcome="booked", end_reason="caller_hangup",
                       path=["greeting", "日にち", "confirm"], recording="2026/12/01/x.ulaw.enc",
                       recording_seconds=60.4, transcript="2026/12/01/x.heard.enc")
    row = record(cid)
    assert row.answered_at == at(4) and row.ended_at == at(64.5)
    assert row.duration_s == 60.5
    assert (row.outcome, row.end_reason) == ("booked", "caller_hangup")
    assert json.loads(row.path) == ["greeting", "日にち", "confirm"]
    assert "日にち" in row.path
    assert (row.recording, row.recording_seconds, row.transcript) == (
        "2026/12/01/x.ulaw.enc", 60.4, "2026/12/01/x.heard.enc")


def test_unanswered_call_has_zero_duration_and_outcome_from_end_reason(db):
    """A call that hung up while ringing lasted 0 s; without an outcome the end reason is the outcome."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW)
    calllog.call_ended(cid, at(10), outcome="", end_reason="caller_hangup", path=[])
    row = record(cid)
    assert row.duration_s == 0.0
    assert row.outcome == "caller_hangup" and row.end_reason == "caller_hangup"
    assert json.loads(row.path) == []


def test_ending_twice_keeps_the_first_end(db):
    """A late second end (engine shutdown after the caller hung up) does not overwrite the first."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW)
    calllog.call_answered(cid, at(1))
    calllog.call_ended(cid, at(11), outcome="no_input", end_reason="engine_hangup", path=["greeting"])
    calllog.call_ended(cid, at(99), outcome="", end_reason="engine_shutdown", path=["other"])
    row = record(cid)
    assert row.ended_at == at(11) and row.duration_s == 10.0
    assert (row.outcome, row.end_reason, json.loads(row.path)) == ("no_input", "engine_hangup", ["greeting"])


def test_ending_an_unknown_call_does_nothing(db):
    """An end for a call never logged (its start was lost) creates no row and raises nothing."""
    cid = call_id()
    calllog.call_ended(cid, at(5), outcome="", end_reason="caller_hangup", path=[])
    assert CallRecord.get_or_none(CallRecord.sip_call_id == cid) is None


def test_close_stale_closes_only_that_workers_open_calls(db):
    """A restarted worker ends its own calls left open, with reason engine_restart; other workers'
    calls and calls already ended are untouched."""
    mine, mine_ended, theirs = call_id(), call_id(), call_id()
    calllog.call_started(mine, "0586000001", CALLER, worker=7, at=NOW)
    calllog.call_started(mine_ended, "0586000001", CALLER, worker=7, at=NOW)
    calllog.call_ended(mine_ended, at(30), outcome="done", end_reason="engine_hangup", path=[])
    calllog.call_started(theirs, "0586000001", CALLER, worker=8, at=NOW)
    assert calllog.close_stale(7, at(100)) == 1
    row = record(mine)
    assert (row.ended_at, row.end_reason, row.outcome) == (at(100), "engine_restart", "engine_restart")
    assert record(mine_ended).ended_at == at(30) and record(mine_ended).end_reason == "engine_hangup"
    assert record(theirs).ended_at is None
    assert calllog.close_stale(7, at(200)) == 0


def test_live_calls_lists_only_open_calls_oldest_first(db):
    """Calls still going are listed by start time; ended calls are not."""
    first, second, ended = call_id(), call_id(), call_id()
    calllog.call_started(second, "0586000001", CALLER, worker=1, at=at(20))
    calllog.call_started(first, "0586000001", "", worker=2, at=at(10))
    calllog.call_started(ended, "0586000001", CALLER, worker=1, at=at(5))
    calllog.call_ended(ended, at(15), outcome="", end_reason="caller_hangup", path=[])
    ours = [c.sip_call_id for c in calllog.live_calls() if c.sip_call_id.startswith("test-calllog-")]
    assert ours == [first, second]


def test_line_for_finds_only_active_lines(db):
    """The dialled number selects its line while active (as a call sees it); an inactive or unknown
    number has none."""
    PhoneLine.create(did="0300000101", flow="echo", label="テスト", tts_speed=0.85, record=False)
    PhoneLine.create(did="0300000102", flow="echo", active=False)
    assert calllog.line_for("0300000101") == Line("0300000101", "echo", label="テスト", tts_speed=0.85, record=False)
    assert calllog.line_for("0300000102") is None
    assert calllog.line_for("0300000199") is None


def test_call_ended_stores_the_dialogs_turns_in_order(db):
    """Every turn the dialog passed to call_ended is a call_turn row, numbered in order, with what was
    asked, heard (alternatives, confidence), pressed and understood, and where it is on the recording;
    a turn without speech keeps NULL numbers."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW, kind="ai")
    calllog.call_answered(cid, at(1))
    turns = [
        {"step": "intent", "prompt": "ご用件をどうぞ", "result": "understood", "heard": "予約したいです",
         "alternatives": ["予約したいんです", "よやくしたいです"], "confidence": 0.91, "keys": "",
         "understood": "book", "offset_s": 4.2, "duration_s": 1.3,
         "scores": [("確認", -1.25), ("予約", 9.04), ("予約したい", 8.5), ("変更", 0.0), ("担当者", -3.0), ("職員", -9.0)]},
        {"step": "name", "prompt": "お名前をどうぞ", "result": "noinput", "heard": "", "alternatives": [],
         "confidence": None, "keys": "", "understood": "", "offset_s": None, "duration_s": None},
        {"step": "phone", "prompt": "電話番号を押してください", "result": "understood", "heard": "", "alternatives": [],
         "confidence": None, "keys": "09012345678", "understood": "09012345678", "offset_s": 20.5, "duration_s": None},
    ]
    calllog.call_ended(cid, at(40), outcome="caller_hangup", end_reason="caller_hangup",
                       path=["intent", "book", "name", "name_noinput", "phone"], turns=turns)
    rows = list(CallTurn.select().where(CallTurn.call == record(cid)).order_by(CallTurn.seq))
    assert [(r.seq, r.step, r.result) for r in rows] == [(1, "intent", "understood"), (2, "name", "noinput"),
                                                         (3, "phone", "understood")]
    first = rows[0]
    assert (first.prompt, first.heard, first.understood) == ("ご用件をどうぞ", "予約したいです", "book")
    assert first.alternative_list == ["予約したいんです", "よやくしたいです"]
    # the best five scored answers, best first
    assert first.score_list == [("予約", 9.0), ("予約したい", 8.5), ("変更", 0.0), ("確認", -1.2), ("担当者", -3.0)]
    assert rows[1].score_list == []
    assert (first.confidence, first.offset_s, first.duration_s) == (0.91, 4.2, 1.3)
    assert (rows[1].offset_s, rows[1].duration_s, rows[1].confidence) == (None, None, None)
    assert rows[2].keys == "09012345678" and rows[2].offset_s == 20.5
    assert all(r.corrected is None and r.corrected_at is None for r in rows)


def test_turns_are_encrypted_at_rest(db):
    """What callers said and pressed (names, numbers) is not in the call_turn table as written: every text
    column is an envelope; the step and result codes stay readable for counting."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW, kind="ai")
    calllog.call_ended(cid, at(30), outcome="caller_hangup", end_reason="caller_hangup", path=["name"], turns=[
        {"step": "name", "prompt": "お名前をフルネームでどうぞ", "result": "understood", "heard": "山田花子です",
         "alternatives": ["山田華子です"], "confidence": 0.7, "keys": "4321", "understood": "ヤマダハナコ",
         "offset_s": 2.0, "duration_s": 1.0, "scores": [("北支所", 7.0)]}])
    raw = database.execute_sql(
        "SELECT step, result, prompt, heard, alternatives, keys, understood, scores FROM call_turn WHERE call_id = ?",
        (record(cid).id,)).fetchone()
    assert raw[:2] == ("name", "understood")
    blob = b"".join(bytes(v) for v in raw[2:])
    for plain in ("お名前", "山田", "花子", "華子", "ヤマダ", "4321", "北支所"):
        assert plain.encode() not in blob, plain


def test_a_second_end_stores_no_second_set_of_turns(db):
    """The first end keeps its turns; a late second end adds none."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW, kind="ai")
    one = [{"step": "intent", "result": "nomatch", "prompt": "", "heard": "あ", "alternatives": [], "confidence": 0.1,
            "keys": "", "understood": "", "offset_s": 1.0, "duration_s": 0.4}]
    calllog.call_ended(cid, at(10), outcome="", end_reason="caller_hangup", path=["intent"], turns=one)
    calllog.call_ended(cid, at(20), outcome="", end_reason="engine_shutdown", path=["intent"], turns=one * 3)
    assert CallTurn.select().where(CallTurn.call == record(cid)).count() == 1


def test_turns_are_stored_bounded_whatever_a_flow_passes(db):
    """Over-long texts are cut, numbers that are not numbers are NULL, missing fields are empty and keys
    a turn should not have are not stored: a buggy flow never loses the call's log."""
    cid = call_id()
    calllog.call_started(cid, "0586000001", CALLER, worker=1, at=NOW, kind="ai")
    calllog.call_ended(cid, at(9), outcome="", end_reason="caller_hangup", path=[], turns=[
        {"step": "x" * 100, "result": "understood", "heard": "あ" * 5000, "confidence": "high", "offset_s": True,
         "duration_s": 2, "alternatives": ["い" * 3000] * 30, "caller": CALLER,
         "scores": [("はい", "high"), "いいえ", ("う" * 100, 3.0), (None,)]},
        {}])
    first, second = CallTurn.select().where(CallTurn.call == record(cid)).order_by(CallTurn.seq)
    assert len(first.step) == 40 and len(first.heard) == calllog.MAX_TEXT
    assert (first.confidence, first.offset_s, first.duration_s) == (None, None, 2.0)
    assert len(first.alternative_list) == 10 and all(len(a) == calllog.MAX_TEXT for a in first.alternative_list)
    assert first.score_list == [("う" * 40, 3.0)]
    assert (second.step, second.result, second.heard, second.keys, second.alternative_list) == ("-", "-", "", "", [])


def test_a_call_put_through_to_a_staff_phone_opens_its_record_once(db):
    """Talking to a transfer target: the live view shows it and the inquiry book has the call's record,
    prefilled with the line; progress written again (a key, a step) opens no second one."""
    from db.models import Inquiry
    cid = call_id()
    calllog.call_started(cid, "0725998128", CALLER, worker=1, at=NOW)
    calllog.call_progress(cid, "main", "2", "ringing:受付1")
    assert not Inquiry.select().exists()
    calllog.call_progress(cid, "staff", "2", "talking:受付1")
    calllog.call_progress(cid, "staff", "23", "talking:受付1")
    (inquiry,) = Inquiry.select()
    assert (inquiry.channel, inquiry.did, inquiry.target, inquiry.call_id) == ("phone", "0725998128", "受付1",
                                                                               record(cid).id)
