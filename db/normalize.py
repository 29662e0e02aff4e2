"""Normalising what people type or say into canonical forms (full-width digits, hyphens, +81)."""

from __future__ import annotations

import re
import unicodedata

_DASHES = re.compile(r"[\s\-‐‑‒–—―−ー－()（）]")


def phone(raw: str) -> str | None:
    """A Japanese phone number as digits only ('09000001234'), or None when it cannot be one."""
    text = _DASHES.sub("", unicodedata.normalize("NFKC", raw or ""))
    if text.startswith("+81"):
        text = "0" + text[3:]
    if not re.fullmatch(r"0\d{9,10}", text):
        return None
    return text


def is_mobile(number: str) -> bool:
    return len(number) == 11 and number[:3] in ("070", "080", "090")


def katakana(raw: str) -> str:
    """Furigana in full-width katakana: hiragana and half-width katakana are converted."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = re.sub(r"\s+", "　", text)
    return "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in text)


def is_katakana(text: str) -> bool:
    return bool(re.fullmatch(r"[ァ-ヺー・　ヽヾ]+", text))


def digits(raw: str) -> str:
    """Only the digits of what was typed (全角 or 半角, with any separators)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", raw or "") if ch.isdigit())
