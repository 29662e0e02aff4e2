"""A citizen's look-up of a booking without an account (web: number, birth date and the phone's last 4
digits; phone: number and birth date), guarded per reservation number: after
lookup_failures_per_number failures, from anywhere, the number is locked until the hour is out, with
an audit row. An unknown number counts and locks like a known one, so the answers never tell which
numbers exist. Never commits; the counters commit with the caller's transaction."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from appliance import runtime
from db import audit, bookings, ratelimit
from db.models import Booking

LOCK = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class LookUp:
    booking: Booking | None
    locked: bool = False


def look_up(number: str, birth_date: datetime.date, phone_last4: str | None, *, source: str,
            now: datetime.datetime) -> LookUp:
    failures = runtime.settings().lookup_failures_per_number
    per_number = ratelimit.Limit("lookup-number", number, failures, LOCK)
    if ratelimit.reached(per_number, now):
        return LookUp(None, locked=True)
    booking = bookings.lookup(number, birth_date, phone_last4)
    if booking is not None:
        ratelimit.clear(per_number)
        return LookUp(booking)
    ratelimit.exceeded([per_number], now)
    if ratelimit.reached(per_number, now):
        audit.record("citizen", "lookup.locked", "booking", number, now, source=source, failures=failures)
        return LookUp(None, locked=True)
    return LookUp(None)
