"""What staff see of the phone: the call log with its filters, one call's turns, the turns marked as
misrecognised (the evaluation set), and call statistics (per hour, day, line, venue and outcome, the
average call time, the booking success rate, the calls abandoned by question and reason).

Reads, except mark()/unmark() (services: the view owns the transaction, nothing here commits).
Statistics load the period's calls once (a month is a few thousand rows) and count in Python, so that
hours are Tokyo hours without database-specific date functions.

Rules the pages and the CSV files follow:

- A call belongs to the day and hour (Tokyo) it started.
- Answered calls have a duration; the average call time is over answered calls.
- Booking success rate = calls that booked / answered AI calls.
- A call is completed when its outcome is one the line finished (booked, changed, looked up, ...) or
  the caller reached a person; an answered AI call that is not completed was abandoned (途中離脱). Its
  question is the last one asked (path), its misses the no-match/no-input answers in a row there.
- The venue of a call is the venue of the booking it made, else the venue the caller named, when one.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from appliance import clock
from appliance.messages import Catalogue, catalogue
from db import audit
from db.bookings import Actor
from db.models import Booking, CallRecord, CallTurn, PhoneLine, Slot, Venue

COMPLETED = frozenset({"booked", "cancelled", "changed", "looked_up", "not_eligible", "already_booked",
                       "transferred"})
REASONS = ("transfer_failed", "not_understood", "no_input", "after_nomatch", "media_timeout", "hangup", "other")
MISS_SUFFIXES = ("_nomatch", "_noinput")
NOT_QUESTIONS = frozenset({"book", "manage", "booking", "booked", "change", "cancelled", "moved", "transfer",
                           "transferred"})
MAX_DAYS = 366
PAGE = 100


def texts() -> Catalogue:
    return catalogue(Path(__file__).with_name("calls.toml"))


def label(section: str, code: str) -> str:
    """The Japanese name of a code (an outcome, a result, ...), or the code itself when there is none."""
    if section == "step":
        match = re.fullmatch(r"question_(\d+)", code or "")
        if match:
            return texts()["step.question"].format(n=match.group(1))
        if not code:
            return texts()["step.none"]
    value = texts().get(f"{section}.{code}")
    return value if isinstance(value, str) else code


class CallsError(Exception):
    def __init__(self, code: str):
        super().__init__(texts()[f"form.{code}"])
        self.code = code


# --- one call's path ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ending:
    """Where a call's dialog stopped: the last question asked, the misses in a row there, and (for an
    abandoned call) why."""

    question: str
    misses: int
    last_miss: str  # "nomatch", "noinput" or ""
    completed: bool
    reason: str  # one of REASONS, "" when completed


def _base(step: str) -> tuple[str, str]:
    for suffix in MISS_SUFFIXES:
        if step.endswith(suffix):
            return step[: -len(suffix)], suffix[1:]
    return step, ""


def ending(path: list[str], outcome: str, end_reason: str) -> Ending:
    question, misses, last_miss = "", 0, ""
    for step in reversed(path):
        if step in NOT_QUESTIONS or step.startswith(("transfer_", "refused_")):
            continue
        base, miss = _base(step)
        if question and base != question:
            break
        question = base
        if miss:
            misses += 1
            last_miss = last_miss or miss
        else:
            break  # the question itself: the misses before it were at an earlier asking
    completed = outcome in COMPLETED or "transferred" in path
    reason = ""
    if not completed:
        if outcome == "transfer_failed" or any(s.startswith("transfer_") for s in path):
            reason = "transfer_failed"
        elif outcome == "not_understood":
            reason = "not_understood"
        elif "media_timeout" in (outcome, end_reason):
            reason = "media_timeout"
        elif last_miss == "noinput" or outcome == "no_input":
            reason = "no_input"
        elif last_miss == "nomatch":
            reason = "after_nomatch"
        elif "caller_hangup" in (outcome, end_reason):
            reason = "hangup"
        else:
            reason = "other"
    return Ending(question, misses, last_miss, completed, reason)


def path_of(call: CallRecord) -> list[str]:
    try:
        value = json.loads(call.path or "[]")
    except ValueError:
        return []
    return [str(s) for s in value] if isinstance(value, list) else []


def call_ending(call: CallRecord) -> Ending:
    return ending(path_of(call), call.outcome, call.end_reason)


def abandoned(call: CallRecord, end: Ending) -> bool:
    return call.kind == "ai" and call.answered_at is not None and call.ended_at is not None and not end.completed


# --- the call log --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    did: str = ""
    first: datetime.date | None = None
    last: datetime.date | None = None
    outcome: str = ""
    booked: str = ""  # "", "yes", "no"
    kind: str = ""  # "", "ai", "ivr"


def _start_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), clock.TOKYO)


def calls(f: Filter):
    """The calls matching the filter, newest first (a query: the view pages it)."""
    query = CallRecord.select().order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
    if f.did:
        query = query.where(CallRecord.did == f.did)
    if f.first:
        query = query.where(CallRecord.started_at >= _start_of(f.first))
    if f.last:
        query = query.where(CallRecord.started_at < _start_of(f.last + datetime.timedelta(days=1)))
    if f.outcome:
        query = query.where(CallRecord.outcome == f.outcome)
    if f.booked == "yes":
        query = query.where(CallRecord.outcome == "booked")
    elif f.booked == "no":
        query = query.where(CallRecord.outcome != "booked")
    if f.kind:
        query = query.where(CallRecord.kind == f.kind)
    return query


def line_names() -> dict[str, str]:
    return {line.did: line.label for line in PhoneLine.select(PhoneLine.did, PhoneLine.label)}


def line_choices() -> list[tuple[str, str]]:
    """(did, label) of every line, and of numbers that had calls but no line any more."""
    names = line_names()
    dids = set(names) | {did for (did,) in CallRecord.select(CallRecord.did).distinct().tuples()}
    return [(did, f"{names.get(did) or texts()['list.unnamed_line']}（{did}）") for did in sorted(dids)]


def outcome_choices() -> list[tuple[str, str]]:
    known = {o for (o,) in CallRecord.select(CallRecord.outcome).distinct().tuples() if o}
    return [(o, label("outcome", o)) for o in sorted(known, key=lambda o: label("outcome", o))]


def turns(call: CallRecord) -> list[CallTurn]:
    return list(CallTurn.select().where(CallTurn.call == call).order_by(CallTurn.seq))


def corrected_counts(call_ids: list[int]) -> dict[int, int]:
    if not call_ids:
        return {}
    query = (CallTurn.select(CallTurn.call, CallTurn.id)
             .where(CallTurn.call.in_(call_ids), CallTurn.corrected_at.is_null(False)))
    return Counter(row.call_id for row in query)


def booking_of(call: CallRecord) -> Booking | None:
    """The booking a phone call made (its idempotency key is the call's, voice/flows/booking/flow.py)."""
    return Booking.get_or_none(Booking.idempotency_key == f"phone:{call.sip_call_id}:book")


def marked_turns():
    """The evaluation set: turns staff marked as misrecognised, newest first."""
    return (CallTurn.select(CallTurn, CallRecord).join(CallRecord)
            .where(CallTurn.corrected_at.is_null(False)).order_by(CallTurn.corrected_at.desc()))


def mark(turn: CallTurn, text: str, actor: Actor, now: datetime.datetime) -> None:
    """Record what the caller really said at this turn. Never commits; the audit row holds ids only."""
    first = turn.corrected_at is None
    CallTurn.update(corrected=text, corrected_by=actor.name, corrected_at=now).where(CallTurn.id == turn.id).execute()
    audit.record(actor.name, "call.turn_marked" if first else "call.turn_corrected", "call_turn", turn.id, now,
                 source=actor.source, call=turn.call_id, step=turn.step)


def unmark(turn: CallTurn, actor: Actor, now: datetime.datetime) -> None:
    CallTurn.update(corrected=None, corrected_by="", corrected_at=None).where(CallTurn.id == turn.id).execute()
    audit.record(actor.name, "call.turn_unmarked", "call_turn", turn.id, now, source=actor.source,
                 call=turn.call_id, step=turn.step)


def played(actor: Actor, call: CallRecord, now: datetime.datetime, turn: CallTurn | None = None) -> None:
    """A recording (or one answer of it) was played: one audit row."""
    if turn is None:
        audit.record(actor.name, "call.play_recording", "call_record", call.id, now, source=actor.source)
    else:
        audit.record(actor.name, "call.play_turn", "call_turn", turn.id, now, source=actor.source, call=call.id,
                     step=turn.step)


# --- statistics ------------------------------------------------------------------------------------------

@dataclass
class Tally:
    calls: int = 0
    answered: int = 0
    ai_calls: int = 0  # answered AI calls
    booked: int = 0
    abandoned: int = 0
    seconds: float = 0.0  # of answered calls

    def add(self, call: CallRecord, gave_up: bool) -> None:
        self.calls += 1
        if call.answered_at is not None:
            self.answered += 1
            self.seconds += call.duration_s or 0.0
            self.ai_calls += call.kind == "ai"
        self.booked += call.outcome == "booked"
        self.abandoned += gave_up

    @property
    def average_s(self) -> float | None:
        return round(self.seconds / self.answered, 1) if self.answered else None

    @property
    def success_rate(self) -> float | None:
        return self.booked / self.ai_calls if self.ai_calls else None


@dataclass
class Summary:
    first: datetime.date
    last: datetime.date
    total: Tally = field(default_factory=Tally)
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    by_day: dict[datetime.date, Tally] = field(default_factory=dict)
    by_line: dict[str, Tally] = field(default_factory=dict)
    by_day_line: dict[tuple[datetime.date, str], Tally] = field(default_factory=dict)
    by_venue: dict[str, Tally] = field(default_factory=dict)
    by_outcome: Counter = field(default_factory=Counter)
    abandoned_by: Counter = field(default_factory=Counter)  # (question, reason, misses) -> calls
    abandoned_by_question: Counter = field(default_factory=Counter)
    abandoned_by_reason: Counter = field(default_factory=Counter)


def check_range(first: datetime.date, last: datetime.date) -> None:
    if last < first:
        raise CallsError("range_reversed")
    if (last - first).days + 1 > MAX_DAYS:
        raise CallsError("range_too_long")


def _venues_by_call(rows: list[CallRecord]) -> dict[int, str]:
    """The venue of each call, where known: its booking's, else the one the caller named."""
    found: dict[int, str] = {}
    ids = [c.id for c in rows]
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for turn in (CallTurn.select(CallTurn.call, CallTurn.understood, CallTurn.seq)
                     .where(CallTurn.call.in_(part), CallTurn.step == "venue", CallTurn.result == "understood")
                     .order_by(CallTurn.seq)):
            if turn.understood:
                found[turn.call_id] = turn.understood
    booked = {f"phone:{c.sip_call_id}:book": c.id for c in rows if c.outcome in ("booked", "already_booked")}
    keys = list(booked)
    for start in range(0, len(keys), 500):
        query = (Booking.select(Booking.idempotency_key, Venue.name).join(Slot).join(Venue)
                 .where(Booking.idempotency_key.in_(keys[start:start + 500])).tuples())
        for key, name in query:
            found[booked[key]] = name
    return found


def summary(first: datetime.date, last: datetime.date, did: str = "", kind: str = "") -> Summary:
    check_range(first, last)
    rows = list(calls(Filter(did=did, first=first, last=last, kind=kind))
                .where(CallRecord.ended_at.is_null(False)).order_by(CallRecord.started_at))
    venues = _venues_by_call(rows)
    s = Summary(first, last)
    day = first
    while day <= last:
        s.by_day[day] = Tally()
        day += datetime.timedelta(days=1)
    no_venue = texts()["list.no_venue"]
    for call in rows:
        end = call_ending(call)
        gave_up = abandoned(call, end)
        local = call.started_at.astimezone(clock.TOKYO)
        s.by_hour[local.hour] += 1
        for tally in (s.total, s.by_day.setdefault(local.date(), Tally()),
                      s.by_line.setdefault(call.did, Tally()),
                      s.by_day_line.setdefault((local.date(), call.did), Tally()),
                      s.by_venue.setdefault(venues.get(call.id, no_venue), Tally())):
            tally.add(call, gave_up)
        s.by_outcome[call.outcome] += 1
        if gave_up:
            s.abandoned_by[(end.question, end.reason, end.misses)] += 1
            s.abandoned_by_question[end.question] += 1
            s.abandoned_by_reason[end.reason] += 1
    return s


def list_csv_rows(rows) -> tuple[list[str], list[list[object]]]:
    """The call log as CSV: one row per call, no personal data (no caller number, nothing heard)."""
    t = texts()
    names = line_names()
    header = [t[f"csv.{c}"] for c in ("started", "did", "line", "kind", "answered", "duration", "outcome",
                                      "end_reason", "last_question", "misses", "abandon", "recording_seconds")]
    out: list[list[object]] = []
    for call in rows:
        end = call_ending(call)
        out.append([call.started_at.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M:%S"), call.did,
                    names.get(call.did, ""), label("kind", call.kind),
                    t["csv.yes"] if call.answered_at else t["csv.no"],
                    call.duration_s if call.duration_s is not None else "",
                    label("outcome", call.outcome or "live"), label("end_reason", call.end_reason),
                    label("step", end.question), end.misses,
                    label("abandon", end.reason) if abandoned(call, end) else "",
                    call.recording_seconds if call.recording else ""])
    return header, out


def stats_csv_rows(s: Summary) -> tuple[list[str], list[list[object]]]:
    """One row per day and line that had calls (what a spreadsheet sums and filters best)."""
    t = texts()
    names = line_names()
    header = [t[f"stats_csv.{c}"] for c in ("date", "did", "line", "calls", "answered", "ai_calls", "booked",
                                            "abandoned", "average")]
    rows = [[day.isoformat(), did, names.get(did, ""), v.calls, v.answered, v.ai_calls, v.booked, v.abandoned,
             v.average_s if v.average_s is not None else ""]
            for (day, did), v in sorted(s.by_day_line.items())]
    return header, rows


def by_question_and_reason(s: Summary) -> list[tuple[str, dict[str, int], int]]:
    """(question, {reason: calls}, total) rows, the question most left at first."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REASONS, 0))
    for (question, reason, _misses), n in s.abandoned_by.items():
        table[question][reason] += n
    return sorted(((q, r, sum(r.values())) for q, r in table.items()), key=lambda row: (-row[2], row[0]))
