"""The scheduled purge of personal data, and its signed report.

What goes, each after its own period (settings purge_*_days, access_log_days):
- bookings: name, furigana, phone, email, birth date, look-up token and their indexes, N days after the
  appointment; the row stays (slot, status, channel, party size) for the statistics;
- calls: the recording and transcript files and what each turn heard and was asked, M days after the
  call; the caller's number, its index and the keys pressed, and IVR SMS recipients, K days after;
- the inquiry record book (finished records): the question, the conversation's transcript and the
  escalation texts after M days, the caller's name, number and booking number after K days;
- expired web sessions and rate-limit counters (db/housekeeping.py), the access log and what citizens
  searched for on the public FAQ without finding it after access_log_days, the demo mail store's
  messages after the bookings' period.
The database then really lets go of it: secure_delete is on (freed pages are zeroed), the WAL is
checkpointed and truncated, and the file is vacuumed when a quarter or more of it is free pages.

Each step commits in batches and deletes files before the rows that name them, so a purge killed
halfway leaves nothing half-done that the next run does not finish. The report says what was removed
from which periods and when, signed with the box's key (db/signing.py), kept in purge_report.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.clock import TOKYO
from db import audit, housekeeping, signing
from db.connection import database, write_transaction
from db.keys import SIGNING_KEY
from db.models import (
    AccessLog,
    Booking,
    CallRecord,
    CallTurn,
    Escalation,
    FaqSearchMiss,
    Inquiry,
    Outbox,
    PurgeReport,
    Slot,
)

BATCH = 200
TURN_TEXTS = ("prompt", "heard", "alternatives", "scores", "keys", "understood", "corrected")
BOOKING_PERSONAL = ("name", "kana", "phone", "email", "birth_date", "lookup_token", "phone_index",
                    "active_person_key")


@dataclass
class Purged:
    """What a purge removed (or, dry, would remove), and up to when."""

    made_at: datetime.datetime
    dry_run: bool
    periods: dict[str, str] = field(default_factory=dict)  # what → removed if from before this
    counts: dict[str, int] = field(default_factory=dict)
    database: dict[str, object] = field(default_factory=dict)

    def document(self, city: str) -> dict:
        return {"kind": "madoguchi purge report", "city": city, "made_at": self.made_at.isoformat(),
                "dry_run": self.dry_run, "periods": self.periods, "removed": self.counts,
                "database": self.database, "audit_head": audit.head()}


def cutoffs(settings, now: datetime.datetime) -> dict[str, datetime.datetime]:
    days = datetime.timedelta(days=1)
    return {"bookings_before": now - settings.purge_booking_days * days,
            "recordings_before": now - settings.purge_recording_days * days,
            "caller_numbers_before": now - settings.purge_caller_days * days,
            "access_log_before": now - settings.access_log_days * days}


def _batches(query_ids: Callable[[], list[int]], apply: Callable[[list[int]], None], dry_run: bool) -> int:
    """Apply to the ids the query finds, BATCH at a time, each batch its own transaction."""
    if dry_run:
        return len(query_ids())
    done = 0
    while True:
        with write_transaction():
            ids = query_ids()[:BATCH]
            if ids:
                apply(ids)
        done += len(ids)
        if len(ids) < BATCH:
            return done


def _bookings(before: datetime.date, dry_run: bool) -> int:
    holds_personal = None
    for name in BOOKING_PERSONAL:
        clause = getattr(Booking, name).is_null(False)
        holds_personal = clause if holds_personal is None else holds_personal | clause

    def ids() -> list[int]:
        return [b.id for b in Booking.select(Booking.id).join(Slot).where(Slot.date < before, holds_personal)
                .order_by(Booking.id)]

    def clear(batch: list[int]) -> None:
        Booking.update({getattr(Booking, name): None for name in BOOKING_PERSONAL}).where(Booking.id.in_(batch)).execute()
    return _batches(ids, clear, dry_run)


def _recordings(before: datetime.datetime, recordings_dir: Path, dry_run: bool) -> tuple[int, int]:
    """(calls whose recording and transcript went, turns whose texts went)."""
    turns_with_text = None
    for name in TURN_TEXTS:
        clause = getattr(CallTurn, name).is_null(False)
        turns_with_text = clause if turns_with_text is None else turns_with_text | clause

    def turn_ids() -> list[int]:
        return [t.id for t in CallTurn.select(CallTurn.id).join(CallRecord)
                .where(CallRecord.started_at < before, turns_with_text).order_by(CallTurn.id)]

    def call_ids() -> list[int]:
        return [c.id for c in CallRecord.select(CallRecord.id)
                .where(CallRecord.started_at < before, (CallRecord.recording != "") | (CallRecord.transcript != ""))
                .order_by(CallRecord.id)]

    def remove(batch: list[int]) -> None:
        for call in CallRecord.select().where(CallRecord.id.in_(batch)):
            for name in (call.recording, call.transcript):  # files first: a kill after leaves rows to redo
                if name:
                    (recordings_dir / name).unlink(missing_ok=True)
        CallRecord.update(recording="", transcript="", recording_seconds=None).where(CallRecord.id.in_(batch)).execute()

    def clear_turns(batch: list[int]) -> None:
        CallTurn.update({getattr(CallTurn, name): None for name in TURN_TEXTS}).where(CallTurn.id.in_(batch)).execute()
    return _batches(call_ids, remove, dry_run), _batches(turn_ids, clear_turns, dry_run)


def _callers(before: datetime.datetime, dry_run: bool) -> tuple[int, int]:
    """(calls whose caller number and keys went, IVR SMS whose recipient went)."""
    def call_ids() -> list[int]:
        return [c.id for c in CallRecord.select(CallRecord.id).where(
            CallRecord.started_at < before, CallRecord.ended_at.is_null(False),
            CallRecord.caller.is_null(False) | CallRecord.caller_index.is_null(False)
            | CallRecord.live_keys.is_null(False)).order_by(CallRecord.id)]

    def sms_ids() -> list[int]:
        return [o.id for o in Outbox.select(Outbox.id).where(
            Outbox.created_at < before, Outbox.recipient.is_null(False),
            Outbox.status.not_in(("pending", "sending"))).order_by(Outbox.id)]
    calls = _batches(call_ids, lambda batch: CallRecord.update(caller=None, caller_index=None, live_keys=None)
                     .where(CallRecord.id.in_(batch)).execute(), dry_run)
    sms = _batches(sms_ids, lambda batch: Outbox.update(recipient=None).where(Outbox.id.in_(batch)).execute(),
                   dry_run)
    return calls, sms


def _inquiries(contact_before: datetime.datetime, texts_before: datetime.datetime, dry_run: bool) -> tuple[int, int]:
    """(records whose caller's name, number and booking number went, records whose question and
    escalation texts went). A record still open or escalated keeps them; the answer given stays (it is
    written without personal data, and answers later callers)."""
    finished = Inquiry.status.in_(("resolved", "closed"))

    def contact_ids() -> list[int]:
        return [i.id for i in Inquiry.select(Inquiry.id).where(
            Inquiry.received_at < contact_before, finished,
            Inquiry.caller_name.is_null(False) | Inquiry.caller_phone.is_null(False) | (Inquiry.booking_number != ""))
            .order_by(Inquiry.id)]

    def text_ids() -> list[int]:
        return [i.id for i in Inquiry.select(Inquiry.id).where(
            Inquiry.received_at < texts_before, finished,
            Inquiry.summary.is_null(False) | Inquiry.transcript.is_null(False)).order_by(Inquiry.id)]

    def clear_texts(batch: list[int]) -> None:
        Inquiry.update(summary=None, transcript=None).where(Inquiry.id.in_(batch)).execute()
        Escalation.update(note=None, reply=None).where(Escalation.inquiry.in_(batch)).execute()
    contacts = _batches(contact_ids, lambda batch: Inquiry.update(caller_name=None, caller_phone=None, booking_number="")
                        .where(Inquiry.id.in_(batch)).execute(), dry_run)
    return contacts, _batches(text_ids, clear_texts, dry_run)


def _mail_store(folder: Path, before: datetime.datetime, dry_run: bool) -> int:
    old = [p for p in folder.glob("*.*") if p.suffix in (".eml", ".sms")
           and datetime.datetime.fromtimestamp(p.stat().st_mtime, TOKYO) < before] if folder.is_dir() else []
    if not dry_run:
        for path in old:
            path.unlink(missing_ok=True)
    return len(old)


def let_go(db) -> dict[str, object]:
    """Make the removed data gone from the file: checkpoint and truncate the WAL, vacuum when a
    quarter or more of the pages are free (freed pages are already zeroed: secure_delete)."""
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    free = db.execute_sql("PRAGMA freelist_count").fetchone()[0]
    vacuumed = pages > 0 and free * 4 >= pages
    if vacuumed:
        db.execute_sql("VACUUM")
    busy, _, _ = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return {"pages": pages, "free_pages": free, "vacuumed": vacuumed, "wal_truncated": busy == 0}


def run(settings, now: datetime.datetime, *, dry_run: bool = False, mail_store: Path | None = None) -> Purged:
    """Purge (or with dry_run only count) everything past its period. Commits in batches itself: call it
    outside any transaction."""
    limits = cutoffs(settings, now)
    purged = Purged(now, dry_run, {k: v.isoformat() for k, v in limits.items()})
    before_day = limits["bookings_before"].astimezone(TOKYO).date()
    purged.periods["bookings_before"] = before_day.isoformat()  # appointments on earlier days
    purged.counts["booking_personal_fields"] = _bookings(before_day, dry_run)
    purged.counts["recordings"], purged.counts["call_turn_texts"] = _recordings(
        limits["recordings_before"], settings.recordings_dir, dry_run)
    purged.counts["caller_numbers"], purged.counts["sms_recipients"] = _callers(limits["caller_numbers_before"],
                                                                               dry_run)
    purged.counts["inquiry_contacts"], purged.counts["inquiry_texts"] = _inquiries(
        limits["caller_numbers_before"], limits["recordings_before"], dry_run)
    old_access = AccessLog.select().where(AccessLog.at < limits["access_log_before"])
    old_searches = FaqSearchMiss.select().where(FaqSearchMiss.asked_at < limits["access_log_before"])
    if dry_run:
        purged.counts["access_log"] = old_access.count()
        purged.counts["faq_searches"] = old_searches.count()
        purged.counts["sessions_and_counters"] = 0
    else:
        with write_transaction():
            purged.counts["access_log"] = AccessLog.delete().where(AccessLog.at < limits["access_log_before"]).execute()
            purged.counts["faq_searches"] = (FaqSearchMiss.delete()
                                             .where(FaqSearchMiss.asked_at < limits["access_log_before"]).execute())
            pruned = housekeeping.prune(now)
        purged.counts["sessions_and_counters"] = pruned.sessions + pruned.rate_limits
    purged.counts["mail_store"] = _mail_store(mail_store, limits["bookings_before"], dry_run) if mail_store else 0
    if not dry_run:
        purged.database = let_go(database)
    return purged


def keep_report(purged: Purged, settings) -> dict:
    """Sign the report with the box's key and keep it; returns the signed document."""
    signed = signing.sign(purged.document(settings.city_name), settings.key_dir)
    with write_transaction():
        PurgeReport.create(made_at=purged.made_at, dry_run=purged.dry_run,
                           document=json.dumps(signed, ensure_ascii=False, indent=1))
    return signed


def verify_report(text: str, key_dir: Path) -> tuple[dict, bool]:
    """The report (a purge report or an erasure certificate) if its signature holds, and whether it is
    this box's key that signed it (False: this box has no signing key, e.g. after an erasure, so
    compare the public key yourself); SignatureProblem when it does not hold or another box signed."""
    try:
        signed = json.loads(text)
    except ValueError:
        raise signing.SignatureProblem("this is not a purge report (not JSON)") from None
    if not isinstance(signed, dict):
        raise signing.SignatureProblem("this is not a purge report")
    ours = (key_dir / SIGNING_KEY).is_file()
    signing.verify(signed, signing.public_hex(signing.private_key(key_dir)) if ours else None)
    return signed, ours
