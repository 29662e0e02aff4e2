"""The end of a contract on a copy of the demo city: `export all` hands every table over as CSV (the
canary's name decrypted; no password hash, session or phone credential), each recording as WAV, a
column guide and SHA256SUMS that check; then `erase` refuses without --confirm or the city's name, and
with both destroys keys, data and backups and writes a certificate whose signature holds."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import wave

import pytest

from db import crypto
from db.bookings import Actor, book
from db.connection import open_database, write_transaction
from db.models import CallRecord, PhoneLine, Slot
from db.signing import verify
from tests.backup.test_service import Box
from tests.conftest import make_applicant, process_globals_kept
from voice.recording import CallRecorder

CANARY = "試験花子"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    box = Box(tmp_path_factory.mktemp("handover"))
    box.cli("demo", "--weeks", "1")
    with process_globals_kept():
        open_database(box.settings)
        with write_transaction():
            slot = Slot.select().order_by(Slot.date, Slot.start).first()
            book(slot.id, make_applicant(name=CANARY, kana="シケンハナコ"), "staff",
                 datetime.datetime.now(datetime.UTC), actor=Actor("staff1", role="staff"))
            PhoneLine.get_or_create(did="0586000001", defaults={"flow": "booking"})
            recorder = CallRecorder(box.settings.recordings_dir / "2026" / "c1.ulaw.mdgf", crypto.cipher())
            for _ in range(50):
                recorder.add(b"\x10\x20" * 320, b"\x00\x00" * 320)
            recorder.close()
            CallRecord.create(sip_call_id="c1", did="0586000001", caller="09011112222", worker=0,
                              started_at=datetime.datetime.now(datetime.UTC), recording="2026/c1.ulaw.mdgf")
    box.cli("backup", "run")
    return box


def read_csv(path, encoding="utf-8-sig") -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding))))


def test_export_all_hands_every_table_over_with_recordings_a_guide_and_checksums(box, tmp_path):
    out = tmp_path / "handover"
    result = box.cli("export", "all", str(out))
    assert "1 recordings" in result.stdout
    assert CANARY in [row["name"] for row in read_csv(out / "booking.csv")]
    staff_columns = (out / "staff_user.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert "login" in staff_columns
    assert "password_hash" not in staff_columns and "totp_secret" not in staff_columns
    assert not (out / "web_session.csv").exists() and (out / "settings.csv").exists()
    with wave.open(str(out / "recordings" / f"call-{box.sql('SELECT id FROM call_record')[0][0]}.wav")) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 0
    guide = {(row["file"], row["column"]): row["description"] for row in read_csv(out / "columns.csv")}
    assert guide[("booking.csv", "name")].startswith("氏名")
    checked = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "is not empty" in box.cli("export", "all", str(out), ok=False).stderr
    sjis = tmp_path / "sjis"
    box.cli("export", "all", str(sjis), "--encoding", "shift_jis")
    assert CANARY in [row["name"] for row in read_csv(sjis / "booking.csv", "cp932")]
    [(action,)] = box.sql("SELECT details FROM audit_log WHERE action = 'export.all' ORDER BY id LIMIT 1")
    assert json.loads(action)["recordings"] == 1


def test_erase_needs_confirmation_and_the_name_then_destroys_everything_with_a_signed_certificate(box, tmp_path):
    certificate = tmp_path / "erased.json"
    refused = box.cli("erase", "--certificate", str(certificate), ok=False)
    assert "give --confirm" in refused.stderr
    wrong = box.cli("erase", "--confirm", "--certificate", str(certificate), input="よその市\n", ok=False)
    assert "nothing erased" in wrong.stderr and box.settings.database_path.exists()
    inside = box.cli("erase", "--confirm", "--certificate", str(box.settings.data_dir / "c.json"), ok=False)
    assert "must not be written inside" in inside.stderr
    box.cli("erase", "--confirm", "--certificate", str(certificate), input=f"{box.settings.city_name}\n")
    signed = json.loads(certificate.read_text(encoding="utf-8"))
    verify(signed)
    assert {k["file"] for k in signed["keys"]} >= {"database.key", "index.key", "field-0001.key", "backup-0001.key"}
    assert signed["backups"] and signed["data_files"] > 0
    left = [p for p in (*box.settings.key_dir.rglob("*"), *box.settings.backup_dir.rglob("*"),
                        *box.settings.data_dir.rglob("*")) if p.is_file() and "models" not in p.parts]
    assert left == []
    checked = box.cli("purge", "verify", str(certificate)).stdout  # on the erased box: no key of its own
    assert f"signed by the key {signed['public_key']}" in checked and "erasure certificate" in checked
    assert not box.settings.key_dir.joinpath("signing.key").exists()  # verifying made no new key
    signed["data_files"] += 1
    with pytest.raises(Exception, match="altered"):
        verify(signed)
    assert os.listdir(box.settings.key_dir) == []
