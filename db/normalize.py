"""One parser per kind of value that people type, say or send, for both web sites, the engine and the
CLI. Each returns the canonical value, or None when the input cannot be one (the caller picks the
message: Japanese for citizens and staff, 404 for an id in a URL).

Text is NFKC-normalised first, so full-width digits and letters (０９０，１２３４) work, then only the
ASCII digits 0-9 are accepted: Python's `\\d`, `str.isdigit()` and `int()` each accept a different set
of other digits (Arabic-Indic, Ethiopic, superscripts...), which would pass one check and crash the
next. Every integer is bounded here, before it reaches SQLite (64-bit) or `datetime` (years 1-9999).
"""

from __future__ import annotations

import datetime
import re
import unicodedata

MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id can name no row
FIRST_YEAR, LAST_YEAR = 1900, 2200  # birth dates and appointments both fall in here

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－()（）.．]")
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_ISO_DATE = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")
_ISO_MONTH = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})")
_CLOCK_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_MINUS_SIGNS = str.maketrans({"−": "-", "ー": "-", "‐": "-", "―": "-"})
# Characters that never belong in a name, an address or a message text: C0/C1 controls (NUL...),
# lone surrogates, private-use and unassigned code points, and the line/paragraph separators.
_NOT_TEXT = {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"}


def _nfkc(raw: object) -> str:
    return unicodedata.normalize("NFKC", raw) if isinstance(raw, str) else ""


def digits(raw: object, *, max_length: int = 20) -> str | None:
    """The ASCII digits of what was typed, separators (spaces, hyphens, brackets, dots) left out;
    None when anything else is in it, nothing is, or more than max_length digits are."""
    text = _SEPARATORS.sub("", _nfkc(raw))
    if not text or len(text) > max_length or not (text.isascii() and text.isdigit()):
        return None
    return text


def integer(raw: object, low: int, high: int) -> int | None:
    """A whole number from low to high ('１２', '+2', '−1'), else None."""
    text = _nfkc(raw).strip().translate(_MINUS_SIGNS)
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def record_id(raw: object) -> int | None:
    """A row id as it appears in a URL or a hidden field."""
    return integer(raw, 1, MAX_ID)


def phone(raw: object) -> str | None:
    """A Japanese phone number as digits only ('09000001234'), or None when it cannot be one."""
    text = _SEPARATORS.sub("", _nfkc(raw))
    if text.startswith("+81"):
        text = "0" + text[3:]
    number = digits(text, max_length=11)
    return number if number and len(number) >= 10 and number[0] == "0" else None


def phone_last4(raw: object) -> str | None:
    number = digits(raw, max_length=4)
    return number if number and len(number) == 4 else None


def is_mobile(number: str) -> bool:
    return len(number) == 11 and number[:3] in ("070", "080", "090")


def check_digit(body: str) -> str:
    """The Luhn digit of an ASCII digit string (reservation numbers end with it)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = (ord(ch) - 48) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def reservation_number(raw: object) -> str | None:
    """8 digits whose last is the check digit ('1234-5678' and full-width digits too), else None."""
    number = digits(raw, max_length=8)
    if number is None or len(number) != 8 or check_digit(number[:7]) != number[7]:
        return None
    return number


def calendar_date(year: object, month: object, day: object) -> datetime.date | None:
    """A date that exists from its three parts (select boxes or typed digits), else None."""
    y, m, d = integer(year, FIRST_YEAR, LAST_YEAR), integer(month, 1, 12), integer(day, 1, 31)
    if None in (y, m, d):
        return None
    try:
        return datetime.date(y, m, d)
    except ValueError:  # 2月30日
        return None


def iso_date(raw: object) -> datetime.date | None:
    """'2026-12-10' (or 2026/12/10, full-width digits too), else None."""
    match = _ISO_DATE.fullmatch(_nfkc(raw).strip())
    return calendar_date(*match.groups()) if match else None


def year_month(raw: object) -> tuple[int, int] | None:
    """'2026-12' as (2026, 12), else None."""
    match = _ISO_MONTH.fullmatch(_nfkc(raw).strip())
    if not match:
        return None
    year, month = integer(match[1], FIRST_YEAR, LAST_YEAR), integer(match[2], 1, 12)
    return None if year is None or month is None else (year, month)


def clock_time(raw: object) -> datetime.time | None:
    """'9:30' or '09:30' (full-width too) as a time of day, else None."""
    match = _CLOCK_TIME.fullmatch(_nfkc(raw).strip())
    if not match:
        return None
    hour, minute = integer(match[1], 0, 23), integer(match[2], 0, 59)
    return None if hour is None or minute is None else datetime.time(hour, minute)


def text(raw: object, *, max_length: int, multiline: bool = False) -> str | None:
    """Free text (a name, an address, a reason) stripped, with runs of spaces kept as typed; None when
    it is too long or holds a character that is no text (NUL and other controls, lone surrogates,
    unassigned code points). A multiline text keeps its line breaks (as \\n) and tabs."""
    if not isinstance(raw, str):
        return None
    value = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    allowed = "\n\t" if multiline else ""
    if len(value) > max_length or any(ch not in allowed and unicodedata.category(ch) in _NOT_TEXT
                                      for ch in value):
        return None
    return value


def email(raw: object) -> str | None:
    """An email address ('ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ' typed with a Japanese IME too), else None.
    Only what a mail server takes without SMTPUTF8: printable ASCII, one @, a dotted domain."""
    value = _nfkc(raw).strip()
    local, at, domain = value.rpartition("@")
    if (not at or not local or "." not in domain.strip(".") or len(value) > 254 or not value.isascii()
            or any(not ch.isprintable() or ch.isspace() or ch in '<>,;"()[]\\' for ch in value)):
        return None
    return value


def katakana(raw: object) -> str:
    """Furigana in full-width katakana: hiragana and half-width katakana are converted."""
    value = _nfkc(raw).strip()
    value = re.sub(r"\s+", "　", value)
    return "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in value)


def is_katakana(value: str) -> bool:
    return bool(re.fullmatch(r"[ァ-ヺー・　ヽヾ]+", value))
