"""web.admin.lists.day_list: the day's slots and bookings read from the encrypted database, as the
printed list and the CSV export show them."""

from __future__ import annotations

import datetime
import re
import subprocess

import pytest

from appliance import runtime
from appliance.clock import TOKYO
from db import bookings
from db.models import Booking
from tests.conftest import CLERK, NOW, SLOT_DAY, make_applicant, reload
from web.admin.lists import day_list
from web.admin.printing import day_list_csv, day_list_pdf

ON_THE_DAY = datetime.datetime.combine(SLOT_DAY, datetime.time(9, 0), TOKYO)


def book(slot, kana: str, *, channel: str = "staff", party_size: int = 1, phone: str | None = None,
         name: str | None = None) -> Booking:
    extra = {"phone": phone} if phone else {}
    applicant = make_applicant(kana=kana, **({"name": name} if name else {}), **extra)
    return bookings.book(slot.id, applicant, channel, NOW, actor=CLERK, party_size=party_size)


@pytest.fixture
def day(create_slot, dummy_venue):
    """Three slots created out of order, bookings on all channels, one cancelled, one walk-in."""
    late = create_slot(start="10:30", capacity=4, closed=True, closed_reason="点検")
    early = create_slot(start="09:30", capacity=4)
    ten = create_slot(start="10:00", capacity=8)
    made = {
        "watanabe": book(ten, "ワタナベ　ハナコ", channel="web", phone="090-1234-5678"),
        "abe": book(ten, "アベ　タロウ", channel="phone"),
        "sato1": book(ten, "サトウ　イチロウ", party_size=3),
        "sato2": book(ten, "サトウ　イチロウ"),
        "cancelled": book(ten, "アイダ　キエル"),
        "early": book(early, "ナカムラ　ユキ", name="中村 由紀"),
    }
    bookings.cancel(made["cancelled"].number, "staff", NOW, actor=CLERK)
    made["walk_in"] = bookings.walk_in(ten.id, "当日 来庁", "トウジツ　ライチョウ", 1, ON_THE_DAY, actor=CLERK)
    return {"venue": dummy_venue, "slots": {"09:30": early, "10:00": ten, "10:30": late}, "bookings": made}


def test_slots_come_in_time_order_and_bookings_by_kana_then_number(day):
    """Sections follow the slot start (whatever the creation order); inside a slot, bookings are ordered
    by furigana, and equal furigana by reservation number."""
    result = day_list(day["venue"], SLOT_DAY, printed_by="窓口 花子", now=NOW)
    assert [s.start for s in result.sections] == [datetime.time(9, 30), datetime.time(10), datetime.time(10, 30)]
    ten = result.sections[1]
    made = day["bookings"]
    satos = sorted([made["sato1"].number, made["sato2"].number])
    assert [e.number for e in ten.entries] == [made["abe"].number, *satos, made["walk_in"].number,
                                              made["watanabe"].number]
    assert [e.kana for e in ten.entries][0] == "アベ　タロウ"


def test_cancelled_bookings_are_left_out_and_seats_come_from_the_slot(day):
    """A cancelled booking is not listed; the seat count is the slot's booked counter (party sizes
    summed, the walk-in included, the cancelled seat given back)."""
    result = day_list(day["venue"], SLOT_DAY, printed_by="x", now=NOW)
    ten = result.sections[1]
    numbers = {e.number for s in result.sections for e in s.entries}
    assert day["bookings"]["cancelled"].number not in numbers
    assert ten.booked == reload(day["slots"]["10:00"]).booked == 1 + 1 + 3 + 1 + 1
    assert (ten.capacity, result.sections[0].booked) == (8, 1)


def test_entries_carry_decrypted_names_last4_channel_and_walk_in(day):
    """Names and furigana are decrypted; the phone gives only its last 4 digits (none for a walk-in);
    channel, status and the walk-in flag come through."""
    ten = day_list(day["venue"], SLOT_DAY, printed_by="x", now=NOW).sections[1]
    by_number = {e.number: e for e in ten.entries}
    watanabe = by_number[day["bookings"]["watanabe"].number]
    assert (watanabe.kana, watanabe.phone_last4, watanabe.channel, watanabe.status, watanabe.walk_in) == \
        ("ワタナベ　ハナコ", "5678", "web", "confirmed", False)
    assert by_number[day["bookings"]["abe"].number].channel == "phone"
    walk_in = by_number[day["bookings"]["walk_in"].number]
    assert (walk_in.name, walk_in.phone_last4, walk_in.channel, walk_in.status, walk_in.walk_in) == \
        ("当日 来庁", "", "staff", "attended", True)
    assert by_number[day["bookings"]["sato1"].number].party_size == 3


def test_closed_slot_and_list_header(day, settings_override):
    """A closed slot keeps its reason; city comes from the settings, venue and print data from the call."""
    settings_override(city_name="テスト市")
    result = day_list(day["venue"], SLOT_DAY, printed_by="窓口 花子", now=NOW)
    late = result.sections[2]
    assert (late.closed, late.closed_reason, late.entries) == (True, "点検", ())
    assert (result.city, result.venue, result.date) == ("テスト市", "本庁舎", SLOT_DAY)
    assert (result.printed_at, result.printed_by) == (NOW, "窓口 花子")
    assert runtime.settings().city_name == "テスト市"


def test_start_selects_a_single_slot(day):
    """With start given, the list holds only that slot and its bookings."""
    result = day_list(day["venue"], SLOT_DAY, start=datetime.time(9, 30), printed_by="x", now=NOW)
    assert [s.start for s in result.sections] == [datetime.time(9, 30)]
    assert [e.name for e in result.sections[0].entries] == ["中村 由紀"]
    assert day_list(day["venue"], SLOT_DAY, start=datetime.time(8, 0), printed_by="x", now=NOW).sections == ()


def test_other_venues_and_days_are_not_listed(day, create_venue, create_slot):
    """Slots of another venue or another date at the same time stay out of the list."""
    other = create_venue()
    book(create_slot(venue=other, start="10:00"), "ホカ　カイジョウ")
    book(create_slot(date=SLOT_DAY + datetime.timedelta(days=1), start="10:00"), "ヨク　ジツ")
    result = day_list(day["venue"], SLOT_DAY, printed_by="x", now=NOW)
    kana = {e.kana for s in result.sections for e in s.entries}
    assert "ホカ　カイジョウ" not in kana and "ヨク　ジツ" not in kana
    assert len(result.sections) == 3


def test_two_queries_whatever_the_number_of_slots(day, db, monkeypatch):
    """One query for the slots and one (joined) for all their bookings, not one per slot."""
    statements = []
    real = db.obj.execute_sql
    monkeypatch.setattr(db.obj, "execute_sql", lambda sql, *a, **kw: statements.append(sql) or real(sql, *a, **kw))
    day_list(day["venue"], SLOT_DAY, printed_by="x", now=NOW)
    assert len(statements) == 2, statements
    assert re.search(r'JOIN "slot"', statements[1])


def test_database_list_prints_and_exports(day):
    """End to end: the list read from the database prints its decrypted names and exports as CSV."""
    result = day_list(day["venue"], SLOT_DAY, printed_by="窓口 花子", now=NOW)
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", "-layout", "-", "-"], input=day_list_pdf(result),
                                             capture_output=True, check=True).stdout.decode())
    assert "中村由紀" in text and "ワタナベハナコ" in text and "アイダキエル" not in text
    assert "受付休止：点検" in text and "2026年12月10日（木）" in text
    rows = day_list_csv(result, "utf-8").decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + 6
