"""The printed slot lists, reports and CSV exports (web/admin/printing.py), read back the way a person
or Excel would: PDFs through poppler's pdftotext/pdftoppm, CSVs through the csv module."""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

from web.admin import fonts, printing
from web.admin.printing import (
    CSV_ENCODINGS,
    DayList,
    FontMissing,
    ListEntry,
    SlotSection,
    day_list_csv,
    day_list_pdf,
    report_pdf,
    table_csv,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "printing"
PRINTED_AT = datetime.datetime(2026, 12, 1, 1, 0, tzinfo=datetime.UTC)  # 10:00 in Tokyo
DAY = datetime.date(2026, 12, 10)  # a Thursday
MM = 72 / 25.4  # PDF points per millimetre
LONG_NAME = "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処やぶら小路の藪柑子パイポパイポ"


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode("utf-8")


def squash(text: str) -> str:
    """pdftotext spreads columns with spaces; compare without any whitespace."""
    return re.sub(r"\s+", "", text)


def pdf_words(data: bytes) -> list[tuple[float, float, str]]:
    """(xMin, xMax, word) of every word on the first page, in PDF points."""
    html = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", "-", "-"], input=data,
                          capture_output=True, check=True).stdout.decode("utf-8")
    return [(float(a), float(b), w) for a, b, w in
            re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', html)]


def entry(n: int, **kw) -> ListEntry:
    values = {"number": f"{12345600 + n:08d}", "name": f"市役 太郎{n}", "kana": "シヤク　タロウ", "party_size": 1,
              "phone_last4": f"{n:04d}", "channel": "web", "status": "confirmed", "walk_in": False}
    values.update(kw)
    return ListEntry(**values)


def section(hour: int, minute: int, entries=(), capacity: int = 4, closed: bool = False, reason: str = ""):
    return SlotSection(datetime.time(hour, minute), capacity, sum(e.party_size for e in entries), closed, reason,
                       tuple(entries))


def day_list(*sections: SlotSection) -> DayList:
    return DayList("デモ市", "本庁舎", DAY, tuple(sections), PRINTED_AT, "窓口 花子")


def sample_day() -> DayList:
    return day_list(
        section(9, 0, [entry(1, number="12345678", name="市役 太郎", kana="シヤク　タロウ", party_size=2),
                       entry(2, name="髙橋 一郎", kana="タカハシ　イチロウ", channel="phone", status="attended"),
                       entry(3, name="山田 花子", kana="ヤマダ　ハナコ", channel="staff", status="no_show")]),
        section(9, 30),
        section(10, 0, [entry(4, name="佐藤 次郎", kana="サトウ　ジロウ", channel="staff", status="attended",
                              walk_in=True, phone_last4="")]),
        section(10, 30, closed=True, reason="システム点検のため"),
    )


def save_artifact(name: str, data: bytes) -> None:
    """A copy for a human to look at, written crash-safe (temp file, fsync, rename)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    temp = ARTIFACTS / f".{name}.tmp"
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, ARTIFACTS / name)


# --------------------------------------------------------------------------------------------- PDF

def test_day_list_shows_header_slots_and_bookings():
    """The list carries the city, title, venue and Japanese date with weekday, each slot's time range
    and seat count, the formatted number, names, furigana, party size, last 4 digits, channel and status
    labels, and the footer with Tokyo print time, staff name and page count."""
    text = squash(pdf_text(day_list_pdf(sample_day())))
    for expected in ("デモ市", "予約者一覧", "本庁舎", "2026年12月10日（木）", "9:00〜9:30", "予約4/定員4",
                     "1234-5678", "市役太郎", "シヤクタロウ", "髙橋一郎", "タカハシイチロウ", "ヤマダハナコ",
                     "0002", "Web", "電話", "窓口", "当日", "来庁済", "来庁なし",
                     "印刷2026/12/0110:00窓口花子", "1/1ページ"):
        assert expected in text, expected
    assert "12345678" not in text
    assert text.count("来庁済") == 2 and text.count("来庁なし") == 1  # confirmed ones print no status


def test_empty_and_closed_slots_are_marked():
    """A slot without bookings says 予約なし; a closed one shows 受付休止 with its reason."""
    text = squash(pdf_text(day_list_pdf(sample_day())))
    assert "9:30〜10:00予約0/定員4予約なし" in text
    assert "10:30〜11:00予約0/定員4受付休止：システム点検のため予約なし" in text


def test_sixty_bookings_fill_several_pages_each_with_the_header():
    """A busy day (60 bookings in 15 slots) runs over several pages; every page repeats the header and
    numbers itself 'n / N ページ', and every booking is printed exactly once."""
    sections = [section(9 + i // 2, 30 * (i % 2), [entry(i * 4 + j) for j in range(4)]) for i in range(15)]
    pages = pdf_text(day_list_pdf(day_list(*sections))).split("\f")
    pages = [squash(page) for page in pages if page.strip()]
    assert len(pages) >= 3
    for n, page in enumerate(pages, start=1):
        assert "予約者一覧" in page and "2026年12月10日（木）" in page and "本庁舎" in page
        assert f"{n}/{len(pages)}ページ" in page
    printed = "".join(pages)
    for i in range(60):
        assert printed.count(printing.booking_number(f"{12345600 + i:08d}")) == 1


def test_slots_are_not_split_and_a_long_one_repeats_its_heading():
    """A small slot that does not fit the rest of a page starts on the next page whole; a slot longer
    than a page continues with its time range marked （続き） and the column heading repeated."""
    sections = [section(9, 0, [entry(i) for i in range(20)], capacity=20),
                section(9, 30, [entry(100 + i) for i in range(12)], capacity=20),
                section(10, 0, [entry(200 + i) for i in range(40)], capacity=40)]
    pages = [squash(p) for p in pdf_text(day_list_pdf(day_list(*sections))).split("\f") if p.strip()]
    nine_thirty = [i for i, page in enumerate(pages) if "9:30〜10:00" in page]
    assert len(nine_thirty) == 1  # not split
    assert "1234-5711" in pages[nine_thirty[0]]  # its last row is on the same page as its heading
    continued = [page for page in pages if "10:00〜10:30（続き）" in page]
    assert continued and all("予約番号お名前フリガナ" in page for page in continued)


def test_long_names_stay_inside_their_cell():
    """A name far wider than its column is shrunk, wrapped and clipped with …, never printed into the
    furigana column next to it."""
    data = day_list_pdf(day_list(section(9, 0, [entry(1, name=LONG_NAME, kana="ジュゲム")])))
    widths = {key: width for key, width, _ in printing.DAY_COLUMNS}
    keys = [key for key, _, _ in printing.DAY_COLUMNS]
    left = printing.MARGIN + sum(widths[k] for k in keys[:keys.index("name")])
    right = (left + widths["name"]) * MM
    name_words = [(x0, x1, w) for x0, x1, w in pdf_words(data) if set(w) <= set(LONG_NAME + "…")]
    assert name_words
    assert all(left * MM - 0.5 <= x0 and x1 <= right + 0.5 for x0, x1, _ in name_words), name_words
    assert "…" in "".join(w for _, _, w in name_words)
    kana = [x0 for x0, _, w in pdf_words(data) if w == "ジュゲム"]
    assert kana and kana[0] >= right


def test_names_with_characters_ipaex_lacks_still_print():
    """𠮷 (IPAex Gothic lacks it; IPAmj Mincho, made for residents' names, has it) and emoji (from
    Symbola) print as themselves; a character no installed font has (a hieroglyph) prints as 〓, and
    every page's footer says how many characters could not be printed."""
    text = squash(pdf_text(day_list_pdf(day_list(section(9, 0, [entry(1, name="𠮷田 花子😀"),
                                                                entry(2, name="𓀀山 一郎")])))))
    assert "𠮷田花子😀" in text and "〓山一郎" in text
    assert "〓：印刷できない文字（1字）" in text
    assert "印刷できない" not in squash(pdf_text(day_list_pdf(day_list(section(9, 0, [entry(1, name="𠮷田")])))))


def test_what_cannot_be_printed_or_exported_is_named_before():
    """The day's list page warns with these: the characters no font prints, and those Shift_JIS lacks."""
    assert fonts.unprintable(["𠮷田 花子😀", "𓀀山", "髙橋\ufe00"]) == ["𓀀"]
    assert printing.not_in_shift_jis(["𠮷田 花子😀", "髙橋", "－"]) == ["𠮷", "😀"]


def test_a_single_slot_prints_alone():
    """A DayList with one section prints just that slot (the per-slot print button)."""
    text = squash(pdf_text(day_list_pdf(day_list(section(11, 0, [entry(1, name="市役 太郎")])))))
    assert "11:00〜11:30" in text and "市役太郎" in text
    assert "〜" not in text.replace("11:00〜11:30", "")
    assert "1/1ページ" in text


def test_a_day_without_slots_says_so():
    """No slots at all still gives a page that says so (not an exception or a blank sheet)."""
    text = squash(pdf_text(day_list_pdf(day_list())))
    assert "この日の予約枠はありません。" in text and "予約者一覧" in text


def test_first_page_renders_to_png():
    """The list rasterises to a valid A4 PNG (saved under test-artifacts/printing/ for a human eye)."""
    data = day_list_pdf(sample_day())
    png = subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-"], input=data,
                         capture_output=True, check=True).stdout
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert abs(width - 210 / 25.4 * 60) <= 1 and abs(height - 297 / 25.4 * 60) <= 1  # A4 at 60 dpi
    save_artifact("day-list-page1.png", png)
    save_artifact("day-list.pdf", data)


def test_same_input_gives_the_same_bytes():
    """The PDF depends on its input only (creation date = printed_at), not on the wall clock."""
    first = day_list_pdf(sample_day())
    assert first == day_list_pdf(sample_day())
    assert b"/CreationDate (D:20261201010000Z)" in first


def test_naive_print_time_is_refused():
    """printed_at must be aware: a naive time cannot be put in Tokyo time honestly."""
    day = sample_day()
    naive = DayList(day.city, day.venue, day.date, day.sections, datetime.datetime(2026, 12, 1, 10), "x")
    with pytest.raises(ValueError):
        day_list_pdf(naive)


def test_missing_font_is_a_clear_error(monkeypatch, tmp_path):
    """Without fonts-ipaexfont the PDF functions raise FontMissing naming the file and the package."""
    monkeypatch.setattr(printing, "FONT_PATH", tmp_path / "ipaexg.ttf")
    with pytest.raises(FontMissing, match="fonts-ipaexfont"):
        day_list_pdf(sample_day())


def test_report_prints_tables_with_numbers_right_aligned():
    """The generic report shows title, subtitle, each table's heading and cells; numbers get thousands
    separators and line up on the right edge of their column."""
    data = report_pdf("月次統計 2026年11月", "デモ市 全会場",
                      [("会場別", ["会場", "予約", "充足率"], [["本庁舎", 1234, 86.24], ["北支所", 7, 40.0]]),
                       ("受付別", ["受付", "件数"], [["Web", 5], ["電話", 12]])],
                      PRINTED_AT, "管理 太郎")
    text = squash(pdf_text(data))
    for expected in ("月次統計2026年11月", "デモ市全会場", "会場別", "本庁舎1,23486.2", "北支所740.0", "受付別",
                     "電話12", "印刷2026/12/0110:00管理太郎", "1/1ページ"):
        assert expected in text, expected
    words = {w: (x0, x1) for x0, x1, w in pdf_words(data)}
    assert abs(words["1,234"][1] - words["7"][1]) < 0.5
    assert abs(words["86.2"][1] - words["40.0"][1]) < 0.5
    assert abs(words["本庁舎"][0] - words["北支所"][0]) < 0.5


def test_long_report_repeats_headers_on_every_page():
    """A table longer than a page continues on the next with the page header and its heading."""
    rows = [[f"{d}日", d * 3] for d in range(1, 91)]
    pages = [squash(p) for p in pdf_text(report_pdf("日別", "2026年", [("日別件数", ["日", "件数"], rows)],
                                                    PRINTED_AT, "管理")).split("\f") if p.strip()]
    assert len(pages) >= 2
    assert all("日別" in p and "2026年" in p for p in pages)
    assert "日別件数（続き）" in pages[1] and "90日270" in pages[-1]


def test_report_rows_must_match_their_columns():
    """A row with the wrong number of cells is a ValueError, not a silently shifted table."""
    with pytest.raises(ValueError):
        report_pdf("t", "s", [("h", ["a", "b"], [[1]])], PRINTED_AT, "x")


# --------------------------------------------------------------------------------------------- CSV

def read_csv(data: bytes, encoding: str) -> list[list[str]]:
    codec = {"utf-8": "utf-8-sig", "shift_jis": "cp932"}[encoding]
    return list(csv.reader(io.StringIO(data.decode(codec), newline="")))


EXPECTED_ROWS = [
    ["日付", "時間", "予約番号", "お名前", "フリガナ", "人数", "電話（下4桁）", "受付", "状態"],
    ["2026/12/10", "9:00～9:30", "1234-5678", "市役 太郎", "シヤク　タロウ", "2", "0001", "Web", ""],
    ["2026/12/10", "9:00～9:30", "1234-5602", "髙橋 一郎", "タカハシ　イチロウ", "1", "0002", "電話", "来庁済"],
    ["2026/12/10", "9:00～9:30", "1234-5603", "山田 花子", "ヤマダ　ハナコ", "1", "0003", "窓口", "来庁なし"],
    ["2026/12/10", "10:00～10:30", "1234-5604", "佐藤 次郎", "サトウ　ジロウ", "1", "", "当日", "来庁済"],
]


@pytest.mark.parametrize("encoding", CSV_ENCODINGS)
def test_day_csv_decodes_back_to_the_same_rows(encoding):
    """Both encodings carry one row per booking with the same text (times use ～, which cp932 keeps)."""
    assert read_csv(day_list_csv(sample_day(), encoding), encoding) == EXPECTED_ROWS


def test_utf8_csv_has_a_bom_and_crlf_lines():
    """UTF-8 starts with a BOM so Excel picks the encoding; lines end in CRLF."""
    data = day_list_csv(sample_day(), "utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == len(EXPECTED_ROWS) and data.count(b"\n") == len(EXPECTED_ROWS)


def test_shift_jis_csv_is_cp932_without_bom():
    """Shift_JIS means cp932 (髙 and ① are in it), with no BOM."""
    data = table_csv(["名前"], [["髙橋 ①"]], "shift_jis")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data == "名前\r\n髙橋 ①\r\n".encode("cp932")


def test_empty_header_writes_no_header_line():
    """The monthly report CSV brings its own headings in the rows: no empty first line; an empty row
    stays a blank separator line."""
    data = table_csv([], [["月次統計"], [], ["会場", "件数"], ["本庁舎", 3]], "utf-8")
    assert data == "\ufeff月次統計\r\n\r\n会場,件数\r\n本庁舎,3\r\n".encode()


def test_characters_cp932_lacks_become_geta():
    """𠮷 and emoji are not in cp932: they become 〓 rather than raising; UTF-8 keeps them."""
    rows = [["𠮷田 花子😀", 1]]
    assert read_csv(table_csv(["名前", "人数"], rows, "shift_jis"), "shift_jis")[1] == ["〓田 花子〓", "1"]
    assert read_csv(table_csv(["名前", "人数"], rows, "utf-8"), "utf-8")[1] == ["𠮷田 花子😀", "1"]


def test_formula_injection_is_defused_for_text_only():
    """Text starting with = + - @ tab or CR gets a leading apostrophe; numbers (even negative) do not."""
    rows = [["=HYPERLINK(\"http://x\")", "+81", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", -3, 2.5]]
    got = read_csv(table_csv(list("abcdefghi"), rows, "utf-8"), "utf-8")[1]
    assert got == ["'=HYPERLINK(\"http://x\")", "'+81", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "a=b", "-3", "2.5"]


def test_day_csv_defuses_a_formula_in_a_name():
    """A booking name typed as a formula arrives in Excel as text."""
    day = day_list(section(9, 0, [entry(1, name="=1+1", kana="-ア")]))
    row = read_csv(day_list_csv(day, "shift_jis"), "shift_jis")[1]
    assert row[3:5] == ["'=1+1", "'-ア"]


@pytest.mark.parametrize("encoding", ["cp932", "latin-1", "utf-16", "", "UTF8"])
def test_unknown_encoding_is_a_value_error(encoding):
    """Only the two encodings the export form offers are accepted."""
    with pytest.raises(ValueError):
        table_csv(["a"], [["b"]], encoding)
    with pytest.raises(ValueError):
        day_list_csv(sample_day(), encoding)
