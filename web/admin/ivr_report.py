"""The monthly report of key-press IVR lines (和泉市's 月報): calls received and answered, how they
ended (in the IVR, by SMS, transferred to staff, abandoned), SMS sent and billed, counts per day, per
hour and per node of the flow, and the two KPIs with their definitions: 自動音声ガイダンスの利用者数
(answered calls) and 直通電話の職員対応件数 (calls transferred and connected). For the page, the
PDF and the CSV alike."""

from __future__ import annotations

import calendar
import datetime
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import peewee

from appliance import clock
from appliance.messages import Catalogue, catalogue
from db.models import CallRecord, Outbox, PhoneLine, QueueEntry

IVR_ENDINGS = frozenset({"finished", "message"})  # ended by the flow itself: guided to the end
FAILED_TRANSFERS = ("transfer_busy", "transfer_no_answer", "transfer_failed")


def texts() -> Catalogue:
    return catalogue(Path(__file__).with_name("ivr_report.toml"))


@dataclass
class Month:
    year: int
    month: int
    did: str  # "" = every IVR line
    received: int = 0
    answered: int = 0
    in_ivr: int = 0
    sms: int = 0
    transferred: int = 0
    transfer_failed: int = 0  # a transfer tried that did not connect (the call went on)
    abandoned: int = 0
    other: int = 0
    sms_sent: int = 0
    sms_parts: int = 0
    by_day: dict[datetime.date, Counter] = field(default_factory=dict)
    by_hour: list[Counter] = field(default_factory=lambda: [Counter() for _ in range(24)])
    by_node: Counter = field(default_factory=Counter)
    queue: Counter = field(default_factory=Counter)  # waits by how they ended
    queue_wait_s: float = 0.0  # summed over the connected ones

    @property
    def first(self) -> datetime.date:
        return datetime.date(self.year, self.month, 1)

    @property
    def last(self) -> datetime.date:
        return datetime.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])


def ivr_lines() -> list[PhoneLine]:
    return list(PhoneLine.select().where(PhoneLine.flow == "ivr").order_by(PhoneLine.did))


def month_report(year: int, month: int, did: str = "") -> Month:
    report = Month(year, month, did)
    dids = [did] if did else [line.did for line in ivr_lines()]
    start = datetime.datetime.combine(report.first, datetime.time(), clock.TOKYO)
    end = datetime.datetime.combine(report.last + datetime.timedelta(days=1), datetime.time(), clock.TOKYO)
    day = report.first
    while day <= report.last:
        report.by_day[day] = Counter()
        day += datetime.timedelta(days=1)
    rows = (CallRecord.select(CallRecord.started_at, CallRecord.answered_at, CallRecord.outcome, CallRecord.path)
            .where(CallRecord.did.in_(dids), CallRecord.started_at >= start, CallRecord.started_at < end,
                   CallRecord.ended_at.is_null(False)))
    for call in rows:
        local = call.started_at.astimezone(clock.TOKYO)
        path = json.loads(call.path or "[]")
        ending = _ending(call.answered_at is not None, call.outcome)
        report.received += 1
        report.answered += call.answered_at is not None
        if ending != "unanswered":
            setattr(report, ending, getattr(report, ending) + 1)
        report.transfer_failed += any(step in FAILED_TRANSFERS for step in path)
        counts = report.by_day.setdefault(local.date(), Counter())
        counts["received"] += 1
        counts["answered"] += call.answered_at is not None
        counts[ending] += 1
        report.by_hour[local.hour]["received"] += 1
        report.by_hour[local.hour]["transferred"] += ending == "transferred"
        report.by_node.update(set(step for step in path if not step.startswith("broken:")))
    sent = (Outbox.select(peewee.fn.COUNT(Outbox.id), peewee.fn.COALESCE(peewee.fn.SUM(Outbox.segments), 0))
            .where(Outbox.event == "ivr_sms", Outbox.did.in_(dids), Outbox.status == "sent",
                   Outbox.sent_at >= start, Outbox.sent_at < end).scalar(as_tuple=True))
    report.sms_sent, report.sms_parts = sent
    for state, wait in (QueueEntry.select(QueueEntry.state, QueueEntry.wait_s)
                        .where(QueueEntry.did.in_(dids), QueueEntry.entered_at >= start,
                               QueueEntry.entered_at < end).tuples()):
        report.queue[state] += 1
        report.queue_wait_s += (wait or 0.0) if state == "connected" else 0.0
    return report


def _ending(answered: bool, outcome: str) -> str:
    if not answered:
        return "unanswered"
    if outcome == "transferred":
        return "transferred"
    if outcome == "sms":
        return "sms"
    if outcome in IVR_ENDINGS:
        return "in_ivr"
    if outcome == "caller_hangup":
        return "abandoned"
    return "other"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def tables(report: Month, line_label: str) -> tuple[str, str, list[tuple[str, list[str], list[list[object]]]]]:
    t = texts()
    subtitle = t["subtitle"].format(month=f"{report.year}年{report.month}月", line=line_label or t["all_lines"],
                                    first=report.first.isoformat(), last=report.last.isoformat())
    kpis = [[t["kpi.guidance"], report.answered, t["kpi.guidance_help"]],
            [t["kpi.staff"], report.transferred, t["kpi.staff_help"]]]
    outcomes = [[t["outcomes.received"], report.received, ""],
                [t["outcomes.answered"], report.answered, ""]]
    outcomes += [[t[f"outcomes.{key}"], getattr(report, key), _share(getattr(report, key), report.answered)]
                 for key in ("in_ivr", "sms", "transferred", "abandoned", "other")]
    outcomes += [[t["outcomes.transfer_failed"], report.transfer_failed, ""],
                 [t["outcomes.sms_sent"], report.sms_sent, ""], [t["outcomes.sms_parts"], report.sms_parts, ""]]
    days = [[day.isoformat(), c["received"], c["answered"], c["in_ivr"], c["sms"], c["transferred"], c["abandoned"]]
            for day, c in sorted(report.by_day.items())]
    hours = [[f"{hour}時台", c["received"], c["transferred"]] for hour, c in enumerate(report.by_hour) if c["received"]]
    nodes = [[node, n] for node, n in sorted(report.by_node.items(), key=lambda item: (-item[1], item[0]))]
    connected = report.queue["connected"]
    queue = [[t["queue.entered"], sum(report.queue.values())], [t["queue.connected"], connected],
             [t["queue.abandoned"], report.queue["abandoned"]], [t["queue.timeout"], report.queue["timeout"]],
             [t["queue.average"], round(report.queue_wait_s / connected, 1) if connected else "-"]]
    return t["title"], subtitle, [
        (t["kpi.heading"], list(t["kpi.columns"]), kpis),
        (t["outcomes.heading"], list(t["outcomes.columns"]), outcomes),
        (t["days.heading"], list(t["days.columns"]), days),
        (t["hours.heading"], list(t["hours.columns"]), hours),
        (t["queue.heading"], list(t["queue.columns"]), queue),
        (t["nodes.heading"], list(t["nodes.columns"]), nodes),
    ]
