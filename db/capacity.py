"""Capacity rules every channel shares: remaining seats per channel, reception windows, alternatives.

Seats: a slot has `capacity`; `phone_seats` and `staff_seats` of them are held back for those
channels. The web books only the general seats (capacity minus the held-back ones), the phone and
staff channels their own held-back seats plus the general ones. From `reserved_seats_release_days`
before the appointment date every free seat is open to every channel.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from itertools import islice

from peewee import Case, fn

from appliance.clock import TOKYO
from db.models import ReceptionWindow, Slot, Venue

CHANNELS = ("web", "phone", "staff")
WINDOWED_CHANNELS = ("web", "phone")  # staff book for callers and walk-ins up to the slot's start


def holds_released(slot_date: datetime.date, today: datetime.date, release_days: int) -> bool:
    return (slot_date - today).days <= release_days


def remaining(slot: Slot, channel: str, today: datetime.date, release_days: int) -> int:
    """Seats this channel can still book in this slot (0 when closed)."""
    if slot.closed:
        return 0
    total_free = slot.capacity - slot.booked
    if holds_released(slot.date, today, release_days):
        return max(0, total_free)
    general_used = (slot.booked_web + max(0, slot.booked_phone - slot.phone_seats)
                    + max(0, slot.booked_staff - slot.staff_seats) + slot.booked_over)
    general_free = slot.capacity - slot.phone_seats - slot.staff_seats - general_used
    own_free = {"web": 0,
                "phone": max(0, slot.phone_seats - slot.booked_phone),
                "staff": max(0, slot.staff_seats - slot.booked_staff)}[channel]
    return max(0, min(total_free, general_free + own_free))


def remaining_sql(channel: str, today: datetime.date, release_days: int):
    """remaining() as a SQL expression, for searches and day totals computed in the database."""
    total_free = Slot.capacity - (Slot.booked_web + Slot.booked_phone + Slot.booked_staff + Slot.booked_over)
    general_free = (Slot.capacity - Slot.phone_seats - Slot.staff_seats - Slot.booked_web - Slot.booked_over
                    - fn.MAX(0, Slot.booked_phone - Slot.phone_seats) - fn.MAX(0, Slot.booked_staff - Slot.staff_seats))
    own_free = {"web": 0,
                "phone": fn.MAX(0, Slot.phone_seats - Slot.booked_phone),
                "staff": fn.MAX(0, Slot.staff_seats - Slot.booked_staff)}[channel]
    released = Slot.date <= today + datetime.timedelta(days=release_days)
    return Case(None, [(Slot.closed, 0), (released, fn.MAX(0, total_free))],
                fn.MAX(0, fn.MIN(total_free, general_free + own_free)))


def has_room(channel: str, party_size: int, today: datetime.date, release_days: int):
    return remaining_sql(channel, today, release_days) >= party_size


@dataclass(frozen=True)
class Window:
    opens_at: datetime.datetime
    closes_at: datetime.datetime

    def state(self, now: datetime.datetime) -> str:
        if now < self.opens_at:
            return "not_open"
        if now >= self.closes_at:
            return "closed"
        return "open"


def _at(day: datetime.date, days_before: int, time: datetime.time) -> datetime.datetime:
    return datetime.datetime.combine(day - datetime.timedelta(days=days_before), time, TOKYO)


def window_rules() -> dict[int | None, ReceptionWindow]:
    """Configured windows by venue id; None holds the default for every other venue."""
    return {rule.venue_id: rule for rule in ReceptionWindow.select()}


def window_for(slot: Slot, rules: dict[int | None, ReceptionWindow], channel: str) -> Window:
    slot_start = slot.starts_at(TOKYO)
    rule = rules.get(slot.venue_id) or rules.get(None)
    if channel not in WINDOWED_CHANNELS or rule is None:
        return Window(datetime.datetime.min.replace(tzinfo=TOKYO), slot_start)
    closes_at = min(slot_start, _at(slot.date, rule.closes_days_before, rule.closes_time))
    return Window(_at(slot.date, rule.opens_days_before, rule.opens_time), closes_at)


@dataclass(frozen=True)
class Alternative:
    slot_id: int
    venue_id: int
    venue_name: str
    date: datetime.date
    start: datetime.time
    remaining: int
    same_venue: bool


def bookable_slots(channel: str, now: datetime.datetime, *, release_days: int, venue_id: int | None = None,
                   other_venues: bool = False, first_day: datetime.date | None = None,
                   last_day: datetime.date | None = None, earliest: datetime.time | None = None,
                   latest: datetime.time | None = None, party_size: int = 1, exclude_slot_id: int | None = None):
    """Slots this channel can book now, earliest first (venue order breaking ties), as Alternatives:
    at one venue (or, with other_venues, at every other one; or anywhere when venue_id is None), from
    first_day (today when None) to last_day, starting within [earliest, latest]. A generator: take
    what you need."""
    rules = window_rules()
    today = now.astimezone(TOKYO).date()
    horizon = max((r.opens_days_before for r in rules.values()), default=366) if channel in WINDOWED_CHANNELS else 366
    last = today + datetime.timedelta(days=horizon)
    if last_day is not None:
        last = min(last, last_day)
    query = (Slot.select(Slot, Venue).join(Venue)
             .where(Venue.active, ~Slot.closed, Slot.date.between(max(first_day or today, today), last),
                    Slot.id != (exclude_slot_id or 0), has_room(channel, party_size, today, release_days))
             .order_by(Slot.date, Slot.start, Venue.sort_order, Venue.id))
    if venue_id is not None:
        query = query.where(Slot.venue != venue_id) if other_venues else query.where(Slot.venue == venue_id)
    if earliest is not None:
        query = query.where(Slot.start >= earliest)
    if latest is not None:
        query = query.where(Slot.start <= latest)
    for slot in query.iterator():
        seats = remaining(slot, channel, today, release_days)
        if seats >= party_size and window_for(slot, rules, channel).state(now) == "open":
            yield Alternative(slot.id, slot.venue_id, slot.venue.name, slot.date, slot.start, seats,
                              slot.venue_id == venue_id)


def alternatives(venue_id: int, wish_date: datetime.date, channel: str, now: datetime.datetime, *,
                 release_days: int, party_size: int = 1, exclude_slot_id: int | None = None,
                 limit: int = 3) -> list[Alternative]:
    """The `limit` earliest slots bookable by this channel from the wished date on: the wished venue
    first, then the other active venues (earliest first, venue order breaking ties)."""
    common = {"release_days": release_days, "venue_id": venue_id, "first_day": wish_date, "party_size": party_size,
              "exclude_slot_id": exclude_slot_id}
    found = list(islice(bookable_slots(channel, now, **common), limit))
    if len(found) < limit:
        found += islice(bookable_slots(channel, now, other_venues=True, **common), limit - len(found))
    return found
