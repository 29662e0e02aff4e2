"""Rows that only serve for a while: web sessions idle past their end (kept a day longer, so a clerk
coming back is told the session ended rather than only shown the sign-in page) and rate-limit
counters of windows long over. The worker prunes them every PRUNE_EVERY; `madoguchi db prune` does
it by hand. Personal data's own deletion is the purge's (it keeps anonymous counts and a report)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db.models import RateLimit, WebSession

PRUNE_EVERY = datetime.timedelta(minutes=10)
SESSION_GRACE = datetime.timedelta(days=1)
RATE_LIMIT_KEEP = datetime.timedelta(days=2)  # longer than the longest window (a day per phone number)


@dataclass(frozen=True)
class Pruned:
    sessions: int
    rate_limits: int


def prune(now: datetime.datetime) -> Pruned:
    """Never commits."""
    sessions = WebSession.delete().where(WebSession.expires_at <= now - SESSION_GRACE).execute()
    rate_limits = (RateLimit.delete()
                   .where(RateLimit.window_start < int((now - RATE_LIMIT_KEEP).timestamp())).execute())
    return Pruned(sessions, rate_limits)
