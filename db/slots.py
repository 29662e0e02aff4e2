"""Slot management: generate 30-minute slots from a weekly template, change capacity in bulk, close.

Japanese national holidays (jpholiday, kept up to date by its maintainers with the Cabinet Office
list) and the year-end holidays 12/29-1/3 never get slots.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import jpholiday

from db import audit, outbox
from db.bookings import Actor
from db.models import Booking, Slot, Venue

SLOT_MINUTES = 30
MAX_RANGE_DAYS = 400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SlotRequestError(Exception):
    """An invalid template, date range or capacity change; nothing was written."""


class CapacityBelowBooked(SlotRequestError):
    def __init__(self, conflicts: list[tuple[Slot, int]]):
        self.conflicts = conflicts
        listed = ", ".join(f"{s.date} {s.start:%H:%M} ({booked} booked)" for s, booked in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        super().__init__(f"{len(conflicts)} slot(s) would have less capacity than is booked: {listed}{more}")


def closed_day(day: datetime.date) -> str | None:
    """Why no counter opens on this day, or None."""
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return "年末年始"
    return jpholiday.is_holiday_name(day)


def _parse_time(text: str) -> datetime.time:
    try:
        value = datetime.time.fromisoformat(text.strip())
    except ValueError:
        raise SlotRequestError(f"{text!r} is not a time like 09:00") from None
    if value.minute % SLOT_MINUTES or value.second:
        raise SlotRequestError(f"{text!r}: slots start on the hour or half hour")
    return value


@dataclass(frozen=True)
class WeeklyTemplate:
    """Opening hours per weekday (0 = Monday) as [start, end) ranges, and the seats per slot."""

    hours: dict[int, tuple[tuple[datetime.time, datetime.time], ...]]
    capacity: int
    phone_seats: int = 0
    staff_seats: int = 0

    @classmethod
    def parse(cls, days: str, hours: str, capacity: int, phone_seats: int = 0, staff_seats: int = 0) -> WeeklyTemplate:
        """days: 'mon,tue' or 'mon-fri'; hours: '09:00-12:00,13:00-17:00'."""
        weekdays: set[int] = set()
        for part in filter(None, (p.strip().lower() for p in days.split(","))):
            first, _, last = part.partition("-")
            if first not in WEEKDAYS or (last and last not in WEEKDAYS):
                raise SlotRequestError(f"unknown weekday in {part!r}; use mon, tue, wed, thu, fri, sat, sun")
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
            if b < a:
                raise SlotRequestError(f"weekday range {part!r} runs backwards")
            weekdays.update(range(a, b + 1))
        ranges = []
        for part in filter(None, (p.strip() for p in hours.split(","))):
            start, sep, end = part.partition("-")
            if not sep:
                raise SlotRequestError(f"opening hours {part!r} must look like 09:00-12:00")
            start_t, end_t = _parse_time(start), _parse_time(end)
            if end_t <= start_t:
                raise SlotRequestError(f"opening hours {part!r} end before they start")
            ranges.append((start_t, end_t))
        if not weekdays or not ranges:
            raise SlotRequestError("a template needs at least one weekday and one opening-hours range")
        template = cls({d: tuple(sorted(ranges)) for d in sorted(weekdays)}, capacity, phone_seats, staff_seats)
        template.validate()
        return template

    def validate(self) -> None:
        if not 0 < self.capacity <= 500:
            raise SlotRequestError(f"capacity must be between 1 and 500, got {self.capacity}")
        if self.phone_seats < 0 or self.staff_seats < 0 or self.phone_seats + self.staff_seats > self.capacity:
            raise SlotRequestError("phone and staff seats must be 0 or more and together fit in the capacity")
        for ranges in self.hours.values():
            for (_, end_a), (start_b, _) in zip(ranges, ranges[1:], strict=False):
                if start_b < end_a:
                    raise SlotRequestError("opening-hours ranges overlap")

    def starts(self, weekday: int) -> list[datetime.time]:
        result = []
        for start, end in self.hours.get(weekday, ()):
            t = datetime.datetime.combine(datetime.date.min, start)
            while t.time() < end:
                result.append(t.time())
                t += datetime.timedelta(minutes=SLOT_MINUTES)
        return result


@dataclass
class SlotPlan:
    venue: Venue
    new: list[tuple[datetime.date, datetime.time]] = field(default_factory=list)
    existing: int = 0
    skipped_days: list[tuple[datetime.date, str]] = field(default_factory=list)


def check_range(first: datetime.date, last: datetime.date) -> None:
    if last < first:
        raise SlotRequestError(f"the date range ends ({last}) before it starts ({first})")
    if (last - first).days > MAX_RANGE_DAYS:
        raise SlotRequestError(f"the date range is longer than {MAX_RANGE_DAYS} days")


def plan_slots(venue: Venue, first: datetime.date, last: datetime.date, template: WeeklyTemplate) -> SlotPlan:
    """What generate_slots would create: the preview staff see before saving."""
    check_range(first, last)
    template.validate()
    existing = {(s.date, s.start) for s in
                Slot.select(Slot.date, Slot.start).where(Slot.venue == venue, Slot.date.between(first, last))}
    plan = SlotPlan(venue)
    day = first
    while day <= last:
        starts = template.starts(day.weekday())
        reason = closed_day(day) if starts else None
        if reason:
            plan.skipped_days.append((day, reason))
        else:
            for start in starts:
                if (day, start) in existing:
                    plan.existing += 1
                else:
                    plan.new.append((day, start))
        day += datetime.timedelta(days=1)
    return plan


def generate_slots(venue: Venue, first: datetime.date, last: datetime.date, template: WeeklyTemplate,
                   actor: Actor, now: datetime.datetime) -> SlotPlan:
    plan = plan_slots(venue, first, last, template)
    rows = [{"venue": venue.id, "date": d, "start": t, "capacity": template.capacity,
             "phone_seats": template.phone_seats, "staff_seats": template.staff_seats} for d, t in plan.new]
    for i in range(0, len(rows), 500):
        Slot.insert_many(rows[i:i + 500]).execute()
    audit.record(actor.name, "slots.generate", "venue", venue.slug, now, source=actor.source,
                 first=first, last=last, created=len(plan.new), existing=plan.existing,
                 skipped_days=len(plan.skipped_days))
    return plan


def _select(venue: Venue | None, first: datetime.date, last: datetime.date,
            times: tuple[datetime.time, datetime.time] | None = None):
    check_range(first, last)
    query = Slot.select().where(Slot.date.between(first, last))
    if venue is not None:
        query = query.where(Slot.venue == venue)
    if times is not None:
        query = query.where(Slot.start >= times[0], Slot.start < times[1])
    return query.order_by(Slot.date, Slot.start)


def adjust_capacity(venue: Venue | None, first: datetime.date, last: datetime.date, actor: Actor,
                    now: datetime.datetime, *, delta: int | None = None, set_to: int | None = None,
                    times: tuple[datetime.time, datetime.time] | None = None) -> list[Slot]:
    """Add to, reduce or set the capacity of every slot in the range. Refused as a whole, naming the
    slots, when one would fall below its booked seats or its held-back phone/staff seats."""
    if (delta is None) == (set_to is None):
        raise SlotRequestError("give either a change (+N/-N) or a new capacity, not both")
    slots = list(_select(venue, first, last, times))
    changes, conflicts = [], []
    for slot in slots:
        new = slot.capacity + delta if delta is not None else set_to
        if new < 0 or new > 500:
            raise SlotRequestError(f"capacity {new} for {slot.date} {slot.start:%H:%M} is out of range 0-500")
        floor = max(slot.booked, slot.phone_seats + slot.staff_seats)
        if new < floor and new < slot.capacity:
            conflicts.append((slot, slot.booked))
        changes.append((slot, new))
    if conflicts:
        raise CapacityBelowBooked(conflicts)
    for slot, new in changes:
        Slot.update(capacity=new).where(Slot.id == slot.id).execute()
        slot.capacity = new
    audit.record(actor.name, "slots.capacity", "venue", venue.slug if venue else "*", now,
                 source=actor.source, first=first, last=last, delta=delta, set_to=set_to, slots=len(changes))
    return slots


def close_slots(venue: Venue | None, first: datetime.date, last: datetime.date, reason: str, actor: Actor,
                now: datetime.datetime, times: tuple[datetime.time, datetime.time] | None = None) -> list[Booking]:
    """Close slots (a day, a venue, a range) to new bookings. Returns the confirmed bookings in them,
    which stay booked until staff contact, move or cancel them."""
    reason = reason.strip()
    if not reason:
        raise SlotRequestError("closing needs a reason (citizens and staff see it)")
    slot_ids = [s.id for s in _select(venue, first, last, times)]
    if not slot_ids:
        raise SlotRequestError("there are no slots in that range")
    Slot.update(closed=True, closed_reason=reason).where(Slot.id.in_(slot_ids)).execute()
    affected = list(Booking.select().join(Slot)
                    .where(Slot.id.in_(slot_ids), Booking.status == "confirmed")
                    .order_by(Slot.date, Slot.start, Booking.id))
    for booking in affected:  # each gets the closure notice with alternatives (sent after commit)
        outbox.enqueue("slot_closed", booking, now)
    audit.record(actor.name, "slots.close", "venue", venue.slug if venue else "*", now, source=actor.source,
                 first=first, last=last, slots=len(slot_ids), affected=len(affected))
    return affected


def reopen_slots(venue: Venue | None, first: datetime.date, last: datetime.date, actor: Actor,
                 now: datetime.datetime, times: tuple[datetime.time, datetime.time] | None = None) -> int:
    """Undo a closure: the slots take bookings again."""
    slot_ids = [s.id for s in _select(venue, first, last, times) if s.closed]
    if not slot_ids:
        raise SlotRequestError("there are no closed slots in that range")
    Slot.update(closed=False, closed_reason="").where(Slot.id.in_(slot_ids)).execute()
    audit.record(actor.name, "slots.reopen", "venue", venue.slug if venue else "*", now, source=actor.source,
                 first=first, last=last, slots=len(slot_ids))
    return len(slot_ids)


def set_seats(slot: Slot, capacity: int, phone_seats: int, staff_seats: int, actor: Actor,
              now: datetime.datetime) -> Slot:
    """One slot's capacity and its seats held back for the phone and the counter."""
    if not 0 <= capacity <= 500:
        raise SlotRequestError(f"capacity {capacity} is out of range 0-500")
    if phone_seats < 0 or staff_seats < 0 or phone_seats + staff_seats > capacity:
        raise SlotRequestError("phone and staff seats must be 0 or more and together fit in the capacity")
    if capacity < slot.booked and capacity < slot.capacity:
        raise CapacityBelowBooked([(slot, slot.booked)])
    before = (slot.capacity, slot.phone_seats, slot.staff_seats)
    Slot.update(capacity=capacity, phone_seats=phone_seats, staff_seats=staff_seats).where(Slot.id == slot.id).execute()
    audit.record(actor.name, "slot.update", "slot", slot.id, now, source=actor.source,
                 before=list(before), after=[capacity, phone_seats, staff_seats])
    return Slot.get_by_id(slot.id)
