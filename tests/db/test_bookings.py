"""The capacity engine: book, change, cancel, override, one booking per person, idempotency."""

from __future__ import annotations

import datetime
from dataclasses import replace

import pytest

from db import bookings
from db.bookings import (
    AlreadyBooked,
    InvalidRequest,
    NotChangeable,
    NotPermitted,
    OutsideWindow,
    SlotClosed,
    SlotFull,
    StaleBooking,
    book,
    cancel,
    change,
    lookup,
)
from db.models import AuditLog, Booking, Outbox
from tests.conftest import ADMIN, CLERK, NOW, SLOT_DAY, confirmed_seats, make_applicant, reload


def test_booking_takes_a_seat_and_writes_audit_and_outbox(dummy_slot):
    """A web booking counts one web seat, stores contact fields encrypted, and queues its notice."""
    booking = book(dummy_slot.id, make_applicant(notify="sms"), "web", NOW)
    slot = reload(dummy_slot)
    assert (slot.booked_web, slot.booked) == (1, 1)
    assert booking.status == "confirmed" and booking.counted_as == "web"
    assert bookings.valid_number(booking.number)
    assert AuditLog.select().where(AuditLog.object_id == booking.number, AuditLog.action == "booking.create").count() == 1
    assert Outbox.select().where(Outbox.booking == booking, Outbox.event == "booking_confirmed").count() == 1


def test_full_slot_is_the_domain_outcome_slot_full(create_slot):
    """The last seat goes to one booking; the next gets SlotFull and nothing is written."""
    slot = create_slot(capacity=1)
    book(slot.id, make_applicant(), "web", NOW)
    before = Booking.select().count()
    with pytest.raises(SlotFull):
        book(slot.id, make_applicant(), "web", NOW)
    assert Booking.select().count() == before
    assert reload(slot).booked == 1


def test_party_size_counts_seats(create_slot, settings_override):
    """A party of 2 needs 2 free seats; citizens may bring at most max_party_size, staff more."""
    slot = create_slot(capacity=3)
    with pytest.raises(InvalidRequest):
        book(slot.id, make_applicant(), "web", NOW, party_size=2)
    settings_override(max_party_size=2)
    book(slot.id, make_applicant(), "web", NOW, party_size=2)
    with pytest.raises(SlotFull):
        book(slot.id, make_applicant(), "web", NOW, party_size=2)
    book(slot.id, make_applicant(), "web", NOW, party_size=1)
    assert reload(slot).booked == 3 == confirmed_seats(slot)


def test_idempotency_key_makes_one_booking(dummy_slot):
    """A double-clicked form (same nonce) books once and queues one notice."""
    person = make_applicant(notify="sms")
    first = book(dummy_slot.id, person, "web", NOW, idempotency_key="form-nonce-1")
    again = book(dummy_slot.id, person, "web", NOW, idempotency_key="form-nonce-1")
    assert first.id == again.id
    assert reload(dummy_slot).booked == 1
    assert Outbox.select().count() == 1


def test_one_active_booking_per_person(create_slot, settings_override):
    """Same phone and birth date cannot hold two active bookings, unless the city turns the rule off."""
    a, b = create_slot(start="10:00"), create_slot(start="10:30")
    person = make_applicant()
    book(a.id, person, "web", NOW)
    with pytest.raises(AlreadyBooked):
        book(b.id, replace(person, phone=f"{person.phone[:3]}-{person.phone[3:7]}-{person.phone[7:]}"), "phone", NOW)
    settings_override(one_booking_per_person=False)
    book(b.id, person, "web", NOW)


def test_person_rule_normalises_the_phone(create_slot):
    """全角 digits and hyphens identify the same person as plain digits."""
    a, b = create_slot(start="10:00"), create_slot(start="10:30")
    book(a.id, make_applicant(1001, phone="09000001001"), "web", NOW)
    with pytest.raises(AlreadyBooked):
        book(b.id, make_applicant(1001, phone="０９０－００００－１００１"), "web", NOW)


def test_cancelled_or_past_bookings_do_not_block_a_new_one(create_slot):
    """After cancelling, or once the appointment day is past, the person may book again."""
    a, b = create_slot(start="10:00"), create_slot(start="10:30")
    person = make_applicant()
    first = book(a.id, person, "web", NOW)
    cancel(first.number, "web", NOW)
    second = book(b.id, person, "web", NOW)
    later = NOW.replace(day=12)
    c = create_slot(date=datetime.date(2026, 12, 20))
    assert book(c.id, person, "web", later).status == "confirmed"
    assert reload(second).active_person_key is None


def test_cancel_frees_the_seat_and_is_idempotent(create_slot):
    slot = create_slot(capacity=1)
    booking = book(slot.id, make_applicant(notify="email", email="a@example.jp"), "web", NOW)
    cancel(booking.number, "web", NOW)
    cancel(booking.number, "web", NOW)
    assert reload(slot).booked == 0
    assert reload(booking).status == "cancelled"
    assert Outbox.select().where(Outbox.event == "booking_cancelled").count() == 1
    book(slot.id, make_applicant(), "web", NOW)


def test_change_moves_atomically(create_slot):
    """A move takes the new seat and frees the old; to a full slot it changes nothing."""
    a, b, full = create_slot(start="10:00"), create_slot(start="10:30"), create_slot(start="11:00", capacity=1)
    booking = book(a.id, make_applicant(), "web", NOW)
    book(full.id, make_applicant(), "web", NOW)
    with pytest.raises(SlotFull):
        change(booking.number, full.id, "web", NOW)
    assert (reload(a).booked, reload(full).booked, reload(booking).slot_id) == (1, 1, a.id)
    change(booking.number, b.id, "web", NOW)
    assert (reload(a).booked, reload(b).booked, reload(booking).slot_id) == (0, 1, b.id)
    assert reload(booking).version == 2


def test_stale_version_is_refused(dummy_slot, create_slot):
    """A change based on an outdated view (version) is refused instead of overwriting."""
    other = create_slot(start="11:30")
    booking = book(dummy_slot.id, make_applicant(), "web", NOW)
    with pytest.raises(StaleBooking):
        change(booking.number, other.id, "staff", NOW, actor=CLERK, expected_version=booking.version + 1)
    assert reload(other).booked == 0


def test_override_is_for_admins_with_a_reason(create_slot):
    """Over capacity only for an admin with a reason; counted in booked_over."""
    slot = create_slot(capacity=1)
    book(slot.id, make_applicant(), "web", NOW)
    with pytest.raises(NotPermitted):
        book(slot.id, make_applicant(), "staff", NOW, actor=CLERK, override_reason="高齢のため")
    with pytest.raises(SlotFull):
        book(slot.id, make_applicant(), "staff", NOW, actor=ADMIN)
    over = book(slot.id, make_applicant(), "staff", NOW, actor=ADMIN, override_reason="高齢のため")
    slot = reload(slot)
    assert over.counted_as == "over" and slot.booked_over == 1 and slot.booked == 2
    cancel(over.number, "staff", NOW, actor=ADMIN)
    assert reload(slot).booked_over == 0


def test_held_seats_and_their_release(create_slot):
    """Phone-held seats are closed to the web until the release day, then open to all."""
    slot = create_slot(capacity=2, phone_seats=1)
    book(slot.id, make_applicant(), "web", NOW)
    with pytest.raises(SlotFull):
        book(slot.id, make_applicant(), "web", NOW)
    release_day = datetime.datetime.combine(SLOT_DAY - datetime.timedelta(days=3), datetime.time(9), NOW.tzinfo)
    assert book(slot.id, make_applicant(), "web", release_day).counted_as == "web"


def test_phone_uses_its_held_seat_when_general_seats_are_gone(create_slot):
    slot = create_slot(capacity=2, phone_seats=1)
    book(slot.id, make_applicant(), "web", NOW)
    assert book(slot.id, make_applicant(), "phone", NOW).counted_as == "phone"
    with pytest.raises(SlotFull):
        book(slot.id, make_applicant(), "staff", NOW, actor=CLERK)


def test_reception_window_edges(create_slot):
    """Default window: from 09:00 sixty days before until 19:30 the day before (Asia/Tokyo)."""
    slot = create_slot(date=SLOT_DAY)
    tz = NOW.tzinfo
    day_before = SLOT_DAY - datetime.timedelta(days=1)
    opens = datetime.datetime.combine(SLOT_DAY - datetime.timedelta(days=60), datetime.time(9), tz)
    closes = datetime.datetime.combine(day_before, datetime.time(19, 30), tz)
    with pytest.raises(OutsideWindow) as not_open:
        book(slot.id, make_applicant(), "web", opens - datetime.timedelta(minutes=1))
    assert not_open.value.code == "not_open" and not_open.value.window.opens_at == opens
    with pytest.raises(OutsideWindow) as closed:
        book(slot.id, make_applicant(), "phone", closes)
    assert closed.value.code == "closed"
    book(slot.id, make_applicant(), "web", opens)
    book(slot.id, make_applicant(), "web", closes - datetime.timedelta(seconds=1))


def test_staff_may_book_after_the_public_deadline(create_slot):
    """Clerks take bookings for callers and walk-ins until the slot starts."""
    slot = create_slot(capacity=1)
    evening = datetime.datetime.combine(SLOT_DAY, datetime.time(9, 45), NOW.tzinfo)
    assert book(slot.id, make_applicant(), "staff", evening, actor=CLERK).status == "confirmed"
    too_late = datetime.datetime.combine(SLOT_DAY, datetime.time(10, 0), NOW.tzinfo)
    with pytest.raises(OutsideWindow):
        book(slot.id, make_applicant(), "staff", too_late, actor=CLERK)


def test_closed_slot_refuses(create_slot):
    slot = create_slot(closed=True, closed_reason="工事")
    with pytest.raises(SlotClosed):
        book(slot.id, make_applicant(), "staff", NOW, actor=ADMIN, override_reason="x")


@pytest.mark.parametrize("field,value,code", [
    ("name", "  ", "required"),
    ("kana", "Yamada", "not_katakana"),
    ("phone", "12345", "invalid"),
    ("birth_date", datetime.date(2030, 1, 1), "impossible"),
    ("email", "not an email", "invalid"),
    ("notify", "fax", "invalid"),
])
def test_invalid_applicant_is_refused_with_the_field(dummy_slot, field, value, code):
    with pytest.raises(InvalidRequest) as refused:
        book(dummy_slot.id, make_applicant(**{field: value}), "web", NOW)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert reload(dummy_slot).booked == 0


def test_hiragana_furigana_is_stored_as_katakana(dummy_slot):
    booking = book(dummy_slot.id, make_applicant(kana="しけん たろう"), "web", NOW)
    assert reload(booking).kana == "シケン　タロウ"


def test_lookup_needs_number_and_birth_date(dummy_slot):
    person = make_applicant(phone="090-1111-2222")
    booking = book(dummy_slot.id, person, "web", NOW)
    assert lookup(booking.number, person.birth_date).id == booking.id
    assert lookup(booking.number, person.birth_date, "2222").id == booking.id
    assert lookup(booking.number, person.birth_date, "9999") is None
    assert lookup(booking.number, person.birth_date + datetime.timedelta(days=1)) is None
    wrong_check_digit = booking.number[:7] + str((int(booking.number[7]) + 1) % 10)
    assert lookup(wrong_check_digit, person.birth_date) is None


def test_attended_booking_cannot_be_cancelled(dummy_slot):
    booking = book(dummy_slot.id, make_applicant(), "web", NOW)
    Booking.update(status="attended", active_person_key=None).where(Booking.id == booking.id).execute()
    with pytest.raises(NotChangeable):
        cancel(booking.number, "web", NOW)


def test_inactive_venue_is_not_bookable(create_venue, create_slot):
    venue = create_venue(active=False)
    slot = create_slot(venue=venue)
    with pytest.raises(SlotClosed):
        book(slot.id, make_applicant(), "staff", NOW, actor=ADMIN)


def test_citizen_cannot_move_an_appointment_that_has_begun(create_slot):
    a, b = create_slot(start="10:00"), create_slot(date=SLOT_DAY + datetime.timedelta(days=1))
    booking = book(a.id, make_applicant(), "web", NOW)
    started = datetime.datetime.combine(SLOT_DAY, datetime.time(10, 5), NOW.tzinfo)
    with pytest.raises(NotChangeable):
        change(booking.number, b.id, "web", started)
    assert change(booking.number, b.id, "staff", started, actor=CLERK).slot_id == b.id
