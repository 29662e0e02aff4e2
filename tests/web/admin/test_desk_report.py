"""The call center's report: the KPIs of a generated month against a hand count (calls offered through
the queue and put through without it, answered, abandoned, the waits, talk and after-call work of the
records, first-contact resolution, by hour, by topic, the FAQ entries' uses), the same figures on the
page with their definitions, in the PDF (read back with pdftotext) and in the CSV; the fiscal year's
report month by month; a month outside the calendar is a 404."""

from __future__ import annotations

import csv
import datetime
import io
import subprocess

import pytest

from appliance.clock import TOKYO
from db import faq, inquiries
from db.models import CallRecord, Inquiry, QueueEntry
from tests.conftest import ADMIN, NOW
from web.admin import desk_report

DAY = datetime.datetime(2026, 11, 10, 10, 0, tzinfo=TOKYO)


def at(minutes: float) -> datetime.datetime:
    return DAY + datetime.timedelta(minutes=minutes)


@pytest.fixture
def month(db):
    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    faq.save_category("cert", "電子証明書の更新", 2, ADMIN, NOW)
    entry = faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました", "窓口で。"), ADMIN, NOW, status="published")
    # six waits in the queue at 10時台 and 14時台: three put through (waited 10, 20, 30 s), two hung up, one overflowed
    for n, (state, wait, hour) in enumerate([("connected", 10, 0), ("connected", 20, 0), ("connected", 30, 240),
                                              ("abandoned", 45, 0), ("abandoned", 60, 240), ("timeout", 300, 240)]):
        QueueEntry.create(sip_call_id=f"q{n}", did="0725998128", group_name="受付", entered_at=at(hour + n), state=state,
                          wait_s=wait, left_at=at(hour + n + 1))
    # put through without the queue: one connected, one busy; and one that never asked for an operator
    for sip_call_id, outcome, path in [("d1", "transferred", '["main", "staff"]'),
                                       ("d2", "finished", '["main", "staff", "transfer_busy", "bye"]'),
                                       ("m1", "finished", '["main", "sms"]')]:
        CallRecord.create(sip_call_id=sip_call_id, did="0725998128", worker=1, started_at=at(30), ended_at=at(33),
                          outcome=outcome, path=path)
    CallRecord.create(sip_call_id="outside", did="0725998128", worker=1, started_at=at(60 * 24 * 30), ended_at=at(60 * 24 * 30 + 2),
                      outcome="transferred", path="[]")
    # records: two phone calls (talk 180 s + 60 s wrap; talk 300 s + 120 s wrap), a counter one; two first-contact
    for n, (channel, topic, talk, wrap, first) in enumerate([("phone", "pin", 180, 60, True),
                                                             ("phone", "cert", 300, 120, False),
                                                             ("counter", "pin", None, None, True)]):
        record = inquiries.open_contact(channel, ADMIN, at(n))
        fields = dict(summary="質問", answer="回答", topic=topic, outcome="resolved", first_contact=first,
                      faq_entries=(entry.id,) if topic == "pin" else ())
        inquiries.save(record.id, 1, inquiries.RecordFields(**fields), ADMIN, at(n))
        if talk is not None:
            Inquiry.update(answered_at=at(n), talk_ended_at=at(n) + datetime.timedelta(seconds=talk),
                           completed_at=at(n) + datetime.timedelta(seconds=talk + wrap)).where(Inquiry.id == record.id).execute()
    faq.record_use(entry.id, "sms", at(5))
    return entry


def test_the_months_kpis_match_a_hand_count(month):
    f = desk_report.figures(*desk_report.month_period(2026, 11))
    assert (f.offered, f.answered, f.abandoned) == (8, 4, 2)  # 6 queued + 2 put through directly
    assert f.answer_rate == 0.5 and f.abandon_rate == pytest.approx(2 / 6)
    assert sorted(f.wait_s) == [10, 20, 30]  # 平均応答時間 20 s
    assert sorted(f.talk_s) == [180, 300] and sorted(f.handle_s) == [240, 420]
    assert (f.contacts, f.first_contact, f.first_contact_rate) == (3, 2, pytest.approx(2 / 3))
    assert (f.by_hour[10]["offered"], f.by_hour[10]["answered"]) == (5, 3)  # 3 queued + d1 + d2 at 10:30
    assert (f.by_hour[14]["offered"], f.by_hour[14]["answered"]) == (3, 1)
    assert f.by_topic == {"暗証番号": 2, "電子証明書の更新": 1}
    assert f.faq_uses == {month.id: {"operator": 2, "sms": 1}}
    rows = {row[0]: row[1] for row in desk_report.kpi_rows(f)}
    assert rows["応答率"] == "50.0%" and rows["放棄率"] == "33.3%" and rows["一次完了率"] == "66.7%"
    assert rows["平均応答時間"] == "0分20秒" and rows["平均通話時間"] == "4分00秒" and rows["平均処理時間"] == "5分30秒"


def test_the_page_pdf_and_csv_show_the_same_figures(viewer, month):
    page = viewer.get("/desk/report", query_string={"month": "2026-11"}).get_data(as_text=True)
    assert "50.0%" in page and "応答件数 ÷ 入電件数" in page and "<svg" in page and "暗証番号を忘れました" in page
    pdf = viewer.get("/desk/report.pdf", query_string={"month": "2026-11"})
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.get_data(), capture_output=True,
                          check=True).stdout.decode()
    assert "コールセンター業務報告" in text and "2026年11月" in text and "50.0%" in text and "5分30秒" in text
    data = viewer.get("/desk/report.csv", query_string={"month": "2026-11", "encoding": "utf-8"}).get_data()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[2][:2] == ["入電件数", "8"] and any(r[:2] == ["暗証番号を忘れました", "2"] for r in rows)
    assert viewer.get("/desk/report", query_string={"month": "2026-13"}).status_code == 404


def test_the_fiscal_years_report_goes_month_by_month(viewer, month):
    page = viewer.get("/desk/report", query_string={"year": "2026"}).get_data(as_text=True)
    assert "2026年度（2026年4月〜2027年3月）" in page and "月ごとの推移" in page
    table = page[page.index("月ごとの推移"):]
    assert table.index("2026年4月") < table.index("2026年11月") < table.index("2027年3月")
    assert '>2026年11月</th><td class="num">8</td><td class="num">4</td><td class="">50.0%</td>' in table
