"""Requests per hour and site, for the statistics (nothing about who asked).

Each web worker counts in memory and writes its counts in one UPSERT transaction at most every 30
seconds, or as soon as a request arrives in a new hour, so counting adds no write to ordinary requests.
A write that meets a busy or locked database keeps the counts for the next flush; counting never
raises into a request. Hours are Tokyo time, 'YYYY-MM-DDTHH'.

The Flask apps call count() once per request (after_request, static files left out) and flush() when a
worker stops, so at most the last 30 seconds of a crashed worker go uncounted.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections import Counter

import peewee

from appliance.clock import TOKYO
from db.connection import Busy, database, write_transaction

log = logging.getLogger(__name__)

SITES = ("public", "admin")
FLUSH_EVERY = datetime.timedelta(seconds=30)
UPSERT = ("INSERT INTO traffic (hour, site, requests) VALUES (?, ?, ?) "
          "ON CONFLICT (hour, site) DO UPDATE SET requests = requests + excluded.requests")


def hour_key(now: datetime.datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("naive datetime given for a request time")
    return now.astimezone(TOKYO).strftime("%Y-%m-%dT%H")


class TrafficCounter:
    """Counts per (hour, site) in memory; thread-safe. `now` always comes from the caller."""

    def __init__(self, every: datetime.timedelta = FLUSH_EVERY):
        self.every = every
        self._lock = threading.Lock()  # guards the buffer and the timing below
        self._writing = threading.Lock()  # one flush at a time
        self._pending: Counter[tuple[str, str]] = Counter()
        self._last_flush: datetime.datetime | None = None
        self._hour: str | None = None

    def count(self, site: str, now: datetime.datetime) -> None:
        """One request to `site` at `now`; writes the buffer when 30 s have passed or the hour changed."""
        if site not in SITES:
            raise ValueError(f"unknown site {site!r}")
        hour = hour_key(now)
        with self._lock:
            self._pending[(hour, site)] += 1
            if self._last_flush is None:
                self._last_flush = now
            elapsed = now - self._last_flush
            due = not datetime.timedelta(0) <= elapsed < self.every or hour != (self._hour or hour)
            self._hour = hour
        if due:
            self._flush(now, wait=False)  # another thread already writing: its turn covers this one

    def flush(self, now: datetime.datetime) -> bool:
        """Write everything counted so far (shutdown, tests). True when nothing is left unwritten."""
        return self._flush(now, wait=True)

    def pending(self) -> dict[tuple[str, str], int]:
        """The counts not yet written, by (hour, site)."""
        with self._lock:
            return dict(self._pending)

    def _flush(self, now: datetime.datetime, *, wait: bool) -> bool:
        if not self._writing.acquire(blocking=wait):
            return False
        try:
            with self._lock:
                batch, self._pending = self._pending, Counter()
                self._last_flush = now
            if not batch:
                return True
            try:
                _write(batch)
            except (Busy, peewee.OperationalError) as exc:
                log.warning("traffic: %d counts kept for the next flush (%s)", sum(batch.values()), exc)
                with self._lock:
                    self._pending.update(batch)
                return False
            except Exception:
                # Not a busy database: retrying would fail the same way. Counting is not worth a 500.
                log.exception("traffic: %d counts dropped", sum(batch.values()))
                return False
            return True
        finally:
            self._writing.release()


def _write(batch: Counter[tuple[str, str]]) -> None:
    with write_transaction():
        for (hour, site), requests in sorted(batch.items()):
            database.execute_sql(UPSERT, (hour, site, requests))


_counter = TrafficCounter()


def count(site: str, now: datetime.datetime) -> None:
    """Count one request to `site` ('public' or 'admin') in this process."""
    _counter.count(site, now)


def flush(now: datetime.datetime) -> bool:
    """Write this process's counts now (at worker exit; in tests)."""
    return _counter.flush(now)


def pending() -> dict[tuple[str, str], int]:
    return _counter.pending()
