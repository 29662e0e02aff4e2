"""The call center's figures (東広島市's 月次・年次報告), for a month or a fiscal year (April to March): 入電件数
and 応答件数 of the calls offered to operators, 応答率, 放棄率, 一次完了率, 平均応答時間, 平均通話時間 and
平均処理時間 with their definitions, counts by hour and by topic, and the uses of each FAQ entry. The
page, its charts, the PDF and the CSV all read this one computation.

Calls offered to operators: each wait in a call queue (db/queues.py) and each call put through, or
tried, without a queue. Answered: connected to an operator. Abandoned: the caller hung up while
waiting (hang-ups inside a menu are not offered calls). Talk and after-call work come from the
inquiry records: talk from being put through to the end of the call, after-call work from there to
the record's completion; hold is not measured (the phones hold nothing on the box)."""

from __future__ import annotations

import calendar
import datetime
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import peewee

from appliance.clock import TOKYO
from appliance.messages import Catalogue, catalogue
from db import faq
from db.models import CallRecord, FaqEntry, FaqUse, Inquiry, QueueEntry

FAILED_TRANSFERS = ("transfer_busy", "transfer_no_answer", "transfer_failed")


def texts() -> Catalogue:
    return catalogue(Path(__file__).with_name("desk_report.toml"))


@dataclass
class Figures:
    start: datetime.datetime
    end: datetime.datetime
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    wait_s: list[float] = field(default_factory=list)  # queue waits of the answered calls
    talk_s: list[float] = field(default_factory=list)
    handle_s: list[float] = field(default_factory=list)  # talk + after-call work
    contacts: int = 0
    first_contact: int = 0
    escalated: int = 0
    by_hour: list[Counter] = field(default_factory=lambda: [Counter() for _ in range(24)])
    by_topic: Counter = field(default_factory=Counter)
    by_channel: Counter = field(default_factory=Counter)
    faq_uses: dict[int, Counter] = field(default_factory=dict)  # entry id → uses by channel

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / (self.answered + self.abandoned) if self.answered + self.abandoned else None

    @property
    def first_contact_rate(self) -> float | None:
        return self.first_contact / self.contacts if self.contacts else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def month_period(year: int, month: int) -> tuple[datetime.datetime, datetime.datetime]:
    last = calendar.monthrange(year, month)[1]
    start = datetime.datetime(year, month, 1, tzinfo=TOKYO)
    return start, datetime.datetime.combine(datetime.date(year, month, last) + datetime.timedelta(days=1),
                                            datetime.time(), TOKYO)


def fiscal_months(year: int) -> list[tuple[int, int]]:
    """年度 `year`: April of year to March of the next."""
    return [(year + (m < 4), m) for m in (*range(4, 13), 1, 2, 3)]


def figures(start: datetime.datetime, end: datetime.datetime) -> Figures:
    found = Figures(start, end)
    queued = set()
    for entry in QueueEntry.select().where(QueueEntry.entered_at >= start, QueueEntry.entered_at < end):
        queued.add(entry.sip_call_id)
        hour = found.by_hour[entry.entered_at.astimezone(TOKYO).hour]
        found.offered += 1
        hour["offered"] += 1
        if entry.state == "connected":
            found.answered += 1
            hour["answered"] += 1
            found.wait_s.append(entry.wait_s or 0.0)
        elif entry.state == "abandoned":
            found.abandoned += 1
    calls = (CallRecord.select(CallRecord.sip_call_id, CallRecord.started_at, CallRecord.outcome, CallRecord.path)
             .where(CallRecord.started_at >= start, CallRecord.started_at < end, CallRecord.ended_at.is_null(False)))
    for call in calls:
        if call.sip_call_id in queued:
            continue
        path = json.loads(call.path or "[]")
        put_through = call.outcome == "transferred"
        if put_through or any(step in FAILED_TRANSFERS for step in path):
            hour = found.by_hour[call.started_at.astimezone(TOKYO).hour]
            found.offered += 1
            hour["offered"] += 1
            found.answered += put_through
            hour["answered"] += put_through
    names = {c.key: c.name for c in faq.categories()}
    for record in Inquiry.select().where(Inquiry.received_at >= start, Inquiry.received_at < end):
        found.contacts += 1
        found.first_contact += record.first_contact
        found.escalated += record.status in ("escalated", "closed")
        found.by_topic[names.get(record.topic, texts()["other_topic"])] += 1
        found.by_channel[record.channel] += 1
        if record.channel == "phone" and record.answered_at and record.talk_ended_at:
            talk = max(0.0, (record.talk_ended_at - record.answered_at).total_seconds())
            found.talk_s.append(talk)
            if record.completed_at:  # finished during the call: no after-call work
                found.handle_s.append(talk + max(0.0, (record.completed_at - record.talk_ended_at).total_seconds()))
    uses = (FaqUse.select(FaqUse.entry, FaqUse.channel, peewee.fn.COUNT(FaqUse.id).alias("n"))
            .where(FaqUse.used_at >= start, FaqUse.used_at < end).group_by(FaqUse.entry, FaqUse.channel))
    for row in uses:
        found.faq_uses.setdefault(row.entry_id, Counter())[row.channel] += row.n
    return found


def _rate(value: float | None) -> str:
    return f"{100 * value:.1f}%" if value is not None else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}分{rest:02d}秒"


def kpi_rows(f: Figures) -> list[list[object]]:
    t = texts()
    return [[t["kpi.offered"], f.offered, t["kpi.offered_help"]],
            [t["kpi.answered"], f.answered, t["kpi.answered_help"]],
            [t["kpi.answer_rate"], _rate(f.answer_rate), t["kpi.answer_rate_help"]],
            [t["kpi.abandon_rate"], _rate(f.abandon_rate), t["kpi.abandon_rate_help"]],
            [t["kpi.first_contact_rate"], _rate(f.first_contact_rate), t["kpi.first_contact_rate_help"]],
            [t["kpi.average_answer"], _duration(_mean(f.wait_s)), t["kpi.average_answer_help"]],
            [t["kpi.average_talk"], _duration(_mean(f.talk_s)), t["kpi.average_talk_help"]],
            [t["kpi.average_handle"], _duration(_mean(f.handle_s)), t["kpi.average_handle_help"]],
            [t["kpi.contacts"], f.contacts, t["kpi.contacts_help"]],
            [t["kpi.escalated"], f.escalated, t["kpi.escalated_help"]]]


def tables(f: Figures, period_label: str) -> tuple[str, str, list[tuple[str, list[str], list[list[object]]]]]:
    t = texts()
    entries = {e.id: e for e in FaqEntry.select()}
    hours = [[f"{hour}時台", c["offered"], c["answered"]] for hour, c in enumerate(f.by_hour) if c["offered"]]
    topics = [[name, n] for name, n in sorted(f.by_topic.items(), key=lambda item: (-item[1], item[0]))]
    channels = [[t[f"channel.{key}"], n] for key, n in sorted(f.by_channel.items(), key=lambda item: -item[1])]
    uses = sorted(f.faq_uses.items(), key=lambda item: (-item[1]["operator"], -sum(item[1].values()), item[0]))
    faq_rows = [[entries[entry_id].question if entry_id in entries else f"#{entry_id}", c["operator"], c["sms"],
                 c["citizen"]] for entry_id, c in uses]
    return t["title"], t["subtitle"].format(period=period_label), [
        (t["kpi.heading"], list(t["kpi.columns"]), kpi_rows(f)),
        (t["hours.heading"], list(t["hours.columns"]), hours),
        (t["topics.heading"], list(t["topics.columns"]), topics),
        (t["channels.heading"], list(t["channels.columns"]), channels),
        (t["faq.heading"], list(t["faq.columns"]), faq_rows),
    ]


def year_rows(year: int) -> list[list[object]]:
    """The fiscal year month by month: what the yearly report adds to the year's totals."""
    rows = []
    for y, m in fiscal_months(year):
        f = figures(*month_period(y, m))
        rows.append([f"{y}年{m}月", f.offered, f.answered, _rate(f.answer_rate), _rate(f.abandon_rate),
                     _rate(f.first_contact_rate), _duration(_mean(f.wait_s)), _duration(_mean(f.talk_s)),
                     _duration(_mean(f.handle_s)), f.contacts])
    return rows
