"""Versioned schema migrations: db/migrations/NNNN_name.sql, applied in order, one transaction each."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import peewee
from sqlcipher3 import dbapi2 as sqlcipher

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        """Split the script into complete statements (triggers contain inner semicolons)."""
        statements, buffer = [], ""
        for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
            if not buffer and (not line.strip() or line.lstrip().startswith("--")):
                continue
            buffer += line
            if sqlcipher.complete_statement(buffer):
                statements.append(buffer.strip())
                buffer = ""
        if buffer.strip():
            raise ValueError(f"{self.path.name}: incomplete final statement")
        return statements


@dataclass(frozen=True)
class State:
    current: int
    latest: int
    pending: list[Migration]

    @property
    def unknown(self) -> bool:
        return self.current > self.latest


def available() -> list[Migration]:
    found = []
    for path in sorted(HERE.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version, name = path.stem.split("_", 1)
        found.append(Migration(int(version), name, path))
    return found


def _ensure_table(db: peewee.Database) -> None:
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")


def current_version(db: peewee.Database) -> int:
    exists = db.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migration'").fetchone()
    if not exists:
        return 0
    return db.execute_sql("SELECT coalesce(max(version), 0) FROM schema_migration").fetchone()[0]


def state(db: peewee.Database) -> State:
    migrations = available()
    current = current_version(db)
    return State(current, migrations[-1].version if migrations else 0,
                 [m for m in migrations if m.version > current])


def migrate(db: peewee.Database, up_to: int | None = None) -> list[Migration]:
    """Apply pending migrations (up to version up_to), each in its own transaction; returns those applied."""
    applied = []
    for migration in state(db).pending:
        if up_to is not None and migration.version > up_to:
            break
        with db.atomic("IMMEDIATE"):
            _ensure_table(db)
            if current_version(db) >= migration.version:  # another process got there first
                continue
            for statement in migration.statements():
                db.execute_sql(statement)
            db.execute_sql(
                "INSERT INTO schema_migration (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name,
                 datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")))
        applied.append(migration)
    return applied
