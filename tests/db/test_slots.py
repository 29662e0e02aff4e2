"""Slot generation from a weekly template, holidays, bulk capacity and closing."""

from __future__ import annotations

import datetime

import pytest

from db.bookings import book
from db.models import Slot
from db.slots import (
    CapacityBelowBooked,
    SlotRequestError,
    WeeklyTemplate,
    adjust_capacity,
    close_slots,
    closed_day,
    generate_slots,
    plan_slots,
)
from tests.conftest import ADMIN, NOW, SLOT_DAY, make_applicant, reload

D = datetime.date
WEEKDAYS_9_TO_12 = WeeklyTemplate.parse("mon-fri", "09:00-12:00", capacity=3, phone_seats=1)


def test_template_expands_to_half_hour_slots():
    template = WeeklyTemplate.parse("mon,wed-thu", "09:00-10:30,13:00-13:30", capacity=2)
    assert sorted(template.hours) == [0, 2, 3]
    assert [t.strftime("%H:%M") for t in template.starts(2)] == ["09:00", "09:30", "10:00", "13:00"]
    assert template.starts(1) == []


@pytest.mark.parametrize("days,hours,capacity,fragment", [
    ("mon-fri", "9-12", 2, "not a time"),
    ("mon-fri", "09:15-12:00", 2, "hour or half hour"),
    ("mon-fri", "12:00-09:00", 2, "end before they start"),
    ("funday", "09:00-12:00", 2, "unknown weekday"),
    ("fri-mon", "09:00-12:00", 2, "runs backwards"),
    ("mon", "09:00-12:00,11:00-13:00", 2, "overlap"),
    ("mon", "09:00-12:00", 0, "capacity"),
    ("mon", "", 2, "at least one"),
])
def test_invalid_templates_are_refused(days, hours, capacity, fragment):
    with pytest.raises(SlotRequestError, match=fragment):
        WeeklyTemplate.parse(days, hours, capacity)


def test_holidays_and_year_end_are_skipped():
    """National holidays (incl. substitute holidays) and 12/29-1/3 get no slots."""
    assert closed_day(D(2026, 11, 23)) == "勤労感謝の日"
    assert closed_day(D(2027, 1, 11)) == "成人の日"
    assert closed_day(D(2026, 12, 29)) == closed_day(D(2027, 1, 3)) == "年末年始"
    assert closed_day(D(2026, 12, 28)) is None and closed_day(D(2027, 1, 4)) is None


def test_generate_skips_closed_days_and_existing_slots(dummy_venue):
    first, last = D(2026, 12, 21), D(2027, 1, 15)
    plan = generate_slots(dummy_venue, first, last, WEEKDAYS_9_TO_12, ADMIN, NOW)
    days = {d for d, _ in plan.new}
    assert D(2026, 12, 28) in days and D(2026, 12, 29) not in days and D(2027, 1, 4) in days
    assert D(2027, 1, 11) not in days  # 成人の日
    assert (D(2027, 1, 11), "成人の日") in plan.skipped_days
    assert all(d.weekday() < 5 for d in days)
    assert len(plan.new) == 6 * len(days)
    created = Slot.select().where(Slot.venue == dummy_venue).count()
    again = generate_slots(dummy_venue, first, last, WEEKDAYS_9_TO_12, ADMIN, NOW)
    assert again.new == [] and again.existing == created
    slot = Slot.get(Slot.venue == dummy_venue, Slot.date == D(2027, 1, 4), Slot.start == datetime.time(9))
    assert (slot.capacity, slot.phone_seats) == (3, 1)


def test_plan_is_a_preview_that_writes_nothing(dummy_venue):
    plan = plan_slots(dummy_venue, D(2027, 2, 1), D(2027, 2, 5), WEEKDAYS_9_TO_12)
    assert len(plan.new) == 30
    assert Slot.select().where(Slot.venue == dummy_venue).count() == 0


@pytest.mark.parametrize("first,last,fragment", [
    (D(2027, 2, 5), D(2027, 2, 1), "ends .* before it starts"),
    (D(2027, 1, 1), D(2028, 6, 1), "longer than"),
])
def test_invalid_ranges_are_refused(dummy_venue, first, last, fragment):
    with pytest.raises(SlotRequestError, match=fragment):
        plan_slots(dummy_venue, first, last, WEEKDAYS_9_TO_12)


def test_capacity_changes_in_bulk(create_slot):
    a, b = create_slot(start="09:00", capacity=2), create_slot(start="09:30", capacity=2)
    adjust_capacity(None, SLOT_DAY, SLOT_DAY, ADMIN, NOW, delta=2)
    assert (reload(a).capacity, reload(b).capacity) == (4, 4)
    adjust_capacity(None, SLOT_DAY, SLOT_DAY, ADMIN, NOW, set_to=1)
    assert reload(a).capacity == 1


def test_capacity_below_booked_is_refused_as_a_whole(create_slot):
    """Reducing below what is booked names the slots and changes none of them."""
    a, b = create_slot(start="09:00", capacity=3), create_slot(start="09:30", capacity=3)
    book(a.id, make_applicant(), "staff", NOW, party_size=2, actor=ADMIN)
    with pytest.raises(CapacityBelowBooked, match="1 slot.*09:00 \\(2 booked\\)"):
        adjust_capacity(None, SLOT_DAY, SLOT_DAY, ADMIN, NOW, delta=-2)
    assert (reload(a).capacity, reload(b).capacity) == (3, 3)


def test_close_returns_affected_bookings_and_blocks_new_ones(create_slot):
    a, b = create_slot(start="09:00"), create_slot(start="09:30")
    booked = book(a.id, make_applicant(), "web", NOW)
    affected = close_slots(None, SLOT_DAY, SLOT_DAY, "停電のため", ADMIN, NOW)
    assert [x.number for x in affected] == [booked.number]
    assert reload(b).closed and reload(b).closed_reason == "停電のため"
    from db.bookings import SlotClosed
    with pytest.raises(SlotClosed):
        book(b.id, make_applicant(), "web", NOW)


def test_close_needs_a_reason_and_slots(dummy_venue):
    with pytest.raises(SlotRequestError, match="reason"):
        close_slots(dummy_venue, SLOT_DAY, SLOT_DAY, " ", ADMIN, NOW)
    with pytest.raises(SlotRequestError, match="no slots"):
        close_slots(dummy_venue, SLOT_DAY, SLOT_DAY, "休館", ADMIN, NOW)
