"""How the booking line says what it reads back: days with their weekday, times, numbers digit by digit
in groups (a reservation number slowly: 1、2、3、4 の 5、6、7、8), birth dates in the era and the
western year. The synthesiser reads digits; 「、」 makes it pause."""

from __future__ import annotations

import datetime

from voice.call.requests import SlotOffer
from voice.nlu.times import spoken_time

WEEKDAYS = "月火水木金土日"
ERAS = ((2019, "令和"), (1989, "平成"), (1926, "昭和"), (1912, "大正"))


def day(date: datetime.date) -> str:
    return f"{date.month}月{date.day}日、{WEEKDAYS[date.weekday()]}曜日"


def when(slot: SlotOffer) -> str:
    return f"{day(slot.day)}、{spoken_time(slot.start)}から"


def digits(number: str, groups: tuple[int, ...] = ()) -> str:
    """Each digit on its own, 「の」 between groups: digits("12345678", (4, 4)) = 1、2、3、4の、5、6、7、8."""
    parts, at = [], 0
    for size in groups or (len(number),):
        parts.append("、".join(number[at:at + size]))
        at += size
    if at < len(number):
        parts.append("、".join(number[at:]))
    return "の、".join(p for p in parts if p)


def phone(number: str) -> str:
    """090-1234-5678 as 0、9、0の、1、2、3、4の、5、6、7、8 (landlines 3-3-4 or 4-2-4 alike)."""
    if len(number) == 11:
        return digits(number, (3, 4, 4))
    if len(number) == 10:
        return digits(number, (4, 2, 4) if number.startswith(("05", "04", "02", "08", "09")) else (2, 4, 4))
    return digits(number)


def reservation_number(number: str) -> str:
    return digits(number, (4, 4))


def birth_date(born: datetime.date) -> str:
    era = next(((name, born.year - start + 1) for start, name in ERAS if born >= _era_start(start)), None)
    western = f"{born.year}年{born.month}月{born.day}日"
    if era is None:
        return western
    name, year = era
    return f"{name}{'元' if year == 1 else year}年{born.month}月{born.day}日、西暦{western}"


def _era_start(year: int) -> datetime.date:
    return {2019: datetime.date(2019, 5, 1), 1989: datetime.date(1989, 1, 8), 1926: datetime.date(1926, 12, 25),
            1912: datetime.date(1912, 7, 30)}[year]


def help_phone(number: str) -> str:
    """The city's help line as written in the settings (0586-00-0000), said digit by digit."""
    groups = tuple(len(part) for part in number.split("-") if part)
    plain = "".join(ch for ch in number if ch.isdigit())
    return digits(plain, groups) if sum(groups) == len(plain) else digits(plain)
