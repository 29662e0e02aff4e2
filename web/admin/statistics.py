"""Statistics for the staff site: bookings per venue, day, channel and status, and requests per hour.

Reads only: nothing here writes or commits. Every figure comes from a constant number of aggregate
queries (GROUP BY with SUM(CASE ...)), never one query per day or venue, so a month of 14 venues or a
whole year costs the same four queries:

- bookings counted per (venue, slot date), with a column per status and per channel;
- capacity per (venue, slot date), from the slots that are not closed;
- requests per (site, hour of the day), from the traffic table;
- the venues' names.

Rules (the staff site's help and the report depend on them):

- A booking belongs to its slot's date and venue (not to the day it was made or cancelled).
- Counts are bookings, not people; `seats` and the fill rate use party sizes.
- "Booked" and the channel counts leave cancelled bookings out; walk-ins count as their own channel
  (never as staff), whatever channel the row carries.
- Capacity is the seats of the slots that were open; a closed slot offered none.
- Requests per hour are for the whole appliance: the venue filter does not apply to them.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from peewee import Case, fn

from appliance.messages import Catalogue, catalogue
from db.models import Booking, Slot, Traffic, Venue

STATUSES = ("confirmed", "attended", "no_show", "cancelled")
CHANNELS = ("web", "phone", "staff", "walk_in")
SITES = ("public", "admin")
MAX_DAYS = 366


def texts() -> Catalogue:
    return catalogue(Path(__file__).with_name("statistics.toml"))


class StatisticsError(Exception):
    """A period or venue that cannot be counted; the message is for staff (Japanese, from the catalogue)."""

    def __init__(self, code: str):
        super().__init__(texts()[f"error.{code}"])
        self.code = code


@dataclass(frozen=True)
class Counts:
    """Booking counts for some part of the period (statuses of all bookings; seats and channels of the
    bookings not cancelled)."""

    confirmed: int = 0
    attended: int = 0
    no_show: int = 0
    cancelled: int = 0
    seats: int = 0
    web: int = 0
    phone: int = 0
    staff: int = 0
    walk_in: int = 0

    @property
    def booked(self) -> int:
        """Bookings not cancelled."""
        return self.confirmed + self.attended + self.no_show

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def _values(self) -> tuple[int, ...]:
        return (self.confirmed, self.attended, self.no_show, self.cancelled, self.seats, self.web,
                self.phone, self.staff, self.walk_in)


def _fill_rate(seats: int, capacity: int) -> float | None:
    return seats / capacity if capacity else None


@dataclass(frozen=True)
class VenueRow:
    venue_id: int
    name: str
    capacity: int  # seats of the open slots
    booked: int  # bookings not cancelled
    seats: int  # people in the bookings not cancelled
    attended: int
    no_show: int
    cancelled: int

    @property
    def fill_rate(self) -> float | None:
        """Seats taken per seat offered (0.5 = 50 %); None without capacity."""
        return _fill_rate(self.seats, self.capacity)


@dataclass(frozen=True)
class DayRow:
    date: datetime.date
    confirmed: int
    attended: int
    no_show: int
    cancelled: int
    capacity: int


@dataclass(frozen=True)
class DayVenueRow:
    """One venue on one day (only pairs with open slots or bookings): the rows of the CSV export."""

    date: datetime.date
    venue_id: int
    venue_name: str
    capacity: int
    counts: Counts


@dataclass(frozen=True)
class Summary:
    first: datetime.date
    last: datetime.date
    venue_id: int | None
    by_venue: list[VenueRow]
    by_day: list[DayRow]
    by_channel: dict[str, int]
    by_status: dict[str, int]
    cancellations: int
    no_shows: int
    requests_by_hour: list[int]
    admin_requests_by_hour: list[int]
    by_day_venue: list[DayVenueRow] = field(default_factory=list)


def check_range(first: datetime.date, last: datetime.date) -> None:
    if last < first:
        raise StatisticsError("range_reversed")
    if (last - first).days + 1 > MAX_DAYS:
        raise StatisticsError("range_too_long")


def _as_date(value) -> datetime.date:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _count_when(condition):
    return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)


def _booking_counts(first, last, venue_id) -> dict[tuple[int, datetime.date], Counts]:
    kept = Booking.status != "cancelled"
    not_walk_in = ~Booking.walk_in
    columns = [_count_when(Booking.status == status).alias(status) for status in STATUSES]
    columns.append(fn.COALESCE(fn.SUM(Case(None, [(kept, Booking.party_size)], 0)), 0).alias("seats"))
    columns += [_count_when(kept & not_walk_in & (Booking.channel == channel)).alias(channel)
                for channel in ("web", "phone", "staff")]
    columns.append(_count_when(kept & Booking.walk_in).alias("walk_in"))
    query = (Booking.select(Slot.venue.alias("venue_id"), Slot.date.alias("day"), *columns)
             .join(Slot)
             .where(Slot.date.between(first, last))
             .group_by(Slot.venue, Slot.date))
    if venue_id is not None:
        query = query.where(Slot.venue == venue_id)
    result = {}
    for row in query.dicts():
        key = (row.pop("venue_id"), _as_date(row.pop("day")))
        result[key] = Counts(**{name: int(value) for name, value in row.items()})
    return result


def _capacities(first, last, venue_id) -> dict[tuple[int, datetime.date], int]:
    query = (Slot.select(Slot.venue.alias("venue_id"), Slot.date.alias("day"),
                         fn.SUM(Slot.capacity).alias("capacity"))
             .where(Slot.date.between(first, last), ~Slot.closed)
             .group_by(Slot.venue, Slot.date))
    if venue_id is not None:
        query = query.where(Slot.venue == venue_id)
    return {(row["venue_id"], _as_date(row["day"])): int(row["capacity"]) for row in query.dicts()}


def _requests_by_hour(first, last) -> dict[str, list[int]]:
    hour_of_day = fn.SUBSTR(Traffic.hour, 12, 2)
    query = (Traffic.select(Traffic.site, hour_of_day.alias("h"), fn.SUM(Traffic.requests).alias("n"))
             .where(Traffic.hour.between(f"{first.isoformat()}T00", f"{last.isoformat()}T23"))
             .group_by(Traffic.site, hour_of_day))
    result = {site: [0] * 24 for site in SITES}
    for row in query.dicts():
        if row["site"] in result:
            result[row["site"]][int(row["h"])] = int(row["n"])
    return result


def _venues(venue_id, with_data: set[int]) -> list[Venue]:
    """The venues to show: the one asked for, else the active ones and any other with figures."""
    query = Venue.select(Venue.id, Venue.name, Venue.active).order_by(Venue.sort_order, Venue.id)
    if venue_id is not None:
        venues = list(query.where(Venue.id == venue_id))
        if not venues:
            raise StatisticsError("unknown_venue")
        return venues
    return [venue for venue in query if venue.active or venue.id in with_data]


def _days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def summary(first: datetime.date, last: datetime.date, venue_id: int | None = None) -> Summary:
    """Everything the statistics page, its charts and the exports show, for first..last inclusive."""
    check_range(first, last)
    counts = _booking_counts(first, last, venue_id)
    capacities = _capacities(first, last, venue_id)
    requests = _requests_by_hour(first, last)
    venues = _venues(venue_id, {venue for venue, _ in counts} | {venue for venue, _ in capacities})

    per_venue: dict[int, Counts] = defaultdict(Counts)
    per_day: dict[datetime.date, Counts] = defaultdict(Counts)
    venue_capacity: dict[int, int] = defaultdict(int)
    day_capacity: dict[datetime.date, int] = defaultdict(int)
    for (venue, day), value in counts.items():
        per_venue[venue] += value
        per_day[day] += value
    for (venue, day), value in capacities.items():
        venue_capacity[venue] += value
        day_capacity[day] += value
    total = sum(per_venue.values(), Counts())

    by_venue = [VenueRow(venue.id, venue.name, venue_capacity[venue.id], per_venue[venue.id].booked,
                         per_venue[venue.id].seats, per_venue[venue.id].attended,
                         per_venue[venue.id].no_show, per_venue[venue.id].cancelled)
                for venue in venues]
    by_day = [DayRow(day, per_day[day].confirmed, per_day[day].attended, per_day[day].no_show,
                     per_day[day].cancelled, day_capacity[day])
              for day in _days(first, last)]
    order = {venue.id: n for n, venue in enumerate(venues)}
    names = {venue.id: venue.name for venue in venues}
    by_day_venue = [DayVenueRow(day, venue, names[venue], capacities.get((venue, day), 0),
                                counts.get((venue, day), Counts()))
                    for day, venue in sorted({(d, v) for v, d in counts} | {(d, v) for v, d in capacities},
                                             key=lambda pair: (pair[0], order.get(pair[1], len(order))))
                    if venue in names]
    return Summary(
        first=first, last=last, venue_id=venue_id, by_venue=by_venue, by_day=by_day,
        by_channel={channel: getattr(total, channel) for channel in CHANNELS},
        by_status={status: getattr(total, status) for status in STATUSES},
        cancellations=total.cancelled, no_shows=total.no_show,
        requests_by_hour=requests["public"], admin_requests_by_hour=requests["admin"],
        by_day_venue=by_day_venue)


# -- the monthly report (PDF through web.admin.printing, and CSV) --------------------------------------

Table = tuple[str, list[str], list[list[object]]]


def _percent(rate: float | None) -> object:
    return round(rate * 100, 1) if rate is not None else texts()["report.no_rate"]


def day_label(day: datetime.date) -> str:
    t = texts()
    return t["report.day"].format(month=day.month, day=day.day, weekday=t["report.weekdays"][day.weekday()])


def _period_date(day: datetime.date) -> str:
    return texts()["report.period_date"].format(year=day.year, month=day.month, day=day.day)


def _columns(section: str, names: tuple[str, ...]) -> list[str]:
    t = texts()
    return [t[f"{section}.{name}"] for name in names]


def venue_table(s: Summary) -> Table:
    t = texts()
    rows: list[list[object]] = [[v.name, v.capacity, v.booked, v.seats, v.attended, v.no_show, v.cancelled,
                                 _percent(v.fill_rate)] for v in s.by_venue]
    sums = [sum(v.capacity for v in s.by_venue), sum(v.booked for v in s.by_venue),
            sum(v.seats for v in s.by_venue), sum(v.attended for v in s.by_venue),
            sum(v.no_show for v in s.by_venue), sum(v.cancelled for v in s.by_venue)]
    rows.append([t["report.total"], *sums, _percent(_fill_rate(sums[2], sums[0]))])
    columns = _columns("venue_table", ("venue", "capacity", "booked", "seats", "attended", "no_show",
                                       "cancelled", "fill_rate"))
    return t["venue_table.heading"], columns, rows


def day_table(s: Summary) -> Table:
    t = texts()
    rows: list[list[object]] = [[day_label(d.date), d.confirmed, d.attended, d.no_show, d.cancelled, d.capacity]
                                for d in s.by_day]
    rows.append([t["report.total"], *(sum(row[i] for row in rows) for i in range(1, 6))])
    columns = _columns("day_table", ("date", "confirmed", "attended", "no_show", "cancelled", "capacity"))
    return t["day_table.heading"], columns, rows


def channel_table(s: Summary) -> Table:
    t = texts()
    rows: list[list[object]] = [[t[f"channel.{c}"], s.by_channel[c]] for c in CHANNELS]
    rows.append([t["report.total"], sum(s.by_channel.values())])
    return t["channel_table.heading"], _columns("channel_table", ("channel", "count")), rows


def status_table(s: Summary) -> Table:
    t = texts()
    rows: list[list[object]] = [[t[f"status.{c}"], s.by_status[c]] for c in STATUSES]
    rows.append([t["report.total"], sum(s.by_status.values())])
    return t["status_table.heading"], _columns("status_table", ("status", "count")), rows


def hour_table(s: Summary) -> Table:
    t = texts()
    rows: list[list[object]] = [[t["report.hour"].format(hour=h), s.requests_by_hour[h],
                                 s.admin_requests_by_hour[h]] for h in range(24)]
    rows.append([t["report.total"], sum(s.requests_by_hour), sum(s.admin_requests_by_hour)])
    return t["hour_table.heading"], _columns("hour_table", ("hour", "public", "admin")), rows


def tables(s: Summary) -> list[Table]:
    """The report's tables for any summary (the statistics page shows the same ones)."""
    return [venue_table(s), day_table(s), channel_table(s), status_table(s), hour_table(s)]


def month_range(year: int, month: int) -> tuple[datetime.date, datetime.date]:
    if not (1 <= month <= 12 and datetime.MINYEAR < year < datetime.MAXYEAR):
        raise StatisticsError("invalid_month")
    first = datetime.date(year, month, 1)
    following = datetime.date(year + (month == 12), month % 12 + 1, 1)
    return first, following - datetime.timedelta(days=1)


def monthly_report(year: int, month: int) -> tuple[str, str, list[Table]]:
    """(title, subtitle, tables) for one calendar month, all venues; each table ends in a totals row."""
    first, last = month_range(year, month)
    s = summary(first, last)
    t = texts()
    title = t["report.title"].format(year=year, month=month)
    subtitle = t["report.subtitle"].format(first=_period_date(first), last=_period_date(last),
                                           venues=t["report.all_venues"])
    return title, subtitle, tables(s)


CSV_FIELDS = ("capacity", "confirmed", "attended", "no_show", "cancelled", "seats", *CHANNELS)


def csv_rows(s: Summary) -> tuple[list[str], list[list[object]]]:
    """Header and rows for the CSV export: one row per day and venue that had open slots or bookings,
    by date then venue order; dates as YYYY-MM-DD so spreadsheets sort them."""
    header = _columns("csv", ("date", "venue", *CSV_FIELDS))
    rows: list[list[object]] = []
    for cell in s.by_day_venue:
        values = {"capacity": cell.capacity, **{name: getattr(cell.counts, name) for name in CSV_FIELDS[1:]}}
        rows.append([cell.date.isoformat(), cell.venue_name, *(values[name] for name in CSV_FIELDS)])
    return header, rows
