"""Numbers as they are said: read from the canonical reading (voice/nlu/readings.py), so 「十二」,
「12」, 「１２」 and 「じゅうに」 are all ジュニ = 12. Two kinds: a number said with its tens and
hundreds (にじゅうさん = 23), and digits said one by one (ぜろきゅうぜろ = "090", a phone number).

tokens() splits a canonical reading into numerals, the counters that follow them (ガツ, ニチ, ジ, フン,
ネン) and the rest, longest match first.
"""

from __future__ import annotations

from dataclasses import dataclass

DIGITS = {
    "ゼロ": 0, "レイ": 0, "マル": 0,
    "イチ": 1, "イッ": 1, "ヒト": 1,
    "ニ": 2, "フタ": 2,
    "サン": 3,
    "ヨン": 4, "ヨ": 4, "シ": 4,
    "ゴ": 5,
    "ロク": 6, "ロッ": 6,
    "ナナ": 7, "シチ": 7,
    "ハチ": 8, "ハッ": 8,
    "キュ": 9, "ク": 9,
}
MULTIPLIERS = {"ジュ": 10, "ジュッ": 10, "ジッ": 10, "ヒャク": 100, "ビャク": 100, "ピャク": 100,
               "セン": 1000, "ゼン": 1000, "マン": 10000}
COUNTERS = ("ガツ", "ニチ", "ジ", "フン", "プン", "ネン", "バン", "ハン", "ニン", "メ", "ヨビ", "ビ")
# longest first, so that ジュッ wins over ジュ and ニチ over ニ
_TABLE = sorted([*DIGITS, *MULTIPLIERS, *COUNTERS], key=len, reverse=True)


@dataclass(frozen=True)
class Token:
    text: str
    kind: str  # "digit" / "multiplier" / "counter" / "other"


def tokens(canonical_reading: str) -> list[Token]:
    found: list[Token] = []
    i = 0
    while i < len(canonical_reading):
        for piece in _TABLE:
            if canonical_reading.startswith(piece, i):
                kind = "digit" if piece in DIGITS else "multiplier" if piece in MULTIPLIERS else "counter"
                found.append(Token(piece, kind))
                i += len(piece)
                break
        else:
            found.append(Token(canonical_reading[i], "other"))
            i += 1
    return found


def value(numerals: list[Token]) -> int | None:
    """A number said with its units (サン ビャク ニ ジュ ゴ = 325); None for digits said one by one."""
    total, section, current = 0, 0, None
    used_unit = False
    for token in numerals:
        if token.kind == "digit":
            if current is not None:
                return None  # two digits in a row: digits said one by one
            current = DIGITS[token.text]
        else:
            unit = MULTIPLIERS[token.text]
            used_unit = True
            if unit == 10000:
                total += (section + (current or 0)) * unit
                section, current = 0, None
            else:
                section += (1 if current is None else current) * unit
                current = None
    if not numerals or (not used_unit and len(numerals) != 1):
        return None
    return total + section + (current or 0)


def digit_string(numerals: list[Token]) -> str | None:
    """Digits said one by one (ゼロ キュ ゼロ → "090"); None when a unit (ジュ, ヒャク) is among them."""
    if not numerals or any(t.kind != "digit" for t in numerals):
        return None
    return "".join(str(DIGITS[t.text]) for t in numerals)


def runs(canonical_reading: str) -> list[tuple[list[Token], Token | None]]:
    """Each run of numerals with the counter right after it (or None): ジュニガツミッカ gives
    ([ジュ, ニ], ガツ) and nothing for ミッカ (a day word, see voice/nlu/dates.py)."""
    found: list[tuple[list[Token], Token | None]] = []
    run: list[Token] = []
    for token in tokens(canonical_reading):
        if token.kind in ("digit", "multiplier"):
            run.append(token)
            continue
        if run:
            found.append((run, token if token.kind == "counter" else None))
            run = []
    if run:
        found.append((run, None))
    return found
