"""Named calendars of opening hours, read by the schedule nodes of IVR flows: weekly hours per weekday,
national holidays (jpholiday) and the year-end days 12/29-1/3 as closed days, and dated exceptions
(日曜開庁, a closed afternoon). The rules are checked in a fixed order, first match decides: a dated
exception, then the year end, then a national holiday, then the weekday's hours. Hours are [start, end)
ranges: open at 08:45, closed at 17:15. Services here never commit: the caller owns the transaction."""

from __future__ import annotations

import datetime
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jpholiday

from appliance.messages import catalogue
from db import audit
from db.models import Calendar

if TYPE_CHECKING:
    from db.bookings import Actor

NAME_MAX_CHARS = 40
MAX_EXCEPTIONS = 400
WEEKDAY_NAMES = "月火水木金土日"
_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_CATALOGUE_PATH = Path(__file__).with_name("calendars.toml")


def _msg(key: str, **values: object) -> str:
    return catalogue(_CATALOGUE_PATH)[key].format(**values)


class CalendarError(Exception):
    """A calendar that cannot be saved; the messages are Japanese, for staff."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


Range = tuple[int, int]  # minutes since midnight, [start, end)


@dataclass(frozen=True)
class Verdict:
    open: bool
    rule: str  # which rule decided, for staff (the simulator): 「祝日（天皇誕生日）」


@dataclass(frozen=True)
class DayException:
    day: datetime.date
    hours: tuple[Range, ...]  # () = closed all day
    label: str = ""


@dataclass(frozen=True)
class Schedule:
    name: str
    weekly: dict[int, tuple[Range, ...]] = field(default_factory=dict)  # 0 = Monday
    holidays_closed: bool = True
    year_end_closed: bool = True
    exceptions: tuple[DayException, ...] = ()

    def at(self, when: datetime.datetime) -> Verdict:
        """Open or closed at `when` (local time of the city), and the rule that decided."""
        day, minute = when.date(), when.hour * 60 + when.minute
        for exception in self.exceptions:
            if exception.day == day:
                return Verdict(_within(exception.hours, minute), _msg("rule.exception", label=exception.label or day))
        if self.year_end_closed and ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)):
            return Verdict(False, _msg("rule.year_end"))
        holiday = jpholiday.is_holiday_name(day) if self.holidays_closed else None
        if holiday:
            return Verdict(False, _msg("rule.holiday", label=holiday))
        return Verdict(_within(self.weekly.get(day.weekday(), ()), minute), _msg("rule.weekly"))

    def hours(self, day: datetime.date) -> tuple[Range, ...]:
        """The day's opening hours, as `at` decides them (an exception, the year end, a holiday, the week)."""
        for exception in self.exceptions:
            if exception.day == day:
                return exception.hours
        if self.year_end_closed and ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)):
            return ()
        if self.holidays_closed and jpholiday.is_holiday(day):
            return ()
        return self.weekly.get(day.weekday(), ())

    def after_open_minutes(self, start: datetime.datetime, minutes: float) -> datetime.datetime | None:
        """The moment `minutes` of opening hours after `start` (local time; as SLA calendars count a due
        time); None when the calendar opens for less than that within a year."""
        left = minutes
        day = start.date()
        for _ in range(366):
            for begin, end in sorted(self.hours(day)):
                opens = datetime.datetime.combine(day, datetime.time(), start.tzinfo) + datetime.timedelta(minutes=begin)
                closes = opens + datetime.timedelta(minutes=end - begin)
                if closes <= start:
                    continue
                opens = max(opens, start)
                available = (closes - opens).total_seconds() / 60
                if available >= left:
                    return opens + datetime.timedelta(minutes=left)
                left -= available
            day += datetime.timedelta(days=1)
        return None

    def to_json(self) -> dict:
        return {"name": self.name, "weekly": {str(d): [_range_text(r) for r in rs] for d, rs in sorted(self.weekly.items())},
                "holidays_closed": self.holidays_closed, "year_end_closed": self.year_end_closed,
                "exceptions": [{"date": e.day.isoformat(), "hours": [_range_text(r) for r in e.hours],
                                "label": e.label} for e in self.exceptions]}


def _within(ranges: tuple[Range, ...], minute: int) -> bool:
    return any(start <= minute < end for start, end in ranges)


def _range_text(value: Range) -> str:
    return f"{value[0] // 60:02d}:{value[0] % 60:02d}-{value[1] // 60:02d}:{value[1] % 60:02d}"


def _ranges(texts: object, problems: list[str], weekday: str = "") -> tuple[Range, ...]:
    found: list[Range] = []
    for text in texts if isinstance(texts, list | tuple) else [texts]:
        match = _RANGE.fullmatch(unicodedata.normalize("NFKC", str(text)).replace(" ", "").replace("〜", "-"))
        if match is None:
            problems.append(_msg("problem.range", value=text))
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or not 0 <= start < end <= 24 * 60:
            problems.append(_msg("problem.range", value=text))
            continue
        found.append((start, end))
    found.sort()
    for (_, end), (start, _) in zip(found, found[1:], strict=False):
        if start < end:
            problems.append(_msg("problem.overlap", weekday=weekday, value=", ".join(_range_text(r) for r in found)))
            break
    return tuple(found)


def parse(data: dict) -> Schedule:
    """A calendar from its JSON form (Schedule.to_json); CalendarError naming every problem."""
    problems: list[str] = []
    name = str(data.get("name", "")).strip()
    if not 1 <= len(name) <= NAME_MAX_CHARS or any(unicodedata.category(c)[0] == "C" for c in name):
        problems.append(_msg("problem.name"))
    weekly: dict[int, tuple[Range, ...]] = {}
    raw_weekly = data.get("weekly") or {}
    for key, texts in (raw_weekly.items() if isinstance(raw_weekly, dict) else []):
        if str(key) not in {str(d) for d in range(7)}:
            problems.append(_msg("problem.weekday", value=key))
            continue
        day = int(key)
        weekly[day] = _ranges(texts or [], problems, WEEKDAY_NAMES[day] + "曜日")
    exceptions: list[DayException] = []
    raw_exceptions = data.get("exceptions") or []
    if len(raw_exceptions) > MAX_EXCEPTIONS:
        problems.append(_msg("problem.too_many", limit=MAX_EXCEPTIONS))
    for item in raw_exceptions[:MAX_EXCEPTIONS] if isinstance(raw_exceptions, list) else []:
        item = item if isinstance(item, dict) else {}
        try:
            day = datetime.date.fromisoformat(str(item.get("date", "")).strip())
        except ValueError:
            problems.append(_msg("problem.exception_date", value=item.get("date", "")))
            continue
        if any(e.day == day for e in exceptions):
            problems.append(_msg("problem.exception_twice", value=day.isoformat()))
        label = str(item.get("label", "")).strip()
        if len(label) > NAME_MAX_CHARS or any(unicodedata.category(c)[0] == "C" for c in label):
            problems.append(_msg("problem.exception_label", value=label[:NAME_MAX_CHARS]))
        exceptions.append(DayException(day, _ranges(item.get("hours") or [], problems, day.isoformat()), label))
    if problems:
        raise CalendarError(problems)
    return Schedule(name, weekly, bool(data.get("holidays_closed", True)), bool(data.get("year_end_closed", True)),
                    tuple(sorted(exceptions, key=lambda e: e.day)))


# the city office's usual hours, when no calendar is named (escalation due times)
OFFICE_HOURS = Schedule("平日 8:30〜17:15", {d: ((8 * 60 + 30, 17 * 60 + 15),) for d in range(5)})


def _schedule(row: Calendar) -> Schedule:
    return parse({"name": row.name, "weekly": json.loads(row.weekly), "holidays_closed": row.holidays_closed,
                  "year_end_closed": row.year_end_closed, "exceptions": json.loads(row.exceptions)})


def all_schedules() -> dict[str, Schedule]:
    return {row.name: _schedule(row) for row in Calendar.select().order_by(Calendar.name)}


def get(name: str) -> Schedule | None:
    row = Calendar.get_or_none(Calendar.name == name)
    return _schedule(row) if row is not None else None


def save(data: dict, actor: Actor, now: datetime.datetime) -> Schedule:
    """Create or replace the calendar named in `data` (CalendarError if it cannot be), audited. Calls
    already in progress keep the verdict they had; the next schedule node reads the new hours."""
    schedule = parse(data)
    stored = schedule.to_json()
    row = Calendar.get_or_none(Calendar.name == schedule.name)
    values = {"weekly": json.dumps(stored["weekly"], ensure_ascii=False), "holidays_closed": schedule.holidays_closed,
              "year_end_closed": schedule.year_end_closed,
              "exceptions": json.dumps(stored["exceptions"], ensure_ascii=False), "updated_at": now,
              "updated_by": actor.name}
    if row is None:
        Calendar.create(name=schedule.name, **values)
    else:
        Calendar.update(**values).where(Calendar.id == row.id).execute()
    audit.record(actor.name, "calendar.save", "calendar", schedule.name, now, source=actor.source,
                 created=row is None, exceptions=len(schedule.exceptions))
    return schedule
