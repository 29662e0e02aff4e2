"""Backups, restore and purge for a year of a city's data (issue 15's benchmark): about 72,000 bookings
and 36,000 calls with short recordings, generated into an instance of their own. Prints the sizes and
the times of `backup run`, `backup verify`, `backup restore` and `purge run` (three quarters of the
year past its period), and booking throughput (bookings committed per second by one process) without
and during a backup, as a ratio.

    .venv/bin/python bench/bench_backup.py [--bookings 72000] [--calls 36000] [--recording-seconds 2]
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
BOOKER = """
import datetime, sys, time
from appliance import runtime
from appliance.settings import load_settings
from db.bookings import Actor, Applicant, book
from db.connection import open_database, write_transaction
from db.models import Slot
settings = load_settings(sys.argv[1], environ={})
runtime.configure(settings)
open_database(settings)
seconds, first = float(sys.argv[2]), int(sys.argv[3])
slots = [s.id for s in Slot.select(Slot.id).where(Slot.date > datetime.date.today()).limit(2000)]
now, done, end = datetime.datetime.now(datetime.UTC), 0, time.monotonic() + seconds
while time.monotonic() < end:
    n = first + done
    with write_transaction():
        book(slots[n % len(slots)], Applicant(f"市民 {n}号", "シミン", f"080{n:08d}", datetime.date(1960, 1, 1)),
             "staff", now, actor=Actor("bench", role="staff"))
    done += 1
print(done / seconds)
"""


def cli(config: Path, *args: str) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "appliance", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "MADOGUCHI_CONFIG": str(config)})
    if result.returncode != 0:
        raise SystemExit(f"madoguchi {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return time.monotonic() - began, result.stdout


def generate(settings, bookings: int, calls: int, recording_seconds: float) -> None:
    """A year: slots on every day from 270 days ago to 95 days ahead, bookings spread over them, calls
    spread over the year, each with its encrypted recording; the audit rows the bookings would write."""
    from db import crypto
    from db.connection import open_database, write_transaction
    from db.files import EncryptedFileWriter
    from db.models import AuditLog, Booking, CallRecord, PhoneLine, Slot, Venue
    open_database(settings)
    cipher = crypto.cipher()
    today = datetime.datetime.now(TOKYO).date()
    now = datetime.datetime.now(datetime.UTC)
    with write_transaction():
        venue = Venue.create(slug="honcho", name="本庁", kana="ホンチョウ")
        PhoneLine.create(did="0586000001", flow="booking")
        slot_rows = [{"venue": venue, "date": today + datetime.timedelta(days=day), "start": datetime.time(9 + h // 2, 30 * (h % 2)),
                      "capacity": 12} for day in range(-270, 96) for h in range(16)]
        for i in range(0, len(slot_rows), 2000):
            Slot.insert_many(slot_rows[i:i + 2000]).execute()
    slot_ids = [s.id for s in Slot.select(Slot.id).order_by(Slot.date, Slot.start)]
    for first in range(0, bookings, 2000):
        with write_transaction():
            rows, audit = [], []
            for n in range(first, min(bookings, first + 2000)):
                number = f"{10000000 + n}"
                rows.append({"number": number, "slot": slot_ids[n * len(slot_ids) // bookings], "status": "confirmed",
                             "channel": "web", "counted_as": "web", "name": f"市民 {n}号", "kana": "シミン　タロウ",
                             "phone": f"090{n:08d}", "birth_date": "1960-01-01", "phone_index": f"idx{n}",
                             "created_at": now, "updated_at": now})
                audit.append({"at": now, "actor": "citizen", "action": "booking.create", "object_type": "booking",
                              "object_id": number, "details": "{}", "source": "web"})
            Booking.insert_many(rows).execute()
            AuditLog.insert_many(audit).execute()
    pcm = os.urandom(int(8000 * recording_seconds))
    for first in range(0, calls, 1000):
        with write_transaction():
            rows = []
            for n in range(first, min(calls, first + 1000)):
                started = now - datetime.timedelta(minutes=int(n * 365 * 24 * 60 / calls))
                name = f"{started:%Y/%m}/call-{n}.ulaw.mdgf"
                with EncryptedFileWriter(settings.recordings_dir / name, cipher) as out:
                    out.write(pcm)
                rows.append({"sip_call_id": f"bench-{n}", "did": "0586000001", "caller": f"080{n:08d}", "worker": 0,
                             "kind": "ai", "started_at": started, "ended_at": started + datetime.timedelta(minutes=3),
                             "outcome": "booked", "recording": name, "recording_seconds": recording_seconds})
            CallRecord.insert_many(rows).execute()


def booking_rate(config: Path, seconds: float, first: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    return subprocess.Popen([sys.executable, "-c", BOOKER, str(config), str(seconds), str(first)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, text=True)


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=72000)
    parser.add_argument("--calls", type=int, default=36000)
    parser.add_argument("--recording-seconds", type=float, default=2.0)
    args = parser.parse_args()
    from tests.conftest import make_instance
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-backup-") as tmp:
        root = Path(tmp)
        settings = make_instance(root, purge_booking_days=90, purge_recording_days=90, purge_caller_days=90)
        settings.backup_dir.mkdir()
        config = root / "madoguchi.toml"
        began = time.monotonic()
        generate(settings, args.bookings, args.calls, args.recording_seconds)
        generated = time.monotonic() - began
        print(f"{os.cpu_count()} cores; generated {args.bookings} bookings and {args.calls} calls with "
              f"{args.recording_seconds:g} s recordings in {generated:.0f} s: data folder "
              f"{size_of(settings.data_dir) / 2**20:.0f} MB (database {size_of(settings.database_path) / 2**20:.0f} MB)")
        backup_s, _ = cli(config, "backup", "run")
        archive = sorted(settings.backup_dir.glob("*.mdbk"))[-1]
        verify_s, _ = cli(config, "backup", "verify", archive.stem)
        restore_s, _ = cli(config, "backup", "restore", archive.stem, "--to", str(root / "restored"))
        window = max(5.0, backup_s)
        alone = float(booking_rate(config, window, 1_000_000).communicate()[0])
        booker = booking_rate(config, window, 2_000_000)
        time.sleep(0.5)
        during_s, _ = cli(config, "backup", "run")
        during = float(booker.communicate()[0])
        purge_s, purged = cli(config, "purge", "run")
        after_s, _ = cli(config, "backup", "run")
        after = sorted(settings.backup_dir.glob("*.mdbk"))[-1]
        print("| step | time (s) | size |")
        print("|---|---|---|")
        print(f"| backup run | {backup_s:.1f} | {archive.stat().st_size / 2**20:.0f} MB archive |")
        print(f"| backup verify | {verify_s:.1f} | |")
        print(f"| backup restore | {restore_s:.1f} | {size_of(root / 'restored') / 2**20:.0f} MB restored |")
        print(f"| purge run (¾ of the year past its period) | {purge_s:.1f} | "
              f"database {size_of(settings.database_path) / 2**20:.0f} MB after |")
        print(f"| backup run after the purge | {after_s:.1f} | {after.stat().st_size / 2**20:.0f} MB archive |")
        print(f"bookings per second by one process: {alone:.0f} alone, {during:.0f} during a backup "
              f"({during / alone:.2f} of it; that backup took {during_s:.1f} s)")
        print(purged.strip())


if __name__ == "__main__":
    main()
