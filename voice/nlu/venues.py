"""Which venue a caller means: every venue answers to its name, its reading and each part of its name
(「本庁舎」 for 「デモ市役所 本庁舎 市民課」); 「どこでも」「一番近いところ」 mean the earliest anywhere.
Venues that sound alike (北支所 and 北部公民館) are told apart by the score: a close second makes the
dialog confirm."""

from __future__ import annotations

import re

from voice.call.requests import VenueChoice

ANYWHERE = ("どこでも", "どこでもいいです", "一番近いところ", "近いところ", "どの会場でも", "どこでも大丈夫です", "空いているところ")
_PARTS = re.compile(r"[\s　・]+")


def phrases(venues: tuple[VenueChoice, ...]) -> dict[str, tuple[str, ...]]:
    """{venue id as text: what callers may say for it} plus "anywhere"."""
    table: dict[str, tuple[str, ...]] = {"anywhere": ANYWHERE}
    for venue in venues:
        names = [venue.name, venue.kana, *(_PARTS.split(venue.name)), *(_PARTS.split(venue.kana))]
        table[str(venue.id)] = tuple(dict.fromkeys(n for n in names if len(n) >= 2))
    return table
