"""Pruning what only serves for a while: web sessions a day past their end and rate-limit counters of
windows two days over go; live sessions and current counters stay."""

from __future__ import annotations

import datetime

from db import housekeeping
from db.models import RateLimit, WebSession
from tests.conftest import NOW

HOUR = datetime.timedelta(hours=1)


def session_row(name: str, expires_at: datetime.datetime) -> None:
    WebSession.create(token_hash=name * 64, data="{}", expires_at=expires_at, updated_at=NOW)


def test_prune_keeps_what_is_still_of_use(db):
    session_row("a", NOW + HOUR)  # live
    session_row("b", NOW - HOUR)  # ended an hour ago: kept, so a clerk is told it ended
    session_row("c", NOW - 25 * HOUR)  # gone
    RateLimit.create(key="lookup-ip:x", window_start=int((NOW - HOUR).timestamp()), count=3)
    RateLimit.create(key="book-phone:y", window_start=int((NOW - 3 * 24 * HOUR).timestamp()), count=1)
    assert housekeeping.prune(NOW) == housekeeping.Pruned(sessions=1, rate_limits=1)
    assert sorted(r.token_hash[0] for r in WebSession.select()) == ["a", "b"]
    assert [r.key for r in RateLimit.select()] == ["lookup-ip:x"]
    assert housekeeping.prune(NOW) == housekeeping.Pruned(0, 0)
