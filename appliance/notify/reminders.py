"""The day-before reminders: once a day at reminder_time, one outbox message per confirmed booking of
the target day that asked for notices. A booking made within LEAD of the reminder has just had its
confirmation and gets none. The day is recorded in job_run in the same transaction, so a restart never
sends a day's reminders twice, and a worker started late that day still sends them."""

from __future__ import annotations

import datetime
import logging

from appliance import runtime
from appliance.clock import TOKYO
from db import outbox
from db.connection import write_transaction
from db.models import Booking, JobRun, Slot

log = logging.getLogger(__name__)

JOB = "reminders"
LEAD = datetime.timedelta(hours=24)


def reminder_moment(day: datetime.date) -> datetime.datetime:
    hour, minute = (int(part) for part in runtime.settings().reminder_time.split(":"))
    return datetime.datetime.combine(day, datetime.time(hour, minute), TOKYO)


def enqueue(today: datetime.date, now: datetime.datetime) -> int:
    """Queue the reminders of `today`'s run (for today + reminder_days_before). Never commits."""
    target = today + datetime.timedelta(days=runtime.settings().reminder_days_before)
    cutoff = reminder_moment(today) - LEAD
    queued = 0
    due = (Booking.select().join(Slot)
           .where(Slot.date == target, Booking.status == "confirmed", Booking.notify != "none"))
    for booking in due:
        if booking.created_at > cutoff:
            continue
        if outbox.enqueue("reminder", booking, now, key=f"reminder:{booking.id}:{target.isoformat()}"):
            queued += 1
    JobRun.insert(job=JOB, day=today, finished_at=now, result=f"{queued} for {target.isoformat()}").execute()
    return queued


def run_if_due(now: datetime.datetime) -> int | None:
    """Today's reminders if their time has come and they have not run; None when nothing was due."""
    if runtime.settings().reminder_days_before <= 0:
        return None
    today = now.astimezone(TOKYO).date()
    if now < reminder_moment(today) or JobRun.get_or_none(JobRun.job == JOB, JobRun.day == today):
        return None
    with write_transaction():
        if JobRun.get_or_none(JobRun.job == JOB, JobRun.day == today):  # another run got there first
            return None
        queued = enqueue(today, now)
    log.info("reminders for %s: %s queued", today, queued)
    return queued
