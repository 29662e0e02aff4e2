"""The inquiry record book (問い合わせ記録簿): one record per contact. A call put through to an operator's
phone opens its record by itself (the voice engine's call log, on the connect), prefilled with the line
and linked to the call (its path, keys, recording and transcript); counter, email and letter contacts
are opened by staff. The operator writes what was asked and answered (the FAQ entries used are linked
and counted), and finishes it resolved — at first contact or not — or escalated to one of the city's
groups (settings escalation_groups), whose due time counts business hours (escalation_calendar) and
who are mailed a notice without personal data. Saves name the revision they edited (two operators on
one record: the second is told). Name, number and texts are encrypted; the purge removes them by the
policy. Services never commit."""

from __future__ import annotations

import datetime
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import peewee

from appliance import runtime
from appliance.clock import TOKYO
from appliance.messages import catalogue
from appliance.settings import parse_escalation_groups
from db import audit, calendars, faq, faqsearch, normalize
from db.connection import database
from db.models import CallRecord, Escalation, FaqEntry, Inquiry, InquiryFaq, Outbox

if TYPE_CHECKING:
    from db.bookings import Actor

CHANNELS = ("phone", "counter", "email", "letter", "other")
STATUSES = ("open", "resolved", "escalated", "closed")
LIMITS = {"summary": 2000, "answer": 4000, "caller_name": 60, "note": 2000, "reply": 4000}
PAST_ANSWERS = 2000  # the newest resolved records searched as past answers
_CATALOGUE_PATH = Path(__file__).with_name("inquiries.toml")


def text(name: str, /, **values: object) -> str:
    found = catalogue(_CATALOGUE_PATH)[name]
    return found.format(**values) if values else found


class InquiryProblem(Exception):
    """What cannot be saved, in Japanese for staff; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class RecordConflict(Exception):
    """Somebody saved the record since this operator opened it; `inquiry` is what is there now."""

    def __init__(self, inquiry: Inquiry):
        super().__init__(text("problem.conflict", by=inquiry.updated_by or "—"))
        self.inquiry = inquiry


@dataclass(frozen=True)
class RecordFields:
    """What an operator writes into a record."""

    topic: str = ""
    summary: str = ""
    answer: str = ""
    caller_name: str = ""
    caller_phone: str = ""
    booking_number: str = ""
    faq_entries: tuple[int, ...] = ()
    outcome: str = "open"  # "open", or "resolved" to finish it (escalating is escalate())
    first_contact: bool = False


def open_for_call(sip_call_id: str, target: str, now: datetime.datetime) -> Inquiry | None:
    """The record of a call just put through to the staff phone `target` (once per call; a call that was
    already put through keeps its record)."""
    call = CallRecord.get_or_none(CallRecord.sip_call_id == sip_call_id)
    if call is None:
        return None
    existing = Inquiry.get_or_none(Inquiry.call == call)
    if existing is not None:
        return existing
    inquiry_id = (Inquiry.insert(channel="phone", received_at=call.started_at, answered_at=now, did=call.did,
                                 call=call, target=target[:80], updated_at=now, created_by="phone")
                  .on_conflict_ignore().execute())
    return Inquiry.get_or_none(Inquiry.id == inquiry_id) if inquiry_id else Inquiry.get_or_none(Inquiry.call == call)


def open_contact(channel: str, actor: Actor, now: datetime.datetime) -> Inquiry:
    """A record for a contact that is no transferred call (the counter, an email, a letter, a call to a desk phone)."""
    if channel not in CHANNELS:
        raise InquiryProblem(text("problem.channel"), "channel")
    inquiry = Inquiry.create(channel=channel, received_at=now, answered_at=now, updated_at=now,
                             created_by=actor.name, updated_by=actor.name)
    audit.record(actor.name, "inquiry.open", "inquiry", inquiry.id, now, source=actor.source, channel=channel)
    return inquiry


def _cleaned(fields: RecordFields) -> tuple[dict, list[InquiryProblem]]:
    problems = []
    values = {}
    for name in ("summary", "answer", "caller_name"):
        value = normalize.text(getattr(fields, name) or "", max_length=LIMITS[name], multiline=name != "caller_name")
        if value is None:
            problems.append(InquiryProblem(text(f"problem.{name}", limit=LIMITS[name]), name))
        values[name] = value or None
    phone = (fields.caller_phone or "").strip()
    values["caller_phone"] = normalize.phone(phone) if phone else None
    if phone and values["caller_phone"] is None:
        problems.append(InquiryProblem(text("problem.caller_phone"), "caller_phone"))
    number = (fields.booking_number or "").strip()
    values["booking_number"] = normalize.reservation_number(number) if number else ""
    if number and not values["booking_number"]:
        problems.append(InquiryProblem(text("problem.booking_number"), "booking_number"))
    if fields.topic and fields.topic not in {c.key for c in faq.categories()}:
        problems.append(InquiryProblem(text("problem.topic"), "topic"))
    values["topic"] = fields.topic
    if fields.outcome not in ("open", "resolved"):
        problems.append(InquiryProblem(text("problem.outcome"), "outcome"))
    if fields.outcome == "resolved" and not values["answer"]:
        problems.append(InquiryProblem(text("problem.answer_needed"), "answer"))
    return values, problems


def save(inquiry_id: int, seen_revision: int, fields: RecordFields, actor: Actor,
         now: datetime.datetime) -> Inquiry:
    """Write the operator's fields as the record's next revision; "resolved" finishes it (after-call work
    ends now). Raises InquiryProblem (the first of them, `.problems` all) or RecordConflict."""
    inquiry = Inquiry.get_by_id(inquiry_id)
    values, problems = _cleaned(fields)
    if inquiry.status in ("escalated", "closed") and fields.outcome == "resolved":
        problems.append(InquiryProblem(text("problem.already_escalated"), "outcome"))
    if problems:
        error = problems[0]
        error.problems = problems
        raise error
    updates = {**values, "updated_at": now, "updated_by": actor.name, "revision": Inquiry.revision + 1}
    if fields.outcome == "resolved":
        updates.update(status="resolved", first_contact=fields.first_contact,
                       completed_at=inquiry.completed_at or now, talk_ended_at=inquiry.talk_ended_at or _talk_end(inquiry, now))
    changed = (Inquiry.update(**updates)
               .where(Inquiry.id == inquiry_id, Inquiry.revision == seen_revision).execute())
    inquiry = Inquiry.get_by_id(inquiry_id)
    if not changed:
        raise RecordConflict(inquiry)
    _link_faq(inquiry, fields.faq_entries, actor, now)
    audit.record(actor.name, "inquiry.save", "inquiry", inquiry.id, now, source=actor.source, status=inquiry.status)
    return inquiry


def _talk_end(inquiry: Inquiry, now: datetime.datetime) -> datetime.datetime | None:
    """When the conversation ended: the call's end (None while it goes on: the call log writes it when the
    call ends), or now for a contact without a call."""
    if inquiry.call_id is not None:
        call = CallRecord.get_or_none(CallRecord.id == inquiry.call_id)
        if call is not None:
            return call.ended_at
    return now


def call_ended(call: CallRecord, at: datetime.datetime) -> None:
    """The call of a record ended: its talk ends now (a record finished during the call keeps its time)."""
    Inquiry.update(talk_ended_at=at).where(Inquiry.call == call, Inquiry.talk_ended_at.is_null()).execute()


def _link_faq(inquiry: Inquiry, entry_ids: tuple[int, ...], actor: Actor, now: datetime.datetime) -> None:
    """Link the entries the answer used; each newly linked one counts as a use of that entry."""
    have = {link.entry_id for link in inquiry.faq_links}
    for entry_id in dict.fromkeys(entry_ids):
        if entry_id in have or not FaqEntry.select().where(FaqEntry.id == entry_id).exists():
            continue
        InquiryFaq.create(inquiry=inquiry, entry=entry_id)
        faq.record_use(entry_id, "operator", now, by=actor.name)


def faq_entries(inquiry: Inquiry) -> list[FaqEntry]:
    return list(FaqEntry.select().join(InquiryFaq).where(InquiryFaq.inquiry == inquiry).order_by(FaqEntry.id))


# -- escalations ---------------------------------------------------------------------------------------

def groups() -> dict[str, tuple[str, ...]]:
    return parse_escalation_groups(runtime.settings().escalation_groups)


def due_time(now: datetime.datetime) -> datetime.datetime:
    """escalation_hours of the escalation calendar's opening hours after now."""
    settings = runtime.settings()
    schedule = calendars.get(settings.escalation_calendar) if settings.escalation_calendar else None
    due = (schedule or calendars.OFFICE_HOURS).after_open_minutes(now.astimezone(TOKYO), settings.escalation_hours * 60)
    return due or now + datetime.timedelta(hours=settings.escalation_hours)


def escalate(inquiry_id: int, seen_revision: int, group: str, note: str, actor: Actor,
             now: datetime.datetime) -> Escalation:
    """Hand the record to a group: due in business hours, the group mailed (no personal data in it)."""
    known = groups()
    if group not in known:
        raise InquiryProblem(text("problem.group"), "group")
    cleaned = normalize.text(note or "", max_length=LIMITS["note"], multiline=True)
    if not cleaned:
        raise InquiryProblem(text("problem.note", limit=LIMITS["note"]), "note")
    inquiry = Inquiry.get_by_id(inquiry_id)
    if inquiry.status in ("escalated", "closed"):
        raise InquiryProblem(text("problem.already_escalated"))
    changed = (Inquiry.update(status="escalated", first_contact=False, updated_at=now, updated_by=actor.name,
                              revision=Inquiry.revision + 1, completed_at=inquiry.completed_at or now,
                              talk_ended_at=inquiry.talk_ended_at or _talk_end(inquiry, now))
               .where(Inquiry.id == inquiry_id, Inquiry.revision == seen_revision).execute())
    if not changed:
        raise RecordConflict(Inquiry.get_by_id(inquiry_id))
    escalation = Escalation.create(inquiry=inquiry_id, group_name=group, note=cleaned, escalated_at=now,
                                   escalated_by=actor.name, due_at=due_time(now))
    due = escalation.due_at.astimezone(TOKYO)
    body = (text("mail.subject", city=runtime.settings().city_name, number=inquiry_id) + "\n"
            + text("mail.text", group=group, number=inquiry_id, due=f"{due:%Y-%m-%d %H:%M}", by=actor.name))
    for n, address in enumerate(known[group]):
        Outbox.create(created_at=now, event="alert", channel="email", idempotency_key=f"escalation:{escalation.id}:{n}",
                      next_attempt_at=now, recipient=address, body=body)
    audit.record(actor.name, "inquiry.escalate", "inquiry", inquiry_id, now, source=actor.source, group=group)
    return escalation


def reply(escalation_id: int, answer: str, actor: Actor, now: datetime.datetime) -> Escalation:
    cleaned = normalize.text(answer or "", max_length=LIMITS["reply"], multiline=True)
    if not cleaned:
        raise InquiryProblem(text("problem.reply", limit=LIMITS["reply"]), "reply")
    escalation = Escalation.get_by_id(escalation_id)
    if escalation.status == "closed":
        raise InquiryProblem(text("problem.closed"))
    Escalation.update(reply=cleaned, replied_at=now, replied_by=actor.name, status="answered").where(
        Escalation.id == escalation_id).execute()
    audit.record(actor.name, "escalation.reply", "escalation", escalation_id, now, source=actor.source)
    return Escalation.get_by_id(escalation_id)


def close(escalation_id: int, actor: Actor, now: datetime.datetime) -> Escalation:
    """The citizen has had the group's answer: the escalation and its record are closed."""
    escalation = Escalation.get_by_id(escalation_id)
    Escalation.update(status="closed", closed_at=now, closed_by=actor.name).where(
        Escalation.id == escalation_id).execute()
    Inquiry.update(status="closed", updated_at=now, updated_by=actor.name, revision=Inquiry.revision + 1).where(
        Inquiry.id == escalation.inquiry_id).execute()
    audit.record(actor.name, "escalation.close", "escalation", escalation_id, now, source=actor.source)
    return Escalation.get_by_id(escalation_id)


def escalations(open_only: bool = True) -> list[Escalation]:
    query = Escalation.select().order_by(Escalation.due_at)
    if open_only:
        query = query.where(Escalation.status != "closed")
    return list(query)


# -- the book ------------------------------------------------------------------------------------------

def open_records(targets: list[str] | None = None) -> list[Inquiry]:
    """Records not yet finished, newest first; of these staff phones only when targets are given."""
    query = Inquiry.select().where(Inquiry.status == "open").order_by(Inquiry.received_at.desc())
    if targets:
        query = query.where(Inquiry.target.in_(targets))
    return list(query.limit(200))


def search(start: datetime.datetime, end: datetime.datetime, words: str = "", topic: str = "",
           status: str = "", channel: str = "", limit: int = 1000) -> list[Inquiry]:
    """Records received in [start, end), newest first, whose summary, answer or transcript holds every word
    (the texts are encrypted: they are compared here, after the period narrowed the rows)."""
    query = (Inquiry.select().where(Inquiry.received_at >= start, Inquiry.received_at < end)
             .order_by(Inquiry.received_at.desc()))
    if topic:
        query = query.where(Inquiry.topic == topic)
    if status:
        query = query.where(Inquiry.status == status)
    if channel:
        query = query.where(Inquiry.channel == channel)
    wanted = [w for w in faqsearch.clean(words).split() if w]
    found = []
    for row in query.limit(20_000):
        haystack = faqsearch.clean(f"{row.summary or ''} {row.answer or ''} {row.transcript or ''}")
        if all(w in haystack for w in wanted):
            found.append(row)
            if len(found) == limit:
                break
    return found


def call_path(inquiry: Inquiry) -> tuple[list[str], str]:
    """The linked call's path through its flow and the keys pressed (live while the call goes on)."""
    call = inquiry.call
    if call is None:
        return [], ""
    path = json.loads(call.path or "[]") or ([call.live_step] if call.live_step else [])
    keys = call.live_keys or "".join(t.keys or "" for t in call.turns)
    return path, keys


# -- past answers as candidates ------------------------------------------------------------------------

_past_lock = threading.Lock()
_past: tuple[str, faqsearch.FaqIndex] | None = None


def past_answers() -> faqsearch.FaqIndex:
    """The resolved records' questions and answers, searched like the FAQ (rebuilt when records change)."""
    global _past
    row = database.execute_sql("SELECT count(*), max(updated_at) FROM inquiry WHERE status IN ('resolved', 'closed')"
                               ).fetchone()
    generation = f"{database.database}|{row[0]}|{row[1]}"
    with _past_lock:
        if _past is None or _past[0] != generation:
            rows = (Inquiry.select().where(Inquiry.status.in_(("resolved", "closed")), Inquiry.answer.is_null(False))
                    .order_by(Inquiry.updated_at.desc()).limit(PAST_ANSWERS))
            documents = [faqsearch.FaqDocument(r.id, f"inquiry-{r.id}", r.summary or "", r.answer or "")
                         for r in rows if r.summary]
            _past = (generation, faqsearch.FaqIndex(documents))
        return _past[1]


# -- the conversation's transcript ------------------------------------------------------------------

TRANSCRIPT_TRIES = 3


def pending_transcripts(limit: int = 20) -> list[Inquiry]:
    """Records whose call has ended with a recording not yet transcribed, oldest first."""
    return list(Inquiry.select(Inquiry, CallRecord).join(CallRecord)
                .where(Inquiry.transcript_state == "", Inquiry.transcript_tries < TRANSCRIPT_TRIES,
                       CallRecord.ended_at.is_null(False), CallRecord.recording != "")
                .order_by(Inquiry.id).limit(limit))


def keep_transcript(inquiry_id: int, text: str) -> None:
    Inquiry.update(transcript=text or None, transcript_state="done").where(Inquiry.id == inquiry_id).execute()


def transcript_failed(inquiry_id: int) -> bool:
    """One more failed try; True when that was the last (the record is marked failed)."""
    Inquiry.update(transcript_tries=Inquiry.transcript_tries + 1).where(Inquiry.id == inquiry_id).execute()
    if Inquiry.get_by_id(inquiry_id).transcript_tries >= TRANSCRIPT_TRIES:
        Inquiry.update(transcript_state="failed").where(Inquiry.id == inquiry_id).execute()
        return True
    return False


def counts_by_status(start: datetime.datetime, end: datetime.datetime) -> dict[str, int]:
    rows = (Inquiry.select(Inquiry.status, peewee.fn.COUNT(Inquiry.id))
            .where(Inquiry.received_at >= start, Inquiry.received_at < end).group_by(Inquiry.status).tuples())
    return dict(rows)
