"""The SQLCipher connection: every pragma set in one place, and the checks that run before use.

Opening never creates a database: a missing file, a wrong key, a too-old SQLite or an unmigrated
schema each stop with a message that names the cause.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import peewee
from playhouse.sqlcipher_ext import SqlCipherDatabase
from sqlcipher3 import dbapi2 as sqlcipher

from db import crypto, migrations
from db.keys import KeyRing, load_keyring

MIN_SQLITE_VERSION = (3, 37, 0)  # STRICT-era SQLite with RETURNING, partial indexes, RAISE in triggers

database = peewee.DatabaseProxy()


class DatabaseProblem(Exception):
    """The database cannot be used as it is; the message says what to fix."""


class Busy(Exception):
    """The write lock could not be had within busy_timeout (shown as 混み合っています)."""


def pragmas(busy_timeout_ms: int) -> dict[str, object]:
    return {
        "journal_mode": "wal",
        "synchronous": "full",
        "foreign_keys": 1,
        "busy_timeout": busy_timeout_ms,
        "secure_delete": 1,
        "temp_store": "memory",
    }


def make_database(path: Path, key: bytes, busy_timeout_ms: int) -> SqlCipherDatabase:
    # A raw 256-bit key ("x'..'") skips SQLCipher's per-connection PBKDF2: the key file is random.
    db = SqlCipherDatabase(str(path), passphrase=f"x'{key.hex()}'", pragmas=pragmas(busy_timeout_ms))
    db.busy_timeout_s = busy_timeout_ms / 1000  # also the longest wait for the writer lock
    return db


def check_sqlite_version(version: tuple[int, ...] = sqlcipher.sqlite_version_info) -> None:
    if tuple(version) < MIN_SQLITE_VERSION:
        raise DatabaseProblem(
            f"SQLite {'.'.join(map(str, version))} is too old; madoguchi needs "
            f"{'.'.join(map(str, MIN_SQLITE_VERSION))} or newer (reinstall the sqlcipher3 wheel)")


def connect(path: Path, keyring: KeyRing, busy_timeout_ms: int, *, create: bool = False) -> SqlCipherDatabase:
    """A verified connection: the file exists (unless creating) and the key decrypts it."""
    check_sqlite_version()
    if not create and not path.exists():
        raise DatabaseProblem(f"database file {path} does not exist (run `madoguchi init`)")
    if create and path.exists():
        raise DatabaseProblem(f"database file {path} already exists; refusing to create it again")
    db = make_database(path, keyring.database_key, busy_timeout_ms)
    try:
        db.connect()
        db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
    except peewee.DatabaseError as exc:
        db.close()
        if "not a database" in str(exc):
            raise DatabaseProblem(
                f"cannot decrypt {path}: the key in database.key does not match, or the file is not a "
                "madoguchi database or is damaged") from None
        raise DatabaseProblem(f"cannot open {path}: {exc}") from None
    return db


def open_database(settings, *, create: bool = False, require_current_schema: bool = True) -> SqlCipherDatabase:
    """Open, verify and install the process-wide database and field cipher."""
    keyring = load_keyring(settings.key_dir)
    if create:
        settings.data_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    db = connect(settings.database_path, keyring, settings.busy_timeout_ms, create=create)
    if require_current_schema:
        state = migrations.state(db)
        if state.pending:
            db.close()
            raise DatabaseProblem(
                f"the database schema is at version {state.current}, this software needs "
                f"{state.latest}: run `madoguchi db migrate`")
        if state.unknown:
            db.close()
            raise DatabaseProblem(
                f"the database has schema version {state.current}, newer than this software knows "
                f"({state.latest}): install the matching madoguchi version")
    database.initialize(db)
    crypto.install(crypto.FieldCipher(keyring))
    return db


@contextlib.contextmanager
def write_transaction(db: peewee.Database | None = None) -> Iterator[None]:
    """The entry point's one write transaction. BEGIN IMMEDIATE takes the write lock first, so a
    read-check-write inside cannot interleave with another writer; a lock not had within busy_timeout
    becomes Busy (shown as 混み合っています), never a raw "database is locked".

    Writers queue on a file lock beside the database before BEGIN (see WriterLock): SQLite's own busy
    handler sleeps ever longer between tries, so a process that commits and begins again at once would
    keep the lock for seconds while the others sleep. Nested inside an open transaction, this is a
    savepoint and queues for nothing."""
    db = db or database
    if db.in_transaction():
        with _busy_as_domain_error(), db.atomic():
            yield
        return
    with WriterLock(Path(db.database).with_name(Path(db.database).name + ".writer"),
                    getattr(db, "busy_timeout_s", 10.0)), _busy_as_domain_error(), db.atomic("IMMEDIATE"):
        yield


@contextlib.contextmanager
def _busy_as_domain_error() -> Iterator[None]:
    try:
        yield
    except peewee.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise Busy("the database stayed locked longer than busy_timeout_ms") from exc
        raise


class WriterLock:
    """An exclusive flock on a file beside the database, held around one write transaction. A process
    waiting in flock() is woken the moment the holder lets go, so writers take turns in about the
    order they came (measured in bench/bench_capacity.py); the kernel releases it when a process dies,
    so a SIGKILL never leaves it held. Each use opens its own descriptor: flock() excludes descriptors,
    so two threads of one process exclude each other too.

    flock() cannot time out, so a contended wait runs on a short-lived thread while the caller waits
    at most `timeout_s` for it; a lock it gets after the caller gave up is let go at once."""

    def __init__(self, path: Path, timeout_s: float):
        self.path, self.timeout_s = path, timeout_s
        self.fd: int | None = None

    def __enter__(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self._wait(fd):
                raise Busy("another writer held the database longer than busy_timeout_ms") from None
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def _wait(self, fd: int) -> bool:
        """Block in flock() on a helper thread; True once it holds the lock within the timeout. When
        False, the thread owns `fd` and closes it (it may still be waiting in flock on it)."""
        decided = threading.Lock()
        state = {"held": False, "abandoned": False}
        got = threading.Event()

        def block() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                locked = True
            except OSError:
                locked = False
            with decided:
                if locked and not state["abandoned"]:
                    state["held"] = True
                else:  # the caller gave up (or never will have it): the descriptor is this thread's to close
                    state["abandoned"] = True
                    os.close(fd)
            got.set()

        threading.Thread(target=block, name="writer-lock", daemon=True).start()
        got.wait(self.timeout_s)
        with decided:
            if state["held"]:
                return True
            state["abandoned"] = True
        return False

    def __exit__(self, *exc) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # releases the flock
