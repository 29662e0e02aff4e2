"""Opening the store: pragmas set in one place, and refusals that name the cause and create nothing."""

from __future__ import annotations

import shutil

import peewee
import pytest

from db import migrations
from db.connection import DatabaseProblem, check_sqlite_version, connect, open_database
from db.keys import KeyProblem, create_keys, load_keyring
from tests.conftest import make_instance


@pytest.fixture
def fresh(tmp_path):
    return make_instance(tmp_path)


def test_pragmas_are_in_force(instance, db):
    """WAL, synchronous=FULL, foreign keys, busy timeout and secure_delete on every connection."""
    values = {name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]
              for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "secure_delete")}
    assert values == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                      "busy_timeout": instance.busy_timeout_ms, "secure_delete": 1}


def test_file_is_encrypted(instance, db):
    """Without the key the file is noise: no SQLite header."""
    assert not instance.database_path.read_bytes()[:16].startswith(b"SQLite format 3")


def test_wrong_key_is_refused_by_name(fresh, tmp_path):
    other = tmp_path / "other-keys"
    create_keys(other)
    with pytest.raises(DatabaseProblem, match="cannot decrypt .*database.key does not match"):
        connect(fresh.database_path, load_keyring(other), 1000)


def test_missing_key_file_is_named(fresh):
    (fresh.key_dir / "database.key").unlink()
    with pytest.raises(KeyProblem, match="database.key is missing"):
        open_database(fresh)


def test_malformed_key_file_is_named(fresh):
    (fresh.key_dir / "index.key").write_text("not hex\n")
    with pytest.raises(KeyProblem, match="index.key is malformed"):
        open_database(fresh)


def test_missing_database_is_not_created(fresh):
    fresh.database_path.unlink()
    with pytest.raises(DatabaseProblem, match="does not exist"):
        open_database(fresh)
    assert not fresh.database_path.exists()


def test_corrupt_database_is_refused(fresh):
    data = bytearray(fresh.database_path.read_bytes())
    data[:4096] = bytes(4096)
    fresh.database_path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        fresh.database_path.with_name(fresh.database_path.name + suffix).unlink(missing_ok=True)
    with pytest.raises(DatabaseProblem, match="cannot decrypt"):
        open_database(fresh)


def test_unmigrated_schema_is_refused(tmp_path):
    root = tmp_path / "bare"
    settings = make_instance(root)
    shutil.rmtree(settings.data_dir)
    open_database(settings, create=True, require_current_schema=False).close()
    with pytest.raises(DatabaseProblem, match="schema is at version 0.*madoguchi db migrate"):
        open_database(settings)


def test_newer_schema_is_refused(fresh):
    db = open_database(fresh)
    db.execute_sql("INSERT INTO schema_migration VALUES (9999, 'future', '2030-01-01')")
    db.close()
    with pytest.raises(DatabaseProblem, match="newer than this software"):
        open_database(fresh)


def test_too_old_sqlite_is_refused():
    with pytest.raises(DatabaseProblem, match="SQLite 3.31.1 is too old"):
        check_sqlite_version((3, 31, 1))
    check_sqlite_version((3, 45, 0))


def test_migrations_apply_once(fresh):
    db = open_database(fresh)
    assert migrations.migrate(db) == []
    assert migrations.current_version(db) == migrations.available()[-1].version


def test_models_match_the_migrated_schema(instance, db):
    """Every peewee model's columns exist in the SQL schema with the same names, and vice versa."""
    from db.models import ALL_MODELS
    for model in ALL_MODELS:
        table = model._meta.table_name
        in_sql = {row[1] for row in db.execute_sql(f"PRAGMA table_info({table})").fetchall()}
        in_model = {f.column_name for f in model._meta.sorted_fields}
        assert in_sql == in_model, table


def test_foreign_keys_are_enforced(db):
    with pytest.raises(peewee.IntegrityError):
        db.execute_sql("INSERT INTO slot (venue_id, date, start, capacity) VALUES (999999, '2026-12-10', '10:00', 1)")


# --- the writer lock --------------------------------------------------------------------------------

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_writer_lock(path, seconds: float):
    """Another process holding the writer lock (as another writer mid-transaction would)."""
    import subprocess
    import sys
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_writer_waits_for_the_lock_and_gets_busy_after_the_timeout(tmp_path):
    """While another process holds the writer lock, a transaction waits at most the timeout, then
    raises Busy (not a raw error); the lock it got too late is let go, and the next writer goes on."""
    import time

    from db.connection import Busy, WriterLock
    path = tmp_path / "madoguchi.db.writer"
    holder = hold_writer_lock(path, 5.0)
    started = time.monotonic()
    with pytest.raises(Busy), WriterLock(path, timeout_s=0.3):
        pass
    assert 0.29 <= time.monotonic() - started < 4.0  # gave up at the timeout, long before the holder let go
    holder.wait(timeout=20)
    with WriterLock(path, timeout_s=2.0):  # the late lock was let go: it is free
        pass


def test_a_killed_holder_never_leaves_the_lock_held(tmp_path):
    from db.connection import WriterLock
    path = tmp_path / "madoguchi.db.writer"
    holder = hold_writer_lock(path, 60)
    holder.kill()
    holder.wait(timeout=10)
    with WriterLock(path, timeout_s=2.0):
        pass


def test_a_waiting_writer_gets_the_lock_when_the_holder_lets_go(tmp_path):
    from db.connection import WriterLock
    path = tmp_path / "madoguchi.db.writer"
    holder = hold_writer_lock(path, 0.3)
    with WriterLock(path, timeout_s=10.0) as lock:
        assert lock.fd is not None
    holder.wait(timeout=10)


def test_write_transactions_take_the_writer_lock_and_nested_ones_do_not(fresh):
    """A write transaction holds the lock file beside the database; a nested one is a savepoint."""
    import fcntl
    import os

    from db.connection import write_transaction
    db = open_database(fresh)
    lock_path = fresh.database_path.with_name(fresh.database_path.name + ".writer")
    try:
        with write_transaction(db):
            probe = os.open(lock_path, os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(probe)
            with write_transaction(db):  # nested: no second wait on the lock this transaction holds
                pass
    finally:
        db.close()
