"""Messages to send after commit: written in the same transaction as the booking that causes them."""

from __future__ import annotations

import datetime

from db.models import Booking, Outbox


def enqueue(event: str, booking: Booking, now: datetime.datetime, *, key: str | None = None) -> Outbox | None:
    """Queue the citizen's notice for this event, if they asked for one. The key (by default event,
    booking and version) makes a retried step queue nothing new."""
    if booking.notify == "none":
        return None
    key = key or f"{event}:{booking.id}:{booking.version}"
    existing = Outbox.get_or_none(Outbox.idempotency_key == key)
    if existing:
        return existing
    return Outbox.create(created_at=now, event=event, booking=booking, channel=booking.notify,
                         idempotency_key=key, next_attempt_at=now)
