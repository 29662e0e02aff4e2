"""Statistics for the staff site: counts against a hand-made data set, zero-filled days, the range
checks, the monthly report's totals and the CSV rows, all from a fixed number of read-only queries."""

from __future__ import annotations

import datetime

import pytest

from db import bookings
from db.connection import database
from db.models import Booking, Slot, Traffic
from tests.conftest import CLERK, NOW, make_applicant
from web.admin import statistics
from web.admin.statistics import StatisticsError, summary

FIRST = datetime.date(2026, 12, 7)
LAST = datetime.date(2026, 12, 13)
TUESDAY = datetime.date(2026, 12, 8)
THURSDAY = datetime.date(2026, 12, 10)


def _book(slot, channel, party_size=1, status=None, walk_in=False):
    actor = CLERK if channel == "staff" else bookings.CITIZEN
    booking = bookings.book(slot.id, make_applicant(), channel, NOW, actor=actor, party_size=party_size)
    if status == "cancelled":
        bookings.cancel(booking.number, channel, NOW, actor=actor)
    elif status or walk_in:
        Booking.update(status=status or "confirmed", walk_in=walk_in, active_person_key=None).where(
            Booking.id == booking.id).execute()
    return booking


@pytest.fixture
def data(db, create_venue, create_slot, dummy_venue, settings_override):
    """Two venues with bookings in the week 7-13 Dec 2026 (and some outside it), an active venue without
    any, an inactive one without any; traffic rows inside and outside the week."""
    settings_override(max_party_size=4)
    north = create_venue(name="北支所", sort_order=1)
    south = create_venue(name="南支所", sort_order=2)
    create_venue(name="旧出張所", active=False)
    a1 = create_slot(venue=north, date=TUESDAY, start="10:00", capacity=8)
    a2 = create_slot(venue=north, date=TUESDAY, start="11:00", capacity=3)
    b1 = create_slot(venue=south, date=THURSDAY, start="10:00", capacity=5)
    b2 = create_slot(venue=south, date=THURSDAY, start="11:00", capacity=2)
    before = create_slot(venue=north, date=FIRST - datetime.timedelta(days=1), capacity=9)
    after = create_slot(venue=north, date=LAST + datetime.timedelta(days=1), capacity=9)

    _book(a1, "web", party_size=2, status="attended")
    _book(a1, "phone", status="no_show")
    _book(a1, "staff", party_size=3)
    _book(a2, "web", status="cancelled")
    _book(a2, "staff", status="attended", walk_in=True)
    _book(b1, "phone")
    _book(b1, "web")
    _book(b1, "staff", party_size=2, status="cancelled")
    _book(b2, "web")
    Slot.update(closed=True, closed_reason="会場の都合").where(Slot.id == b2.id).execute()
    _book(before, "staff")
    _book(after, "web", status="attended")

    for hour, site, requests in [("2026-12-08T09", "public", 5), ("2026-12-10T09", "public", 7),
                                 ("2026-12-08T14", "admin", 3), ("2026-12-13T23", "public", 2),
                                 ("2026-12-07T00", "admin", 1), ("2026-12-06T09", "public", 100),
                                 ("2026-12-14T00", "public", 50), ("2026-12-14T09", "admin", 40)]:
        Traffic.create(hour=hour, site=site, requests=requests)
    return {"north": north, "south": south, "dummy": dummy_venue}


def test_counts_match_the_hand_made_data_set(data):
    """Per venue: capacity of the open slots only, bookings not cancelled, people (party sizes), each
    status and the fill rate by seats; channels leave cancellations out and count the walk-in apart
    from staff; bookings outside the week (by slot date) are not counted; an active venue without
    figures shows zeros, an inactive one without figures is left out."""
    s = summary(FIRST, LAST)
    rows = {row.name: row for row in s.by_venue}
    assert set(rows) == {"本庁舎", "北支所", "南支所"}
    north, south, dummy = rows["北支所"], rows["南支所"], rows["本庁舎"]
    assert (north.capacity, north.booked, north.seats, north.attended, north.no_show, north.cancelled) == (
        11, 4, 7, 2, 1, 1)
    assert north.fill_rate == pytest.approx(7 / 11)
    assert (south.capacity, south.booked, south.seats, south.attended, south.no_show, south.cancelled) == (
        5, 3, 3, 0, 0, 1)
    assert south.fill_rate == pytest.approx(0.6)
    assert (dummy.capacity, dummy.booked, dummy.fill_rate) == (0, 0, None)
    assert "旧出張所" not in rows
    assert s.by_channel == {"web": 3, "phone": 2, "staff": 1, "walk_in": 1}
    assert s.by_status == {"confirmed": 4, "attended": 2, "no_show": 1, "cancelled": 2}
    assert (s.cancellations, s.no_shows) == (2, 1)


def test_every_day_of_the_range_has_a_row(data):
    """Days without slots or bookings are zero rows, so the day chart has no gaps; the two busy days
    carry their status counts and the capacity of their open slots."""
    s = summary(FIRST, LAST)
    assert [row.date for row in s.by_day] == [FIRST + datetime.timedelta(days=n) for n in range(7)]
    days = {row.date: (row.confirmed, row.attended, row.no_show, row.cancelled, row.capacity) for row in s.by_day}
    assert days.pop(TUESDAY) == (1, 2, 1, 1, 11)
    assert days.pop(THURSDAY) == (3, 0, 0, 1, 5)
    assert set(days.values()) == {(0, 0, 0, 0, 0)}


def test_a_single_day_with_nothing_is_one_zero_row(db):
    """first == last is a valid range of one day, drawn even on an empty database."""
    s = summary(TUESDAY, TUESDAY)
    assert [(row.date, row.confirmed, row.capacity) for row in s.by_day] == [(TUESDAY, 0, 0)]
    assert s.by_channel == {"web": 0, "phone": 0, "staff": 0, "walk_in": 0}
    assert s.requests_by_hour == [0] * 24


def test_venue_filter_counts_one_venue(data):
    """With a venue chosen, every booking figure is that venue's; requests stay site-wide."""
    s = summary(FIRST, LAST, data["south"].id)
    assert [row.name for row in s.by_venue] == ["南支所"]
    assert s.by_status == {"confirmed": 3, "attended": 0, "no_show": 0, "cancelled": 1}
    assert s.by_channel == {"web": 2, "phone": 1, "staff": 0, "walk_in": 0}
    assert sum(row.capacity for row in s.by_day) == 5
    assert sum(s.requests_by_hour) == 14


def test_requests_are_summed_per_hour_of_day_inside_the_period(data):
    """Traffic rows of the period's days are added up by hour of day and site; the first and last
    hours of the period count, the days around it do not."""
    s = summary(FIRST, LAST)
    assert len(s.requests_by_hour) == len(s.admin_requests_by_hour) == 24
    assert {h: n for h, n in enumerate(s.requests_by_hour) if n} == {9: 12, 23: 2}
    assert {h: n for h, n in enumerate(s.admin_requests_by_hour) if n} == {0: 1, 14: 3}


@pytest.mark.parametrize(("first", "last", "code", "message"), [
    (LAST, FIRST, "range_reversed", "終わりの日が始まりの日より前です。"),
    (datetime.date(2026, 1, 1), datetime.date(2027, 1, 2), "range_too_long", "366日"),
])
def test_bad_ranges_are_refused_in_japanese(db, first, last, code, message):
    """A reversed range or one longer than 366 days stops with a message staff can read."""
    with pytest.raises(StatisticsError, match=message) as raised:
        summary(first, last)
    assert raised.value.code == code


def test_366_days_are_allowed_and_unknown_venues_refused(db):
    """The longest range (a leap year) is accepted; a venue id that does not exist is refused."""
    assert len(summary(datetime.date(2028, 1, 1), datetime.date(2028, 12, 31)).by_day) == 366
    with pytest.raises(StatisticsError, match="会場が見つかりません"):
        summary(FIRST, LAST, venue_id=999_999)


def _statements(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = database.obj.execute_sql

    def recording(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return real(sql, params, *args, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", recording)
    return seen


def test_queries_do_not_grow_with_days_or_venues(data, create_venue, create_slot, monkeypatch):
    """A week and a year with 14 more venues, each with slots on many days, take the same small number
    of statements, all SELECTs: no query per day or venue, and nothing written."""
    seen = _statements(monkeypatch)
    summary(FIRST, LAST)
    week = list(seen)
    monkeypatch.undo()
    for n in range(14):
        venue = create_venue(name=f"出張所{n}")
        for day in range(0, 360, 7):
            create_slot(venue=venue, date=datetime.date(2026, 1, 1) + datetime.timedelta(days=day))
    seen = _statements(monkeypatch)
    year = summary(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    assert len(year.by_venue) == 17 and len(year.by_day) == 365
    assert len(seen) == len(week) <= 4
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in week + seen)


def test_monthly_report_totals_equal_the_sum_of_their_rows(data):
    """Every table of the December report ends in a totals row whose numbers are the sums of the rows
    above (the fill rate is recomputed from the summed seats and capacity, not added up)."""
    title, subtitle, tables = statistics.monthly_report(2026, 12)
    assert "2026年12月" in title and "2026年12月1日" in subtitle and "2026年12月31日" in subtitle
    headings = [heading for heading, _, _ in tables]
    assert headings == ["会場別の予約状況", "日別の予約状況", "受付経路別の予約件数（取消を除く）",
                        "状態別の予約件数", "時間帯別のアクセス数"]
    for heading, columns, rows in tables:
        *body, total = rows
        assert total[0] == "合計", heading
        assert all(len(row) == len(columns) for row in rows), heading
        for i, cell in enumerate(total[1:], start=1):
            if isinstance(cell, int):
                assert cell == sum(row[i] for row in body), (heading, columns[i])
        for row in rows:
            assert all(isinstance(cell, str | int | float) for cell in row), heading
    venues, days, channels, statuses, hours = (rows for _, _, rows in tables)
    # The whole month: the week's figures plus the slots of 6 and 14 December (one booking each).
    assert venues[-1][1:7] == [11 + 9 + 9 + 5, 7 + 2, 10 + 2, 2 + 1, 1, 2]
    assert venues[-1][7] == round(12 / 34 * 100, 1)
    assert len(days) == 31 + 1 and days[7][0] == "12月8日（火）"
    assert channels[-1][1] == statuses[-1][1] - statuses[-2][1] == 9
    assert hours[9] == ["9時台", 112, 40] and hours[-1][1:] == [164, 44]


def test_monthly_report_refuses_a_month_that_does_not_exist(db):
    """Month 13 is a staff-readable error, not a crash."""
    with pytest.raises(StatisticsError, match="年月"):
        statistics.monthly_report(2026, 13)


def test_csv_rows_are_days_by_venues_and_add_up(data):
    """One CSV row per day and venue with open slots or bookings, dates as YYYY-MM-DD; summed, the rows
    give the summary's status and channel counts."""
    s = summary(FIRST, LAST)
    header, rows = statistics.csv_rows(s)
    assert header[:2] == ["日付", "会場"] and all(len(row) == len(header) for row in rows)
    assert [(row[0], row[1]) for row in rows] == [("2026-12-08", "北支所"), ("2026-12-10", "南支所")]
    column = {name: header.index(statistics.texts()[f"csv.{name}"]) for name in statistics.CSV_FIELDS}
    assert {k: sum(row[column[k]] for row in rows) for k in statistics.STATUSES} == s.by_status
    assert {k: sum(row[column[k]] for row in rows) for k in statistics.CHANNELS} == s.by_channel
    assert [row[column["capacity"]] for row in rows] == [11, 5]
