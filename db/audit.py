"""The audit log: append-only (the database refuses UPDATE and DELETE on it) and tamper-evident.

Each row's `chain` is HMAC-SHA256, under a key derived from the box's index key, of the previous row's
chain and this row's content, so whoever changes, removes or inserts a row (having dropped the
triggers) breaks every link from there on: `madoguchi audit verify` finds the first broken row. The
latest link (the head) is written into each backup's manifest and each purge report, so cutting rows
off the end is seen against them. Rows from before the chain existed are covered by the first link.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass

from db import crypto
from db.connection import database, write_transaction
from db.models import AuditLog

CONTENT = ("at", "actor", "action", "object_type", "object_id", "details", "source")


def _key() -> bytes:
    return hmac.new(crypto.cipher().keyring.index_key, b"madoguchi audit chain v1", hashlib.sha256).digest()


def _link(key: bytes, previous: str, content: tuple) -> str:
    return hmac.new(key, json.dumps([previous, *content], ensure_ascii=False).encode(), hashlib.sha256).hexdigest()


def _unchained_digest(rows: list[tuple]) -> str:
    """What the first chained row links to when rows from before the chain exist."""
    return "legacy:" + hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def _rows(query: str = "", *params) -> list[tuple]:
    columns = ", ".join(CONTENT)
    return database.execute_sql(f"SELECT id, {columns}, chain FROM audit_log {query} ORDER BY id", params).fetchall()


def _previous() -> str:
    last = database.execute_sql("SELECT chain FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    if last is None:
        return ""
    if last[0]:
        return last[0]
    return _unchained_digest([list(row[1:-1]) for row in _rows()])


def record(actor: str, action: str, obj: str, object_id: object, now: datetime.datetime, *,
           source: str = "", **details: object) -> AuditLog:
    """One row per action, inside the caller's write transaction (which orders the chain; a call
    outside one gets its own). `details` must hold ids, counts and codes only, never personal data."""
    if not database.in_transaction():
        with write_transaction():
            return record(actor, action, obj, object_id, now, source=source, **details)
    text = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
    content = (AuditLog.at.db_value(now), actor, action, obj, str(object_id), text, source)
    return AuditLog.create(at=now, actor=actor, action=action, object_type=obj, object_id=str(object_id),
                           details=text, source=source, chain=_link(_key(), _previous(), content))


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    head_id: int | None
    head: str
    broken_at: int | None  # the first row whose link does not hold (None: the chain holds)
    unchained: int  # rows from before the chain, covered by the first link


def verify() -> ChainCheck:
    key, previous, unchained, started = _key(), "", [], False
    rows = _rows()
    for row_id, *content, chain in rows:
        if not started and not chain:
            unchained.append(content)
            continue
        if not started:
            started, previous = True, _unchained_digest(unchained) if unchained else ""
        if chain != _link(key, previous, tuple(content)):
            return ChainCheck(len(rows), None, "", row_id, len(unchained))
        previous = chain
    head_id = rows[-1][0] if rows else None
    return ChainCheck(len(rows), head_id, previous, None, len(unchained))


def head() -> dict:
    """The latest link, for a backup manifest or a purge report."""
    last = database.execute_sql("SELECT id, chain FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return {"id": last[0], "chain": last[1]} if last else {"id": None, "chain": ""}


def holds(recorded: dict) -> bool:
    """Whether the row a backup or report recorded as the head is still there with the same link."""
    if recorded.get("id") is None:
        return True
    row = database.execute_sql("SELECT chain FROM audit_log WHERE id = ?", (recorded["id"],)).fetchone()
    return row is not None and row[0] == recorded.get("chain")
