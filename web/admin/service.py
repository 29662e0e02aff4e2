"""What the admin pages read and the small writes that have no home in db/: booking search, the
week grid, venue, reception window, question and notice edits. Never commits."""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass

from peewee import fn
from wtforms import SelectChoice

from appliance import runtime
from db import audit, jobs, normalize
from db.bookings import Actor, phone_index
from db.models import Booking, EligibilityQuestion, ReceptionWindow, SiteNotice, Slot, Venue
from db.slots import closed_day

SEARCH_LIMIT = 200
KANA_SCAN_DAYS = 60  # a furigana search without a date looks this far back (the field is encrypted)


def venues() -> list[Venue]:
    return list(Venue.select().order_by(Venue.sort_order, Venue.id))


def venue_choices(everyone: str | None = None) -> list[SelectChoice]:
    first = [SelectChoice(0, everyone)] if everyone else []
    return first + [SelectChoice(v.id, v.name) for v in venues()]


@dataclass(frozen=True)
class Criteria:
    number: str = ""
    kana: str = ""
    phone: str = ""
    date: datetime.date | None = None
    venue_id: int = 0
    status: str = ""

    @property
    def empty(self) -> bool:
        return not (self.number or self.kana or self.phone or self.date or self.venue_id or self.status)


def search(criteria: Criteria, today: datetime.date) -> list[Booking]:
    """Bookings matching every given criterion, newest appointment first. Furigana is encrypted, so it
    is matched after decryption within the other criteria (or the last KANA_SCAN_DAYS and later)."""
    if criteria.empty:
        return []
    query = (Booking.select(Booking, Slot, Venue).join(Slot).join(Venue)
             .order_by(Slot.date.desc(), Slot.start.desc(), Booking.id.desc()))
    number = normalize.reservation_number(criteria.number) if criteria.number.strip() else None
    if criteria.number.strip():
        if number is None:
            return []
        query = query.where(Booking.number == number)
    if criteria.phone:
        phone = normalize.phone(criteria.phone)
        if phone is None:
            return []
        query = query.where(Booking.phone_index == phone_index(phone))
    if criteria.date:
        query = query.where(Slot.date == criteria.date)
    if criteria.venue_id:
        query = query.where(Slot.venue == criteria.venue_id)
    if criteria.status:
        query = query.where(Booking.status == criteria.status)
    kana = normalize.katakana(criteria.kana).replace("　", "")
    if not kana:
        return list(query.limit(SEARCH_LIMIT))
    if not (number or criteria.phone or criteria.date):
        query = query.where(Slot.date >= today - datetime.timedelta(days=KANA_SCAN_DAYS))
    found = []
    for booking in query.iterator():
        if kana in (booking.kana or "").replace("　", ""):
            found.append(booking)
            if len(found) == SEARCH_LIMIT:
                break
    return found


@dataclass(frozen=True)
class WeekGrid:
    venue: Venue
    days: list[datetime.date]
    times: list[datetime.time]
    cells: dict[tuple[datetime.date, datetime.time], Slot]
    holidays: dict[datetime.date, str]


def monday_of(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def week_grid(venue: Venue, monday: datetime.date) -> WeekGrid:
    days = [monday + datetime.timedelta(days=i) for i in range(7)]
    slots = list(Slot.select().where(Slot.venue == venue, Slot.date.between(days[0], days[-1])))
    cells = {(s.date, s.start): s for s in slots}
    times = sorted({s.start for s in slots})
    holidays = {d: reason for d in days if (reason := closed_day(d))}
    return WeekGrid(venue, days, times, cells, holidays)


def day_slots(venue: Venue, day: datetime.date) -> list[Slot]:
    return list(Slot.select().where(Slot.venue == venue, Slot.date == day).order_by(Slot.start))


def save_venue(venue: Venue | None, values: dict, actor: Actor, now: datetime.datetime) -> Venue:
    """Create or update a venue; one audit row with the fields that changed (venue data is public)."""
    if venue is None:
        venue = Venue.create(**values)
        audit.record(actor.name, "venue.create", "venue", venue.slug, now, source=actor.source, **values)
        return venue
    changed = {k: [getattr(venue, k), v] for k, v in values.items() if getattr(venue, k) != v}
    if changed:
        Venue.update(**values).where(Venue.id == venue.id).execute()
        audit.record(actor.name, "venue.update", "venue", values.get("slug", venue.slug), now,
                     source=actor.source, changed=changed)
    return Venue.get_by_id(venue.id)


def window_of(venue: Venue | None) -> ReceptionWindow | None:
    """The venue's own reception window (None: the default every other venue follows)."""
    if venue is None:
        return ReceptionWindow.get_or_none(ReceptionWindow.venue.is_null())
    return ReceptionWindow.get_or_none(ReceptionWindow.venue == venue)


def save_window(venue: Venue | None, values: dict | None, actor: Actor, now: datetime.datetime) -> None:
    """Set the default window or a venue's own; values None removes the venue's own (back to default)."""
    row = window_of(venue)
    before = {k: str(getattr(row, k)) for k in ("opens_days_before", "opens_time", "closes_days_before",
                                                 "closes_time")} if row else {}
    if values is None:
        if row is not None and venue is not None:
            row.delete_instance()
    elif row is None:
        ReceptionWindow.create(venue=venue, **values)
    else:
        ReceptionWindow.update(**values).where(ReceptionWindow.id == row.id).execute()
    audit.record(actor.name, "window.update" if values else "window.remove", "reception_window",
                 venue.slug if venue else "default", now, source=actor.source, before=before,
                 after={k: str(v) for k, v in (values or {}).items()})


def questions() -> list[EligibilityQuestion]:
    return list(EligibilityQuestion.select().order_by(EligibilityQuestion.sort_order, EligibilityQuestion.id))


def save_question(question: EligibilityQuestion | None, values: dict, actor: Actor,
                  now: datetime.datetime) -> EligibilityQuestion:
    if question is None:
        question = EligibilityQuestion.create(**values)
        audit.record(actor.name, "question.create", "eligibility_question", question.id, now,
                     source=actor.source, **values)
        return question
    changed = {k: [getattr(question, k), v] for k, v in values.items() if getattr(question, k) != v}
    if changed:
        EligibilityQuestion.update(**values).where(EligibilityQuestion.id == question.id).execute()
        audit.record(actor.name, "question.update", "eligibility_question", question.id, now,
                     source=actor.source, changed=changed)
    return EligibilityQuestion.get_by_id(question.id)


def notice() -> SiteNotice:
    return SiteNotice.get_or_none(SiteNotice.id == 1) or SiteNotice(id=1, text="", updated_at=None)


def save_notice(text: str, actor: Actor, now: datetime.datetime) -> None:
    before = notice().text
    (SiteNotice.insert(id=1, text=text, updated_at=now, updated_by=actor.name)
     .on_conflict_replace().execute())
    audit.record(actor.name, "notice.update", "site_notice", 1, now, source=actor.source, before=before, after=text)


@dataclass(frozen=True)
class VenueDay:
    venue: Venue
    slots: int
    capacity: int
    booked: int
    attended: int
    closed: int


def day_totals(day: datetime.date) -> list[VenueDay]:
    """Per venue with slots that day: two aggregate queries, not one per venue."""
    seats = {row["venue"]: row for row in
             Slot.select(Slot.venue, fn.COUNT(Slot.id).alias("slots"), fn.SUM(Slot.capacity).alias("capacity"),
                         fn.SUM(Slot.booked_web + Slot.booked_phone + Slot.booked_staff + Slot.booked_over)
                         .alias("booked"), fn.SUM(Slot.closed).alias("closed"))
             .where(Slot.date == day).group_by(Slot.venue).dicts()}
    attended = dict(Booking.select(Slot.venue, fn.SUM(Booking.party_size)).join(Slot)
                    .where(Slot.date == day, Booking.status == "attended").group_by(Slot.venue).tuples())
    return [VenueDay(v, seats[v.id]["slots"], seats[v.id]["capacity"], seats[v.id]["booked"],
                     attended.get(v.id, 0), seats[v.id]["closed"]) for v in venues() if v.id in seats]


@dataclass(frozen=True)
class BoxHealth:
    """How the box is kept, for the administrators' home page."""

    backup: jobs.Outcome | None
    drill: jobs.Outcome | None
    purge: jobs.Outcome | None
    free_mb: int
    min_free_mb: int
    stale_before: datetime.datetime  # a job that last ran before this is overdue

    def fine(self, outcome: jobs.Outcome | None) -> bool:
        return outcome is not None and outcome.ok and outcome.finished_at >= self.stale_before


def box_health(now: datetime.datetime) -> BoxHealth:
    settings = runtime.settings()
    return BoxHealth(jobs.last("backup"), jobs.last("backup_drill"), jobs.last("purge"),
                     shutil.disk_usage(settings.data_dir).free // 2**20, settings.min_free_disk_mb,
                     now - datetime.timedelta(hours=36))
