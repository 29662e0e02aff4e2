"""The printable sheet of the key escrow: every key in groups of four hexadecimal characters with its
fingerprint, to keep in a safe apart from the escrow file and the backups, and to type back in
(`madoguchi keys import --typed`) when the file is lost."""

from __future__ import annotations

import datetime
from pathlib import Path

from fpdf import FPDF

from appliance.messages import catalogue
from db.escrow import fingerprint
from web.admin.fonts import FONT_PATH, FontMissing

TEXT = catalogue(Path(__file__).with_name("escrow_sheet.toml"))


def grouped(text: str) -> list[str]:
    """64 hexadecimal characters as two lines of 8 groups of 4."""
    groups = [text[i:i + 4] for i in range(0, len(text), 4)]
    return [" ".join(groups[:8]), " ".join(groups[8:])]


def sheet(keys: dict[str, str], city: str, now: datetime.datetime) -> bytes:
    if not FONT_PATH.is_file():
        raise FontMissing(f"{FONT_PATH} is missing (apt install fonts-ipaexfont)")
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("ipaexg", fname=str(FONT_PATH))
    pdf.add_page()
    pdf.set_font("ipaexg", size=16)
    pdf.cell(0, 10, TEXT["title"].format(city=city), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("ipaexg", size=10)
    pdf.multi_cell(0, 6, TEXT["intro"].format(made=f"{now:%Y-%m-%d %H:%M}"), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for name, text in keys.items():
        pdf.set_font("ipaexg", size=11)
        pdf.cell(0, 7, f"{name}    {TEXT['fingerprint']} {fingerprint(text)}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Courier", size=13)
        for line in grouped(text):
            pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font("ipaexg", size=9)
    pdf.multi_cell(0, 5, TEXT["footer"], align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
