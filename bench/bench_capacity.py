"""The capacity engine on this machine: committed bookings per second from 1, 2 and 4 processes, the
latency of one booking, and the time to find alternatives over 14 venues x 8 weeks of slots.

A fresh encrypted instance in a temporary directory, with the production pragmas (WAL,
synchronous=FULL): every booking is one BEGIN IMMEDIATE ... COMMIT with an fsync, as in the appliance.
Prints numbers only; nothing is asserted.

    .venv/bin/python bench/bench_capacity.py [--seconds 3] [--dir /var/lib/madoguchi-bench]

--dir puts the database on the disk to measure (the default is the system's temporary directory).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance import runtime  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from db import migrations  # noqa: E402
from db.bookings import Actor, Applicant, book  # noqa: E402
from db.capacity import alternatives  # noqa: E402
from db.connection import Busy, database, open_database, write_transaction  # noqa: E402
from db.keys import create_keys  # noqa: E402
from db.models import Slot, Venue  # noqa: E402
from db.slots import WeeklyTemplate, generate_slots  # noqa: E402

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)  # as in the tests: a Tuesday morning
FIRST_DAY = NOW.date() + datetime.timedelta(days=1)
LAST_DAY = FIRST_DAY + datetime.timedelta(weeks=8) - datetime.timedelta(days=1)
VENUES = 14
CAPACITY = 4
BENCH = Actor("bench", role="admin", source="bench")
PROCESS_COUNTS = (1, 2, 4)
ALTERNATIVE_CALLS = 200  # per case, or as many as fit in ALTERNATIVE_SECONDS (at least 10)
ALTERNATIVE_SECONDS = 6.0


def make_instance(root: Path) -> Path:
    """Keys, config and a migrated encrypted database under root (as tests/conftest.make_instance)."""
    config = root / "madoguchi.toml"
    config.write_text(f'data_dir = "{root / "data"}"\nkey_dir = "{root / "keys"}"\n', encoding="utf-8")
    settings = load_settings(config, environ={})
    create_keys(settings.key_dir)
    db = open_database(settings, create=True, require_current_schema=False)
    migrations.migrate(db)
    db.close()
    return config


def open_instance(config: Path):
    settings = runtime.configure(load_settings(config, environ={}))
    return open_database(settings)


def applicant(n: int) -> Applicant:
    """A distinct person for every n (the one-booking-per-person rule stays on)."""
    return Applicant(name=f"市民 {n}号", kana="シミン　タロウ", phone=f"090{n:08d}",
                     birth_date=datetime.date(1950, 1, 1) + datetime.timedelta(days=n % 20000))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f}"


# -- setting up ----------------------------------------------------------------------------------

def create_venues(count: int, prefix: str, capacity: int, first_sort: int = 0) -> list[Venue]:
    template = WeeklyTemplate.parse("mon-fri", "09:00-12:00,13:00-17:00", capacity=capacity)
    venues = []
    with write_transaction():
        for i in range(count):
            venue = Venue.create(slug=f"{prefix}-{i + 1}", name=f"{prefix} {i + 1}", kana="カイジョウ",
                                 sort_order=first_sort + i)
            generate_slots(venue, FIRST_DAY, LAST_DAY, template, BENCH, NOW)
            venues.append(venue)
    return venues


# -- bookings per second -------------------------------------------------------------------------

def booking_worker(config: Path, run: int, index: int, processes: int, seconds: float,
                   slot_ids: list[int], barrier, results) -> None:
    """One process with its own connection: book until the time is up, one transaction each."""
    open_instance(config)
    first_person = (run * 8 + index) * 10**6
    with write_transaction():  # warm up: first queries, key derivation, page cache
        book(slot_ids[index], applicant(first_person), "web", NOW)
    barrier.wait()
    latencies, busy, n = [], 0, 1
    started = time.perf_counter()
    deadline = started + seconds
    while (t0 := time.perf_counter()) < deadline:
        slot_id = slot_ids[(n * processes + index) % len(slot_ids)]
        try:
            with write_transaction():
                book(slot_id, applicant(first_person + n), "web", NOW)
        except Busy:
            busy += 1
        else:
            latencies.append(time.perf_counter() - t0)
        n += 1
    results.put((latencies, busy, time.perf_counter() - started))
    database.close()


def bench_bookings(config: Path, seconds: float) -> list[tuple]:
    open_instance(config)
    [venue] = create_venues(1, "throughput", capacity=500, first_sort=1000)
    slot_ids = [s.id for s in Slot.select(Slot.id).where(Slot.venue == venue).order_by(Slot.id)]
    database.close()
    context = multiprocessing.get_context("spawn")  # each process opens its own connection
    rows = []
    for run, processes in enumerate(PROCESS_COUNTS):
        barrier, results = context.Barrier(processes), context.Queue()
        workers = [context.Process(target=booking_worker,
                                   args=(config, run, i, processes, seconds, slot_ids, barrier, results))
                   for i in range(processes)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=seconds + 120) for _ in workers]
        for worker in workers:
            worker.join()
        latencies = [lat for outcome in outcomes for lat in outcome[0]]
        busy = sum(outcome[1] for outcome in outcomes)
        elapsed = max(outcome[2] for outcome in outcomes)
        shares = sorted((len(outcome[0]) for outcome in outcomes), reverse=True)
        rows.append((processes, len(latencies), elapsed, busy, latencies, shares))
    return rows


# -- alternatives --------------------------------------------------------------------------------

def time_alternatives(venue_id: int, channel: str, release_days: int) -> tuple[list[float], int]:
    timings, found = [], 0
    stop = time.perf_counter() + ALTERNATIVE_SECONDS
    while len(timings) < ALTERNATIVE_CALLS and (len(timings) < 10 or time.perf_counter() < stop):
        t0 = time.perf_counter()
        found = len(alternatives(venue_id, FIRST_DAY, channel, NOW, release_days=release_days))
        timings.append(time.perf_counter() - t0)
    return timings, found


def bench_alternatives(config: Path) -> tuple[int, list[tuple]]:
    open_instance(config)
    release_days = runtime.settings().reserved_seats_release_days
    venues = create_venues(VENUES, "venue", capacity=CAPACITY)
    slots = Slot.select().count()
    wished, other = venues[0].id, [v.id for v in venues[1:]]
    cases = []

    def case(label: str) -> None:
        timings, found = time_alternatives(wished, "web", release_days)
        cases.append((label, found, timings))

    released = Slot.date <= NOW.date() + datetime.timedelta(days=release_days)

    def fill(venue_ids: list[int], *, hold_phone_seat: bool) -> None:
        """Filled directly (the engine is not what is measured here). hold_phone_seat leaves one seat
        held for the phone, free but closed to the web, so only remaining() in Python can skip the
        slot; within the release days, when holds are open to all, those slots are fully booked."""
        with write_transaction():
            Slot.update(booked_web=Slot.capacity).where(Slot.venue.in_(venue_ids)).execute()
            if hold_phone_seat:
                (Slot.update(booked_web=Slot.capacity - 1, phone_seats=1)
                 .where(Slot.venue.in_(venue_ids), ~released).execute())

    case("typical: free seats on the wished day")
    fill([wished], hold_phone_seat=False)
    case("wished venue fully booked")
    fill([wished], hold_phone_seat=True)
    case("wished venue full for the web (phone seat held)")
    fill([wished, *other], hold_phone_seat=False)
    case("every venue fully booked (nothing found)")
    fill([wished, *other], hold_phone_seat=True)
    case("every venue full for the web (nothing found)")
    database.close()
    return slots, cases


# -- report --------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each booking run lasts")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the temporary instance")
    args = parser.parse_args()

    from sqlcipher3 import dbapi2 as sqlcipher

    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-", dir=args.dir) as tmp:
        config = make_instance(Path(tmp))
        db = open_instance(config)
        cipher_version = db.execute_sql("PRAGMA cipher_version").fetchone()[0]
        journal = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
        synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
            db.execute_sql("PRAGMA synchronous").fetchone()[0]]
        db.close()
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"machine     {platform.machine()}, {os.cpu_count()} cores ({usable} usable by this process), "
              f"Python {platform.python_version()}")
        print(f"sqlite      SQLite {sqlcipher.sqlite_version}, SQLCipher {cipher_version}, "
              f"journal_mode={journal}, synchronous={synchronous}")
        print(f"database    {tmp}")
        print("load        {:.2f} {:.2f} {:.2f} (1/5/15 min; other work on the machine skews the numbers)"
              .format(*os.getloadavg()))
        print()

        slots, cases = bench_alternatives(config)
        rows = bench_bookings(config, args.seconds)

    print(f"bookings committed (one write_transaction + book each, {args.seconds:g} s per run)")
    print(f"{'processes':>9}  {'bookings':>8}  {'per second':>10}  {'p50 ms':>8}  {'p99 ms':>8}  "
          f"{'max ms':>8}  {'busy':>4}  per process")
    for processes, count, elapsed, busy, latencies, shares in rows:
        print(f"{processes:>9}  {count:>8}  {count / elapsed:>10.1f}  {ms(percentile(latencies, 50))}  "
              f"{ms(percentile(latencies, 99))}  {ms(max(latencies))}  {busy:>4}  {'/'.join(map(str, shares))}")
    print()
    print(f"alternatives(limit=3, channel web, from the first day) over {VENUES} venues x 8 weeks "
          f"= {slots} slots")
    print(f"{'case':<50}  {'found':>5}  {'calls':>5}  {'p50 ms':>8}  {'p99 ms':>8}  {'mean ms':>8}")
    for label, found, timings in cases:
        print(f"{label:<50}  {found:>5}  {len(timings):>5}  {ms(percentile(timings, 50))}  "
              f"{ms(percentile(timings, 99))}  {ms(statistics.fmean(timings))}")


if __name__ == "__main__":
    main()
