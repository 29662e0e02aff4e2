"""Which venue a caller means: every venue answers to its name, its reading and each part of its name
(「本庁舎」 for 「デモ市役所 本庁舎 市民課」); 「どこでも」「一番近いところ」 mean the earliest anywhere.
Venues that sound alike (北支所 and 北部公民館) are told apart by the score: a close second makes the
dialog confirm."""

from __future__ import annotations

import re

from voice.call.requests import VenueChoice
from voice.nlu.answers import numbered as said_numbered

ANYWHERE = ("どこでも", "どこでもいいです", "一番近いところ", "近いところ", "どの会場でも", "どこでも大丈夫です", "空いているところ")
_PARTS = re.compile(r"[\s　・]+")


def phrases(venues: tuple[VenueChoice, ...]) -> dict[str, tuple[str, ...]]:
    """{venue id as text: what callers may say for it} plus "anywhere"."""
    table: dict[str, tuple[str, ...]] = {"anywhere": ANYWHERE}
    for venue in venues:
        names = [venue.name, venue.kana, *(_PARTS.split(venue.name)), *(_PARTS.split(venue.kana))]
        table[str(venue.id)] = tuple(dict.fromkeys(n for n in names if len(n) >= 2))
    return table


def said(venues: tuple[VenueChoice, ...], numbered: bool = False) -> dict[str, tuple[str, ...]]:
    """What callers say for each venue, for the recogniser to score against the audio: its name, or
    the parts of a name of several (「本庁舎」), as Whisper writes them (not the readings), and 「どこでも」;
    numbered: a menu's 「1番」「2番」… too, for the venue read with that number."""
    table: dict[str, tuple[str, ...]] = {"anywhere": (ANYWHERE[0], ANYWHERE[2])}
    for number, venue in enumerate(venues, 1):
        parts = [part for part in _PARTS.split(venue.name) if len(part) >= 2]
        table[str(venue.id)] = (*(parts if len(parts) > 1 else [venue.name]), *(said_numbered(number) if numbered else ()))
    return table
