"""Calendars for IVR schedule nodes (db/calendars.py): open at 08:45 and closed at 17:15 exactly,
weekends, national holidays and 12/29-1/3 closed, a dated exception (日曜開庁, a closed afternoon)
decides before every other rule, and a calendar that cannot be saved names each problem in Japanese."""

import datetime
import json

import pytest

from db import calendars
from db.models import AuditLog, Calendar
from tests.conftest import ADMIN, NOW

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
IZUMI = {"name": "国保", "weekly": {str(d): ["08:45-17:15"] for d in range(5)},
         "exceptions": [{"date": "2026-12-13", "hours": ["09:00-12:00"], "label": "日曜開庁"},
                        {"date": "2026-12-09", "hours": ["08:45-12:00"], "label": "午後休み"},
                        {"date": "2027-01-04", "hours": [], "label": "臨時休業"}]}


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.mark.parametrize(("when", "is_open", "rule"), [
    ("2026-12-07 08:44", False, "曜日ごとの受付時間"),
    ("2026-12-07 08:45", True, "曜日ごとの受付時間"),
    ("2026-12-07 17:14", True, "曜日ごとの受付時間"),
    ("2026-12-07 17:15", False, "曜日ごとの受付時間"),
    ("2026-12-12 10:00", False, "曜日ごとの受付時間"),  # Saturday
    ("2026-12-13 10:00", True, "例外（日曜開庁）"),  # a Sunday opened
    ("2026-12-13 12:00", False, "例外（日曜開庁）"),
    ("2026-12-09 13:00", False, "例外（午後休み）"),
    ("2026-12-28 17:00", True, "曜日ごとの受付時間"),
    ("2026-12-29 10:00", False, "年末年始（12/29〜1/3）"),
    ("2027-01-03 10:00", False, "年末年始（12/29〜1/3）"),
    ("2027-01-04 10:00", False, "例外（臨時休業）"),
    ("2027-01-05 10:00", True, "曜日ごとの受付時間"),
    ("2026-11-23 10:00", False, "祝日（勤労感謝の日）"),  # a Monday
    ("2027-01-11 10:00", False, "祝日（成人の日）"),
])
def test_open_or_closed_and_the_rule_that_decided(when, is_open, rule):
    assert calendars.parse(IZUMI).at(at(when)) == calendars.Verdict(is_open, rule)


def test_holidays_and_the_year_end_can_be_open_days_when_the_city_says_so():
    always = calendars.parse({"name": "コールセンター", "weekly": {str(d): ["00:00-24:00"] for d in range(7)},
                              "holidays_closed": False, "year_end_closed": False})
    assert always.at(at("2026-12-31 23:59")).open and always.at(at("2026-11-23 03:00")).open


@pytest.mark.parametrize(("change", "problem"), [
    ({"name": ""}, "カレンダーの名前"),
    ({"weekly": {"7": ["08:45-17:15"]}}, "曜日は0（月）〜6（日）"),
    ({"weekly": {"0": ["17:15-08:45"]}}, "時間帯「17:15-08:45」"),
    ({"weekly": {"0": ["8時45分から"]}}, "時間帯「8時45分から」"),
    ({"weekly": {"0": ["09:00-12:00", "11:00-13:00"]}}, "月曜日の時間帯が重なっています"),
    ({"exceptions": [{"date": "12/27", "hours": []}]}, "例外の日付「12/27」"),
    ({"exceptions": [{"date": "2026-12-27"}, {"date": "2026-12-27"}]}, "二度あります"),
])
def test_a_calendar_that_cannot_work_is_refused_naming_the_problem(change, problem):
    with pytest.raises(calendars.CalendarError) as refused:
        calendars.parse({**IZUMI, **change})
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_full_width_times_and_a_wave_dash_are_read():
    schedule = calendars.parse({"name": "x", "weekly": {"0": ["０８：４５〜１７：１５"]}})
    assert schedule.weekly[0] == ((8 * 60 + 45, 17 * 60 + 15),)


def test_saving_replaces_the_calendar_with_an_audit_row_and_reads_back_the_same(db):
    calendars.save(IZUMI, ADMIN, NOW)
    calendars.save({**IZUMI, "exceptions": []}, ADMIN, NOW)
    assert Calendar.select().count() == 1
    assert calendars.get("国保") == calendars.parse({**IZUMI, "exceptions": []})
    assert [json.loads(r.details)["created"] for r in AuditLog.select().where(AuditLog.action == "calendar.save")] == [
        True, False]
