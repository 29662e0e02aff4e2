"""The inquiry record book (db/inquiries.py): a call put through to a staff phone opens one record
(however often the connect is written), linked to the call; the operator's save is checked, names the
revision it edited (the second of two operators is told) and links the FAQ entries used, counting
each once; "resolved" needs an answer and ends the after-call work; an escalation is due after
business hours (a weekend and a holiday skipped), mails its group without personal data, and is
answered and closed; the book is searched by period and words inside the encrypted texts; the purge
takes the caller's contact and the question of finished records, and leaves open ones."""

import datetime

import pytest

from db import faq, inquiries, purge
from db.calendars import OFFICE_HOURS
from db.models import CallRecord, FaqUse, Inquiry, Outbox
from tests.conftest import ADMIN, NOW

TOKYO = NOW.tzinfo


@pytest.fixture
def call(db):
    return CallRecord.create(sip_call_id="call-desk-1", did="0725998128", worker=1, started_at=NOW - datetime.timedelta(minutes=3),
                             path='["welcome", "main"]', live_step="main", live_keys="2")


@pytest.fixture
def entry(db):
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    return faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました", "窓口で設定し直せます。"), ADMIN, NOW,
                      status="published")


@pytest.fixture
def groups(settings_override):
    settings_override(escalation_groups="市民課マイナンバー担当=mynumber@demo.lg.jp kakari@demo.lg.jp")


def test_a_call_put_through_opens_one_record_linked_to_it(call):
    first = inquiries.open_for_call("call-desk-1", "受付1", NOW)
    again = inquiries.open_for_call("call-desk-1", "受付1", NOW + datetime.timedelta(seconds=5))
    assert first.id == again.id and Inquiry.select().count() == 1
    assert (first.channel, first.did, first.target, first.call_id, first.status) == (
        "phone", "0725998128", "受付1", call.id, "open")
    assert first.received_at == call.started_at and first.answered_at == NOW
    assert inquiries.call_path(first) == (["welcome", "main"], "2")
    assert inquiries.open_for_call("no-such-call", "受付1", NOW) is None
    assert [r.id for r in inquiries.open_records(["受付1"])] == [first.id] and inquiries.open_records(["受付2"]) == []


def test_a_resolved_record_keeps_the_answer_links_faq_once_and_ends_the_work(call, entry):
    record = inquiries.open_for_call("call-desk-1", "受付1", NOW)
    fields = inquiries.RecordFields(topic="pin", summary="暗証番号を忘れた", answer="窓口で再設定できると案内",
                                    caller_name="山田", caller_phone="０９０-１２３４-５６７８", booking_number="",
                                    faq_entries=(entry.id, entry.id), outcome="open")
    record = inquiries.save(record.id, 1, fields, ADMIN, NOW)
    assert (record.status, record.caller_phone, record.revision, record.completed_at) == ("open", "09012345678", 2, None)
    CallRecord.update(ended_at=NOW + datetime.timedelta(minutes=4)).execute()
    done = inquiries.save(record.id, 2, inquiries.RecordFields(**{**fields.__dict__, "outcome": "resolved",
                                                                   "first_contact": True}), ADMIN,
                          NOW + datetime.timedelta(minutes=6))
    assert (done.status, done.first_contact) == ("resolved", True)
    assert done.talk_ended_at == NOW + datetime.timedelta(minutes=4)  # the call's end: talk time
    assert done.completed_at == NOW + datetime.timedelta(minutes=6)  # after-call work ends with the record
    assert [e.key for e in inquiries.faq_entries(done)] == ["pin-forgot"]
    assert FaqUse.select().where(FaqUse.channel == "operator").count() == 1
    raw = Inquiry._meta.database.execute_sql("SELECT summary, caller_phone FROM inquiry").fetchone()
    assert b"09012345678" not in bytes(raw[1]) and "暗証番号".encode() not in bytes(raw[0])


@pytest.mark.parametrize("change, field", [
    ({"summary": "あ" * 2001}, "summary"), ({"caller_phone": "12345"}, "caller_phone"),
    ({"booking_number": "12345678"}, "booking_number"), ({"topic": "nope"}, "topic"),
    ({"outcome": "resolved", "answer": ""}, "answer"), ({"outcome": "escalated"}, "outcome"),
    ({"summary": "暗証\x00番号"}, "summary"),
])
def test_a_bad_field_is_refused_by_name_and_nothing_changes(call, entry, change, field):
    record = inquiries.open_for_call("call-desk-1", "受付1", NOW)
    with pytest.raises(inquiries.InquiryProblem) as refused:
        inquiries.save(record.id, 1, inquiries.RecordFields(**{"summary": "質問", **change}), ADMIN, NOW)
    assert field in [p.field for p in refused.value.problems]
    assert Inquiry.get_by_id(record.id).revision == 1


def test_the_second_of_two_operators_is_told(call):
    record = inquiries.open_for_call("call-desk-1", "受付1", NOW)
    inquiries.save(record.id, 1, inquiries.RecordFields(summary="一人目"), ADMIN, NOW)
    with pytest.raises(inquiries.RecordConflict) as conflict:
        inquiries.save(record.id, 1, inquiries.RecordFields(summary="二人目"), ADMIN, NOW)
    assert conflict.value.inquiry.summary == "一人目"


def test_business_hours_skip_the_evening_the_weekend_and_a_holiday():
    friday_4pm = datetime.datetime(2026, 11, 20, 16, 0, tzinfo=TOKYO)
    # 75 minutes on Friday; Monday 11/23 is 勤労感謝の日; Tuesday from 8:30 for the remaining 405
    assert OFFICE_HOURS.after_open_minutes(friday_4pm, 480) == datetime.datetime(2026, 11, 24, 15, 15, tzinfo=TOKYO)
    saturday = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=TOKYO)
    assert OFFICE_HOURS.after_open_minutes(saturday, 30) == datetime.datetime(2026, 11, 24, 9, 0, tzinfo=TOKYO)
    year_end = datetime.datetime(2026, 12, 28, 17, 0, tzinfo=TOKYO)
    assert OFFICE_HOURS.after_open_minutes(year_end, 60) == datetime.datetime(2027, 1, 4, 9, 15, tzinfo=TOKYO)


def test_an_escalation_is_due_in_business_hours_mailed_without_personal_data_answered_and_closed(call, groups):
    record = inquiries.open_for_call("call-desk-1", "受付1", NOW)
    record = inquiries.save(record.id, 1, inquiries.RecordFields(summary="施設にいる母の更新", caller_name="山田花子",
                                                                caller_phone="09012345678"), ADMIN, NOW)
    friday_4pm = datetime.datetime(2026, 11, 20, 16, 0, tzinfo=TOKYO)
    with pytest.raises(inquiries.InquiryProblem):
        inquiries.escalate(record.id, record.revision, "総務課", "確認してください", ADMIN, friday_4pm)
    escalation = inquiries.escalate(record.id, record.revision, "市民課マイナンバー担当", "代理人の手続きを確認してください",
                                    ADMIN, friday_4pm)
    assert escalation.due_at == datetime.datetime(2026, 11, 24, 15, 15, tzinfo=TOKYO)
    assert Inquiry.get_by_id(record.id).status == "escalated"
    mails = list(Outbox.select().where(Outbox.event == "alert").order_by(Outbox.id))
    assert [m.recipient for m in mails] == ["mynumber@demo.lg.jp", "kakari@demo.lg.jp"]
    assert f"No.{record.id}" in mails[0].body and "2026-11-24 15:15" in mails[0].body
    assert "山田" not in mails[0].body and "09012345678" not in mails[0].body and "施設" not in mails[0].body
    with pytest.raises(inquiries.InquiryProblem):
        inquiries.save(record.id, Inquiry.get_by_id(record.id).revision,
                       inquiries.RecordFields(summary="x", answer="y", outcome="resolved"), ADMIN, NOW)
    answered = inquiries.reply(escalation.id, "代理人は照会書で手続きできます。", ADMIN, NOW)
    assert (answered.status, answered.reply) == ("answered", "代理人は照会書で手続きできます。")
    inquiries.close(escalation.id, ADMIN, NOW)
    assert Inquiry.get_by_id(record.id).status == "closed" and inquiries.escalations() == []


def test_the_book_is_searched_by_period_and_words_in_the_encrypted_texts(db, groups):
    for n, summary in enumerate(["暗証番号を忘れた", "電子証明書の更新の予約", "暗証番号のロック"]):
        record = inquiries.open_contact("counter", ADMIN, NOW - datetime.timedelta(days=n))
        inquiries.save(record.id, 1, inquiries.RecordFields(summary=summary), ADMIN, NOW)
    week = (NOW - datetime.timedelta(days=7), NOW + datetime.timedelta(days=1))
    assert [r.summary for r in inquiries.search(*week, words="暗証番号")] == ["暗証番号を忘れた", "暗証番号のロック"]
    assert [r.summary for r in inquiries.search(*week, words="暗証番号 ロック")] == ["暗証番号のロック"]
    assert len(inquiries.search(NOW - datetime.timedelta(hours=1), week[1])) == 1
    with pytest.raises(inquiries.InquiryProblem):
        inquiries.open_contact("fax", ADMIN, NOW)


def test_past_answers_are_candidates_too(db):
    record = inquiries.open_contact("phone", ADMIN, NOW)
    inquiries.save(record.id, 1, inquiries.RecordFields(summary="海外に住む息子のカードの更新", answer="国外転出者向けの手続きを案内",
                                                       outcome="resolved"), ADMIN, NOW)
    found = inquiries.past_answers().search("かいがいに いる むすこ の こうしん")
    assert [c.document.key for c in found] == [f"inquiry-{record.id}"]


def test_the_purge_takes_contacts_and_questions_of_finished_records_and_keeps_open_ones(db, instance):
    old = NOW - datetime.timedelta(days=400)
    finished = inquiries.open_contact("phone", ADMIN, old)
    inquiries.save(finished.id, 1, inquiries.RecordFields(summary="山田の質問", answer="案内した", caller_name="山田",
                                                         caller_phone="09012345678", outcome="resolved"), ADMIN, old)
    still_open = inquiries.open_contact("phone", ADMIN, old)
    inquiries.save(still_open.id, 1, inquiries.RecordFields(summary="折り返し待ち", caller_name="佐藤"), ADMIN, old)
    counts = purge.Purged(NOW, False, {})
    counts.counts["inquiry_contacts"], counts.counts["inquiry_texts"] = purge._inquiries(
        NOW - datetime.timedelta(days=180), NOW - datetime.timedelta(days=90), False)
    assert counts.counts == {"inquiry_contacts": 1, "inquiry_texts": 1}
    gone = Inquiry.get_by_id(finished.id)
    assert (gone.caller_name, gone.caller_phone, gone.summary, gone.answer) == (None, None, None, "案内した")
    kept = Inquiry.get_by_id(still_open.id)
    assert (kept.caller_name, kept.summary) == ("佐藤", "折り返し待ち")


def test_a_record_finished_during_the_call_gets_its_talk_time_when_the_call_ends(call):
    """Resolved while still talking: no talk end yet (not "now"); the call's end writes it, and the
    after-call work is then nothing (finished before the end)."""
    from voice import calllog
    record = inquiries.open_for_call("call-desk-1", "受付1", NOW)
    done = inquiries.save(record.id, 1, inquiries.RecordFields(summary="質問", answer="回答", outcome="resolved"), ADMIN,
                          NOW + datetime.timedelta(minutes=2))
    assert done.talk_ended_at is None and done.completed_at == NOW + datetime.timedelta(minutes=2)
    calllog.call_ended("call-desk-1", NOW + datetime.timedelta(minutes=3), outcome="transferred",
                       end_reason="transfer_ended", path=["welcome", "staff"])
    assert Inquiry.get_by_id(record.id).talk_ended_at == NOW + datetime.timedelta(minutes=3)
