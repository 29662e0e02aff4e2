"""The phone pages of the staff site: the call log and its filters, a call's turns with the caller's
audio (a WAV segment of the right length, every playback audited), marking a misrecognised turn
(checked and bounded, kept as the evaluation set), roles, the call statistics on crafted calls, and
the CSV files."""

from __future__ import annotations

import csv
import datetime
import io
import wave

import pytest

from db import bookings
from db.models import AuditLog, CallTurn, PhoneLine
from tests.calls import caller_audio, make_call, tone, turn
from tests.conftest import NOW, make_applicant
from web.admin import calls

DAY = NOW.date()  # Tuesday 1 December 2026 (Tokyo)
AI_LINE, IVR_LINE = "0586000001", "0586000002"


def at(hour: int, minute: int = 0, day: datetime.date = DAY) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), NOW.tzinfo)


@pytest.fixture
def staff(create_user):
    return create_user("staff")


@pytest.fixture
def clerk(clerk_client, staff):
    return clerk_client(staff)


@pytest.fixture
def lines(db):
    PhoneLine.create(did=AI_LINE, label="予約ダイヤル", flow="booking")
    PhoneLine.create(did=IVR_LINE, label="案内ダイヤル", flow="echo")


@pytest.fixture
def recorded_call(db, lines):
    """A booking call with a 20 s recording: the caller's name (1 kHz) at 3.0-4.0 s, keys at 12 s."""
    audio = caller_audio(20.0, [(3.0, tone(1.0, 1000)), (12.0, tone(0.2, 1400))])
    return make_call(at(9, 15), seconds=20.0, audio=audio, path=["intent", "book", "name", "phone"], turns=[
        turn("intent", heard="予約したいです", offset_s=1.0, duration_s=1.2, alternatives=["予約したいんです"],
             confidence=0.93, understood="book", scores=[("予約", 9.04), ("確認", -1.5)]),
        turn("name", heard="山田花子", offset_s=3.0, duration_s=1.0, confidence=0.41),
        turn("phone", keys="09012345678", offset_s=12.0, understood="09012345678"),
        turn("birth", "noinput"),
    ])


def call_page(clerk, call):
    response = clerk.get(f"/calls/{call.id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def turn_of(call, step: str) -> CallTurn:
    return CallTurn.get((CallTurn.call == call) & (CallTurn.step == step))


def wav(response) -> tuple[int, int]:
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "no-store"
    with wave.open(io.BytesIO(response.data)) as w:
        return w.getframerate(), w.getnframes()


# --- the list ------------------------------------------------------------------------------------------

def test_the_list_filters_by_line_dates_outcome_booking_and_kind(clerk, lines):
    """Each filter keeps exactly the calls it names; the filters combine; the CSV link carries them."""
    booked = make_call(at(9), outcome="booked")
    hung_up = make_call(at(10), outcome="caller_hangup", path=["intent", "book", "venue"])
    ivr = make_call(at(11), did=IVR_LINE, kind="ivr", outcome="caller_hangup")
    earlier = make_call(at(9, day=DAY - datetime.timedelta(days=3)), outcome="cancelled")

    def shown(query: str) -> set[int]:
        response = clerk.get(f"/calls?{query}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        return {c.id for c in (booked, hung_up, ivr, earlier) if f'href="/calls/{c.id}"' in page}

    assert shown("") == {booked.id, hung_up.id, ivr.id, earlier.id}
    assert shown(f"did={IVR_LINE}") == {ivr.id}
    assert shown(f"first={DAY}&last={DAY}") == {booked.id, hung_up.id, ivr.id}
    assert shown(f"last={DAY - datetime.timedelta(days=1)}") == {earlier.id}
    assert shown("outcome=caller_hangup") == {hung_up.id, ivr.id}
    assert shown("booked=yes") == {booked.id}
    assert shown("booked=no") == {hung_up.id, ivr.id, earlier.id}
    assert shown("kind=ivr") == {ivr.id}
    assert shown(f"kind=ai&did={AI_LINE}&first={DAY}") == {booked.id, hung_up.id}
    page = clerk.get("/calls?kind=ivr").get_data(as_text=True)
    assert "/calls/export.csv?encoding=utf-8&amp;kind=ivr" in page
    assert "途中で電話を切った" in clerk.get("/calls?outcome=caller_hangup&kind=ai").get_data(as_text=True)


def test_a_filter_that_cannot_be_read_gets_its_message(clerk, lines):
    response = clerk.get("/calls?first=2026-02-30")
    assert response.status_code == 422
    assert "日付を 2026-12-10 の形で入力してください。" in response.get_data(as_text=True)
    assert clerk.get("/calls?kind=fax").status_code == 422


# --- one call ------------------------------------------------------------------------------------------

def test_the_call_page_shows_the_path_and_every_turn(clerk, recorded_call):
    page = call_page(clerk, recorded_call)
    for text in ("予約したいです", "予約したいんです", "0.93", "予約（+9.0）／確認（-1.5）", "山田花子", "0.41",
                 "09012345678", "nameの質問です",
                 "用件", "お名前", "無言", "intent → book → name → phone", "予約ダイヤル"):
        assert text in page, text
    assert f'src="/calls/{recorded_call.id}/recording.wav"' in page
    assert f'src="/calls/{recorded_call.id}/turns/{turn_of(recorded_call, "name").id}.wav"' in page
    assert f'/turns/{turn_of(recorded_call, "birth").id}.wav' not in page  # silence has nothing to play
    assert 'preload="none"' in page  # reading the page plays (and audits) nothing
    assert AuditLog.select().where(AuditLog.action.startswith("call.play")).count() == 0


def test_a_turns_audio_is_its_segment_with_padding_and_is_audited(clerk, staff, recorded_call):
    """The name turn (3.0 s, 1.0 s long) plays 2.7-4.5 s: 1.8 s of 8 kHz audio; a key entry 1.5 s after a
    0.3 s lead-in; each playback writes one audit row naming the clerk, the turn and the call."""
    name, phone = turn_of(recorded_call, "name"), turn_of(recorded_call, "phone")
    assert wav(clerk.get(f"/calls/{recorded_call.id}/turns/{name.id}.wav")) == (8000, 14400)
    assert wav(clerk.get(f"/calls/{recorded_call.id}/turns/{phone.id}.wav")) == (8000, int(round(2.3 * 8000)))
    rows = list(AuditLog.select().where(AuditLog.action == "call.play_turn").order_by(AuditLog.id))
    assert [(r.object_id, r.actor) for r in rows] == [(str(name.id), staff.login), (str(phone.id), staff.login)]
    assert f'"call": {recorded_call.id}' in rows[0].details and "山田" not in rows[0].details


def test_the_whole_recording_plays_decrypted_and_is_audited(clerk, recorded_call):
    assert wav(clerk.get(f"/calls/{recorded_call.id}/recording.wav")) == (8000, 20 * 8000)
    row = AuditLog.get(AuditLog.action == "call.play_recording")
    assert (row.object_type, row.object_id) == ("call_record", str(recorded_call.id))


def test_no_recording_or_a_turn_of_another_call_is_not_found(clerk, recorded_call):
    silent = make_call(at(13), turns=[turn("intent", heard="はい", offset_s=1.0, duration_s=0.5)])
    other = turn_of(silent, "intent")
    assert clerk.get(f"/calls/{silent.id}/recording.wav").status_code == 404
    assert clerk.get(f"/calls/{silent.id}/turns/{other.id}.wav").status_code == 404
    assert clerk.get(f"/calls/{recorded_call.id}/turns/{other.id}.wav").status_code == 404
    assert clerk.get("/calls/999999").status_code == 404
    assert AuditLog.select().where(AuditLog.action.startswith("call.play")).count() == 0


def test_a_damaged_recording_is_refused_not_played_short(clerk, recorded_call, instance):
    path = instance.recordings_dir / recorded_call.recording
    path.write_bytes(path.read_bytes()[:-20])
    assert clerk.get(f"/calls/{recorded_call.id}/recording.wav").status_code == 404
    assert AuditLog.select().where(AuditLog.action == "call.play_recording").count() == 0


# --- marking a misrecognised turn ----------------------------------------------------------------------

def test_marking_a_turn_keeps_the_right_text_for_the_evaluation_set(clerk, staff, recorded_call, frozen_now):
    name = turn_of(recorded_call, "name")
    call_page(clerk, recorded_call)
    response = clerk.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct",
                          data={"action": "save", "text": "  山田華子  "})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/calls/{recorded_call.id}#turn-{name.id}")
    name = CallTurn.get_by_id(name.id)
    assert (name.corrected, name.corrected_by, name.corrected_at) == ("山田華子", staff.login, frozen_now["now"])
    assert name.heard == "山田花子"  # what was heard stays as it was
    row = AuditLog.get(AuditLog.action == "call.turn_marked")
    assert row.object_id == str(name.id) and "華子" not in row.details
    page = call_page(clerk, recorded_call)
    assert "認識の誤りとして記録しました" in page and "記録済み：</strong>山田華子" in page
    page = clerk.get("/calls/corrections").get_data(as_text=True)
    assert "山田華子" in page and "山田花子" in page
    call_page(clerk, recorded_call)

    clerk.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct", data={"action": "save", "text": "山田 華子"})
    assert CallTurn.get_by_id(name.id).corrected == "山田 華子"
    assert AuditLog.select().where(AuditLog.action == "call.turn_corrected").count() == 1
    call_page(clerk, recorded_call)
    clerk.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct", data={"action": "clear"})
    name = CallTurn.get_by_id(name.id)
    assert name.corrected is None and name.corrected_at is None and name.corrected_by == ""
    assert "まだありません" in clerk.get("/calls/corrections").get_data(as_text=True)


@pytest.mark.parametrize(("text", "message"), [
    ("", "正しい内容を入力してください。"),
    ("　 ", "正しい内容を入力してください。"),
    ("あ" * 201, "200文字以内で入力してください。"),
    ("山田\x07花子", "使えない文字（制御文字など）が含まれています。"),
])
def test_a_correction_is_checked(clerk, recorded_call, text, message):
    name = turn_of(recorded_call, "name")
    call_page(clerk, recorded_call)
    response = clerk.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct", data={"action": "save", "text": text})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert CallTurn.get_by_id(name.id).corrected_at is None


def test_a_correction_needs_the_csrf_token(clerk, recorded_call):
    name = turn_of(recorded_call, "name")
    response = clerk.client.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct",
                                 data={"action": "save", "text": "山田華子"})
    assert response.status_code == 400
    assert CallTurn.get_by_id(name.id).corrected_at is None


def test_a_viewer_reads_the_log_and_statistics_but_not_what_callers_said(viewer, recorded_call):
    """A viewer's role reaches neither a call's turns, nor its audio, nor the corrections; nothing is
    played or audited for them."""
    name = turn_of(recorded_call, "name")
    assert viewer.get("/calls").status_code == 200
    assert viewer.get("/calls/statistics").status_code == 200
    for url in (f"/calls/{recorded_call.id}", f"/calls/{recorded_call.id}/recording.wav",
                f"/calls/{recorded_call.id}/turns/{name.id}.wav", "/calls/corrections", "/calls/export.csv"):
        assert viewer.get(url).status_code == 403, url
    viewer.get("/calls")
    assert viewer.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct",
                       data={"action": "save", "text": "x"}).status_code == 403
    assert "山田花子" not in viewer.get("/calls").get_data(as_text=True)
    assert AuditLog.select().where(AuditLog.action.startswith("call.")).count() == 0
    assert CallTurn.get_by_id(name.id).corrected_at is None


# --- statistics ----------------------------------------------------------------------------------------

@pytest.fixture
def crafted(db, lines, create_venue, create_slot):
    """Seven calls on 1 December (and one in November that is not counted):
    A booked at 北支所 (120 s, 09h); B left at the venue after two no-matches (60 s, 10h); C went silent at
    the first eligibility question (30 s, 10h) after naming 南支所; D could not be transferred (40 s, 11h);
    E reached a person after misses (90 s, 11h); F a key-only call (20 s, 14h); G hung up while ringing."""
    north = create_venue(name="北支所")
    a = make_call(at(9, 5), seconds=120, outcome="booked", path=["intent", "book", "venue", "date", "booked"],
                  turns=[turn("venue", heard="北支所")])
    bookings.book(create_slot(venue=north).id, make_applicant(), "phone", NOW,
                  idempotency_key=f"phone:{a.sip_call_id}:book")
    make_call(at(10, 0), seconds=60, outcome="caller_hangup",
              path=["intent", "book", "venue", "venue_nomatch", "venue_nomatch"],
              turns=[turn("venue", "nomatch", heard="きたし"), turn("venue", "nomatch", heard="しょ")])
    make_call(at(10, 40), seconds=30, outcome="caller_hangup",
              path=["intent", "book", "venue", "question_1", "question_1_noinput"],
              turns=[turn("venue", heard="南支所"), turn("question_1", "noinput")])
    make_call(at(11, 0), seconds=40, outcome="transfer_failed", end_reason="engine_hangup",
              path=["intent", "transfer", "transfer_busy"])
    make_call(at(11, 30), seconds=90, outcome="not_understood",
              path=["intent", "intent_nomatch", "intent_nomatch", "intent_nomatch", "intent_nomatch", "transfer",
                    "transferred"])
    make_call(at(14, 0), did=IVR_LINE, kind="ivr", seconds=20, outcome="caller_hangup", path=["menu"])
    make_call(at(15, 0), seconds=8, answered=False, outcome="", end_reason="caller_cancel")
    make_call(at(9, 0, DAY - datetime.timedelta(days=1)), seconds=300, outcome="booked")


def test_statistics_count_the_crafted_calls(crafted):
    s = calls.summary(DAY, DAY)
    t = s.total
    assert (t.calls, t.answered, t.ai_calls, t.booked, t.abandoned) == (7, 6, 5, 1, 3)
    assert t.success_rate == pytest.approx(1 / 5)
    assert t.average_s == pytest.approx(round((120 + 60 + 30 + 40 + 90 + 20) / 6, 1))
    assert s.by_hour[9] == 1 and s.by_hour[10] == 2 and s.by_hour[11] == 2 and s.by_hour[14] == 1
    assert s.by_hour[15] == 1 and sum(s.by_hour) == 7
    assert (s.by_line[AI_LINE].calls, s.by_line[AI_LINE].booked, s.by_line[IVR_LINE].calls) == (6, 1, 1)
    assert s.by_line[IVR_LINE].abandoned == 0  # a key-only call is not an AI call left midway
    assert {v: d.calls for v, d in s.by_venue.items()} == {"北支所": 1, "南支所": 1, calls.texts()["list.no_venue"]: 5}
    assert dict(s.abandoned_by) == {("venue", "after_nomatch", 2): 1, ("question_1", "no_input", 1): 1,
                                    ("intent", "transfer_failed", 0): 1}
    assert s.by_outcome["caller_hangup"] == 3 and s.by_outcome["not_understood"] == 1
    assert [d.calls for d in s.by_day.values()] == [7]
    previous = calls.summary(DAY - datetime.timedelta(days=1), DAY)
    assert previous.total.calls == 8 and previous.total.booked == 2


@pytest.mark.parametrize(("path", "outcome", "end_reason", "expected"), [
    (["intent", "book", "date"], "caller_hangup", "caller_hangup", ("date", 0, False, "hangup")),
    (["intent", "date", "date_nomatch", "date_noinput"], "caller_hangup", "caller_hangup", ("date", 2, False, "no_input")),
    (["intent", "name", "name_noinput", "name_nomatch"], "media_timeout", "media_timeout",
     ("name", 2, False, "media_timeout")),
    (["intent", "final", "booked"], "booked", "engine_hangup", ("final", 0, True, "")),
    (["intent", "transfer", "transferred"], "caller_hangup", "caller_hangup", ("intent", 0, True, "")),
    ([], "engine_restart", "engine_restart", ("", 0, False, "other")),
])
def test_where_a_call_ended_and_why(path, outcome, end_reason, expected):
    end = calls.ending(path, outcome, end_reason)
    assert (end.question, end.misses, end.completed, end.reason) == expected


def test_the_statistics_page_shows_the_figures(clerk, crafted):
    page = clerk.get(f"/calls/statistics?first={DAY}&last={DAY}").get_data(as_text=True)
    assert '<dd id="success-rate">20.0％</dd>' in page
    assert '<dd id="average">60.0秒</dd>' in page
    for text in ("聞き取れなかった直後に切れた", "無言のまま切れた", "担当者につながらなかった", "確認事項1", "北支所", "南支所",
                 "予約ダイヤル（0586000001）"):
        assert text in page, text
    assert clerk.get(f"/calls/statistics?first={DAY}&last={DAY - datetime.timedelta(days=1)}").status_code == 422
    assert clerk.get("/calls/statistics?first=2026-01-01&last=2027-12-31").status_code == 422


# --- CSV -----------------------------------------------------------------------------------------------

def read_csv(response, encoding="utf-8-sig") -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.data.decode(encoding))))


def test_the_call_log_csv_has_a_row_per_call_and_no_personal_data(clerk, crafted):
    response = clerk.get(f"/calls/export.csv?encoding=utf-8&first={DAY}&last={DAY}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    assert rows[0][:4] == ["開始日時", "回線（番号）", "回線名", "種別"] and len(rows) == 1 + 7
    by_time = {r[0]: r for r in rows[1:]}
    b = by_time["2026-12-01 10:00:00"]
    assert b[1:5] == [AI_LINE, "予約ダイヤル", "AI音声", "応答"]
    assert b[6:] == ["途中で電話が切れた", "相手が切った", "会場", "2", "聞き取れなかった直後に切れた", ""]
    assert by_time["2026-12-01 15:00:00"][4] == "未応答"
    body = response.data.decode("utf-8-sig")
    assert "09012345678" not in body and "南支所" not in body
    assert AuditLog.get(AuditLog.action == "export.calls_csv").details == '{"encoding": "utf-8", "rows": 7}'
    sjis = clerk.get(f"/calls/export.csv?encoding=shift_jis&first={DAY}&last={DAY}")
    assert sjis.headers["Content-Type"] == "text/csv; charset=shift_jis"
    assert len(read_csv(sjis, "cp932")) == 8
    assert clerk.get("/calls/export.csv?encoding=latin-1").status_code == 400


def test_the_statistics_csv_has_a_row_per_day_and_line(clerk, crafted):
    rows = read_csv(clerk.get(f"/calls/statistics.csv?encoding=utf-8&first={DAY - datetime.timedelta(days=1)}"
                              f"&last={DAY}"))
    assert rows[0] == ["日付", "回線（番号）", "回線名", "着信", "応答", "AI音声の通話", "予約成立", "途中離脱", "平均通話秒数"]
    assert rows[1:] == [
        ["2026-11-30", AI_LINE, "予約ダイヤル", "1", "1", "1", "1", "0", "300.0"],
        ["2026-12-01", AI_LINE, "予約ダイヤル", "6", "5", "5", "1", "3", "68.0"],
        ["2026-12-01", IVR_LINE, "案内ダイヤル", "1", "1", "0", "0", "0", "20.0"],
    ]


# --- hostile input -------------------------------------------------------------------------------------

def test_hostile_query_values_get_a_japanese_answer_never_an_error(clerk, recorded_call):
    """Every filter and period parameter of the phone pages, given each of the fuzzer's hostile values,
    answers 2xx or 4xx in Japanese; nothing is written but the CSV exports' own audit rows."""
    from tests.web.fuzz import HOSTILE
    before = AuditLog.select().where(~AuditLog.action.startswith("export.")).count()
    for url in ("/calls", "/calls/statistics", "/calls/export.csv", "/calls/statistics.csv", "/calls/corrections"):
        for name in ("did", "first", "last", "outcome", "booked", "kind", "page", "encoding"):
            for value in HOSTILE:
                if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
                    continue  # lone surrogates cannot be sent as UTF-8 (tests/web/fuzz.py sends them percent-encoded)
                response = clerk.client.get(url, query_string={name: value})
                assert response.status_code < 500, (url, name, value)
                if response.mimetype == "text/html":
                    assert 'lang="ja"' in response.get_data(as_text=True), (url, name, value)
    assert AuditLog.select().where(~AuditLog.action.startswith("export.")).count() == before


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\x1b[31m", "\u202e", "\ufeff", "x" * 5000, "=1+1\r\n"])
def test_hostile_corrections_are_refused_or_kept_as_text(clerk, recorded_call, text):
    name = turn_of(recorded_call, "name")
    call_page(clerk, recorded_call)
    response = clerk.post(f"/calls/{recorded_call.id}/turns/{name.id}/correct", data={"action": "save", "text": text})
    assert response.status_code in (302, 422)
    corrected = CallTurn.get_by_id(name.id).corrected
    assert (corrected is None) == (response.status_code == 422)
    assert corrected is None or (len(corrected) <= 200 and "\x00" not in corrected)


def test_every_question_of_the_booking_line_has_a_name_staff_read():
    """A call's turns and the abandoned-call counts name each question in Japanese: every question the
    booking dialog asks (Ask("…"), confirm("…")) has its label in web/admin/calls.toml."""
    import re
    from pathlib import Path

    from web.admin.calls import label
    flows = Path(__file__).resolve().parents[3] / "voice" / "flows" / "booking"
    steps = {name for path in flows.glob("*.py")
             for name in re.findall(r'(?:Ask|confirm)\("([a-z_]+)"', path.read_text(encoding="utf-8"))}
    assert len(steps) > 20
    assert [step for step in sorted(steps) if label("step", step) == step] == []
    assert label("step", "question_2") == "確認事項2"


def test_the_live_view_shows_each_calls_number_step_keys_and_state_and_is_audited(clerk, viewer, db):
    """Calls going on now, with what the workers last wrote (calllog.call_progress): the caller's number,
    the flow's step, the keys pressed so far and whom it rings or talks with; ended calls are gone. The
    page's opening is audited (it shows numbers), its 2-second refreshes (fragment=1) are not."""
    from db.models import AuditLog, CallRecord
    from tests.conftest import NOW
    from voice import calllog

    for n, (did, caller) in enumerate([("0725998128", "09011112222"), ("0462000001", "0462551234")]):
        CallRecord.create(sip_call_id=f"live-{n}", did=did, caller=caller, worker=0, started_at=NOW, answered_at=NOW)
    CallRecord.create(sip_call_id="over", did="0725998128", caller="09099998888", worker=0, started_at=NOW,
                      answered_at=NOW, ended_at=NOW)
    calllog.call_progress("live-0", "sms_choice", "11", "flow")
    calllog.call_progress("live-1", "to_section", "0", "talking:マイナンバー係")
    text = clerk.get("/calls/live").get_data(as_text=True)
    assert "09011112222" in text and "0462551234" in text and "09099998888" not in text
    assert "sms_choice" in text and ">11<" in text and "マイナンバー係 と通話中" in text and "自動案内中" in text
    assert AuditLog.select().where(AuditLog.action == "calls.live_view").count() == 1
    fragment = clerk.get("/calls/live?fragment=1").get_data(as_text=True)
    assert fragment.lstrip().startswith('<table class="grid" id="live-calls">') and "09011112222" in fragment
    assert AuditLog.select().where(AuditLog.action == "calls.live_view").count() == 1
    assert viewer.get("/calls/live").status_code == 403
    calllog.call_ended("live-0", NOW, outcome="sms", end_reason="finished", path=["sms_choice"])
    assert "09011112222" not in clerk.get("/calls/live?fragment=1").get_data(as_text=True)
