"""Personal data masked for readers who may not see it (the viewer role): people's names as SudachiPy
tags them (固有名詞・人名) and runs of three or more digits (phone numbers, My Numbers, birth dates),
each character becoming ＊, so the shape of the text stays readable."""

from __future__ import annotations

import re

from db.faqsearch import tokenize

_DIGITS = re.compile(r"[0-9０-９]{3,}")
MASK = "＊"


def masked(text: str | None) -> str:
    if not text:
        return ""
    text = _DIGITS.sub(lambda m: MASK * len(m.group()), text)
    pieces, at = [], 0
    for m in tokenize(text):
        pos = m.part_of_speech()
        if pos[1] == "固有名詞" and pos[2] == "人名":
            pieces.append(text[at:m.begin()])
            pieces.append(MASK * (m.end() - m.begin()))
            at = m.end()
    pieces.append(text[at:])
    return "".join(pieces)
