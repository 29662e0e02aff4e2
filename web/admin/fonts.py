"""The fonts printed lists use, all from Debian packages (nothing is fetched): IPAex Gothic
(fonts-ipaexfont), then for what it lacks IPAmj Mincho (fonts-ipamj-mincho: the 文字情報基盤 set of
some 58,000 characters that residents' names use, 𠮷 among them) and Symbola (fonts-symbola: emoji,
in black and white)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

FONT_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
FALLBACK_FONTS = (("ipamjm", Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf")),
                  ("symbola", Path("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf")))


class FontMissing(RuntimeError):
    """The IPAex Gothic font file is not installed (Debian package fonts-ipaexfont)."""


@cache
def _characters(path: Path) -> frozenset[int]:
    """The code points a font file draws (read once per process; IPAmj's table alone is 45 MB)."""
    font = TTFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def font_for(code: int) -> str | None:
    """The name of the first font that draws the character (IPAex, then the fallbacks), else None."""
    for name, path in (("ipaexg", FONT_PATH), *FALLBACK_FONTS):
        if path.is_file() and code in _characters(path):
            return name
    return None


def ignored(ch: str) -> bool:
    """Variation selectors and joiners: the base character prints without them."""
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or code in (0x200C, 0x200D)


def unprintable(texts: Iterable[object]) -> list[str]:
    """Characters of the texts that no font here can print (they would come out as 〓), in order."""
    found: dict[str, None] = {}
    for text in texts:
        for ch in str(text):
            if not (ch in "\t\r\n" or ignored(ch) or font_for(ord(ch))):
                found.setdefault(ch)
    return list(found)
