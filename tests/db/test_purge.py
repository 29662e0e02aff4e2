"""The purge on an instance of its own, with a canary citizen (試験太郎, 090-0000-1234) whose booking and
call are past their periods: a dry run changes nothing; the purge removes the canary's personal fields,
recording, transcript, what the turns heard and the caller's number, and then the canary is nowhere
readable: not in the decrypted database, the file, the WAL, the logs or a backup taken after. What is
still in its period stays. The signed report verifies, and fails once altered."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from appliance import runtime
from backup import service
from db import crypto
from db.bookings import Actor, book
from db.connection import open_database, write_transaction
from db.files import EncryptedFileWriter
from db.models import ALL_MODELS, AccessLog, Booking, CallRecord, CallTurn, PhoneLine, Slot, Venue
from tests.backup.test_service import Box
from tests.conftest import make_applicant, process_globals_kept

CANARY_NAME, CANARY_PHONE = "試験太郎", "09000001234"
CANARY_TEXTS = (CANARY_NAME, CANARY_PHONE, "shiken.taro@example.jp", "テストタロウ")
STAFF = Actor("staff1", role="staff", source="test")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    box = Box(tmp_path_factory.mktemp("purge"))
    now = datetime.datetime.now(datetime.UTC)
    today = now.astimezone(datetime.timezone(datetime.timedelta(hours=9))).date()
    with process_globals_kept():
        open_database(box.settings)
        runtime.configure(box.settings)
        with write_transaction():
            venue = Venue.create(slug="honcho", name="本庁", kana="ホンチョウ")
            past = Slot.create(venue=venue, date=today - datetime.timedelta(days=100), start=datetime.time(10),
                               capacity=5)
            recent = Slot.create(venue=venue, date=today - datetime.timedelta(days=10), start=datetime.time(10),
                                 capacity=5)
            booked_at = now - datetime.timedelta(days=120)
            canary = book(past.id, make_applicant(name=CANARY_NAME, kana="テストタロウ", phone=CANARY_PHONE,
                                                  email="shiken.taro@example.jp"), "staff", booked_at, actor=STAFF)
            kept = book(recent.id, make_applicant(), "staff", booked_at, actor=STAFF)
            PhoneLine.create(did="0586000001", flow="booking")
            # the canary called 200 days ago (past every period); someone 100 days ago (the recording's
            # period is over, the number's not); someone 5 days ago (nothing is over)
            for name, days, caller, heard in (("old", 200, CANARY_PHONE, f"{CANARY_NAME}です"),
                                              ("middle", 100, "09011112222", f"{CANARY_NAME}の代理です"),
                                              ("new", 5, "09033334444", "はい")):
                started = now - datetime.timedelta(days=days)
                call = CallRecord.create(sip_call_id=name, did="0586000001", caller=caller,
                                         caller_index=crypto.cipher().blind_index(caller, "phone"), worker=0,
                                         started_at=started, ended_at=started + datetime.timedelta(minutes=2),
                                         recording=f"{name}.ulaw.mdgf", transcript=f"{name}.jsonl.mdgf",
                                         live_keys="1#")
                CallTurn.create(call=call, seq=1, step="name", result="heard", heard=heard, prompt="お名前をどうぞ")
                for suffix in ("ulaw", "jsonl"):
                    with EncryptedFileWriter(box.settings.recordings_dir / f"{name}.{suffix}.mdgf",
                                             crypto.cipher()) as out:
                        out.write(f"{CANARY_NAME} {name}".encode() + os.urandom(1000))
            AccessLog.create(at=now - datetime.timedelta(days=400), actor="staff1", endpoint="admin.home",
                             method="GET", status=200, source="10.0.0.5")
            AccessLog.create(at=now - datetime.timedelta(days=3), actor="staff1", endpoint="admin.home",
                             method="GET", status=200, source="10.0.0.5")
        box.ids = {"canary": canary.id, "kept": kept.id}
    return box


def readable_texts(box) -> str:
    """Everything in the database as the box reads it (encrypted fields decrypted), as one text."""
    with process_globals_kept():
        open_database(box.settings)
        return "\n".join(repr(row.__data__) for model in ALL_MODELS for row in model.select())


def test_a_dry_run_counts_and_changes_nothing(box):
    result = box.cli("purge", "run", "--dry-run")
    assert "would remove:" in result.stdout
    counts = dict(line.split() for line in result.stdout.splitlines()[1:-1])
    assert counts["booking_personal_fields"] == "1" and counts["recordings"] == "2" and counts["call_turn_texts"] == "2"
    assert counts["caller_numbers"] == "1" and counts["access_log"] == "1"
    assert CANARY_NAME in readable_texts(box)
    assert (box.settings.recordings_dir / "old.ulaw.mdgf").exists()


def test_after_the_purge_the_canary_is_nowhere_readable_and_the_rest_stays(box, tmp_path):
    box.cli("purge", "run")
    texts = readable_texts(box)
    assert not [t for t in CANARY_TEXTS if t in texts], "the canary is still readable"
    with process_globals_kept():
        open_database(box.settings)
        canary, kept = Booking.get_by_id(box.ids["canary"]), Booking.get_by_id(box.ids["kept"])
        assert (canary.name, canary.phone, canary.birth_date, canary.status, canary.party_size) == \
            (None, None, None, "confirmed", 1)  # anonymous, still counted
        assert kept.name is not None
        calls = {c.sip_call_id: c for c in CallRecord.select()}
        assert (calls["old"].caller, calls["middle"].caller, calls["new"].caller) == (None, "09011112222", "09033334444")
        assert (calls["old"].recording, calls["middle"].recording) == ("", "") and calls["new"].recording
        assert [t.heard for t in CallTurn.select().order_by(CallTurn.id)] == [None, None, "はい"]
        assert AccessLog.select().count() == 1
    assert sorted(p.name for p in box.settings.recordings_dir.iterdir()) == ["new.jsonl.mdgf", "new.ulaw.mdgf"]
    for path in (box.settings.database_path, box.settings.database_path.with_name("madoguchi.db-wal"),
                 *box.settings.log_dir.glob("*")):
        if path.is_file():
            data = path.read_bytes()
            assert not [t for t in CANARY_TEXTS if t.encode() in data], path
    box.cli("backup", "run")
    restored = tmp_path / "restored"
    service.restore(service.all_backups(box.settings)[-1].path, restored, box.settings)
    with process_globals_kept():
        copy = box.settings.replace(data_dir=restored)
        db = open_database(copy)
        try:
            texts = "\n".join(repr(row.__data__) for model in ALL_MODELS for row in model.select())
        finally:
            db.close()
    assert not [t for t in CANARY_TEXTS if t in texts], "the backup taken after the purge holds the canary"


def test_the_report_is_signed_kept_and_fails_once_altered(box, tmp_path):
    listing = box.cli("purge", "list").stdout
    report_id = listing.split()[0]
    document = box.cli("purge", "report", report_id).stdout
    (tmp_path / "report.json").write_text(document, encoding="utf-8")
    assert "ok: unaltered, signed by this box" in box.cli("purge", "verify", str(tmp_path / "report.json")).stdout
    signed = json.loads(document)
    assert signed["removed"]["booking_personal_fields"] == 1 and signed["periods"]["bookings_before"]
    signed["removed"]["booking_personal_fields"] = 0
    (tmp_path / "altered.json").write_text(json.dumps(signed, ensure_ascii=False), encoding="utf-8")
    result = box.cli("purge", "verify", str(tmp_path / "altered.json"), ok=False)
    assert "the report was altered" in result.stderr
