"""The counter day in the capacity engine: staff edits (with party-size seats), check-in and no-show,
walk-ins; the seat counters stay equal to the bookings that hold seats."""

from __future__ import annotations

import datetime

import pytest

from appliance.clock import TOKYO
from db import bookings
from db.bookings import InvalidRequest, NotChangeable, SlotFull, StaleBooking, TooEarly
from db.connection import database
from db.models import AuditLog
from tests.conftest import CLERK, MISCOUNTED_SLOTS_SQL, NOW, SLOT_DAY, make_applicant, reload

ON_THE_DAY = datetime.datetime.combine(SLOT_DAY, datetime.time(9, 0), TOKYO)


def consistent() -> bool:
    return not database.execute_sql(MISCOUNTED_SLOTS_SQL).fetchall()


def staff_booking(slot, **kw):
    return bookings.book(slot.id, make_applicant(), "staff", NOW, actor=CLERK, **kw)


def test_edit_changes_name_and_kana_and_names_only_the_fields_in_the_audit(dummy_slot):
    """A misspelled name is fixed; the audit row lists the changed fields, never the names themselves."""
    booking = staff_booking(dummy_slot)
    bookings.edit(booking.number, NOW, actor=CLERK, expected_version=booking.version, name="市役 花子",
                  kana="しやく はなこ", party_size=1)
    stored = reload(booking)
    assert (stored.name, stored.kana, stored.version) == ("市役 花子", "シヤク　ハナコ", booking.version + 1)
    row = AuditLog.select().where(AuditLog.action == "booking.edit").get()
    assert '"name"' in row.details and "花子" not in row.details and "ハナコ" not in row.details


def test_larger_party_takes_seats_or_is_refused_whole(create_slot):
    """Party 1 → 2 takes the extra seat; 2 → 4 in a slot of 3 is SlotFull and changes nothing."""
    slot = create_slot(capacity=3)
    booking = staff_booking(slot)
    bookings.edit(booking.number, NOW, actor=CLERK, expected_version=1, name=booking.name, kana=booking.kana,
                  party_size=2)
    assert reload(slot).booked == 2
    with pytest.raises(SlotFull), database.atomic():
        bookings.edit(booking.number, NOW, actor=CLERK, expected_version=2, name=booking.name,
                      kana=booking.kana, party_size=4)
    assert reload(slot).booked == 2 and reload(booking).party_size == 2
    bookings.edit(booking.number, NOW, actor=CLERK, expected_version=2, name=booking.name, kana=booking.kana,
                  party_size=1)
    assert reload(slot).booked == 1 and consistent()


def test_two_clerks_editing_the_same_booking_do_not_overwrite_each_other(dummy_slot):
    """The second edit made from the same version is refused as stale; the first one stays."""
    booking = staff_booking(dummy_slot)
    bookings.edit(booking.number, NOW, actor=CLERK, expected_version=1, name="第一 太郎", kana="ダイイチ", party_size=1)
    with pytest.raises(StaleBooking):
        bookings.edit(booking.number, NOW, actor=CLERK, expected_version=1, name="第二 次郎", kana="ダイニ",
                      party_size=1)
    assert reload(booking).name == "第一 太郎"


def test_bad_names_are_refused_with_the_field(dummy_slot):
    booking = staff_booking(dummy_slot)
    with pytest.raises(InvalidRequest) as error:
        bookings.edit(booking.number, NOW, actor=CLERK, expected_version=1, name=" ", kana="ア", party_size=1)
    assert error.value.field == "name"
    with pytest.raises(InvalidRequest) as error:
        bookings.edit(booking.number, NOW, actor=CLERK, expected_version=1, name="山田", kana="yamada", party_size=1)
    assert error.value.field == "kana"


def test_check_in_and_no_show_on_the_day_keep_the_seat_and_free_the_person(dummy_slot):
    """Attendance is recorded from the appointment's day: never before. The seat stays counted; the person
    may book again; undo returns to confirmed."""
    booking = staff_booking(dummy_slot)
    with pytest.raises(TooEarly):
        bookings.set_attendance(booking.number, "attended", NOW, actor=CLERK, expected_version=1)
    bookings.set_attendance(booking.number, "attended", ON_THE_DAY, actor=CLERK, expected_version=1)
    stored = reload(booking)
    assert stored.status == "attended" and stored.active_person_key is None
    assert reload(dummy_slot).booked == 1 and consistent()
    bookings.set_attendance(booking.number, "no_show", ON_THE_DAY, actor=CLERK, expected_version=2)
    assert reload(booking).status == "no_show"
    assert AuditLog.select().where(AuditLog.action.in_(["booking.attended", "booking.no_show"])).count() == 2


def test_cancelled_bookings_get_no_attendance(dummy_slot):
    booking = staff_booking(dummy_slot)
    bookings.cancel(booking.number, "staff", NOW, actor=CLERK)
    with pytest.raises(NotChangeable):
        bookings.set_attendance(booking.number, "attended", ON_THE_DAY, actor=CLERK, expected_version=2)


def test_walk_in_is_attended_at_once_and_counts_over_a_full_slot(create_slot):
    """A walk-in takes a staff seat; in a full slot it is counted over capacity (they are already there)."""
    slot = create_slot(capacity=1)
    first = bookings.walk_in(slot.id, "来庁 一郎", "らいちょう", 1, ON_THE_DAY, actor=CLERK)
    second = bookings.walk_in(slot.id, "来庁 二郎", "ライチョウ", 2, ON_THE_DAY, actor=CLERK)
    assert (first.status, first.walk_in, first.counted_as, first.phone) == ("attended", True, "staff", None)
    assert second.counted_as == "over" and second.override_reason == "walk-in"
    assert reload(slot).booked == 3 and consistent()
    with pytest.raises(TooEarly):
        bookings.walk_in(slot.id, "早い 人", "ハヤイ", 1, NOW, actor=CLERK)
