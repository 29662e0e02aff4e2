"""What the public pages show: venues, a month calendar, a day's slots, for the web channel.

Reads only; bookings go through db.bookings (the one capacity engine).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from peewee import Case, fn

from appliance import runtime
from appliance.clock import TOKYO
from db import lookup, ratelimit
from db.capacity import Window, remaining, remaining_sql, window_for, window_rules
from db.models import Booking, EligibilityQuestion, SiteNotice, Slot, Venue

CHANNEL = "web"
LOOKUP_WINDOW = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class SlotView:
    slot: Slot
    remaining: int
    state: str  # open / not_open / closed
    window: Window

    @property
    def bookable(self) -> bool:
        return self.state == "open" and self.remaining > 0 and not self.slot.closed


@dataclass(frozen=True)
class DayView:
    date: datetime.date
    mark: str  # 〇 △ × or "" (no counter that day)
    state: str  # available / few / full / not_open / closed / none
    remaining: int
    opens_at: datetime.datetime | None


def active_venues() -> list[Venue]:
    return list(Venue.select().where(Venue.active).order_by(Venue.sort_order, Venue.id))


def venue_by_slug(slug: str) -> Venue | None:
    return Venue.get_or_none(Venue.slug == slug, Venue.active)


def questions() -> list[EligibilityQuestion]:
    return list(EligibilityQuestion.select().where(EligibilityQuestion.active)
                .order_by(EligibilityQuestion.sort_order, EligibilityQuestion.id))


def notice() -> str:
    row = SiteNotice.get_or_none(SiteNotice.id == 1)
    return row.text if row else ""


def _view(slot: Slot, rules, now: datetime.datetime) -> SlotView:
    window = window_for(slot, rules, CHANNEL)
    today = now.astimezone(TOKYO).date()
    return SlotView(slot, remaining(slot, CHANNEL, today, runtime.settings().reserved_seats_release_days),
                    window.state(now), window)


def slot_view(slot_id: int, now: datetime.datetime) -> SlotView | None:
    slot = Slot.select(Slot, Venue).join(Venue).where(Slot.id == slot_id, Venue.active).first()
    return _view(slot, window_rules(), now) if slot else None


def day_slots(venue: Venue, day: datetime.date, now: datetime.datetime) -> list[SlotView]:
    rules = window_rules()
    slots = Slot.select().where(Slot.venue == venue, Slot.date == day).order_by(Slot.start)
    return [_view(slot, rules, now) for slot in slots]


def _day(day: datetime.date, free: int, seats: int, open_slots: int, window: Window | None,
         now: datetime.datetime) -> DayView:
    if window is None or open_slots == 0:
        return DayView(day, "", "none", 0, None)
    state = window.state(now)
    if state != "open":
        return DayView(day, "", state, 0, window.opens_at if state == "not_open" else None)
    if free == 0:
        return DayView(day, "×", "full", 0, None)
    if free * 4 <= seats:
        return DayView(day, "△", "few", free, None)
    return DayView(day, "〇", "available", free, None)


def month_calendar(venue: Venue, year: int, month: int, now: datetime.datetime) -> list[list[DayView | None]]:
    """Weeks (Monday first) of DayViews; None pads days outside the month. Seats are summed in the
    database; a day's window is that of its last slot (the day page shows each slot exactly)."""
    first = datetime.date(year, month, 1)
    last = datetime.date(year, month, calendar.monthrange(year, month)[1])
    rules = window_rules()
    today = now.astimezone(TOKYO).date()
    is_open = Case(None, [(Slot.closed, 0)], 1)
    rows = (Slot.select(Slot.date, fn.MAX(Slot.start).alias("last_start"),
                        fn.SUM(remaining_sql(CHANNEL, today, runtime.settings().reserved_seats_release_days)).alias("free"),
                        fn.SUM(Slot.capacity * is_open).alias("seats"), fn.SUM(is_open).alias("open_slots"))
            .where(Slot.venue == venue, Slot.date.between(first, last))
            .group_by(Slot.date).namedtuples())
    days = {}
    for row in rows:
        day, last_start = row.date, row.last_start  # peewee converts the aggregates of typed columns too
        last_slot = Slot(venue=venue.id, date=day, start=last_start)
        days[day] = _day(day, row.free, row.seats, row.open_slots, window_for(last_slot, rules, CHANNEL), now)
    empty = lambda d: DayView(d, "", "none", 0, None)  # noqa: E731
    return [[days.get(d) or empty(d) if d.month == month else None for d in week]
            for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)]


def bookable_months(venue: Venue, now: datetime.datetime) -> list[tuple[int, int]]:
    """The months from this one to the last with slots at this venue (at least the current month)."""
    today = now.astimezone(TOKYO).date()
    last = (Slot.select(Slot.date).where(Slot.venue == venue, Slot.date >= today)
            .order_by(Slot.date.desc()).scalar())
    months = [(today.year, today.month)]
    if last:
        last = datetime.date.fromisoformat(last) if isinstance(last, str) else last
        y, m = today.year, today.month
        while (y, m) < (last.year, last.month):
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            months.append((y, m))
    return months


@dataclass(frozen=True)
class LookupResult:
    booking: Booking | None
    refusal: str = ""  # "" (found or not), "rate_limited_ip", "locked"


def look_up(number: str, birth_date: datetime.date, phone_last4: str, source: str,
            now: datetime.datetime) -> LookupResult:
    """A citizen's look-up on the web: limited per client address (every attempt), then per
    reservation number (db.lookup). Never commits; the limits' counters commit on their own."""
    settings = runtime.settings()
    if ratelimit.exceeded([ratelimit.Limit("lookup-ip", source, settings.rate_limit_per_ip, LOOKUP_WINDOW)], now):
        return LookupResult(None, "rate_limited_ip")
    found = lookup.look_up(number, birth_date, phone_last4, source=source, now=now)
    return LookupResult(found.booking, "locked" if found.locked else "")
