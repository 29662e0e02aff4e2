"""The one parser per kind of value (db/normalize.py): full-width digits work, every other script's
digits are refused (they pass `\\d`, isdigit() and int() but nothing downstream), every integer is
bounded, and whatever comes in, the answer is a canonical value or None, never an exception."""

from __future__ import annotations

import datetime
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db import normalize

OTHER_DIGITS = ["٠٩٠١٢٣٤٥٦٧٨", "۰۹۰۱۲۳۴۵۶۷۸", "०९०१२३४५६७८", "፩፪፫፬", "¹²³⁴", "௧௨௩௪", "𝟎𝟗𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖"]


def test_full_width_and_separators_are_accepted_as_ascii():
    assert normalize.phone("０９０－１２３４－５６７８") == "09012345678"
    assert normalize.phone("(0586) 28-8100") == "0586288100"
    assert normalize.phone("+81 90 1234 5678") == "09012345678"
    assert normalize.digits("１２ ３４") == "1234"
    assert normalize.integer("１２", 0, 99) == 12
    assert normalize.integer("−1", -5, 5) == -1 and normalize.integer("+2", -5, 5) == 2
    assert normalize.iso_date("２０２６－１２－１０") == datetime.date(2026, 12, 10)
    assert normalize.iso_date("2026/12/10") == datetime.date(2026, 12, 10)
    assert normalize.year_month("2026-12") == (2026, 12)
    assert normalize.clock_time("９:３０") == datetime.time(9, 30)
    assert normalize.email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ") == "taro@example.jp"


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_digits_of_other_scripts_are_refused_everywhere(text):
    """What NFKC leaves as non-ASCII digits is refused by every parser (mathematical bold digits
    become ASCII under NFKC, and are then fine)."""
    ascii_after_nfkc = unicodedata.normalize("NFKC", text).isascii()
    for parsed in (normalize.digits(text), normalize.integer(text, 0, 10**20), normalize.phone(text),
                   normalize.record_id(text), normalize.reservation_number(text[:8]),
                   normalize.phone_last4(text[:4]), normalize.iso_date(f"2026-12-{text[:2]}"),
                   normalize.year_month(f"{text[:4]}-12"), normalize.calendar_date(text[:4], "1", "1")):
        assert parsed is None or ascii_after_nfkc, parsed


def test_integers_are_bounded_before_sqlite_or_datetime_see_them():
    assert normalize.record_id("9" * 20) is None
    assert normalize.record_id(str(2**63)) is None and normalize.record_id(str(2**63 - 1)) == 2**63 - 1
    assert normalize.record_id("0") is None and normalize.record_id("-3") is None
    assert normalize.integer("501", 0, 500) is None
    assert normalize.year_month("99999-12") is None and normalize.year_month("2026-13") is None
    assert normalize.iso_date("10000-01-01") is None and normalize.iso_date("2026-02-30") is None
    assert normalize.calendar_date("1899", "12", "31") is None  # before any birth date or slot here
    assert normalize.clock_time("24:00") is None and normalize.clock_time("9:60") is None


def test_reservation_numbers_need_their_check_digit():
    assert normalize.reservation_number("1234-5674") == "12345674"
    assert normalize.reservation_number("１２３４５６７４") == "12345674"
    assert normalize.reservation_number("12345675") is None
    assert normalize.reservation_number("123456740") is None


def test_text_refuses_what_is_no_text_and_keeps_what_is():
    assert normalize.text(" 髙橋 𠮷子 ", max_length=60) == "髙橋 𠮷子"
    for bad in ("a\x00b", "a\x1bb", "\ud800", "a\u2028b", "\ue000"):
        assert normalize.text(bad, max_length=60) is None, repr(bad)
    assert normalize.text("一行目\r\n二行目\tです", max_length=60, multiline=True) == "一行目\n二行目\tです"
    assert normalize.text("一行目\n二行目", max_length=60) is None
    assert normalize.text("x" * 61, max_length=60) is None


def test_email_takes_what_a_mail_server_takes():
    assert normalize.email("a.b+c@city.example.lg.jp") == "a.b+c@city.example.lg.jp"
    for bad in ("", "@", "a@", "@b.jp", "a@b", "a b@c.jp", "太郎@example.jp", "a@b.jp\r\nBcc: x@y.jp",
                "a<b>@c.jp", "x" * 250 + "@b.jp"):
        assert normalize.email(bad) is None, bad


@given(st.one_of(st.text(), st.none(), st.integers(), st.binary()))
def test_no_input_makes_a_parser_raise(value):
    for parse in (normalize.digits, normalize.phone, normalize.phone_last4, normalize.record_id,
                  normalize.reservation_number, normalize.iso_date, normalize.year_month, normalize.clock_time,
                  normalize.email, normalize.katakana):
        parse(value)
    normalize.integer(value, -10, 10)
    normalize.text(value, max_length=100)
    normalize.calendar_date(value, value, value)


@given(st.integers(1, 2**63 - 1))
def test_every_id_survives_its_round_trip(number):
    assert normalize.record_id(str(number)) == number
