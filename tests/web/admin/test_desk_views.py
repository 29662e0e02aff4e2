"""The operator's desk on the admin site: a call put through to the operator's phone is listed (the
refreshing fragment too) and its record opens with the line and the call's path and keys; the
answer candidates for what was written; finishing it resolved with the FAQ entry used; two operators
on one record (the second told, their text kept); an escalation with its due time, the group's
reply and closing; the book searched and exported; a viewer reads records masked and writes
nothing."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from db import faq, inquiries
from db.models import CallRecord, FaqUse, Inquiry, Outbox
from tests.conftest import ADMIN, NOW


@pytest.fixture
def desk_call(db, settings_override):
    settings_override(escalation_groups="市民課マイナンバー担当=mynumber@demo.lg.jp")
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました", "市役所の窓口で暗証番号を設定し直せます。"),
               ADMIN, NOW, status="published")
    CallRecord.create(sip_call_id="desk-1", did="0725998128", worker=1, started_at=NOW - datetime.timedelta(minutes=2),
                      live_step="staff", live_keys="31", live_state="talking:受付1")
    return inquiries.open_for_call("desk-1", "受付1", NOW)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_call_put_through_is_listed_and_its_record_resolved_with_the_faq_used(clerk, desk_call):
    page = text(clerk.get("/desk"))
    assert f"No.{desk_call.id}" in page and "受付1" in page and f"/inquiries/{desk_call.id}" in page
    assert f"No.{desk_call.id}" in text(clerk.get("/desk", query_string={"fragment": "1"}))
    record = text(clerk.get(f"/inquiries/{desk_call.id}"))
    assert "0725998128" in record and "31" in record  # the line and the keys pressed
    searched = text(clerk.post(f"/inquiries/{desk_call.id}/save", data={
        "action": "candidates", "summary": "あんしょうばんごう わすれた", "caller_phone": "09012345678", "revision": "1"}))
    assert "<mark>暗証番号</mark>を<mark>忘れ</mark>ました" in searched and "09012345678" in searched  # kept in the form
    assert Inquiry.get_by_id(desk_call.id).revision == 1  # searching saved nothing
    entry = faq.entry_by_key("pin-forgot")
    saved = clerk.post(f"/inquiries/{desk_call.id}/save", data={
        "summary": "暗証番号を忘れた", "answer": "窓口で再設定できると案内", "topic": "pin", "faq_entries": str(entry.id),
        "outcome": "resolved", "first_contact": "y", "revision": "1"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/desk")
    done = Inquiry.get_by_id(desk_call.id)
    assert (done.status, done.first_contact, done.topic) == ("resolved", True, "pin")
    assert FaqUse.select().where(FaqUse.entry == entry.id, FaqUse.channel == "operator").count() == 1
    assert f"No.{desk_call.id}" not in text(clerk.get("/desk", query_string={"fragment": "1"}))


def test_a_bad_field_is_shown_at_the_field(clerk, desk_call):
    clerk.get(f"/inquiries/{desk_call.id}")
    refused = clerk.post(f"/inquiries/{desk_call.id}/save", data={"summary": "質問", "caller_phone": "12-34",
                                                                  "outcome": "resolved", "revision": "1"})
    page = text(refused)
    assert refused.status_code == 422 and "折り返しの電話番号を確かめてください" in page and "答えた内容を回答に" in page


def test_the_second_of_two_operators_is_told_and_keeps_their_text(clerk_client, create_user, desk_call):
    first, second = clerk_client(create_user("staff")), clerk_client(create_user("staff"))
    first.get(f"/inquiries/{desk_call.id}")
    second.get(f"/inquiries/{desk_call.id}")
    first.post(f"/inquiries/{desk_call.id}/save", data={"summary": "一人目の記録", "outcome": "open", "revision": "1"})
    late = second.post(f"/inquiries/{desk_call.id}/save", data={"summary": "二人目の記録", "outcome": "open",
                                                                "revision": "1"})
    assert late.status_code == 409 and "一人目の記録" in text(late) and "二人目の記録" in text(late)
    assert Inquiry.get_by_id(desk_call.id).summary == "一人目の記録"


def test_an_escalation_is_due_mailed_answered_and_closed(clerk, desk_call):
    clerk.get(f"/inquiries/{desk_call.id}")
    escalated = clerk.post(f"/inquiries/{desk_call.id}/escalate", data={
        "group": "市民課マイナンバー担当", "note": "施設入所中の方の代理手続きを確認", "revision": "1"})
    assert escalated.status_code == 302
    assert "引き継ぎました（回答期限" in text(clerk.get(escalated.headers["Location"]))
    assert Outbox.select().where(Outbox.event == "alert").count() == 1
    listed = text(clerk.get("/escalations"))
    assert f"No.{desk_call.id}" in listed and "回答待ち" in listed
    (escalation,) = inquiries.escalations()
    clerk.post(f"/escalations/{escalation.id}", data={"action": "reply", "reply": "照会書で手続きできます。"})
    assert "回答あり" in text(clerk.get("/escalations"))
    clerk.post(f"/escalations/{escalation.id}", data={"action": "close"})
    assert Inquiry.get_by_id(desk_call.id).status == "closed" and inquiries.escalations() == []


def test_the_book_is_searched_and_exported(clerk, desk_call):
    inquiries.save(desk_call.id, 1, inquiries.RecordFields(summary="暗証番号のロック", answer="窓口で解除", topic="pin",
                                                          outcome="resolved", first_contact=True), ADMIN, NOW)
    other = inquiries.open_contact("counter", ADMIN, NOW)
    inquiries.save(other.id, 1, inquiries.RecordFields(summary="更新の予約"), ADMIN, NOW)
    page = text(clerk.get("/inquiries", query_string={"words": "ロック", "start": "2026-11-01", "end": "2026-12-31"}))
    assert f"No.{desk_call.id}" in page and f"No.{other.id}" not in page
    exported = clerk.get("/inquiries/export.csv", query_string={"encoding": "utf-8", "start": "2026-11-01"})
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["番号", "受付日時", "受付方法"] and len(rows) == 3
    assert {r[5] for r in rows[1:]} == {"暗証番号のロック", "更新の予約"}
    bad = clerk.get("/inquiries", query_string={"start": "2026-13-45"})
    assert bad.status_code == 422


def test_a_viewer_reads_records_masked_and_writes_nothing(viewer, desk_call):
    inquiries.save(desk_call.id, 1, inquiries.RecordFields(summary="山田花子さん 090-1234-5678 の件", caller_name="山田花子",
                                                          caller_phone="09012345678"), ADMIN, NOW)
    page = text(viewer.get(f"/inquiries/{desk_call.id}"))
    assert "山田" not in page and "1234" not in page and "＊＊＊＊さん" in page
    assert "山田" not in text(viewer.get("/inquiries"))
    assert viewer.get("/desk").status_code == 403
    assert viewer.post(f"/inquiries/{desk_call.id}/save", data={"summary": "x"}).status_code == 403


def test_a_booking_made_on_the_callers_behalf_is_linked_from_the_record(clerk, desk_call):
    from db import normalize
    number = "1234567" + normalize.check_digit("1234567")
    clerk.get(f"/inquiries/{desk_call.id}")
    clerk.post(f"/inquiries/{desk_call.id}/save", data={"summary": "更新の予約", "booking_number": number[:4] + "-" + number[4:],
                                                        "outcome": "open", "revision": "1"})
    assert Inquiry.get_by_id(desk_call.id).booking_number == number
    assert f'href="/bookings/{number}"' in text(clerk.get(f"/inquiries/{desk_call.id}"))


def test_an_export_of_the_book_is_audited(clerk, desk_call):
    from db.models import AuditLog
    clerk.get("/inquiries/export.csv", query_string={"encoding": "shift_jis"})
    (row,) = AuditLog.select().where(AuditLog.action == "export.inquiries")
    assert row.object_id == "inquiries" and '"rows": 1' in row.details
