"""Dates as callers say them or press them: 「十二月三日」「三日」「来週の水曜日」「あさって」「一番早い日」,
and birth dates with their era (「昭和二十五年三月四日」) or in the western calendar; keys as MMDD or
YYYYMMDD. Everything is read from the canonical reading (voice/nlu/readings.py), so digits, kanji
and kana all work; each parser takes the recogniser's hypotheses, best first, and returns None when
none of them says a date."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from db import normalize
from voice.nlu.numbers import DIGITS, runs, value
from voice.nlu.readings import canonical

DAY_WORDS = {"ツイタチ": 1, "フツカ": 2, "ミッカ": 3, "ヨッカ": 4, "イツカ": 5, "ムイカ": 6, "ナノカ": 7, "ヨカ": 8,
             "ココノカ": 9, "トカ": 10, "ハツカ": 20}
WEEKDAYS = {"ゲツ": 0, "カ": 1, "スイ": 2, "モク": 3, "キン": 4, "ド": 5, "ニチ": 6}
RELATIVE = {"キョ": 0, "ホンジツ": 0, "アシタ": 1, "アス": 1, "ミョニチ": 1, "アサッテ": 2, "ミョゴニチ": 2,
            "シアサッテ": 3}
EARLIEST = ("イチバンハヤイ", "イチバンチカイ", "ハヤイヒ", "ハヤイホ", "イツデモ", "ナンニチデモ", "ナルベクハヤク",
            "サイタン", "モトモハヤイ", "ハヤケレバ")
ERAS = {"レワ": 2019, "レイワ": 2019, "ヘセ": 1989, "ヘイセ": 1989, "ショワ": 1926, "タイショ": 1912, "メジ": 1868,
        "メイジ": 1868}


@dataclass(frozen=True)
class DateWish:
    """A day (or only a month) asked for, or `earliest`: the first day with room."""

    day: datetime.date | None = None
    month: tuple[int, int] | None = None  # (year, month) when only the month was said
    earliest: bool = False


def parse_date(heard: tuple[str, ...], today: datetime.date) -> DateWish | None:
    for text in heard:
        wish = _date(canonical(text), today)
        if wish is not None:
            return wish
    return None


def _date(said: str, today: datetime.date) -> DateWish | None:
    if not said:
        return None
    if any(word in said for word in EARLIEST):
        return DateWish(earliest=True)
    for word, days in sorted(RELATIVE.items(), key=lambda item: -len(item[0])):
        if word in said and not ("ガツ" in said or "ニチ" in said.replace("ニチヨ", "")):
            return DateWish(day=today + datetime.timedelta(days=days))
    month = day = None
    for numerals, counter in runs(said):
        number = value(numerals)
        if counter is not None and counter.text == "ガツ" and number and 1 <= number <= 12:
            month = number
        elif counter is not None and counter.text == "ニチ" and number and 1 <= number <= 31:
            day = number
    day = day or _day_word(said)
    if day is not None:  # a day said wins over its weekday (「十二月十五日の火曜日」 is the 15th)
        return _resolve(month, day, today)
    weekday = _weekday(said, today)
    if weekday is not None:
        return DateWish(day=weekday)
    return DateWish(month=_year_month(month, today)) if month else None


def _day_word(said: str) -> int | None:
    for word, day in sorted(DAY_WORDS.items(), key=lambda item: -len(item[0])):
        at = said.find(word)
        if at < 0 or (word == "ヨカ" and said[max(0, at - 1):at] == "ッ"):
            continue
        before = said[:at]
        if word in ("ヨッカ",) and before.endswith("ニジュ"):
            return 24
        if word in ("ヨッカ",) and before.endswith("ジュ"):
            return 14
        return day
    return None


def _weekday(said: str, today: datetime.date) -> datetime.date | None:
    at = said.find("ヨビ")
    if at < 0:
        at = said.find("ヨ") if said.endswith("ヨ") else -1  # 「水曜」
    if at < 0:
        return None
    head = said[:at]
    name = next((w for w in sorted(WEEKDAYS, key=len, reverse=True) if head.endswith(w)), None)
    if name is None:
        return None
    weeks = 2 if "サライシュ" in head else 1 if "ライシュ" in head else 0
    target = WEEKDAYS[name]
    if weeks:
        monday = today - datetime.timedelta(days=today.weekday()) + datetime.timedelta(weeks=weeks)
        return monday + datetime.timedelta(days=target)
    ahead = (target - today.weekday()) % 7 or 7 if "コンシュ" not in head else (target - today.weekday()) % 7
    return today + datetime.timedelta(days=ahead)


def _year_month(month: int, today: datetime.date) -> tuple[int, int]:
    return (today.year + (month < today.month), month)


def _resolve(month: int | None, day: int, today: datetime.date) -> DateWish | None:
    """A day of the month said with or without its month: the next such date from today."""
    if month is None:
        year, month = today.year, today.month
        if day < today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        year, _ = _year_month(month, today)
        if month == today.month and day < today.day:
            year += 1
    if day > calendar.monthrange(year, month)[1]:
        return None
    return DateWish(day=datetime.date(year, month, day))


def date_from_keys(digits: str, today: datetime.date) -> DateWish | None:
    """MMDD (1203), MDD (203) or YYYYMMDD pressed on the keypad."""
    if len(digits) == 8:
        parsed = normalize.calendar_date(digits[:4], digits[4:6], digits[6:])
        return DateWish(day=parsed) if parsed else None
    if len(digits) in (3, 4):
        month, day = int(digits[:-2]), int(digits[-2:])
        if 1 <= month <= 12 and 1 <= day <= 31:
            return _resolve(month, day, today)
    return None


# --- birth dates ------------------------------------------------------------------------------------

def parse_birth_date(heard: tuple[str, ...], today: datetime.date) -> datetime.date | None:
    for text in heard:
        born = _birth_date(canonical(text), today)
        if born is not None:
            return born
    return None


def _birth_date(said: str, today: datetime.date) -> datetime.date | None:
    year = month = day = None
    era = next((start for word, start in sorted(ERAS.items(), key=lambda e: -len(e[0])) if word in said), None)
    for numerals, counter in runs(said):
        number = value(numerals)
        if counter is None or number is None:
            continue
        if counter.text == "ネン":
            year = number
        elif counter.text == "ガツ" and 1 <= number <= 12:
            month = number
        elif counter.text == "ニチ" and 1 <= number <= 31:
            day = number
    if "ガンネン" in said:
        year = 1
    day = day or _day_word(said)
    if year is None or month is None or day is None:
        return None
    if era is not None:
        year = era + year - 1
    elif year < 100:
        return None  # a two-digit year without its era is ambiguous
    born = normalize.calendar_date(str(year), str(month), str(day))
    return born if born and born <= today else None


def birth_date_from_keys(digits: str, today: datetime.date) -> datetime.date | None:
    """YYYYMMDD in the western calendar (19500304)."""
    if len(digits) != 8:
        return None
    born = normalize.calendar_date(digits[:4], digits[4:6], digits[6:])
    return born if born and born <= today else None


def spoken_digits(said: str) -> str | None:
    """A number said digit by digit (a phone number, a reservation number) from one canonical reading;
    None when anything else is in it."""
    numerals = [t for numerals, _ in runs(said) for t in numerals]
    if not numerals or any(t.text not in DIGITS for t in numerals):
        return None
    return "".join(str(DIGITS[t.text]) for t in numerals)
