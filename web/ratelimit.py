"""Fixed-window rate limits shared by all gunicorn workers (counters in the database). Keys are keyed
hashes, so the table never holds a client address or a phone number."""

from __future__ import annotations

import datetime

from db import crypto
from db.connection import database, write_transaction
from db.models import RateLimit


def allow(purpose: str, identity: str, limit: int, window: datetime.timedelta, now: datetime.datetime) -> bool:
    """Count one attempt; False once the window's limit is exceeded. Commits on its own, so an attempt
    counts even when the action that follows fails."""
    seconds = int(window.total_seconds())
    window_start = int(now.timestamp()) // seconds * seconds
    key = f"{purpose}:{crypto.cipher().blind_index(identity, 'rate-limit')}"
    with write_transaction():
        count = database.execute_sql(
            "INSERT INTO rate_limit (key, window_start, count) VALUES (?, ?, 1) "
            "ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count",
            (key, window_start)).fetchone()[0]
    return count <= limit


def purge_before(now: datetime.datetime, keep: datetime.timedelta = datetime.timedelta(days=2)) -> int:
    return RateLimit.delete().where(RateLimit.window_start < int((now - keep).timestamp())).execute()
