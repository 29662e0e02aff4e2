"""The per-hour request counter: buffered in memory, written in one UPSERT transaction at most every
30 s or when the hour changes, merged with what is already stored, and never losing counts (or
raising into a request) when the database is busy.

The `db` fixture runs each test inside a transaction, so write_transaction() there becomes a savepoint
(BEGIN IMMEDIATE is only issued at the outermost level); the real lock is proved on a separate
instance at the end."""

from __future__ import annotations

import contextlib
import datetime
import threading

import peewee
import pytest

from db.connection import Busy, connect, database, open_database
from db.keys import load_keyring
from db.models import Traffic
from tests.conftest import NOW, make_instance, process_globals_kept
from web import traffic
from web.traffic import TrafficCounter, hour_key

SECOND = datetime.timedelta(seconds=1)


def stored() -> dict[tuple[str, str], int]:
    return {(row.hour, row.site): row.requests for row in Traffic.select()}


@pytest.fixture
def transactions(monkeypatch):
    """How many write transactions the counter opened."""
    opened = []
    real = traffic.write_transaction

    @contextlib.contextmanager
    def counting(*args, **kwargs):
        opened.append(1)
        with real(*args, **kwargs):
            yield

    monkeypatch.setattr(traffic, "write_transaction", counting)
    return opened


def test_counts_are_written_once_per_30_seconds(db, transactions):
    """Requests within 30 s stay in memory; the first request 30 s after the last write writes them all
    in one transaction; the next ones wait again."""
    counter = TrafficCounter()
    for offset in (0, 10, 29):
        counter.count("public", NOW + offset * SECOND)
    assert stored() == {} and counter.pending() == {("2026-12-01T10", "public"): 3}
    counter.count("public", NOW + 30 * SECOND)
    assert stored() == {("2026-12-01T10", "public"): 4} and counter.pending() == {}
    assert len(transactions) == 1
    counter.count("admin", NOW + 40 * SECOND)
    counter.count("admin", NOW + 59 * SECOND)
    assert stored() == {("2026-12-01T10", "public"): 4} and len(transactions) == 1
    counter.count("admin", NOW + 60 * SECOND)
    assert stored() == {("2026-12-01T10", "public"): 4, ("2026-12-01T10", "admin"): 3}
    assert len(transactions) == 2


def test_a_new_hour_writes_at_once_and_counts_add_to_stored_rows(db, transactions):
    """The first request of a new hour writes both hours in one transaction, even within 30 s; later
    writes (and other workers) add to the stored rows instead of replacing them."""
    counter, other_worker = TrafficCounter(), TrafficCounter()
    before = NOW + 59 * 60 * SECOND + 50 * SECOND  # 10:59:50
    counter.count("public", before)
    counter.count("public", before + SECOND)
    counter.count("admin", before + 2 * SECOND)
    counter.count("public", before + 15 * SECOND)  # 11:00:05
    assert stored() == {("2026-12-01T10", "public"): 2, ("2026-12-01T10", "admin"): 1,
                        ("2026-12-01T11", "public"): 1}
    assert len(transactions) == 1
    counter.count("public", before + 45 * SECOND)
    other_worker.count("public", before)
    other_worker.count("public", before)
    assert other_worker.flush(before + 50 * SECOND)
    assert stored() == {("2026-12-01T10", "public"): 4, ("2026-12-01T10", "admin"): 1,
                        ("2026-12-01T11", "public"): 2}


def test_hours_are_tokyo_time():
    """A request at 01:30 UTC is counted in 10:00-10:59 Tokyo time; naive times are refused."""
    assert hour_key(datetime.datetime(2026, 12, 1, 1, 30, tzinfo=datetime.UTC)) == "2026-12-01T10"
    assert hour_key(datetime.datetime(2026, 12, 31, 15, 0, tzinfo=datetime.UTC)) == "2027-01-01T00"
    with pytest.raises(ValueError):
        hour_key(datetime.datetime(2026, 12, 1, 10, 0))


def test_unknown_site_is_refused():
    """Only 'public' and 'admin' exist (the table's CHECK says the same)."""
    with pytest.raises(ValueError):
        TrafficCounter().count("api", NOW)


def test_busy_database_keeps_the_counts_for_the_next_write(db, monkeypatch):
    """When the write transaction reports Busy, the request goes on, nothing is written, and the counts
    are written with the next flush (nothing lost, nothing doubled)."""
    counter = TrafficCounter()

    @contextlib.contextmanager
    def busy():
        raise Busy("the database stayed locked longer than busy_timeout_ms")
        yield  # pragma: no cover

    monkeypatch.setattr(traffic, "write_transaction", busy)
    counter.count("public", NOW)
    counter.count("public", NOW + 30 * SECOND)  # due: the write fails quietly
    assert stored() == {} and counter.pending() == {("2026-12-01T10", "public"): 2}
    assert counter.flush(NOW + 31 * SECOND) is False
    monkeypatch.undo()
    counter.count("public", NOW + 40 * SECOND)
    assert counter.flush(NOW + 41 * SECOND) is True
    assert stored() == {("2026-12-01T10", "public"): 3} and counter.pending() == {}


@pytest.mark.parametrize("error", ["database is locked", "disk I/O error"])
def test_operational_error_keeps_counts_and_rolls_back_to_the_savepoint(db, monkeypatch, error):
    """An OperationalError from the UPSERT (a lock, which write_transaction turns into Busy, or any
    other) keeps the counts, and leaves the surrounding transaction usable: write_transaction nested
    in one is a savepoint, rolled back on its own."""
    counter = TrafficCounter()
    Traffic.create(hour="2026-12-01T09", site="public", requests=5)
    real = database.obj.execute_sql

    def locked(sql, params=None, *args, **kwargs):
        if sql.startswith("INSERT INTO traffic"):
            real(sql, params, *args, **kwargs)  # written, then undone by the savepoint's rollback
            raise peewee.OperationalError(error)
        return real(sql, params, *args, **kwargs)

    monkeypatch.setattr(database.obj, "execute_sql", locked)
    counter.count("public", NOW)
    assert counter.flush(NOW) is False
    monkeypatch.undo()
    assert stored() == {("2026-12-01T09", "public"): 5}
    assert counter.flush(NOW + SECOND) is True
    assert stored() == {("2026-12-01T09", "public"): 5, ("2026-12-01T10", "public"): 1}


def test_other_database_errors_never_reach_the_request(db, monkeypatch):
    """A write that fails for another reason is logged and dropped; count() still returns."""
    counter = TrafficCounter()

    def broken(batch):
        raise peewee.IntegrityError("CHECK constraint failed")

    monkeypatch.setattr(traffic, "_write", broken)
    counter.count("public", NOW)
    counter.count("public", NOW + 30 * SECOND)
    assert counter.pending() == {}


def test_counting_from_many_threads_loses_nothing():
    """Eight threads counting 500 requests each in the same hour leave exactly 4000 in the buffer
    (no flush is due, so no thread touches the database)."""
    counter = TrafficCounter(every=datetime.timedelta(hours=2))
    start = threading.Barrier(8)

    def work():
        start.wait()
        for _ in range(500):
            counter.count("public", NOW)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.pending() == {("2026-12-01T10", "public"): 4000}


def test_module_functions_use_one_process_wide_counter(db, monkeypatch):
    """web.traffic.count/flush are what the Flask apps call: they share one counter per process."""
    monkeypatch.setattr(traffic, "_counter", TrafficCounter())
    traffic.count("admin", NOW)
    traffic.count("admin", NOW + SECOND)
    assert traffic.pending() == {("2026-12-01T10", "admin"): 2}
    assert traffic.flush(NOW + 2 * SECOND)
    assert stored() == {("2026-12-01T10", "admin"): 2}


def test_a_really_locked_database_keeps_the_counts(tmp_path):
    """On its own instance (no test transaction around it): while another connection holds the write
    lock, the flush gives up after busy_timeout and keeps the counts; once the lock is gone they are
    written."""
    with process_globals_kept():
        settings = make_instance(tmp_path, busy_timeout_ms=100)
        db = open_database(settings)
        holder = connect(settings.database_path, load_keyring(settings.key_dir), 100)
        try:
            counter = TrafficCounter()
            counter.count("public", NOW)
            counter.count("admin", NOW)
            holder.execute_sql("BEGIN IMMEDIATE")
            assert counter.flush(NOW + SECOND) is False
            assert counter.pending() == {("2026-12-01T10", "public"): 1, ("2026-12-01T10", "admin"): 1}
            holder.execute_sql("ROLLBACK")
            assert counter.flush(NOW + 2 * SECOND) is True
            rows = holder.execute_sql("SELECT hour, site, requests FROM traffic ORDER BY site").fetchall()
            assert rows == [("2026-12-01T10", "admin", 1), ("2026-12-01T10", "public", 1)]
        finally:
            holder.close()
            db.close()
