"""Readings: what Japanese sounds like, the form every answer is understood in.

Whisper base mishears often, but mostly into words that sound alike (「十二月」 as 「12月」 or
「じゅうにがつ」, 「いいえ」 as 「いいね」), so what was heard and what a question expects are both
turned into their katakana reading (Open JTalk's) and then into a canonical form that forgives what
a phone line and a weak recogniser blur: long vowels (ジュー, ジュウ and ジュ are one), small kana
sizes, voiced and unvoiced pairs are kept apart (ガツ is not カツ).
"""

from __future__ import annotations

import difflib
import functools
import unicodedata

# kana whose vowel is o or u: a following ウ lengthens it (キュウ = キュー)
_O_OR_U = set("オコソトノホモヨロヲゴゾドボポョュクスツヌフムユルグズヅブプゥォ")
_SMALL = str.maketrans("ァィゥェォャュョヮ", "アイウエオヤユヨワ")


@functools.lru_cache(maxsize=8192)
def reading(text: str) -> str:
    """Katakana reading without punctuation or spaces ('' for text with nothing readable)."""
    import pyopenjtalk

    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return ""
    kana = pyopenjtalk.g2p(text, kana=True)
    return "".join(ch for ch in kana if unicodedata.category(ch)[0] == "L" or ch == "ー")


@functools.lru_cache(maxsize=8192)
def canonical(text: str) -> str:
    """The reading with long vowels dropped: 「十時」「じゅうじ」「ジュウジ」 are all ジュジ."""
    kana = reading(text)
    out = []
    for ch in kana:
        if ch == "ー" or (ch == "ウ" and out and out[-1] in _O_OR_U):
            continue
        out.append(ch)
    return "".join(out)


def loose(text: str) -> str:
    """canonical() with small kana made full size, for comparing rather than parsing (キャ ~ キヤ)."""
    return canonical(text).translate(_SMALL)


def similarity(heard: str, expected: str, partial: bool = False) -> float:
    """0..1: how alike two texts sound. An expected answer said inside a longer sentence
    (「はい、そうです」 for 「はい」) counts fully; partial: also one misheard inside a longer sentence
    (「動物市民センターでお願いします」 for 東部市民センター), compared with the stretch of the same length."""
    a, b = loose(heard), loose(expected)
    if not a or not b:
        return 0.0
    if b in a:
        return 1.0
    whole = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    if not partial or len(a) <= len(b):
        return whole
    size = len(b)
    return max(whole, *(difflib.SequenceMatcher(None, a[i:i + size], b, autojunk=False).ratio()
                        for i in range(len(a) - size + 1)))


# an answer heard inside a sentence that is part of another key's longer answer: how alike the longer
# one must sound to be read as it misheard, and what the part counts for otherwise (a guess worth
# confirming at most: 「予約の端に乗った」 was 「予約の確認をしたい」)
LONGER_LIKENESS = 0.7
PART_LIKENESS = 0.75


def closest(heard: tuple[str, ...], phrases: dict[str, tuple[str, ...]], partial: bool = False) -> tuple[str, float]:
    """The key whose phrases sound most like any of the heard texts (the recogniser's best and its
    other hypotheses, best first: later ones count a little less), with that score; ("", 0.0) when
    nothing was heard. Equal scores go to the longer phrase."""
    best, score, length = "", 0.0, 0
    for rank, text in enumerate(heard):
        weight = 1.0 - 0.05 * rank
        for key, options in phrases.items():
            for phrase in options:
                found, value, size = key, similarity(text, phrase, partial), len(phrase)
                if value == 1.0:
                    found, value, size = _read_as_part(text, phrase, key, phrases) or (found, value, size)
                value *= weight
                # on a tie the longer phrase wins: 「予約の確認」 is about checking, not about 「予約」
                if value > 0 and (value, size) > (score, length):
                    best, score, length = found, value, size
    return best, score


def _read_as_part(text: str, phrase: str, key: str,
                  phrases: dict[str, tuple[str, ...]]) -> tuple[str, float, int] | None:
    """An answer heard inside a sentence that is part of another key's longer answer (「予約」 of
    「予約の取り消し」) says little alone, and the sentence may be the longer one misheard: 「予約の取決を
    お願いします」 is a cancellation, not a booking. The longer answer most like the sentence when alike
    enough (key, likeness, length), else the part at PART_LIKENESS; None when the answer is no part."""
    part = loose(phrase)
    longer = [(similarity(text, other, partial=True), len(other), other_key)
              for other_key, options in phrases.items() if other_key != key
              for other in options if part in loose(other) and len(loose(other)) > len(part)]
    if not longer:
        return None
    likeness, size, other_key = max(longer)
    return (other_key, likeness, size) if likeness >= LONGER_LIKENESS else (key, PART_LIKENESS, len(phrase))
