"""The month's usage statement: the flat fee plus metered SMS parts, emails and call minutes by kind
(AI, key-press IVR, transferred to staff), priced from the usage_* settings. Counted from what was
recorded (sent outbox messages, the call log), so the statement always matches the logs."""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from peewee import fn

from appliance import runtime
from appliance.clock import TOKYO
from appliance.messages import catalogue
from db.models import CallRecord, Outbox

LABELS = catalogue(Path(__file__).with_name("notify.toml"))
CALL_KINDS = ("ai", "ivr", "transfer")


@dataclass(frozen=True)
class Line:
    key: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Statement:
    year: int
    month: int
    lines: list[Line]
    sms_messages: int
    calls: dict[str, int]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def month_bounds(year: int, month: int) -> tuple[datetime.datetime, datetime.datetime]:
    first = datetime.datetime(year, month, 1, tzinfo=TOKYO)
    following = datetime.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=TOKYO)
    return first, following


def call_minutes(first: datetime.datetime, following: datetime.datetime) -> tuple[dict[str, int], dict[str, int]]:
    """(minutes, calls) by kind for answered calls that started in the period; each call's minutes
    rounded up, as carriers bill."""
    minutes = dict.fromkeys(CALL_KINDS, 0)
    calls = dict.fromkeys(CALL_KINDS, 0)
    for record in (CallRecord.select()
                   .where(CallRecord.started_at >= first, CallRecord.started_at < following,
                          CallRecord.answered_at.is_null(False), CallRecord.ended_at.is_null(False))):
        kind = "transfer" if "transferred" in json.loads(record.path or "[]") else record.kind
        minutes[kind] += math.ceil((record.duration_s or 0) / 60)
        calls[kind] += 1
    return minutes, calls


def statement(year: int, month: int) -> Statement:
    settings = runtime.settings()
    first, following = month_bounds(year, month)
    sent = Outbox.select().where(Outbox.status == "sent", Outbox.sent_at >= first, Outbox.sent_at < following)
    sms_parts, sms_messages = (sent.where(Outbox.channel == "sms")
                               .select(fn.COALESCE(fn.SUM(Outbox.segments), 0), fn.COUNT(Outbox.id)).scalar(as_tuple=True))
    emails = sent.where(Outbox.channel == "email").count()
    minutes, calls = call_minutes(first, following)

    def price(name: str) -> Decimal:
        return Decimal(getattr(settings, name))

    lines = [
        Line("flat_fee", 1, price("usage_flat_fee_yen")),
        Line("sms", sms_parts, price("usage_sms_yen")),
        Line("email", emails, price("usage_email_yen")),
        Line("call_ai", minutes["ai"], price("usage_call_ai_yen_per_minute")),
        Line("call_ivr", minutes["ivr"], price("usage_call_ivr_yen_per_minute")),
        Line("call_transfer", minutes["transfer"], price("usage_call_transfer_yen_per_minute")),
    ]
    return Statement(year, month, lines, sms_messages, calls)


def tables(s: Statement) -> tuple[str, str, list[tuple[str, list[str], list[list[object]]]]]:
    """(title, subtitle, tables) for web.admin.printing (PDF) and the CSV."""
    t = LABELS["usage"]
    rows = [[t[line.key], line.quantity, t[f"unit_{line.key}"], str(line.unit_price), int(line.amount)]
            for line in s.lines]
    rows.append([t["total"], "", "", "", int(s.total)])
    calls = [[t[f"call_{kind}"], s.calls[kind]] for kind in CALL_KINDS]
    title = t["title"].format(year=s.year, month=s.month)
    subtitle = t["subtitle"].format(city=runtime.settings().city_name, messages=s.sms_messages)
    return title, subtitle, [(t["heading"], [t["item"], t["quantity"], t["unit"], t["unit_price"], t["amount"]], rows),
                             (t["calls_heading"], [t["kind"], t["calls"]], calls)]
