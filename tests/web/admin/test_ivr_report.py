"""The key-press lines' monthly report: received and answered calls, how they ended (in the IVR, SMS,
transferred, abandoned), SMS sent and billed, per day, hour and node, and the two KPIs (自動音声ガイダンス
の利用者数 = answered calls, 直通電話の職員対応件数 = transfers that connected), counted from a generated
month against a hand count; the page, the PDF (read back with pdftotext) and the day CSV."""

from __future__ import annotations

import datetime
import json
import subprocess

import pytest

from appliance.clock import TOKYO
from db.models import CallRecord, Outbox, PhoneLine, QueueEntry
from tests.web.admin.test_printing import save_artifact
from web.admin import ivr_report

LINE = "0725998128"


def at(day: int, hour: int) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, hour, 5, tzinfo=TOKYO)


@pytest.fixture
def month(db):
    PhoneLine.create(did=LINE, flow="ivr", mode="dtmf_only", label="国保 資格・給付")
    PhoneLine.create(did="0586000001", flow="booking")
    calls = [  # (day, hour, answered, outcome, path)
        (2, 9, True, "finished", ["welcome", "hours", "main", "join", "bye"]),
        (2, 9, True, "sms", ["welcome", "hours", "main", "sms_choice", "sms_caller", "sent"]),
        (2, 13, True, "transferred", ["welcome", "hours", "main", "staff"]),
        (3, 13, True, "message", ["welcome", "hours", "main", "staff", "transfer_busy", "busy", "message", "bye"]),
        (3, 18, True, "caller_hangup", ["welcome", "hours", "closed", "closed_menu"]),
        (4, 10, False, "caller_cancel", []),
        (30, 23, True, "transferred", ["welcome", "hours", "main", "main", "staff"]),
    ]
    for n, (day, hour, answered, outcome, path) in enumerate(calls):
        started = at(day, hour)
        CallRecord.create(sip_call_id=f"m{n}", did=LINE, worker=0, kind="ivr", started_at=started,
                          answered_at=started if answered else None, ended_at=started + datetime.timedelta(minutes=2),
                          outcome=outcome, path=json.dumps(path))
    CallRecord.create(sip_call_id="other-line", did="0586000001", worker=0, kind="ai", started_at=at(2, 9),
                      answered_at=at(2, 9), ended_at=at(2, 10), outcome="booked", path="[]")
    CallRecord.create(sip_call_id="next-month", did=LINE, worker=0, kind="ivr", started_at=at(30, 23) + datetime.timedelta(hours=2),
                      answered_at=at(30, 23), ended_at=at(30, 23), outcome="finished", path="[]")
    for n, (state, wait) in enumerate((("connected", 20.0), ("connected", 40.0), ("abandoned", 90.0), ("timeout", 300.0))):
        QueueEntry.create(sip_call_id=f"q{n}", did=LINE, group_name="国保", entered_at=at(5, 10), state=state,
                          wait_s=wait)
    for n, status in enumerate(("sent", "sent", "dead")):
        Outbox.create(created_at=at(2, 9), event="ivr_sms", channel="sms", recipient="09011112222", body="x",
                      did=LINE, idempotency_key=f"ivr:{n}", next_attempt_at=at(2, 9), status=status,
                      sent_at=at(2, 9) if status == "sent" else None, segments=7 if status == "sent" else 0)


def test_the_month_is_counted_as_by_hand(month):
    r = ivr_report.month_report(2026, 11, LINE)
    assert (r.received, r.answered) == (7, 6)
    assert (r.in_ivr, r.sms, r.transferred, r.abandoned, r.other, r.transfer_failed) == (2, 1, 2, 1, 0, 1)
    assert (r.sms_sent, r.sms_parts) == (2, 14)
    assert r.by_day[datetime.date(2026, 11, 2)]["received"] == 3 and r.by_day[datetime.date(2026, 11, 1)] == {}
    assert r.by_hour[13] == {"received": 2, "transferred": 1}
    assert r.by_node["main"] == 5 and r.by_node["staff"] == 3  # a call passing a node twice counts once
    assert ivr_report.month_report(2026, 11, "").received == 7  # every IVR line: the booking line is not one
    assert r.queue == {"connected": 2, "abandoned": 1, "timeout": 1} and r.queue_wait_s == 60.0


def test_the_page_pdf_and_csv_show_the_kpis(month, viewer):
    page = viewer.get(f"/calls/ivr-report?month=2026-11&did={LINE}").get_data(as_text=True)
    assert "自動音声ガイダンスの利用者数" in page and "直通電話の職員対応件数" in page and "33.3%" in page
    assert "つながるまでの平均待ち時間（秒）</th><td class=\"num\">30.0" in page
    pdf = viewer.get(f"/calls/ivr-report.pdf?month=2026-11&did={LINE}")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.get_data(), capture_output=True,
                          check=True).stdout.decode()
    assert "ボタン操作の電話の月報" in text and "自動音声ガイダンスの利用者数" in text and "直通電話の職員対応件数" in text
    save_artifact("ivr-report.pdf", pdf.get_data())
    csv = viewer.get(f"/calls/ivr-report.csv?month=2026-11&did={LINE}&encoding=utf-8").get_data().decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("日,着信,応答") and "2026-11-02,3,3,1,1,1,0" in csv
    assert viewer.get("/calls/ivr-report?did=0586000001").status_code == 404
    assert viewer.get("/calls/ivr-report?month=2026-13").status_code == 404
