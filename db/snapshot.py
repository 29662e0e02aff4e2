"""A consistent copy of the live database for backups, and the checks a copy must pass. The SQLite
(SQLCipher) specifics of backing up live here, so backup/ stays free of them.

VACUUM INTO reads one snapshot (a single read transaction: bookings and calls go on in WAL mode) and
writes a compact copy encrypted under the same database key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import peewee

from db import migrations
from db.connection import DatabaseProblem, connect
from db.keys import KeyRing


@dataclass(frozen=True)
class Checked:
    counts: dict[str, int]  # rows per table
    schema_version: int
    audit_head: dict  # the audit chain's latest link in the copy (db/audit.py)
    problems: list[str] = field(default_factory=list)  # integrity_check and cipher_integrity_check findings


def take(db: peewee.Database, target: Path) -> None:
    """Write the snapshot to target (which must not exist)."""
    db.execute_sql("VACUUM INTO ?", (str(target),))


def table_counts(db: peewee.Database) -> dict[str, int]:
    names = [row[0] for row in db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: db.execute_sql(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _audit_head(db: peewee.Database) -> dict:
    try:
        last = db.execute_sql("SELECT id, chain FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    except peewee.OperationalError:  # a schema from before the chain (the backup an upgrade takes first)
        return {"id": None, "chain": ""}
    return {"id": last[0], "chain": last[1]} if last else {"id": None, "chain": ""}


def check(path: Path, keyring: KeyRing) -> Checked:
    """Open a copy with the database key and check it page by page; DatabaseProblem when the key does
    not open it."""
    db = connect(path, keyring, busy_timeout_ms=5000)
    try:
        problems = [row[0] for row in db.execute_sql("PRAGMA integrity_check").fetchall() if row[0] != "ok"]
        problems += [" ".join(map(str, row)) for row in db.execute_sql("PRAGMA cipher_integrity_check").fetchall()]
        head = _audit_head(db)
        return Checked(table_counts(db), migrations.state(db).current, head, problems)
    except peewee.DatabaseError as exc:
        raise DatabaseProblem(f"{path}: {exc}") from None
    finally:
        db.close()
