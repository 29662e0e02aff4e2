"""The day's (or one slot's) list of bookings, as web.admin.printing prints and exports it."""

from __future__ import annotations

import datetime

from appliance import runtime
from db.models import Booking, Slot, Venue
from web.admin.printing import DayList, ListEntry, SlotSection


def _last4(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if "0" <= ch <= "9")
    return digits[-4:] if len(digits) >= 4 else ""


def _entry(booking: Booking) -> ListEntry:
    return ListEntry(number=booking.number, name=booking.name or "", kana=booking.kana or "",
                     party_size=booking.party_size, phone_last4=_last4(booking.phone), channel=booking.channel,
                     status=booking.status, walk_in=bool(booking.walk_in))


def day_list(venue: Venue, date: datetime.date, *, start: datetime.time | None = None, printed_by: str,
             now: datetime.datetime) -> DayList:
    """Every slot of the venue's day (or only the one starting at `start`) with its bookings that are not
    cancelled, ordered by slot start, then furigana, then number. Two queries, whatever the day holds."""
    where = [Slot.venue == venue, Slot.date == date]
    if start is not None:
        where.append(Slot.start == start)
    slots = list(Slot.select().where(*where).order_by(Slot.start))
    by_slot: dict[int, list[ListEntry]] = {slot.id: [] for slot in slots}
    # Names and furigana are encrypted, so the database cannot sort them: order in Python.
    bookings = (Booking.select(Booking).join(Slot)
                .where(*where, Booking.status != "cancelled"))
    for booking in bookings:
        by_slot[booking.slot_id].append(_entry(booking))
    sections = tuple(
        SlotSection(start=slot.start, capacity=slot.capacity, booked=slot.booked, closed=slot.closed,
                    closed_reason=slot.closed_reason,
                    entries=tuple(sorted(by_slot[slot.id], key=lambda e: (e.kana, e.number))))
        for slot in slots)
    return DayList(city=runtime.settings().city_name, venue=venue.name, date=date, sections=sections,
                   printed_at=now, printed_by=printed_by)
