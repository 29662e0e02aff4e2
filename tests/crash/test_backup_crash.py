"""SIGKILL `madoguchi backup run` and `backup restore` at random moments: the backups taken before stay
whole, no cut-short archive passes for a backup, what a killed run left is cleared by the next prune,
and a killed restore leaves no target (or, killed after the rename that is its last step, a whole one),
which the next restore completes."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time

import pytest

from db import crypto
from db.connection import open_database
from db.files import EncryptedFileWriter, file_sha256
from tests.backup.test_service import REPO, Box
from tests.conftest import process_globals_kept

ROUNDS = 6


def start(box: Box, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    return subprocess.Popen([sys.executable, "-m", "appliance", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**env, "MADOGUCHI_CONFIG": str(box.config)})


def kill_after(process: subprocess.Popen, delay: float) -> bool:
    """SIGKILL after delay seconds unless it ended first; whether it was killed."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    return killed


@pytest.mark.slow
def test_sigkill_during_backup_and_restore(tmp_path):
    box = Box(tmp_path / "box")
    box.cli("demo", "--weeks", "1")
    with process_globals_kept():  # 40 MB of recordings: a backup takes a while
        open_database(box.settings)
        for n in range(8):
            with EncryptedFileWriter(box.settings.recordings_dir / f"call-{n}.wav.mdgf", crypto.cipher()) as out:
                out.write(os.urandom(5 << 20))
    began = time.monotonic()
    box.cli("backup", "run")
    took = time.monotonic() - began  # kills fall anywhere in a run: starting, snapshot, archive, manifest
    [good] = box.backups()
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    killed = 0
    for round_no in range(ROUNDS):
        time.sleep(1.05)  # each run its own name
        killed += kill_after(start(box, "backup", "run"), rng.uniform(0.1, took))
        for b in box.backups():
            if b.complete:  # listed as a backup: whole, to the byte
                assert file_sha256(b.path) == b.sha256, f"seed {seed}, round {round_no}: {b.name}"
    assert killed, f"seed {seed}: no run was killed (the backup is too quick for this test)"
    box.cli("backup", "prune")
    leftovers = [p.name for p in box.settings.backup_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"seed {seed}: {leftovers}"
    assert "ok:" in box.cli("backup", "verify", good.name).stdout

    target = tmp_path / "restored"
    original = (box.settings.recordings_dir / "call-7.wav.mdgf").read_bytes()
    for _ in range(5):
        killed = kill_after(start(box, "backup", "restore", good.name, "--to", str(target)), rng.uniform(0.1, took))
        if killed and not target.exists():
            break
        # finished, or killed after the rename that puts the folder in place: then it is whole
        assert (target / "recordings" / "call-7.wav.mdgf").read_bytes() == original, f"seed {seed}: a part restore"
        assert (target / "madoguchi.db").exists(), f"seed {seed}: a restore without its database"
        shutil.rmtree(target)  # once more, for a kill before the rename
    box.cli("backup", "restore", good.name, "--to", str(target))
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".restored.restoring-")] == []
    assert (target / "recordings" / "call-7.wav.mdgf").read_bytes() == \
        (box.settings.recordings_dir / "call-7.wav.mdgf").read_bytes()


@pytest.mark.slow
def test_sigkill_during_purge_leaves_whole_rows_and_a_rerun_finishes_it(tmp_path):
    """A purge killed ever later until one finishes: after each kill every booking is either whole or
    wholly anonymous and the store passes integrity_check; at least one kill lands halfway; the next
    run removes everything past its period (files and rows)."""
    import datetime

    from db.connection import connect, write_transaction
    from db.keys import load_keyring
    from db.models import Booking, CallRecord, Slot, Venue
    box = Box(tmp_path / "box")
    now = datetime.datetime.now(datetime.UTC)
    with process_globals_kept():
        open_database(box.settings)
        with write_transaction():
            venue = Venue.create(slug="old", name="旧会場", kana="キュウカイジョウ")
            slot = Slot.create(venue=venue, date=(now - datetime.timedelta(days=200)).date(),
                               start=datetime.time(10), capacity=9999)
            for first in range(0, 20000, 1000):
                Booking.insert_many([{"number": f"{20000000 + n}", "slot": slot, "status": "confirmed",
                                      "channel": "web", "counted_as": "web", "name": f"市民 {n}号", "kana": "シミン",
                                      "phone": f"080{n:08d}", "phone_index": f"i{n}", "created_at": now,
                                      "updated_at": now} for n in range(first, first + 1000)]).execute()
            for n in range(300):
                name = f"old/call-{n}.ulaw.mdgf"
                with EncryptedFileWriter(box.settings.recordings_dir / name, crypto.cipher()) as out:
                    out.write(os.urandom(4000))
                CallRecord.create(sip_call_id=f"old-{n}", did="0586000001", caller="09011112222", worker=0,
                                  started_at=now - datetime.timedelta(days=200),
                                  ended_at=now - datetime.timedelta(days=200), recording=name)
    keyring = load_keyring(box.settings.key_dir)
    partial = 0  # kills that left the purge halfway: some bookings anonymous, some not yet
    for step in range(30):  # ever later kills, until a run gets to the end
        kill_after(start(box, "purge", "run"), 0.4 + 0.1 * step)
        db = connect(box.settings.database_path, keyring, 5000)
        try:
            assert db.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
            halves = db.execute_sql("SELECT count(*) FROM booking WHERE (name IS NULL) != (phone IS NULL) "
                                    "OR (name IS NULL) != (phone_index IS NULL)").fetchone()[0]
            assert halves == 0, f"{halves} half-purged bookings"
            left = db.execute_sql("SELECT count(*) FROM booking WHERE name IS NOT NULL").fetchone()[0]
        finally:
            db.close()
        partial += 0 < left < 20000
        if left == 0:
            break
    assert partial, "no kill landed while the purge was under way: the test proved nothing"
    box.cli("purge", "run")
    assert box.sql("SELECT count(*) FROM booking WHERE name IS NOT NULL OR phone IS NOT NULL") == [(0,)]
    assert box.sql("SELECT count(*) FROM call_record WHERE recording != '' OR caller IS NOT NULL") == [(0,)]
    assert not [p for p in box.settings.recordings_dir.rglob("*") if p.is_file()]
