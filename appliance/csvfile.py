"""CSV files for Excel, as the admin site's downloads and the CLI's exports write them: UTF-8 with a BOM,
or Shift_JIS (cp932) with what it cannot spell as 〓; numbers stay numbers, text a spreadsheet would run
as a formula gets a leading apostrophe."""

from __future__ import annotations

import codecs
import csv
import io
import numbers
from collections.abc import Iterable, Sequence

CSV_ENCODINGS = ("utf-8", "shift_jis")
GETA = "〓"  # the customary mark for a character that cannot be printed or encoded


def _geta(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return GETA * (error.end - error.start), error.end


codecs.register_error("madoguchi.geta", _geta)
# Characters Windows users type that cp932 spells with another code point (the rest become 〓).
CP932_SPELLING = str.maketrans({"\u2014": "\u2015", "\u2011": "\u2010", "\u00a0": " ", "\u00a5": "\uffe5",
                                 "\u00b7": "\u30fb"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    """Numbers stay numbers; text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_csv(header: Sequence[str], rows: Iterable[Sequence[object]], encoding: str) -> bytes:
    """A CSV file for Excel: "utf-8" with a BOM, or "shift_jis" (cp932, unencodable characters → 〓).
    An empty header writes no header line (for files that carry their own headings in the rows)."""
    if encoding not in CSV_ENCODINGS:
        raise ValueError(f"unknown CSV encoding {encoding!r}; use one of {CSV_ENCODINGS}")
    out = io.StringIO()
    writer = csv.writer(out)  # QUOTE_MINIMAL, CRLF line endings
    if header:
        writer.writerow([_csv_cell(v) for v in header])
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    if encoding == "utf-8":
        return out.getvalue().encode("utf-8-sig")
    return out.getvalue().translate(CP932_SPELLING).encode("cp932", errors="madoguchi.geta")
