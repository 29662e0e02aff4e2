"""Canary personal data never reaches the disk in readable form: not the database file, not the WAL,
not the logs (written at DEBUG level while the canary is booked, changed, corrected by staff, marked
a no-show, registered as a walk-in and cancelled), not the audit log; and not the log of any process
when a citizen books on the web site with an email address and the worker mails the confirmation
through the demo's mail catcher. Every file is searched in UTF-8, Shift_JIS and UTF-16."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from appliance import clock, runtime
from appliance.notify import mailcatcher
from appliance.notify.worker import Senders, run_once
from db.bookings import Applicant, book, cancel, change, edit, set_attendance, walk_in
from db.connection import open_database, write_transaction
from db.models import AuditLog, Booking, EligibilityQuestion, Outbox, Slot, Venue
from tests.conftest import CLERK, NOW, SLOT_DAY, make_instance, process_globals_kept
from web import create_app

CANARY = Applicant(name="試験太郎", kana="シケンタロウ", phone="090-0000-1234",
                   birth_date=datetime.date(1961, 2, 3), email="canary.shiken@example.jp", notify="email")
NEEDLES = ["試験太郎", "試験", "シケンタロウ", "09000001234", "090-0000-1234", "0000-1234",
           "canary.shiken", "1961-02-03", "19610203"]


ENCODINGS = ("utf-8", "cp932", "utf-16-le", "utf-16-be")


def _find(path, needles):
    data = path.read_bytes()
    found = []
    for needle in needles:
        for encoding in ENCODINGS:
            try:
                encoded = needle.encode(encoding)
            except UnicodeEncodeError:
                continue
            if encoded in data:
                found.append(f"{needle} ({encoding})")
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


WEB_CANARY = {"name": "窓口花子", "kana": "まどぐちはなこ", "phone": "080-5555-0987", "email": "canary.madoguchi@example.jp",
              "notify": "email", "birth_year": "1958", "birth_month": "7", "birth_day": "9"}
WEB_NEEDLES = ["窓口花子", "マドグチハナコ", "まどぐちはなこ", "08055550987", "080-5555-0987", "5555-0987",
               "canary.madoguchi", "1958-07-09", "19580709"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_canary_is_in_no_log_of_the_site_the_worker_or_the_mail_catcher(tmp_path):
    """The demo's processes as `make run` starts them, logging at DEBUG: a citizen books on the site
    with an email address, the worker mails the confirmation to the mail catcher (its own process,
    output captured to a file as supervisor does). The mail arrives; no log file holds the canary."""
    from tests.web.conftest import Citizen
    from tests.web.public.test_flow import book_through_the_site

    smtp_port, sms_port = _free_port(), _free_port()
    settings = make_instance(tmp_path, log_level="DEBUG", smtp_host="127.0.0.1", smtp_port=smtp_port,
                             smtp_security="none", mail_from="yoyaku@demo-city.example.lg.jp",
                             sms_gateway="http-json", sms_url=f"http://127.0.0.1:{sms_port}/sms")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    catcher_log = run_dir / "mailcatcher.log"
    env = {**os.environ, "MADOGUCHI_CONFIG": str(tmp_path / "madoguchi.toml")}
    with open(catcher_log, "wb") as out:
        catcher = subprocess.Popen([sys.executable, "-m", "appliance", "mailcatcher", "serve", "--bind",
                                    f"127.0.0.1:{smtp_port}", "--sms-port", str(sms_port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", smtp_port), timeout=1):
                break
            time.sleep(0.1)
        with process_globals_kept():
            runtime.configure(settings)
            runtime.setup_logging(settings)
            db = open_database(settings)
            try:
                day = clock.today() + datetime.timedelta(days=10)
                with write_transaction():
                    venue = Venue.create(slug="canary", name="会場", kana="カイジョウ")
                    slot = Slot.create(venue=venue, date=day, start=datetime.time(10), capacity=2)
                    question = EligibilityQuestion.create(sort_order=1, text="更新です", required=True)
                app = create_app(settings)
                done, _ = book_through_the_site(Citizen(app.test_client()), [question], slot, WEB_CANARY)
                assert done.status_code == 302, done.get_data(as_text=True)
                senders = Senders.from_settings(settings)
                for _ in range(50):
                    run_once(senders, clock.now())
                    if Outbox.select().where(Outbox.status != "sent").count() == 0:
                        break
                    time.sleep(0.1)
                assert Outbox.select().where(Outbox.status == "sent").count() == 1
                number = Booking.get().number
                received = mailcatcher.messages(settings)
            finally:
                db.close()
                for handler in logging.getLogger().handlers:
                    handler.flush()
                logging.getLogger().handlers.clear()
    finally:
        catcher.terminate()
        catcher.wait(timeout=20)
    assert [m["To"] for m in received] == [WEB_CANARY["email"]]  # the mail went out: the logs had their chance
    log_file = settings.log_dir / "madoguchi.log"
    assert number in log_file.read_text(encoding="utf-8") and "kept a message" in catcher_log.read_text()
    files = [p for p in [*settings.data_dir.rglob("*"), *run_dir.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".eml" for p in files)
    for path in files:
        assert _find(path, WEB_NEEDLES) == [], path
