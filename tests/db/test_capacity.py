"""Remaining seats per channel and the alternatives offered when a wish is full."""

from __future__ import annotations

import datetime

from db.bookings import book
from db.capacity import alternatives, remaining
from tests.conftest import NOW, SLOT_DAY, make_applicant, reload

TODAY = NOW.date()


def test_remaining_per_channel(create_slot):
    """capacity 4 with 1 phone and 1 staff seat held: web sees 2, phone 3, staff 3; after release all 4."""
    slot = create_slot(capacity=4, phone_seats=1, staff_seats=1)
    assert [remaining(slot, c, TODAY, 3) for c in ("web", "phone", "staff")] == [2, 3, 3]
    release = SLOT_DAY - datetime.timedelta(days=3)
    assert [remaining(slot, c, release, 3) for c in ("web", "phone", "staff")] == [4, 4, 4]
    slot.booked_phone = 2  # phone took its held seat and one general seat
    assert [remaining(slot, c, TODAY, 3) for c in ("web", "phone", "staff")] == [1, 1, 2]
    slot.closed = True
    assert remaining(slot, "staff", TODAY, 3) == 0


def test_override_seats_count_against_everyone(create_slot):
    slot = create_slot(capacity=2)
    slot.booked_web, slot.booked_over = 2, 1
    assert remaining(slot, "web", TODAY, 3) == 0 and remaining(slot, "staff", TODAY, 3) == 0


def test_alternatives_same_venue_first_then_others_earliest(create_venue, create_slot, dummy_venue):
    """Three earliest bookable slots: the wished venue's first, then other venues by date and time."""
    other = create_venue(sort_order=99)
    full = create_slot(start="10:00", capacity=1)
    book(full.id, make_applicant(), "web", NOW)
    later_same = create_slot(date=SLOT_DAY + datetime.timedelta(days=1), start="09:00")
    create_slot(start="09:00", closed=True, closed_reason="x")
    same_day_other = create_slot(venue=other, start="09:30")
    create_slot(venue=other, date=SLOT_DAY + datetime.timedelta(days=2), start="09:00")
    found = alternatives(dummy_venue.id, SLOT_DAY, "web", NOW, release_days=3)
    assert [a.slot_id for a in found][:2] == [later_same.id, same_day_other.id]
    assert len(found) == 3 and found[0].same_venue and not found[1].same_venue
    assert all(a.slot_id != full.id for a in found)


def test_alternatives_respect_channel_window_and_party(create_slot, dummy_venue):
    held = create_slot(start="09:00", capacity=1, phone_seats=1)  # only the phone may book it
    small = create_slot(start="09:30", capacity=1)
    past_deadline = create_slot(date=NOW.date() + datetime.timedelta(days=1), start="09:00")
    evening = NOW.replace(hour=20)  # after 19:30 the day before: tomorrow is no longer bookable
    web = alternatives(dummy_venue.id, NOW.date(), "web", evening, release_days=3)
    assert held.id not in [a.slot_id for a in web] and past_deadline.id not in [a.slot_id for a in web]
    assert small.id in [a.slot_id for a in web]
    phone = alternatives(dummy_venue.id, SLOT_DAY, "phone", NOW, release_days=3)
    assert phone[0].slot_id == held.id
    pair = alternatives(dummy_venue.id, SLOT_DAY, "web", NOW, party_size=2, release_days=3)
    assert small.id not in [a.slot_id for a in pair]


def test_alternatives_never_in_the_past(create_slot, dummy_venue):
    create_slot(date=datetime.date(2026, 11, 30), start="09:00")
    earlier_today = create_slot(date=NOW.date(), start="09:30")
    later_today = create_slot(date=NOW.date(), start="10:30")
    found = alternatives(dummy_venue.id, datetime.date(2026, 11, 1), "staff", NOW, release_days=3)
    assert [a.slot_id for a in found] == [later_today.id]
    assert earlier_today.id not in [a.slot_id for a in found]


def test_cancelled_seat_reappears_as_an_alternative(create_slot, dummy_venue):
    slot = create_slot(capacity=1)
    booking = book(slot.id, make_applicant(), "web", NOW)
    assert slot.id not in [a.slot_id for a in alternatives(dummy_venue.id, SLOT_DAY, "web", NOW, release_days=3)]
    from db.bookings import cancel
    cancel(booking.number, "web", NOW)
    assert reload(slot).booked == 0
    assert slot.id in [a.slot_id for a in alternatives(dummy_venue.id, SLOT_DAY, "web", NOW, release_days=3)]


def test_search_skips_slots_full_for_the_channel_in_the_database(create_slot, dummy_venue):
    """has_room() agrees with remaining(): a slot whose only free seat is held for the phone is no
    candidate for the web, is one for the phone, and is one for the web after the release day."""
    held = create_slot(capacity=1, phone_seats=1)
    assert alternatives(dummy_venue.id, SLOT_DAY, "web", NOW, release_days=3) == []
    assert [a.slot_id for a in alternatives(dummy_venue.id, SLOT_DAY, "phone", NOW, release_days=3)] == [held.id]
    release = datetime.datetime.combine(SLOT_DAY - datetime.timedelta(days=3), datetime.time(9), NOW.tzinfo)
    assert [a.slot_id for a in alternatives(dummy_venue.id, SLOT_DAY, "web", release, release_days=3)] == [held.id]


def test_remaining_sql_agrees_with_remaining(create_slot, db):
    """The database's arithmetic and Python's give the same seats for every channel and counter mix."""
    from db.capacity import remaining_sql
    from db.models import Slot
    cases = [dict(capacity=4, phone_seats=1, staff_seats=1), dict(capacity=4, phone_seats=1, booked_phone=2),
             dict(capacity=3, staff_seats=2, booked_web=1, booked_staff=1), dict(capacity=3, booked_web=2),
             dict(capacity=5, phone_seats=2, booked_phone=1, booked_web=3), dict(capacity=3, closed=True)]
    for i, values in enumerate(cases):
        create_slot(start=datetime.time(9 + i), **values)
        create_slot(date=TODAY + datetime.timedelta(days=2), start=datetime.time(9 + i), **values)
    Slot.update(booked_over=Slot.booked_over + 2).where(Slot.capacity == 3, Slot.booked_web == 2).execute()
    for channel in ("web", "phone", "staff"):
        for slot in Slot.select(Slot, remaining_sql(channel, TODAY, 3).alias("sql_remaining")):
            assert slot.sql_remaining == remaining(slot, channel, TODAY, 3), (channel, slot.id)
