"""Printed slot lists, reports and CSV exports of the staff admin site.

Pure functions on the dataclasses below: web/admin/lists.py (or a statistics service) gathers the data,
this module renders it. PDFs are A4 portrait in IPAex Gothic from Debian's fonts-ipaexfont (nothing is
fetched); a character IPAex lacks comes from IPAmj Mincho (fonts-ipamj-mincho: the 文字情報基盤 set of
some 58,000 characters that residents' names use, 𠮷 among them), then Symbola (fonts-symbola: emoji,
in black and white). What none of them has prints as 〓, and the footer says so. CSVs open correctly
in Japanese Excel. Every text staff read lives in printing.toml.
"""

from __future__ import annotations

import datetime
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

from appliance.clock import TOKYO
from appliance.csvfile import CP932_SPELLING, CSV_ENCODINGS, GETA, table_csv  # noqa: F401  (the sites' CSV files)
from appliance.messages import catalogue
from web.admin.fonts import FALLBACK_FONTS, FONT_PATH, FontMissing, font_for, ignored

TEXTS = catalogue(Path(__file__).with_name("printing.toml"))
SLOT_LENGTH = datetime.timedelta(minutes=30)


def not_in_shift_jis(texts: Iterable[object]) -> list[str]:
    """Characters of the texts that the Shift_JIS (cp932) CSV cannot carry (they become 〓), in order."""
    found: dict[str, None] = {}
    for text in texts:
        for ch in str(text).translate(CP932_SPELLING):
            try:
                ch.encode("cp932")
            except UnicodeEncodeError:
                found.setdefault(ch)
    return list(found)


@dataclass(frozen=True)
class ListEntry:
    number: str          # 8 digits as stored; printed as 1234-5678
    name: str
    kana: str
    party_size: int
    phone_last4: str     # "" when unknown (walk-ins)
    channel: str         # "web" | "phone" | "staff"
    status: str          # "confirmed" | "attended" | "no_show"
    walk_in: bool


@dataclass(frozen=True)
class SlotSection:
    start: datetime.time
    capacity: int
    booked: int          # seats booked (party sizes summed)
    closed: bool
    closed_reason: str
    entries: tuple[ListEntry, ...]


@dataclass(frozen=True)
class DayList:
    city: str
    venue: str
    date: datetime.date
    sections: tuple[SlotSection, ...]
    printed_at: datetime.datetime   # aware; printed in Asia/Tokyo
    printed_by: str                 # staff display name


# ---------------------------------------------------------------------------------------- labels

def booking_number(number: str) -> str:
    return f"{number[:4]}-{number[4:]}" if len(number) == 8 and number.isdigit() else number


def japanese_date(date: datetime.date) -> str:
    return TEXTS["date.long"].format(year=date.year, month=date.month, day=date.day,
                                     weekday=TEXTS["date.weekdays"][date.weekday()])


def time_range(start: datetime.time, key: str = "slot.time_range") -> str:
    end = (datetime.datetime.combine(datetime.date(2000, 1, 1), start) + SLOT_LENGTH).time()
    return TEXTS[key].format(start=f"{start.hour}:{start.minute:02d}", end=f"{end.hour}:{end.minute:02d}")


def channel_label(entry: ListEntry) -> str:
    return TEXTS["channel.walk_in"] if entry.walk_in else TEXTS.get(f"channel.{entry.channel}", entry.channel)


def status_label(status: str) -> str:
    return TEXTS.get(f"status.{status}", status)


def _printed(printed_at: datetime.datetime, printed_by: str) -> str:
    if printed_at.tzinfo is None:
        raise ValueError("printed_at must be an aware datetime")
    return TEXTS["footer.printed"].format(at=f"{printed_at.astimezone(TOKYO):%Y/%m/%d %H:%M}", by=printed_by)


# ------------------------------------------------------------------------------------------- CSV

DAY_CSV_COLUMNS = ("date", "time", "number", "name", "kana", "party_size", "phone_last4", "channel", "status")


def day_list_csv(day: DayList, encoding: str) -> bytes:
    """One row per booking, slots in order."""
    rows = [(f"{day.date:%Y/%m/%d}", time_range(section.start, "csv.time_range"), booking_number(e.number),
             e.name, e.kana, e.party_size, e.phone_last4, channel_label(e), status_label(e.status))
            for section in day.sections for e in section.entries]
    return table_csv([TEXTS[f"column.{key}"] for key in DAY_CSV_COLUMNS], rows, encoding)


# ------------------------------------------------------------------------------------------- PDF
# Geometry in millimetres (A4 portrait). Pagination depends only on these heights, so it is planned
# before drawing and the footer knows the page count.

PAGE_W, MARGIN = 210.0, 12.0
BODY_TOP, BODY_BOTTOM = 30.0, 280.0
BAND_H, HEAD_H, GAP = 8.0, 7.0, 4.0
MIN_ROWS_BEFORE_BREAK = 3
SMALLEST_PT = 7.5  # long text shrinks to this size, then takes two lines, then is clipped
FILL_BAND, FILL_HEAD, FILL_ZEBRA = 225, 240, 248
PT = 25.4 / 72


@dataclass(frozen=True)
class _Column:
    label: str
    width: float
    align: str = "L"    # L, C or R
    box: bool = False   # an empty square to tick by hand


@dataclass(frozen=True)
class _Table:
    title: str
    note: str
    columns: tuple[_Column, ...]
    rows: tuple[tuple[tuple[str, str], ...], ...]   # (text, align) per cell
    empty: str
    row_h: float
    size: float          # font size of the rows, in points


def _paginate(tables: Sequence[_Table]) -> list[list[tuple[float, str, _Table, int]]]:
    """Place every band, column heading and row: pages of (y, kind, table, row index). A table moves to
    a new page rather than split when it would fit on one; a split one repeats its band and heading."""
    body = BODY_BOTTOM - BODY_TOP
    pages: list[list[tuple[float, str, _Table, int]]] = [[]]
    used = 0.0

    def place(height: float, kind: str, table: _Table, index: int = -1) -> None:
        nonlocal used
        pages[-1].append((BODY_TOP + used, kind, table, index))
        used += height

    def new_page() -> None:
        nonlocal used
        pages.append([])
        used = 0.0

    for table in tables:
        whole = BAND_H + (HEAD_H + len(table.rows) * table.row_h if table.rows else table.row_h)
        start = BAND_H + (HEAD_H + min(len(table.rows), MIN_ROWS_BEFORE_BREAK) * table.row_h
                          if table.rows else table.row_h)
        if pages[-1] and used + whole > body and (whole <= body or used + start > body):
            new_page()
        place(BAND_H, "band", table)
        if not table.rows:
            place(table.row_h, "empty", table)
        else:
            place(HEAD_H, "head", table)
            for i in range(len(table.rows)):
                if used + table.row_h > body:
                    new_page()
                    place(BAND_H, "continued", table)
                    place(HEAD_H, "head", table)
                place(table.row_h, "row", table, i)
        used += GAP
    return pages


class _Document(FPDF):
    def __init__(self, small: str, title: str, middle: str, right: str, printed: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        if not FONT_PATH.is_file():
            raise FontMissing(f"{FONT_PATH} not found: install the Debian package fonts-ipaexfont")
        self.add_font("ipaexg", "", str(FONT_PATH))
        self.set_font("ipaexg", size=10)
        self._fallbacks: list[str] = []  # added when a text first needs one
        self.unprintable: dict[str, None] = {}
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.alias_nb_pages(None)
        self.set_lang("ja")
        self.set_creator("madoguchi")
        self._heading = (small, title, middle, right)
        self._printed = printed
        self.pages_total = 0  # known once the pages are planned

    def safe(self, text: object) -> str:
        """Text the fonts can draw: control characters become spaces, variation selectors and joiners go,
        anything no font has becomes 〓 and is remembered (never a crash or a silently missing
        character). A fallback font is added the first time a character needs it."""
        out = []
        for ch in str(text):
            if ch in "\t\r\n":
                out.append(" ")
                continue
            if ignored(ch):
                continue
            font = font_for(ord(ch))
            if font is None:
                self.unprintable.setdefault(ch)
                out.append(GETA)
                continue
            if font != "ipaexg" and font not in self._fallbacks:
                self.add_font(font, "", str(dict(FALLBACK_FONTS)[font]))
                self._fallbacks.append(font)
                self.set_fallback_fonts(self._fallbacks)
            out.append(ch)
        return "".join(out)

    def width(self, text: str, size: float) -> float:
        self.set_font_size(size)
        return self.get_string_width(text)

    def line_at(self, text: object, x: float, y: float, w: float, h: float, size: float, align: str = "L"):
        self.set_font_size(size)
        self.set_xy(x, y)
        self.cell(w, h, self.safe(text), align=align)

    def fit(self, text: object, x: float, y: float, w: float, h: float, size: float, align: str = "L"):
        """Text inside a cell, never beyond it: shrink, then two smaller lines, then clip with …."""
        text = self.safe(text)
        room = w - 2 * self.c_margin + 0.01  # measured widths are floats
        pt = size
        while pt > SMALLEST_PT and self.width(text, pt) > room:
            pt = max(SMALLEST_PT, pt - 0.5)
        if self.width(text, pt) <= room:
            return self.line_at(text, x, y, w, h, pt, align)
        line_h = SMALLEST_PT * PT * 1.15
        if h < 2 * line_h:
            return self.line_at(self._clip(text, room, SMALLEST_PT), x, y, w, h, SMALLEST_PT, align)
        cut = self._fitting(text, room, SMALLEST_PT)
        space = max(text.rfind(" ", 0, cut + 1), text.rfind("\u3000", 0, cut + 1))
        if space > 0 and self.width(text[space + 1:], SMALLEST_PT) <= room:
            cut = space
        first, second = text[:cut].rstrip(), text[cut:].lstrip(" \u3000")
        top = y + h / 2 - line_h
        self.line_at(first, x, top, w, line_h, SMALLEST_PT, align)
        self.line_at(self._clip(second, room, SMALLEST_PT), x, top + line_h, w, line_h, SMALLEST_PT, align)

    def _fitting(self, text: str, room: float, size: float) -> int:
        n = 0
        while n < len(text) and self.width(text[:n + 1], size) <= room:
            n += 1
        return max(n, 1)

    def _clip(self, text: str, room: float, size: float) -> str:
        if self.width(text, size) <= room:
            return text
        n = self._fitting(text, room - self.width("…", size), size)
        return text[:n] + "…"

    def header(self):
        """Small line (city), the title, then a middle text (venue) that gives way to the right one (date)."""
        small, title, middle, right = self._heading
        full, pad = PAGE_W - 2 * MARGIN, 2 * self.c_margin
        self.fit(small, MARGIN, 9, full, 5, 9)
        title_w = min(self.width(self.safe(title), 16) + pad, full * 0.4)
        right_w = min(self.width(self.safe(right), 13) + pad, full - title_w) if right else 0
        self.fit(title, MARGIN, 14, title_w, 10, 16)
        if right:
            self.fit(right, PAGE_W - MARGIN - right_w, 14, right_w, 10, 13, align="R")
        if middle and full - title_w - right_w > 10:
            self.fit(middle, MARGIN + title_w, 14, full - title_w - right_w, 10, 13, align="R")
        self.set_line_width(0.5)
        self.line(MARGIN, 25, PAGE_W - MARGIN, 25)

    def footer(self):
        self.set_line_width(0.2)
        self.line(MARGIN, 284, PAGE_W - MARGIN, 284)
        half = (PAGE_W - 2 * MARGIN) / 2
        printed = self._printed
        if self.unprintable:  # known before the first page: _render reads every text first
            printed += "\u3000" + TEXTS["footer.unprintable"].format(count=len(self.unprintable))
        self.fit(printed, MARGIN, 285, half + 30, 6, 8.5)
        self.line_at(TEXTS["footer.page"].format(page=self.page_no(), pages=self.pages_total),
                     MARGIN + half + 30, 285, half - 30, 6, 8.5, align="R")

    def draw(self, pages: list[list[tuple[float, str, _Table, int]]]) -> bytes:
        for items in pages:
            self.add_page()
            for y, kind, table, index in items:
                getattr(self, f"_draw_{'band' if kind == 'continued' else kind}")(y, table, index, kind)
        return bytes(self.output())

    def _draw_band(self, y: float, table: _Table, _index: int, kind: str):
        full = PAGE_W - 2 * MARGIN
        self.set_fill_color(FILL_BAND)
        self.rect(MARGIN, y, full, BAND_H, style="F")
        title = table.title + (TEXTS["page.continued"] if kind == "continued" else "")
        title_w = min(self.width(self.safe(title), 12) + 2 * self.c_margin + 2, full / 2)
        self.fit(title, MARGIN, y, title_w, BAND_H, 12)
        self.fit(table.note, MARGIN + title_w + 2, y, full - title_w - 2, BAND_H, 10.5)

    def _draw_head(self, y: float, table: _Table, _index: int, _kind: str):
        x = MARGIN
        self.set_fill_color(FILL_HEAD)
        self.set_line_width(0.2)
        for column in table.columns:
            self.rect(x, y, column.width, HEAD_H, style="DF")
            self.fit(column.label, x, y, column.width, HEAD_H, 8.5, align="C" if column.box else column.align)
            x += column.width

    def _draw_row(self, y: float, table: _Table, index: int, _kind: str):
        x, h = MARGIN, table.row_h
        self.set_line_width(0.2)
        self.set_fill_color(FILL_ZEBRA)
        for column, (text, align) in zip(table.columns, table.rows[index], strict=True):
            self.rect(x, y, column.width, h, style="DF" if index % 2 else "D")
            if column.box:
                side = min(4.5, h - 3)
                self.rect(x + (column.width - side) / 2, y + (h - side) / 2, side, side, style="D")
            else:
                self.fit(text, x, y, column.width, h, table.size, align=align)
            x += column.width

    def _draw_empty(self, y: float, table: _Table, _index: int, _kind: str):
        self.set_line_width(0.2)
        self.rect(MARGIN, y, PAGE_W - 2 * MARGIN, table.row_h, style="D")
        self.fit(table.empty, MARGIN, y, PAGE_W - 2 * MARGIN, table.row_h, table.size, align="C")


def _render(document: _Document, tables: Sequence[_Table], pdf_title: str, printed_at: datetime.datetime) -> bytes:
    document.safe("".join(document._heading))  # every text is read before the first page is drawn,
    for table in tables:                      # so that each page's footer can say what became 〓
        for text in (table.title, table.note, table.empty, *(c.label for c in table.columns),
                     *(cell for row in table.rows for cell, _ in row)):
            document.safe(text)
    pages = _paginate(tables)
    document.pages_total = len(pages)
    document.set_title(pdf_title)
    document.set_creation_date(printed_at)
    return document.draw(pages)


# Check box, 予約番号, お名前, フリガナ, 人数, 電話（下4桁）, 受付, 状態: 186 mm between the margins.
DAY_COLUMNS = (("check", 9, "C"), ("number", 23, "C"), ("name", 45, "L"), ("kana", 43, "L"),
               ("party_size", 11, "R"), ("phone_last4", 21, "C"), ("channel", 14, "C"), ("status", 20, "C"))


def _slot_table(section: SlotSection) -> _Table:
    note = TEXTS["slot.seats"].format(booked=section.booked, capacity=section.capacity)
    if section.closed:
        closed = (TEXTS["slot.closed"].format(reason=section.closed_reason) if section.closed_reason.strip()
                  else TEXTS["slot.closed_no_reason"])
        note += "\u3000" + closed
    columns = tuple(_Column(TEXTS[f"column.{key}"], width, align, box=key == "check")
                    for key, width, align in DAY_COLUMNS)
    rows = tuple(tuple(zip(("", booking_number(e.number), e.name, e.kana, str(e.party_size), e.phone_last4,
                            channel_label(e), status_label(e.status)),
                           (c.align for c in columns), strict=True))
                 for e in section.entries)
    return _Table(time_range(section.start), note, columns, rows, TEXTS["slot.empty"], row_h=8.0, size=10.5)


def day_list_pdf(day: DayList) -> bytes:
    """The list staff tick at the counter: one section per slot (or a single slot), A4 portrait."""
    tables = [_slot_table(section) for section in day.sections]
    entries = [e for section in day.sections for e in section.entries]
    small = f"{day.city}\u3000" + TEXTS["day_list.total"].format(
        bookings=len(entries), people=sum(e.party_size for e in entries))
    title = TEXTS["day_list.title"]
    if not tables:
        tables = [_Table(japanese_date(day.date), "", (), (), TEXTS["day_list.no_slots"], 8.0, 10.5)]
    document = _Document(small, title, day.venue, japanese_date(day.date), _printed(day.printed_at, day.printed_by))
    return _render(document, tables, f"{title} {day.venue} {day.date.isoformat()}", day.printed_at)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _report_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{value:,}"
    if _is_number(value):
        return f"{value:,.1f}"
    return str(value)


def _report_table(measure: _Document, heading: str, columns: Sequence[str],
                  rows: Sequence[Sequence[object]]) -> _Table:
    full, size, pad = PAGE_W - 2 * MARGIN, 9.5, 2 * measure.c_margin + 6
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"table {heading!r}: every row needs {len(columns)} cells")
    numeric = [bool(rows) and all(_is_number(row[i]) or row[i] in (None, "") for row in rows)
               for i in range(len(columns))]
    widths = [max([measure.width(measure.safe(label), 8.5)]
                  + [measure.width(measure.safe(_report_text(row[i])), size) for row in rows]) + pad
              for i, label in enumerate(columns)]
    widths = [max(w, 24.0) for w in widths]
    if sum(widths) > full:
        widths = [w * full / sum(widths) for w in widths]
    cols = tuple(_Column(label, widths[i], "R" if numeric[i] else "L") for i, label in enumerate(columns))
    cells = tuple(tuple((_report_text(value), "R" if _is_number(value) else "L") for value in row)
                  for row in rows)
    return _Table(heading, "", cols, cells, TEXTS["report.empty"], row_h=7.0, size=size)


def report_pdf(title: str, subtitle: str, tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[object]]]],
               printed_at: datetime.datetime, printed_by: str) -> bytes:
    """A generic A4 report (monthly statistics): each (heading, columns, rows) table in turn."""
    document = _Document("", title, "", subtitle, _printed(printed_at, printed_by))
    built = [_report_table(document, heading, columns, rows) for heading, columns, rows in tables]
    if not built:
        built = [_Table(title, "", (), (), TEXTS["report.empty"], 7.0, 9.5)]
    return _render(document, built, f"{title} {subtitle}".strip(), printed_at)
