"""Times of day as callers say them: 「十時半」「午後二時」「二時十五分」「午前中ならいつでも」「お昼すぎ」
「一番早い時間」. Counters are open in the daytime, so an hour from 1 to 6 without 午前 is taken as the
afternoon (「二時」 is 14:00). Read from the canonical reading (voice/nlu/readings.py)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from voice.nlu.numbers import runs, value
from voice.nlu.readings import canonical, closest

ANY = ("イツデモ", "ナンジデモ", "ドノジカンデモ", "ジカンワイイ", "ジカンハイイ")
EARLIEST = ("イチバンハヤイ", "ハヤイジカン", "ハヤイホ", "イチバンハヤク")
MORNING = ("ゴゼン", "アサ")
AFTERNOON = ("ゴゴ", "ヒルスギ", "ヒルカラ", "ユガタ")
NOON = ("ショゴ", "オヒル", "ヒルノジュニジ")


@dataclass(frozen=True)
class TimeWish:
    """A time asked for (`at`), or a span to choose within (earliest..latest: any of it will do when
    `whichever`, 「午前中ならいつでも」; else the caller has a time in it to choose), or the first free one."""

    at: datetime.time | None = None
    earliest: datetime.time | None = None
    latest: datetime.time | None = None
    first_free: bool = False
    whichever: bool = False

    def allows(self, start: datetime.time) -> bool:
        if self.at is not None:
            return start == self.at
        return (self.earliest is None or start >= self.earliest) and (self.latest is None or start <= self.latest)


def parse_time(heard: tuple[str, ...]) -> TimeWish | None:
    for text in heard:
        wish = _time(canonical(text))
        if wish is not None:
            return wish
    return None


def _time(said: str) -> TimeWish | None:
    if not said:
        return None
    if any(word in said for word in EARLIEST):
        return TimeWish(first_free=True)
    morning = any(word in said for word in MORNING) and "ゴゴ" not in said
    afternoon = any(word in said for word in AFTERNOON)
    hour = minute = None
    # 午後/午前 are taken out first: their ゴ would otherwise be read as the digit 5
    plain = said.replace("ゴゼン", "・").replace("ゴゴ", "・")
    for numerals, counter in runs(plain):
        number = value(numerals)
        if counter is None or number is None:
            continue
        if counter.text == "ジ" and 0 <= number <= 23 and hour is None:
            hour = number
        elif counter.text in ("フン", "プン") and 0 <= number <= 59 and hour is not None:
            minute = number
    if hour is not None:
        if "ハン" in plain[plain.find("ジ"):]:
            minute = 30 if minute is None else minute
        if (afternoon and hour < 12) or (not morning and 1 <= hour <= 6):
            hour += 12
        if hour > 23:
            return None
        return TimeWish(at=datetime.time(hour, minute or 0))
    whichever = any(word in said for word in ANY)
    if any(word in said for word in NOON):
        return TimeWish(earliest=datetime.time(12), latest=datetime.time(13), whichever=whichever)
    if "ゴゼンチュ" in said or (morning and not afternoon):
        return TimeWish(earliest=datetime.time(0), latest=datetime.time(11, 59), whichever=whichever)
    if afternoon:
        return TimeWish(earliest=datetime.time(12), latest=datetime.time(23, 59), whichever=whichever)
    if whichever:
        return TimeWish(first_free=True)
    return None


def spoken_time(at: datetime.time) -> str:
    """How the phone says a slot's start: 「十時」「十時三十分」「午後二時」 (digits: the synthesiser reads them)."""
    text = f"午後{at.hour - 12}時" if at.hour >= 13 else f"{at.hour}時"
    return text + (f"{at.minute}分" if at.minute else "")


def closest_time(heard: tuple[str, ...], times: list[datetime.time]) -> tuple[datetime.time | None, float]:
    """The one of `times` (a day's free starts: a closed set) that sounds most like what was heard, and
    how alike (0..1): for a time Whisper base did not hear as one (「九時」 as 「くじん」)."""
    phrases = {at.isoformat(): _said_as(at) for at in times}
    key, score = closest(heard, phrases)
    return (datetime.time.fromisoformat(key) if key else None), score


def said_times(times: list[datetime.time]) -> dict[str, tuple[str, ...]]:
    """How Whisper writes each time said (「10時半」「午後2時」), for the recogniser to score against the
    audio, by the time's ISO form."""
    return {at.isoformat(): written(at) for at in times}


def written(at: datetime.time) -> tuple[str, ...]:
    """How Whisper writes a time said: 「10時半」, 「14時」 and 「午後2時」."""
    hours = [f"{at.hour}時"] + ([f"午後{at.hour - 12}時"] if at.hour > 12 else [])
    minutes = ("半",) if at.minute == 30 else ((f"{at.minute}分",) if at.minute else ("",))
    return tuple(hour + minute for hour in hours for minute in minutes)


def _said_as(at: datetime.time) -> tuple[str, ...]:
    hours = [f"{at.hour}時"] + ([f"午前{at.hour}時"] if at.hour < 12 else []) + (
        [f"午後{at.hour - 12}時", f"{at.hour - 12}時"] if at.hour > 12 else [])
    if at.minute == 30:
        return tuple(h + tail for h in hours for tail in ("半", "30分"))
    return tuple(h + (f"{at.minute}分" if at.minute else "") for h in hours)
