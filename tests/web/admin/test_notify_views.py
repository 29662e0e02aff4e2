"""Notifications on the admin site: messages not sent, with their reason and a resend button; the
month's usage statement on screen, as PDF and as CSV."""

from __future__ import annotations

import csv
import io
import subprocess

from db import bookings
from db.models import AuditLog, Outbox
from tests.conftest import NOW, make_applicant, reload


def test_dead_letter_is_listed_with_its_reason_and_resent(clerk, dummy_slot):
    booking = bookings.book(dummy_slot.id, make_applicant(notify="sms", phone="0586-12-3456"), "web", NOW)
    message = Outbox.get()
    Outbox.update(status="skipped", last_error="not_mobile").where(Outbox.id == message.id).execute()
    page = clerk.get("/messages").get_data(as_text=True)
    assert "携帯電話の番号ではないためSMSを送りません" in page and booking.number[:4] in page
    answer = clerk.post(f"/messages/{message.id}/resend", data={"back": "/messages"})
    assert answer.headers["Location"] == "/messages"
    stored = reload(message)
    assert (stored.status, stored.resends) == ("pending", 1)
    assert AuditLog.select().where(AuditLog.action == "outbox.resend").count() == 1
    assert "送信待ち" in clerk.get(f"/bookings/{booking.number}").get_data(as_text=True)
    assert clerk.post(f"/messages/{message.id}/resend").status_code == 409  # pending: nothing to resend


def test_usage_statement_page_pdf_and_csv(admin, settings_override):
    settings_override(usage_flat_fee_yen="30000")
    page = admin.get("/usage?month=2026-12").get_data(as_text=True)
    assert "2026年12月 利用明細" in page and "30000" in page
    pdf = admin.get("/usage/statement.pdf?month=2026-12").get_data()
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "利用明細" in text and "30000" in text
    rows = list(csv.reader(io.StringIO(admin.get("/usage/statement.csv?month=2026-12&encoding=shift_jis")
                                       .get_data().decode("cp932"))))
    assert rows[0][0] == "項目" and rows[1][0] == "月額基本料" and rows[-1][-1] == "30000"
    assert admin.get("/usage?month=2026-13").status_code == 404
