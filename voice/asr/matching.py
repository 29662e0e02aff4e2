"""Matching free recognition against the closed set of answers a question expects.

Whisper base mishears often, but mostly into words that *sound* alike (「日にち」 → 日々), so both
sides are compared by their katakana reading (Open JTalk's), not their spelling. The dialog gets
the expected answers that sound close enough, best first, and decides what to do with them.
"""

from __future__ import annotations

import difflib
import functools
import unicodedata

MIN_SIMILARITY = 0.5


@functools.lru_cache(maxsize=4096)
def reading(text: str) -> str:
    """Katakana reading without punctuation or spaces ('' for text with nothing readable)."""
    import pyopenjtalk

    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return ""
    kana = pyopenjtalk.g2p(text, kana=True)
    return "".join(ch for ch in kana if unicodedata.category(ch)[0] == "L" or ch == "ー")


def similarity(heard: str, expected: str) -> float:
    a, b = reading(heard), reading(expected)
    if not a or not b:
        return 0.0
    if b in a:  # the answer said inside a longer sentence (「はい、そうです」 for 「はい」)
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def rank_expected(heard: str, expected) -> tuple[str, ...]:
    """The expected answers that sound like what was heard, most similar first."""
    scored = [(similarity(heard, answer), answer) for answer in dict.fromkeys(expected)]
    return tuple(answer for score, answer in sorted(scored, key=lambda s: -s[0]) if score >= MIN_SIMILARITY)
