"""Fixed-window rate limits shared by all gunicorn workers (counters in the database). Keys are keyed
hashes, so the table never holds a client address or a phone number."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db import crypto
from db.connection import database, write_transaction
from db.models import RateLimit


@dataclass(frozen=True)
class Limit:
    purpose: str
    identity: str
    limit: int
    window: datetime.timedelta


def exceeded(limits: list[Limit], now: datetime.datetime) -> Limit | None:
    """Count one attempt against each limit (one transaction for all); the first limit exceeded, or
    None. Commits on its own, so an attempt counts even when the action that follows fails."""
    over = None
    with write_transaction():
        for rule in limits:
            seconds = int(rule.window.total_seconds())
            window_start = int(now.timestamp()) // seconds * seconds
            key = _key(rule)
            count = database.execute_sql(
                "INSERT INTO rate_limit (key, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 RETURNING count",
                (key, window_start)).fetchone()[0]
            if count > rule.limit and over is None:
                over = rule
    return over


def _key(rule: Limit) -> str:
    return f"{rule.purpose}:{crypto.cipher().blind_index(rule.identity, 'rate-limit')}"


def reached(rule: Limit, now: datetime.datetime) -> bool:
    """Whether the current window already holds `limit` attempts (a look, not an attempt)."""
    seconds = int(rule.window.total_seconds())
    window_start = int(now.timestamp()) // seconds * seconds
    row = RateLimit.get_or_none(RateLimit.key == _key(rule), RateLimit.window_start == window_start)
    return row is not None and row.count >= rule.limit


def clear(rule: Limit) -> None:
    """Forget the counted attempts (a successful login clears its failures). Never commits."""
    RateLimit.delete().where(RateLimit.key == _key(rule)).execute()
