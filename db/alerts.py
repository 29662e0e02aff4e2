"""Alerts to the administrators (settings alert_email): an email through the outbox, sent by the worker
like every message, at most one per kind and day (the idempotency key). Without alert_email the
administrators see the same on the admin home and in `madoguchi check`; the log has it either way."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

from appliance import runtime
from appliance.clock import TOKYO
from appliance.messages import catalogue
from db.connection import write_transaction
from db.models import Outbox

log = logging.getLogger(__name__)
TEXTS = catalogue(Path(__file__).with_name("alerts.toml"))
KINDS = ("backup_failed", "backup_drill_failed", "purge_failed", "disk_low", "process_restarting")


def addresses() -> list[str]:
    return [a.strip() for a in runtime.settings().alert_email.split(",") if a.strip()]


def raise_alert(kind: str, detail: str, now: datetime.datetime) -> int:
    """Queue today's alert of this kind to every address (once a day per kind); returns how many were new."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert {kind!r}")
    log.error("alert %s: %s", kind, detail)
    city = runtime.settings().city_name
    body = (TEXTS[f"{kind}.subject"].format(city=city) + "\n"
            + TEXTS[f"{kind}.text"].format(city=city, detail=detail))
    day = now.astimezone(TOKYO).date().isoformat()
    queued = 0
    with write_transaction():
        for number, address in enumerate(addresses()):
            key = f"alert:{kind}:{day}:{number}"
            if Outbox.get_or_none(Outbox.idempotency_key == key) is None:
                Outbox.create(created_at=now, event="alert", channel="email", idempotency_key=key,
                              next_attempt_at=now, recipient=address, body=body)
                queued += 1
    return queued
