"""Canary personal data never reaches the disk in readable form: not the database file, not the WAL,
not the logs (written at DEBUG level while the canary is booked, changed, corrected by staff, marked
a no-show, registered as a walk-in and cancelled), not the audit log."""

from __future__ import annotations

import datetime
import logging

from appliance import runtime
from db.bookings import Applicant, book, cancel, change, edit, set_attendance, walk_in
from db.connection import open_database, write_transaction
from db.models import AuditLog, Slot, Venue
from tests.conftest import CLERK, NOW, SLOT_DAY, make_instance

CANARY = Applicant(name="試験太郎", kana="シケンタロウ", phone="090-0000-1234",
                   birth_date=datetime.date(1961, 2, 3), email="canary.shiken@example.jp", notify="email")
NEEDLES = ["試験太郎", "試験", "シケンタロウ", "09000001234", "090-0000-1234", "0000-1234",
           "canary.shiken", "1961-02-03", "19610203"]


def _find(path, needles):
    data = path.read_bytes()
    found = [n for n in needles if n.encode("utf-8") in data]
    found += [n for n in needles if n.isascii() and n.encode("utf-16-le") in data]
    return found


def test_canary_pii_is_nowhere_on_disk(tmp_path):
    settings = make_instance(tmp_path, log_level="DEBUG")
    runtime.configure(settings)
    runtime.setup_logging(settings)
    db = open_database(settings)
    try:
        with write_transaction():
            venue = Venue.create(slug="canary", name="会場", kana="カイジョウ")
            slots = [Slot.create(venue=venue, date=SLOT_DAY, start=datetime.time(h), capacity=2) for h in (9, 10)]
        with write_transaction():
            booking = book(slots[0].id, CANARY, "web", NOW)
        with write_transaction():
            change(booking.number, slots[1].id, "web", NOW)
        with write_transaction():
            fixed = edit(booking.number, NOW, actor=CLERK, expected_version=booking.version + 1,
                         name="試験太郎 様", kana="シケンタロウ", party_size=1)
        on_the_day = datetime.datetime.combine(SLOT_DAY, datetime.time(8), NOW.tzinfo)
        with write_transaction():
            set_attendance(booking.number, "no_show", on_the_day, actor=CLERK, expected_version=fixed.version)
            set_attendance(booking.number, "confirmed", on_the_day, actor=CLERK, expected_version=fixed.version + 1)
            walk_in(slots[0].id, "試験太郎", "シケンタロウ", 1, on_the_day, actor=CLERK)
        with write_transaction():
            cancel(booking.number, "staff", on_the_day, actor=CLERK)
        logging.getLogger().handlers[-1].flush()

        files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
        wal = settings.database_path.with_name(settings.database_path.name + "-wal")
        assert wal in files and wal.stat().st_size > 0, "the test must look at a live WAL"
        log_file = settings.log_dir / "madoguchi.log"
        assert booking.number in log_file.read_text(encoding="utf-8"), "the logs must have been written"
        for path in files:
            assert _find(path, NEEDLES) == [], path
        audit_text = " ".join(r.actor + r.action + r.object_id + r.details for r in AuditLog.select())
        assert "booking.edit" in audit_text and [n for n in NEEDLES if n in audit_text] == []
    finally:
        db.close()
        logging.getLogger().handlers.clear()
    assert _find(settings.database_path, NEEDLES) == []
