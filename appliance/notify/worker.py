"""`madoguchi worker`: sends the outbox after commit, runs the daily jobs (reminders; the nightly backup
and drill in a child process, appliance/notify/nightly.py), has the operators' recorded conversations
transcribed (another child, appliance/notify/transcripts.py) and prunes expired sessions and rate-limit
counters every ten minutes.

A message is claimed (status 'sending', committed) before it is handed to the mail server or the SMS
gateway, and marked sent after. A crash between the two leaves it 'sending'; the next start sends it
again under the same reference (SMS: the gateway's client reference; email: the Message-ID), which the
gateway and mail systems use to drop the duplicate. Failures wait 1, 2, 4 ... 60 minutes; after
notify_max_attempts, or at once for a permanent refusal, the message is a dead letter staff can see and
resend. Nothing here ever touches the booking: a notification problem never undoes or blocks one.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance import clock, runtime
from appliance.notify import DeliveryError, email, reminders, sms
from appliance.notify.compose import Skip, compose
from appliance.notify.nightly import Nightly
from appliance.notify.transcripts import Transcripts
from appliance.settings import Settings
from db import alerts, audit, housekeeping
from db.bookings import Actor
from db.connection import Busy, database, write_transaction
from db.models import Outbox

log = logging.getLogger(__name__)

BATCH = 20
POLL_SECONDS = 1.0
LEASE = datetime.timedelta(minutes=5)  # 'sending' longer than this: the sender died mid-way
RESENDABLE = ("dead", "skipped", "failed", "sent")


def backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def _secret(key_dir: Path, name: str) -> str:
    path = key_dir / name
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


@dataclass(frozen=True)
class Senders:
    email: email.SmtpConfig | None
    sms: sms.SmsConfig | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Senders:
        smtp = None
        if settings.smtp_host:
            smtp = email.SmtpConfig(
                host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                username=settings.smtp_username, password=_secret(settings.key_dir, "smtp.password"),
                mail_from=settings.mail_from, reply_to=settings.mail_reply_to,
                from_name=settings.mail_from_name or settings.city_name)
        gateway = None
        if settings.sms_gateway:
            fields = dict(part.split("=", 1) for part in settings.sms_fields.split(",") if "=" in part)
            gateway = sms.SmsConfig(
                kind=settings.sms_gateway, url=settings.sms_url, token=_secret(settings.key_dir, "sms.token"),
                auth_header=settings.sms_auth_header, auth_scheme=settings.sms_auth_scheme,
                sender=settings.sms_sender, number_format=settings.sms_number_format,
                fields={k.strip(): v.strip() for k, v in fields.items()})
        return cls(smtp, gateway)


def recover(now: datetime.datetime, lease: datetime.timedelta = LEASE) -> int:
    """Messages left 'sending' by a sender that died: due again at once, same reference."""
    with write_transaction():
        return (Outbox.update(status="failed", next_attempt_at=now, last_error="crash")
                .where(Outbox.status == "sending", Outbox.claimed_at <= now - lease).execute())


def claim(now: datetime.datetime, limit: int = BATCH) -> list[int]:
    with write_transaction():
        rows = database.execute_sql(
            "UPDATE outbox SET status = 'sending', claimed_at = ?, attempts = attempts + 1 WHERE id IN "
            "(SELECT id FROM outbox WHERE status IN ('pending', 'failed') AND next_attempt_at <= ? "
            " ORDER BY next_attempt_at, id LIMIT ?) RETURNING id",
            (Outbox.claimed_at.db_value(now), Outbox.next_attempt_at.db_value(now), limit)).fetchall()
    return sorted(row[0] for row in rows)


def _finish(message: Outbox, **changes) -> None:
    """Record the outcome, unless the row changed meanwhile (staff resent it, or it was recovered)."""
    with write_transaction():
        (Outbox.update(**changes)
         .where(Outbox.id == message.id, Outbox.status == "sending", Outbox.claimed_at == message.claimed_at)
         .execute())


def _hand_over(message: Outbox, senders: Senders, now: datetime.datetime) -> tuple[str, int]:
    composed = compose(message, now)
    if message.channel == "email":
        if senders.email is None:
            raise Skip("email_off")
        domain = senders.email.mail_from.rpartition("@")[2] or "madoguchi.invalid"
        email.send(email.Email(composed.to, composed.subject, composed.body,
                               message_id=f"<{message.reference}@{domain}>"), senders.email, now)
        return "", 0
    if senders.sms is None:
        raise Skip("sms_off")
    if sms.mobile_number(composed.to) is None:
        raise Skip("not_mobile")
    result = sms.send(sms.Sms(composed.to, composed.body, message.reference), senders.sms)
    return result.gateway_id, result.segments


def _not_sent(message: Outbox, error: DeliveryError, now: datetime.datetime) -> str:
    retry = error.temporary and message.attempts < runtime.settings().notify_max_attempts
    status = "failed" if retry else "dead"
    _finish(message, status=status, last_error=error.reason[:200], next_attempt_at=now + backoff(message.attempts))
    log.warning("outbox %s %s (attempt %s): %s", message.id, status, message.attempts, error.reason)
    return status


def deliver(message_id: int, senders: Senders, now: datetime.datetime) -> str:
    """Send one claimed message; returns its new status."""
    message = Outbox.get_by_id(message_id)
    try:
        gateway_id, segments = _hand_over(message, senders, now)
    except Skip as skip:
        _finish(message, status="skipped", last_error=skip.reason)
        log.info("outbox %s skipped: %s", message.id, skip.reason)
        return "skipped"
    except DeliveryError as error:
        return _not_sent(message, error, now)
    except Exception:  # noqa: BLE001 - a bug must not turn one message into a crash loop of the worker
        log.exception("outbox %s: unexpected error while sending", message.id)
        return _not_sent(message, DeliveryError("internal error (see the worker log)", temporary=True), now)
    _finish(message, status="sent", sent_at=now, gateway_id=gateway_id, segments=segments, last_error="")
    log.info("outbox %s sent (%s, %s part(s))", message.id, message.channel, segments)
    return "sent"


def resend(message_id: int, actor: Actor, now: datetime.datetime) -> Outbox:
    """Staff send a message again (a dead letter, a skipped one after fixing the text, or a lost SMS)
    under a new reference, so the gateway does not drop it as a duplicate. Never commits."""
    message = Outbox.get_or_none(Outbox.id == message_id)
    if message is None or message.status not in RESENDABLE:
        raise ValueError("only a finished message can be sent again")
    (Outbox.update(status="pending", attempts=0, resends=Outbox.resends + 1, next_attempt_at=now, last_error="",
                   claimed_at=None, receipt="", receipt_at=None)
     .where(Outbox.id == message.id).execute())
    audit.record(actor.name, "outbox.resend", "outbox", message.id, now, source=actor.source,
                 before=message.status, event=message.event, channel=message.channel)
    return Outbox.get_by_id(message.id)


def record_receipt(receipt: sms.Receipt, now: datetime.datetime) -> bool:
    """A delivery report from the gateway, matched by our reference (or its id). Never commits."""
    query = Outbox.select().where(Outbox.channel == "sms")
    prefix, _, rest = receipt.reference.partition("madoguchi-")
    message_id = rest.split("-")[0] if not prefix and rest else ""
    if message_id.isdigit():
        query = query.where(Outbox.id == int(message_id))
    elif receipt.gateway_id:
        query = query.where(Outbox.gateway_id == receipt.gateway_id)
    else:
        return False
    message = query.first()
    if message is None:
        return False
    Outbox.update(receipt=receipt.status, receipt_at=now).where(Outbox.id == message.id).execute()
    return True


def prune(now: datetime.datetime) -> housekeeping.Pruned:
    settings = runtime.settings()
    free_mb = shutil.disk_usage(settings.data_dir).free // 2**20
    if free_mb < settings.min_free_disk_mb:  # checked as often as the pruning; mailed once a day
        alerts.raise_alert("disk_low", f"{free_mb} MB free in {settings.data_dir} (below {settings.min_free_disk_mb} MB)",
                           now)
    with write_transaction():
        pruned = housekeeping.prune(now)
    if pruned.sessions or pruned.rate_limits:
        log.info("pruned %s expired session(s), %s old rate-limit counter(s)", pruned.sessions, pruned.rate_limits)
    return pruned


def run_once(senders: Senders, now: datetime.datetime) -> int:
    """Daily jobs that are due, then one batch of due messages; the number of messages handled."""
    reminders.run_if_due(now)
    ids = claim(now)
    for message_id in ids:
        deliver(message_id, senders, now)
    return len(ids)


def run(stop: threading.Event, senders: Senders, now: Callable[[], datetime.datetime] = clock.now,
        nightly: Nightly | None = None, transcripts: Transcripts | None = None) -> None:
    recovered = recover(now(), lease=datetime.timedelta(0))  # one worker: whatever was 'sending' died with it
    if recovered:
        log.warning("%s message(s) interrupted by the last stop will be sent again", recovered)
    log.info("worker started (email %s, SMS %s)", "on" if senders.email else "off", "on" if senders.sms else "off")
    next_prune = now()
    nightly = nightly or Nightly()
    transcripts = transcripts or Transcripts()
    while not stop.is_set():
        try:
            nightly.poll(now())
            transcripts.poll(now())
            if now() >= next_prune:
                prune(now())
                next_prune = now() + housekeeping.PRUNE_EVERY
            handled = run_once(senders, now())
        except Busy:
            handled = 0
            log.warning("database busy; trying again")
        if not handled:
            stop.wait(POLL_SECONDS)
    nightly.stop()
    transcripts.stop()
    log.info("worker stopped")
