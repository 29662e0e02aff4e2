"""Carrying out what calls ask for (voice/call/requests.py) on the phone channel, through the same
engine the web and the counter use: one request, one transaction, the answer a plain value (or
Refused with a reason), never an exception. The SIP adapter runs perform() on a helper thread, off the
call's polling thread, and hands the answer back to the call as Replied."""

from __future__ import annotations

import datetime
import logging
from itertools import islice

from appliance import clock, runtime
from appliance.clock import TOKYO
from appliance.notify.sms import mobile_number
from db import bookings, faq, lookup, queues
from db.bookings import Actor, Applicant, BookingError, InvalidRequest, OutsideWindow
from db.capacity import bookable_slots, window_for, window_rules
from db.connection import Busy, database, write_transaction
from db.models import Booking, EligibilityQuestion, Outbox, Slot, Venue
from db.texts import sms_length
from voice.call.requests import (
    Booked,
    BookingFound,
    BookingInfo,
    BookSlot,
    CancelBooking,
    Changed,
    Choices,
    DaysFound,
    FindBooking,
    FindDays,
    FindSlots,
    JoinQueue,
    LeaveQueue,
    LoadChoices,
    MoveBooking,
    PollQueue,
    Question,
    QueuePlace,
    QueueTurn,
    Refused,
    Request,
    Requeue,
    SendSms,
    SlotOffer,
    SlotsFound,
    SmsQueued,
    VenueChoice,
)

log = logging.getLogger(__name__)

CHANNEL = "phone"


def perform(request: Request, call_id: str, now: datetime.datetime | None = None) -> object:
    """The answer to one request of the call `call_id` (its Call-ID: the actor's source in the audit
    log). A request that writes runs in one write transaction; one that only reads in none."""
    now = now or clock.now()
    handler = HANDLERS.get(type(request))
    if handler is None:
        raise TypeError(f"no service carries out {type(request).__name__}")
    actor = Actor("phone", source=call_id[:80])
    try:
        if request.writes:
            with write_transaction():
                return handler(request, actor, now)
        return handler(request, actor, now)
    except BookingError as error:
        return refused(error)
    except Busy:
        return Refused("busy")
    except Exception:  # noqa: BLE001 - a caller must hear an apology, not silence
        log.exception("call %s: %s failed", call_id, type(request).__name__)
        return Refused("failed")


def refused(error: BookingError) -> Refused:
    if isinstance(error, OutsideWindow):
        return Refused(error.code, opens_at=error.window.opens_at if error.code == "not_open" else None)
    if isinstance(error, InvalidRequest):
        return Refused(f"invalid_{error.field}")
    return Refused(error.code)


def _offer(slot: Slot, remaining: int) -> SlotOffer:
    return SlotOffer(slot.id, slot.venue_id, slot.venue.name, slot.venue.kana, slot.date, slot.start, remaining)


def _info(booking: Booking) -> BookingInfo:
    slot = booking.slot
    return BookingInfo(booking.number, booking.version, booking.status, _offer(slot, 0), booking.kana or "",
                       booking.notify == "sms")


def load_choices(request: LoadChoices, actor: Actor, now: datetime.datetime) -> Choices:
    venues = Venue.select().where(Venue.active).order_by(Venue.sort_order, Venue.id)
    questions = (EligibilityQuestion.select().where(EligibilityQuestion.active)
                 .order_by(EligibilityQuestion.sort_order, EligibilityQuestion.id))
    return Choices(tuple(VenueChoice(v.id, v.name, v.kana) for v in venues),
                   tuple(Question(q.id, q.text, q.required, q.guidance) for q in questions))


def connect() -> None:
    """Open this thread's database connection now, so a call's first request does not wait for it (and
    a worker holds the same descriptors from its start to its end)."""
    database.connect(reuse_if_open=True)
    Slot.select(Slot.id).limit(1).execute()


def find_slots(request: FindSlots, actor: Actor, now: datetime.datetime) -> SlotsFound:
    found = list(islice(bookable_slots(
        CHANNEL, now, release_days=runtime.settings().reserved_seats_release_days, venue_id=request.venue_id,
        first_day=request.first_day, last_day=request.last_day, earliest=request.earliest,
        latest=request.latest, exclude_slot_id=request.exclude_slot_id), max(1, min(request.limit, 20))))
    slots = {slot.id: slot for slot in Slot.select(Slot, Venue).join(Venue).where(Slot.id.in_([f.slot_id for f in found]))}
    offers = tuple(_offer(slots[f.slot_id], f.remaining) for f in found)
    return SlotsFound(offers, opens_at=None if offers else _opens_later(request, now))


def find_days(request: FindDays, actor: Actor, now: datetime.datetime) -> DaysFound:
    days: list[datetime.date] = []
    for offer in bookable_slots(CHANNEL, now, release_days=runtime.settings().reserved_seats_release_days,
                                venue_id=request.venue_id, first_day=request.first_day):
        if offer.date not in days:
            days.append(offer.date)
            if len(days) >= max(1, min(request.limit, 10)):
                break
    return DaysFound(tuple(days))


def _opens_later(request: FindSlots, now: datetime.datetime) -> datetime.datetime | None:
    """When booking opens for the first day asked about, if that is still to come."""
    query = Slot.select(Slot, Venue).join(Venue).where(Slot.date == request.first_day, Venue.active, ~Slot.closed)
    if request.venue_id is not None:
        query = query.where(Slot.venue == request.venue_id)
    first = query.order_by(Slot.start).first()
    if first is None:
        return None
    opens_at = window_for(first, window_rules(), CHANNEL).opens_at
    return opens_at.astimezone(TOKYO) if opens_at > now else None


def book_slot(request: BookSlot, actor: Actor, now: datetime.datetime) -> Booked:
    applicant = Applicant(name=request.name or request.kana, kana=request.kana, phone=request.phone,
                          birth_date=request.birth_date, notify="sms" if request.sms else "none")
    booking = bookings.book(request.slot_id, applicant, CHANNEL, now, actor=actor,
                            idempotency_key=f"phone:{request.key}"[:200])
    return Booked(_info(booking))


def find_booking(request: FindBooking, actor: Actor, now: datetime.datetime) -> BookingFound | Refused:
    found = lookup.look_up(request.number, request.birth_date, None, source=actor.source, now=now)
    if found.locked:
        return Refused("locked")
    if found.booking is None:
        return Refused("not_found")
    return BookingFound(_info(found.booking))


def move_booking(request: MoveBooking, actor: Actor, now: datetime.datetime) -> Changed:
    booking = bookings.change(request.number, request.slot_id, CHANNEL, now, actor=actor,
                              expected_version=request.version)
    return Changed(_info(booking))


def cancel_booking(request: CancelBooking, actor: Actor, now: datetime.datetime) -> Changed:
    booking = bookings.cancel(request.number, CHANNEL, now, actor=actor, expected_version=request.version)
    return Changed(_info(booking))


def send_sms(request: SendSms, actor: Actor, now: datetime.datetime) -> SmsQueued | Refused:
    number = mobile_number(request.to)
    if number is None:
        return Refused("not_mobile")
    key = f"ivr:{request.key}"[:200]
    if Outbox.get_or_none(Outbox.idempotency_key == key) is None:
        Outbox.create(created_at=now, event="ivr_sms", channel="sms", recipient=number, body=request.text,
                      did=request.did, idempotency_key=key, next_attempt_at=now)
        entry = faq.entry_by_key(request.faq) if request.faq else None
        if entry is not None:
            faq.record_use(entry.id, "sms", now, by=request.did)
    return SmsQueued(sms_length(request.text).segments)


def join_queue(request: JoinQueue, actor: Actor, now: datetime.datetime) -> QueuePlace | QueueTurn | Refused:
    """Join, and with a phone free and nobody ahead, take it at once (no hold message first)."""
    if queues.join(request.call_id, request.did, request.group, request.max_length, now) is None:
        return Refused("full")
    return poll_queue(PollQueue(request.request_id, request.call_id), actor, now)


def poll_queue(request: PollQueue, actor: Actor, now: datetime.datetime) -> QueuePlace | QueueTurn | Refused:
    found = queues.poll(request.call_id, now)
    if found is None:
        return Refused("not_queued")
    return QueueTurn(found.target) if isinstance(found, queues.Offered) else QueuePlace(found.position, found.waited_s)


def requeue(request: Requeue, actor: Actor, now: datetime.datetime) -> QueuePlace | Refused:
    place = queues.requeue(request.call_id, now)
    return Refused("not_queued") if place is None else QueuePlace(place.position, place.waited_s)


def leave_queue(request: LeaveQueue, actor: Actor, now: datetime.datetime) -> None:
    queues.leave(request.call_id, request.state, now)


HANDLERS = {LoadChoices: load_choices, FindSlots: find_slots, FindDays: find_days, BookSlot: book_slot,
            FindBooking: find_booking, MoveBooking: move_booking, CancelBooking: cancel_booking, SendSms: send_sms,
            JoinQueue: join_queue, PollQueue: poll_queue, Requeue: requeue, LeaveQueue: leave_queue}
