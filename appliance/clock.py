"""Time in the city's zone. Services take `now` from their entry point so tests can pin it."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def now() -> datetime.datetime:
    return datetime.datetime.now(TOKYO)


def today() -> datetime.date:
    return now().date()
