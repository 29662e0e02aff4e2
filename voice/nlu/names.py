"""A caller's name as its reading: what was heard becomes katakana (staff add the kanji later, from
what the caller brings), with the words around a name left out (「山田花子です」「山田と申します」
「名前は山田花子」)."""

from __future__ import annotations

import re

from db import normalize
from voice.nlu.readings import reading

_AROUND = re.compile(r"^(?:ワタシ(?:ノナマエ)?[ハワ]|ナマエ[ハワ]|エート|エット|アノ)|(?:デス|ト(?:モ[ウー]?シマス|イイマス)|デゴザイマス)$")


def name_reading(heard: tuple[str, ...]) -> str | None:
    """The first hypothesis that gives a plausible name (2 to 20 katakana), else None."""
    for text in heard:
        kana = reading(text)
        previous = None
        while previous != kana:  # 「私の名前は山田花子です」: both ends
            previous, kana = kana, _AROUND.sub("", kana)
        if 2 <= len(kana) <= 20 and normalize.is_katakana(kana):
            return kana
    return None
