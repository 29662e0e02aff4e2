"""Backups for real, on an instance of their own: taken while a process books in a loop, the backup holds
every booking acknowledged before it began and a consistent store; a restore equals the source row for
row and file for file; a wrong key, a damaged archive, a missing folder and a full disk are each named
and leave earlier backups as they were; retention keeps what its counts say and nothing too old."""

from __future__ import annotations

import datetime
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backup import service
from backup.archive import ArchiveWriter
from backup.service import Backup, BackupProblem
from db import crypto
from db.connection import connect, open_database
from db.files import EncryptedFileWriter
from db.keys import load_keyring
from tests.conftest import MISCOUNTED_SLOTS_SQL, NOW, make_instance, process_globals_kept

REPO = Path(__file__).resolve().parents[2]
TOKYO = datetime.timezone(datetime.timedelta(hours=9))


def cli(config: Path, *args: str, ok: bool | None = True, input: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    result = subprocess.run([sys.executable, "-m", "appliance", *args], cwd=REPO, capture_output=True, text=True,
                            env={**env, "MADOGUCHI_CONFIG": str(config)}, timeout=300, input=input)
    assert ok is None or (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


class Box:
    def __init__(self, root: Path):
        self.root = root
        self.config = root / "madoguchi.toml"
        with process_globals_kept():
            self.settings = make_instance(root)
        self.settings.backup_dir.mkdir()
        self.keyring = load_keyring(self.settings.key_dir)

    def cli(self, *args: str, ok: bool | None = True, config: Path | None = None, input: str | None = None):
        return cli(config or self.config, *args, ok=ok, input=input)

    def sql(self, query: str, *params, path: Path | None = None) -> list[tuple]:
        db = connect(path or self.settings.database_path, self.keyring, 5000)
        try:
            return db.execute_sql(query, params).fetchall()
        finally:
            db.close()

    def backups(self) -> list[Backup]:
        return service.all_backups(self.settings)

    def files(self) -> list[str]:
        return sorted(p.name for p in self.settings.backup_dir.iterdir())


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    box = Box(tmp_path_factory.mktemp("backup"))
    box.cli("demo", "--weeks", "1")
    with process_globals_kept():  # a recording and an uploaded announcement, as the engine would leave them
        open_database(box.settings)
        recording = box.settings.recordings_dir / "2026" / "12" / "call-1.wav.mdgf"
        with EncryptedFileWriter(recording, crypto.cipher()) as out:
            out.write(os.urandom(300_000))
        (box.settings.data_dir / "ivr_audio").mkdir()
        (box.settings.data_dir / "ivr_audio" / "aisatsu.wav").write_bytes(b"RIFF" + os.urandom(5000))
    return box


def every_row(box: Box, path: Path) -> dict[str, list[tuple]]:
    tables = [name for (name,) in box.sql("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' ORDER BY name", path=path)]
    return {table: box.sql(f'SELECT * FROM "{table}" ORDER BY 1, 2', path=path) for table in tables}


def start_booking_loop(box: Box) -> subprocess.Popen:
    slots = [row[0] for row in box.sql("SELECT id FROM slot ORDER BY id LIMIT 40")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    loop = subprocess.Popen([sys.executable, "-m", "tests.crash.booking_loop", str(box.config), "7", "1",
                             NOW.isoformat(), *map(str, slots)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert loop.stdout.readline() == "READY\n", loop.stderr.read()
    return loop


def acknowledged(loop: subprocess.Popen, count: int) -> set[str]:
    """The next `count` bookings the loop acknowledges (each line is printed after its commit)."""
    booked: set[str] = set()
    while len(booked) < count:
        line = loop.stdout.readline()
        assert line, loop.stderr.read()
        kind, op, number = line.split()[:3]
        if kind == "ok" and op == "book":
            booked.add(number)
    return booked


def test_a_backup_during_bookings_holds_every_acknowledged_one_and_restores_row_for_row(box, tmp_path):
    loop = start_booking_loop(box)
    try:
        before = acknowledged(loop, 30)
        box.cli("backup", "run")
        acknowledged(loop, 5)  # the loop went on booking
    finally:
        loop.send_signal(signal.SIGKILL)
        loop.wait()
    [taken] = box.backups()
    box.cli("backup", "restore", taken.name, "--to", str(tmp_path / "during"))
    restored = tmp_path / "during" / "madoguchi.db"
    numbers = {number for (number,) in box.sql("SELECT number FROM booking", path=restored)}
    assert before <= numbers
    assert box.sql(MISCOUNTED_SLOTS_SQL, path=restored) == []  # one consistent moment, not a mix
    assert box.sql("PRAGMA integrity_check", path=restored) == [("ok",)]

    time.sleep(1.1)  # the next backup's name (to the second) differs
    box.cli("backup", "run")
    newest = box.backups()[-1]
    assert "ok: 4 files" in box.cli("backup", "verify", newest.name).stdout
    box.cli("backup", "restore", newest.name, "--to", str(tmp_path / "quiet"))
    restored, source = every_row(box, tmp_path / "quiet" / "madoguchi.db"), every_row(box, box.settings.database_path)
    del restored["job_run"], source["job_run"]  # the row recording this very backup is written after it
    assert restored == source
    for name in ("recordings/2026/12/call-1.wav.mdgf", "ivr_audio/aisatsu.wav"):
        source = box.settings.data_dir / name
        assert (tmp_path / "quiet" / name).read_bytes() == source.read_bytes()
    assert (tmp_path / "quiet" / "config" / "madoguchi.toml").read_text() == box.config.read_text()
    assert not list((tmp_path / "quiet").rglob("*.key"))  # never the keys


def test_restore_refuses_a_folder_that_is_not_empty(box, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("x")
    result = box.cli("backup", "restore", box.backups()[-1].name, "--to", str(tmp_path / "full"), ok=False)
    assert "is not empty" in result.stderr and (tmp_path / "full" / "mine.txt").read_text() == "x"


def test_a_wrong_backup_key_is_named_as_such(box, tmp_path):
    other_keys = tmp_path / "keys"
    shutil.copytree(box.settings.key_dir, other_keys)
    (other_keys / "backup-0001.key").write_text(os.urandom(32).hex() + "\n")
    with pytest.raises(BackupProblem, match="cannot be decrypted with the backup keys of this box"):
        service.verify(box.backups()[-1].path, box.settings.replace(key_dir=other_keys))
    (other_keys / "backup-0001.key").unlink()
    with pytest.raises(BackupProblem, match=r"backup key 1 \(backup-0001.key\) is not in the key folder"):
        service.verify(box.backups()[-1].path, box.settings.replace(key_dir=other_keys))


def test_a_damaged_archive_is_named_damaged_with_or_without_its_manifest(box, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    newest = box.backups()[-1]
    for name in (newest.path.name, f"{newest.name}.json"):
        shutil.copy(box.settings.backup_dir / name, copy / name)
    damaged = copy / newest.path.name
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    settings = box.settings.replace(backup_dir=copy)
    with pytest.raises(BackupProblem, match="is damaged: its SHA-256 differs"):
        service.verify(damaged, settings)
    (copy / f"{newest.name}.json").unlink()
    with pytest.raises(BackupProblem, match="is damaged or not a backup: .*chunk .* was altered"):
        service.verify(damaged, settings)


def test_a_missing_folder_and_a_full_disk_are_named_and_earlier_backups_stay(box, monkeypatch):
    settings = box.settings
    missing = settings.replace(backup_dir=settings.backup_dir / "nas")
    with pytest.raises(BackupProblem, match="does not exist .*mounted"):
        service.run(missing, None, NOW)
    before = box.files()
    real_add = ArchiveWriter.add_file

    def disk_fills(self, name, path):
        if name.startswith("recordings/"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_add(self, name, path)

    monkeypatch.setattr(ArchiveWriter, "add_file", disk_fills)
    with process_globals_kept():
        db = open_database(settings)
        try:
            with pytest.raises(BackupProblem, match="No space left on device .*earlier backups are kept"):
                service.run(settings, db, NOW)
        finally:
            db.close()
    assert box.files() == before  # no partial archive, no staging folder left


def backup_at(name: str, when: datetime.datetime, complete: bool = True) -> Backup:
    return Backup(name, Path(name), when if complete else None, 1, "", {})


def test_retention_keeps_days_weeks_and_months_but_nothing_older_than_the_maximum_age(box):
    """Daily backups for 120 days: the newest 7 days, the first of each of 4 weeks and of 2 months are
    kept (so they reach a month back), none older than 90 days; an incomplete one goes; the newest is
    kept even when everything is old."""
    now = datetime.datetime(2026, 12, 7, 3, 0, tzinfo=TOKYO)
    backups = [backup_at(f"d{n:03d}", now - datetime.timedelta(days=n)) for n in range(120)]
    backups.append(backup_at("cut-short", now, complete=False))
    settings = box.settings.replace(backup_keep_daily=7, backup_keep_weekly=4, backup_keep_monthly=2,
                                    backup_max_age_days=90)
    kept = sorted({b.name for b in backups} - {b.name for b in service.expired(backups, settings, now)})
    assert kept[:7] == [f"d{n:03d}" for n in range(7)]
    weeks = {(now - datetime.timedelta(days=int(name[1:]))).isocalendar()[:2] for name in kept}
    assert len(kept) <= 7 + 4 + 2 and len(weeks) >= 4
    assert all(int(name[1:]) <= 90 for name in kept) and "cut-short" not in kept
    assert "d036" in kept  # 1 November: the first of last month
    old = [backup_at("ancient", now - datetime.timedelta(days=400))]
    assert service.expired(old, settings, now) == []


def test_the_drill_restores_the_newest_backup_and_keeps_its_outcome(box):
    result = box.cli("backup", "drill")
    assert "drill ok:" in result.stdout
    [(text,)] = box.sql("SELECT result FROM job_run WHERE job = 'backup_drill'")
    assert json.loads(text) == {"ok": True, "name": box.backups()[-1].name}
    assert not [p for p in box.settings.data_dir.iterdir() if p.name.startswith(".drill-")]


def test_a_new_box_comes_back_from_a_backup_and_the_key_escrow_alone(box, tmp_path):
    """The old box is gone: what was kept is the backup folder (the NAS), the escrow file and its
    passphrase. The new box imports the keys, restores, migrates, passes `madoguchi check`'s integrity
    check and holds the same accounts and bookings. The printed sheet holds every key, to type in if the file is lost."""
    escrow_file, sheet = tmp_path / "escrow.mdge", tmp_path / "sheet.pdf"
    box.cli("keys", "export", str(escrow_file), "--sheet", str(sheet), input="kinko-no-naka-2026\n" * 2)
    printed = subprocess.run(["pdftotext", "-layout", str(sheet), "-"], capture_output=True, text=True).stdout
    for key in box.settings.key_dir.glob("*.key"):
        groups = key.read_text().strip()
        assert key.name in printed and " ".join(groups[i:i + 4] for i in range(0, 32, 4)) in printed
    new = tmp_path / "new-box"
    shutil.copytree(box.settings.backup_dir, new / "nas")
    config = new / "madoguchi.toml"
    config.write_text(f'data_dir = "{new / "data"}"\nkey_dir = "{new / "keys"}"\nbackup_dir = "{new / "nas"}"\n')
    result = cli(config, "keys", "import", str(escrow_file), input="kinko-no-naka-2025\n", ok=False)
    assert "wrong passphrase" in result.stderr
    cli(config, "keys", "import", str(escrow_file), input="kinko-no-naka-2026\n")
    newest = box.backups()[-1]
    cli(config, "backup", "restore", newest.name, "--to", str(new / "data"))
    cli(config, "db", "migrate")
    assert "ok   integrity" in cli(config, "check", ok=None).stdout
    restored, source = every_row(box, new / "data" / "madoguchi.db"), every_row(box, box.settings.database_path)
    assert restored["booking"] == source["booking"] and restored["staff_user"] == source["staff_user"]


def test_the_nightly_job_purges_backs_up_and_drills_and_keeps_each_outcome(box):
    """What the worker starts at backup_time: purge first (so no backup holds what is past its
    period), then the backup, retention and the drill; `madoguchi check` then warns about nothing."""
    newest_before = box.backups()[-1].name
    time.sleep(1.1)
    box.cli("backup", "nightly")
    assert box.backups()[-1].name != newest_before
    outcomes = {job: json.loads(text)["ok"] for job, text in box.sql("SELECT job, result FROM job_run")}
    assert outcomes == {"purge": True, "backup": True, "backup_drill": True}
    checked = box.cli("check", ok=None).stdout
    assert "ok   backup" in checked and "ok   restore drill" in checked and "ok   purge" in checked


def test_the_audit_chain_verifies_and_still_holds_the_head_each_backup_recorded(box):
    box.cli("user", "add", "kansa")  # an audited action
    time.sleep(1.1)
    box.cli("backup", "run")
    newest = box.backups()[-1]
    assert newest.audit_head.get("id") and len(newest.audit_head["chain"]) == 64
    result = box.cli("audit", "verify", "--backup", newest.name)
    assert "ok:" in result.stdout and f"the head in {newest.name}, is still there" in result.stdout


def test_an_upgrade_backs_up_before_it_migrates_and_refuses_without_a_backup(tmp_path):
    """`madoguchi db migrate` with migrations pending first backs the database up as it is (the older
    schema, restorable with the older version); when no backup can be taken it migrates nothing."""
    from db import migrations
    from db.keys import create_keys
    root = tmp_path / "old"
    config = root / "madoguchi.toml"
    root.mkdir()
    config.write_text(f'data_dir = "{root / "data"}"\nkey_dir = "{root / "keys"}"\nbackup_dir = "{root / "nas"}"\n')
    with process_globals_kept():
        from appliance.settings import load_settings
        settings = load_settings(config, environ={})
        create_keys(settings.key_dir)
        db = open_database(settings, create=True, require_current_schema=False)
        previous = migrations.available()[-2].version
        migrations.migrate(db, up_to=previous)
        db.close()
    (root / "nas").write_text("not a folder")
    refused = cli(config, "db", "migrate", ok=False)
    assert "no backup before the migration" in refused.stderr and "--without-backup" in refused.stderr
    (root / "nas").unlink()
    done = cli(config, "db", "migrate").stdout
    assert "backed up before migrating: madoguchi-" in done and f"applied {previous + 1:04d}_" in done
    name = done.split("backed up before migrating: ")[1].split()[0]
    assert f"schema version {previous}," in cli(config, "backup", "verify", name).stdout


def test_a_failed_nightly_backup_is_kept_mailed_and_the_other_steps_still_run(box, tmp_path):
    """The NAS is not mounted: the purge still runs, the backup and the drill fail with the cause kept
    in job_run, an alert for each is queued to the administrators, and the command exits 1."""
    config = tmp_path / "nas-gone.toml"
    lines = [line for line in box.config.read_text().splitlines() if not line.startswith("backup_dir")]
    config.write_text("\n".join([*lines, f'backup_dir = "{tmp_path / "unmounted"}"',
                                  'alert_email = "kanri@city.example.lg.jp"']) + "\n", encoding="utf-8")
    cli(config, "backup", "nightly", ok=False)
    outcomes = {job: json.loads(text) for job, text in box.sql("SELECT job, result FROM job_run")}
    assert outcomes["purge"]["ok"] and not outcomes["backup"]["ok"] and "is the NAS" in outcomes["backup"]["error"]
    keys = {key.rsplit(":", 2)[0] for (key,) in box.sql("SELECT idempotency_key FROM outbox WHERE event = 'alert'")}
    assert keys == {"alert:backup_failed", "alert:backup_drill_failed"}
