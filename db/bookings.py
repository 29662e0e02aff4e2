"""The capacity engine: book, change (an atomic move), cancel, and staff booking with override.

Web, phone and staff all call these functions. They never commit: the entry point wraps each call in
`db.connection.write_transaction()` (BEGIN IMMEDIATE), so a read-check-write here cannot interleave
with another writer, and the slot UPDATE is conditional as well, backed by a CHECK and a trigger in
the schema. Losing a race is the domain outcome SlotFull, never a database error.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass, replace

from appliance import runtime
from appliance.clock import TOKYO
from db import audit, crypto, normalize, outbox
from db.capacity import CHANNELS, Window, remaining, window_for, window_rules
from db.models import Booking, Slot

log = logging.getLogger(__name__)

COUNTERS = {"web": Slot.booked_web, "phone": Slot.booked_phone, "staff": Slot.booked_staff,
            "over": Slot.booked_over}
MAX_PARTY_SIZE = 10


class BookingError(Exception):
    """A domain outcome the channel shows or speaks (message texts live in the catalogues)."""

    code = "booking_error"


class SlotFull(BookingError):
    code = "slot_full"


class SlotClosed(BookingError):
    code = "slot_closed"


class OutsideWindow(BookingError):
    def __init__(self, state: str, window: Window):
        super().__init__(state)
        self.code = state  # "not_open" or "closed"
        self.window = window


class AlreadyBooked(BookingError):
    code = "already_booked"


class NotPermitted(BookingError):
    code = "not_permitted"


class NotFound(BookingError):
    code = "not_found"


class NotChangeable(BookingError):
    code = "not_changeable"


class StaleBooking(BookingError):
    """Someone else changed the booking since it was shown (optimistic version check)."""

    code = "stale"


class InvalidRequest(BookingError):
    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff login with its role, or 'citizen' / 'caller' for the public channels."""

    name: str
    role: str | None = None
    source: str = ""


CITIZEN = Actor("citizen")


@dataclass(frozen=True)
class Applicant:
    name: str
    kana: str
    phone: str
    birth_date: datetime.date
    email: str | None = None
    notify: str = "none"

    def normalized(self, today: datetime.date) -> Applicant:
        name, kana = _clean_name(self.name, self.kana)
        phone = normalize.phone(self.phone)
        if phone is None:
            raise InvalidRequest("phone", "invalid")
        if not datetime.date(1900, 1, 1) <= self.birth_date <= today:
            raise InvalidRequest("birth_date", "impossible")
        email = None
        if (self.email or "").strip():
            email = normalize.email(self.email)
            if email is None:
                raise InvalidRequest("email", "invalid")
        if self.notify not in ("sms", "email", "none"):
            raise InvalidRequest("notify", "invalid")
        if self.notify == "email" and not email:
            raise InvalidRequest("email", "required")
        return replace(self, name=name, kana=kana, phone=phone, email=email)

    def person_key(self) -> str:
        return crypto.cipher().blind_index(f"{self.phone}|{self.birth_date.isoformat()}", "person")


def valid_number(number: str) -> bool:
    """Reservation numbers are 8 digits, the last a check digit, so a mistyped one is caught early."""
    return normalize.reservation_number(number) == number


def _new_number() -> str:
    while True:
        body = f"{secrets.randbelow(10**7):07d}"
        number = body + normalize.check_digit(body)
        if not Booking.select().where(Booking.number == number).exists():
            return number


def phone_index(phone: str) -> str:
    return crypto.cipher().blind_index(phone, "phone")


def _slot(slot_id: int) -> Slot:
    slot = Slot.get_or_none(Slot.id == slot_id)
    if slot is None:
        raise NotFound(f"slot {slot_id}")
    if slot.closed or not slot.venue.active:
        raise SlotClosed(f"slot {slot_id}")
    return slot


def _check_window(slot: Slot, channel: str, now: datetime.datetime) -> None:
    window = window_for(slot, window_rules(), channel)
    state = window.state(now)
    if state != "open":
        raise OutsideWindow(state, window)


def _take_seats(slot: Slot, channel: str, party_size: int, now: datetime.datetime, actor: Actor,
                override_reason: str) -> str:
    """Count the party into the slot; returns the counter used ('over' for an admin override)."""
    today = now.astimezone(TOKYO).date()
    if remaining(slot, channel, today, runtime.settings().reserved_seats_release_days) >= party_size:
        column = COUNTERS[channel]
        taken = (Slot.update({column: column + party_size})
                 .where(Slot.id == slot.id, ~Slot.closed,
                        Slot.booked_web + Slot.booked_phone + Slot.booked_staff + Slot.booked_over
                        + party_size <= Slot.capacity)
                 .execute())
        if taken:
            return channel
    if not override_reason:
        raise SlotFull(f"slot {slot.id}")
    if actor.role != "admin":
        raise NotPermitted("only an administrator may book over capacity")
    Slot.update({Slot.booked_over: Slot.booked_over + party_size}).where(Slot.id == slot.id).execute()
    return "over"


def _release_seats(slot_id: int, counted_as: str, party_size: int) -> None:
    column = COUNTERS[counted_as]
    Slot.update({column: column - party_size}).where(Slot.id == slot_id).execute()


def _claim_person(applicant: Applicant, today: datetime.date) -> str:
    """One active booking per person: past appointments stop counting, a current one refuses."""
    key = applicant.person_key()
    past_slots = Slot.select(Slot.id).where(Slot.date < today)
    (Booking.update(active_person_key=None)
     .where(Booking.active_person_key == key, Booking.slot.in_(past_slots)).execute())
    if Booking.select().where(Booking.active_person_key == key).exists():
        raise AlreadyBooked("this person already has an active booking")
    return key


def _save(booking: Booking, expected_version: int | None, now: datetime.datetime, **changes) -> Booking:
    """Conditional update on the version, so concurrent edits never overwrite each other silently."""
    version = booking.version if expected_version is None else expected_version
    changes.update(version=version + 1, updated_at=now)
    fields = {getattr(Booking, name): value for name, value in changes.items()}
    if not Booking.update(fields).where(Booking.id == booking.id, Booking.version == version).execute():
        raise StaleBooking(booking.number)
    for name, value in changes.items():
        setattr(booking, name, value)
    return booking


def book(slot_id: int, applicant: Applicant, channel: str, now: datetime.datetime, *, actor: Actor = CITIZEN,
         party_size: int = 1, idempotency_key: str | None = None, override_reason: str = "") -> Booking:
    """Book a seat (party_size seats) in a slot. A repeated idempotency key returns the first booking."""
    if channel not in CHANNELS:
        raise InvalidRequest("channel", "invalid")
    if idempotency_key:
        earlier = Booking.get_or_none(Booking.idempotency_key == idempotency_key)
        if earlier:
            return earlier
    # Citizens (web, phone) bring at most the city's max_party_size; staff may seat larger groups.
    most = MAX_PARTY_SIZE if channel == "staff" else runtime.settings().max_party_size
    if not 1 <= party_size <= most:
        raise InvalidRequest("party_size", "out_of_range")
    if override_reason and channel != "staff":
        raise NotPermitted("overrides are for the staff channel")
    today = now.astimezone(TOKYO).date()
    applicant = applicant.normalized(today)
    slot = _slot(slot_id)
    _check_window(slot, channel, now)
    person_key = _claim_person(applicant, today) if runtime.settings().one_booking_per_person else None
    counted_as = _take_seats(slot, channel, party_size, now, actor, override_reason)
    booking = Booking.create(
        number=_new_number(), slot=slot, status="confirmed", channel=channel, counted_as=counted_as,
        party_size=party_size, name=applicant.name, kana=applicant.kana, phone=applicant.phone,
        email=applicant.email, birth_date=applicant.birth_date.isoformat(),
        lookup_token=secrets.token_urlsafe(16), phone_index=phone_index(applicant.phone),
        active_person_key=person_key, notify=applicant.notify, idempotency_key=idempotency_key,
        override_reason=override_reason if counted_as == "over" else "",
        created_by=actor.name if channel == "staff" else "", created_at=now, updated_at=now)
    audit.record(actor.name, "booking.create", "booking", booking.number, now, source=actor.source,
                 slot=slot.id, channel=channel, counted_as=counted_as, party_size=party_size,
                 override=bool(override_reason and counted_as == "over"))
    outbox.enqueue("booking_confirmed", booking, now)
    log.info("booking %s confirmed slot=%s channel=%s counted_as=%s", booking.number, slot.id, channel,
             counted_as)
    return booking


def _booking(number: str, expected_version: int | None) -> Booking:
    booking = Booking.get_or_none(Booking.number == number)
    if booking is None:
        raise NotFound(f"booking {number}")
    if expected_version is not None and expected_version != booking.version:
        raise StaleBooking(number)
    return booking


def change(number: str, new_slot_id: int, via: str, now: datetime.datetime, *, actor: Actor = CITIZEN,
           expected_version: int | None = None, override_reason: str = "") -> Booking:
    """Move a booking to another slot in one step: the new seat is taken before the old is released,
    and a full new slot leaves the booking where it was."""
    booking = _booking(number, expected_version)
    if booking.status != "confirmed":
        raise NotChangeable(booking.status)
    if new_slot_id == booking.slot_id:
        return booking
    if override_reason and via != "staff":
        raise NotPermitted("overrides are for the staff channel")
    if via != "staff" and now >= booking.slot.starts_at(TOKYO):
        raise NotChangeable("the appointment has begun")
    new_slot = _slot(new_slot_id)
    _check_window(new_slot, via, now)
    old_slot_id, old_counted = booking.slot_id, booking.counted_as
    counted_as = _take_seats(new_slot, booking.channel, booking.party_size, now, actor, override_reason)
    _release_seats(old_slot_id, old_counted, booking.party_size)
    _save(booking, expected_version, now, slot=new_slot.id, counted_as=counted_as,
          override_reason=override_reason if counted_as == "over" else "")
    audit.record(actor.name, "booking.change", "booking", booking.number, now, source=actor.source,
                 via=via, from_slot=old_slot_id, to_slot=new_slot.id, counted_as=counted_as)
    outbox.enqueue("booking_changed", booking, now)
    log.info("booking %s moved slot=%s->%s via=%s", booking.number, old_slot_id, new_slot.id, via)
    return booking


def cancel(number: str, via: str, now: datetime.datetime, *, actor: Actor = CITIZEN,
           expected_version: int | None = None) -> Booking:
    """Cancel and free the seats. Cancelling a cancelled booking again changes nothing."""
    booking = _booking(number, expected_version)
    if booking.status == "cancelled":
        return booking
    if booking.status != "confirmed":
        raise NotChangeable(booking.status)
    if via != "staff" and now >= booking.slot.starts_at(TOKYO):
        raise NotChangeable("the appointment has begun")
    _release_seats(booking.slot_id, booking.counted_as, booking.party_size)
    _save(booking, expected_version, now, status="cancelled", cancelled_at=now, active_person_key=None)
    audit.record(actor.name, "booking.cancel", "booking", booking.number, now, source=actor.source,
                 via=via, slot=booking.slot_id)
    outbox.enqueue("booking_cancelled", booking, now)
    log.info("booking %s cancelled via=%s", booking.number, via)
    return booking


def lookup(number: str, birth_date: datetime.date, phone_last4: str | None = None) -> Booking | None:
    """The citizen's look-up without an account: number and birth date (and the phone's last 4
    digits where the city asks for them). Wrong details and unknown numbers look the same."""
    number = normalize.reservation_number(number)
    booking = Booking.get_or_none(Booking.number == number) if number else None
    if booking is None or booking.birth_date is None:
        return None
    matches = crypto.same_text(booking.birth_date, birth_date.isoformat())
    if phone_last4 is not None:
        matches &= crypto.same_text((booking.phone or "")[-4:], normalize.phone_last4(phone_last4) or "")
    return booking if matches else None


# --- at the counter: staff edits, check-in, no-shows, walk-ins ----------------------------------------

class TooEarly(BookingError):
    """Attendance is recorded on the appointment's day (or later), never before."""

    code = "not_today"


def _clean_name(name: str, kana: str) -> tuple[str, str]:
    text = normalize.text(name, max_length=1000)
    if text is None:
        raise InvalidRequest("name", "invalid")
    name = " ".join(text.split())
    if not 1 <= len(name) <= 60:
        raise InvalidRequest("name", "required" if not name else "too_long")
    kana = normalize.katakana(kana)
    if not kana or not normalize.is_katakana(kana) or len(kana) > 60:
        raise InvalidRequest("kana", "not_katakana" if kana else "required")
    return name, kana


def edit(number: str, now: datetime.datetime, *, actor: Actor, expected_version: int, name: str, kana: str,
         party_size: int, override_reason: str = "") -> Booking:
    """Staff correct the name, furigana or party size. A larger party takes the extra seats (or is
    refused as SlotFull); a smaller one gives seats back."""
    booking = _booking(number, expected_version)
    if booking.status == "cancelled":
        raise NotChangeable(booking.status)
    name, kana = _clean_name(name, kana)
    if not 1 <= party_size <= MAX_PARTY_SIZE:
        raise InvalidRequest("party_size", "out_of_range")
    changed = [field for field, value in (("name", name), ("kana", kana), ("party_size", party_size))
               if getattr(booking, field) != value]
    if not changed:
        return booking
    counted_as = booking.counted_as
    if party_size != booking.party_size:
        if booking.status != "confirmed":
            raise NotChangeable(booking.status)
        _release_seats(booking.slot_id, booking.counted_as, booking.party_size)
        counted_as = _take_seats(booking.slot, booking.channel, party_size, now, actor, override_reason)
    before = booking.party_size
    _save(booking, expected_version, now, name=name, kana=kana, party_size=party_size, counted_as=counted_as)
    # Names are personal data and the audit log is kept for good: it names the fields, not the values.
    audit.record(actor.name, "booking.edit", "booking", booking.number, now, source=actor.source,
                 fields=changed, party_size_before=before, party_size_after=party_size, counted_as=counted_as)
    return booking


def set_attendance(number: str, status: str, now: datetime.datetime, *, actor: Actor,
                   expected_version: int) -> Booking:
    """Check in (attended), record a no-show, or undo either (back to confirmed). The seat stays
    counted either way: the slot was used."""
    if status not in ("attended", "no_show", "confirmed"):
        raise InvalidRequest("status", "invalid")
    booking = _booking(number, expected_version)
    if booking.status == "cancelled":
        raise NotChangeable(booking.status)
    if now.astimezone(TOKYO).date() < booking.slot.date:
        raise TooEarly(booking.number)
    if booking.status == status:
        return booking
    before = booking.status
    # A booking that is over (attended or not) no longer stops its person from booking again.
    _save(booking, expected_version, now, status=status,
          active_person_key=booking.active_person_key if status == "confirmed" else None)
    audit.record(actor.name, f"booking.{status}", "booking", booking.number, now, source=actor.source,
                 before=before, after=status, slot=booking.slot_id)
    return booking


def walk_in(slot_id: int, name: str, kana: str, party_size: int, now: datetime.datetime, *,
            actor: Actor) -> Booking:
    """Register someone served at the counter without a booking, in the slot they were served in.
    They are already there, so a full slot counts them over capacity instead of refusing."""
    name, kana = _clean_name(name, kana)
    if not 1 <= party_size <= MAX_PARTY_SIZE:
        raise InvalidRequest("party_size", "out_of_range")
    slot = Slot.get_or_none(Slot.id == slot_id)
    if slot is None:
        raise NotFound(f"slot {slot_id}")
    if now.astimezone(TOKYO).date() < slot.date:
        raise TooEarly(f"slot {slot_id}")
    try:
        counted_as = _take_seats(slot, "staff", party_size, now, actor, override_reason="")
    except SlotFull:
        Slot.update({Slot.booked_over: Slot.booked_over + party_size}).where(Slot.id == slot.id).execute()
        counted_as = "over"
    booking = Booking.create(
        number=_new_number(), slot=slot, status="attended", channel="staff", counted_as=counted_as,
        party_size=party_size, name=name, kana=kana, walk_in=True,
        override_reason="walk-in" if counted_as == "over" else "", created_by=actor.name,
        created_at=now, updated_at=now)
    audit.record(actor.name, "booking.walk_in", "booking", booking.number, now, source=actor.source,
                 slot=slot.id, counted_as=counted_as, party_size=party_size)
    return booking
