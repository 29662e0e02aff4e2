"""What the box's scheduled jobs (backup, restore drill, purge) last did, kept in job_run: one row per job
and day with the latest run's outcome, read by the admin home, `madoguchi check` and the worker."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from appliance.clock import TOKYO
from db.connection import write_transaction
from db.models import JobRun

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    job: str
    day: datetime.date
    finished_at: datetime.datetime
    ok: bool
    detail: dict  # what the job reported: e.g. the backup's name and size, or the error


def recorded(job: str, action: Callable[[], T], now: Callable[[], datetime.datetime],
             describe: Callable[[T], str] = lambda result: "{}") -> T:
    """Run action and keep its outcome as today's run of job (the error too, then raise it again)."""
    started = now()
    try:
        result = action()
    except Exception as exc:
        _keep(job, started, now(), {"ok": False, "error": str(exc) or type(exc).__name__})
        raise
    _keep(job, started, now(), {"ok": True, **json.loads(describe(result))})
    return result


def _keep(job: str, started: datetime.datetime, finished: datetime.datetime, detail: dict) -> None:
    text = json.dumps(detail, ensure_ascii=False)
    with write_transaction():
        (JobRun.insert(job=job, day=started.astimezone(TOKYO).date(), finished_at=finished, result=text)
         .on_conflict(conflict_target=[JobRun.job, JobRun.day],
                      update={JobRun.finished_at: finished, JobRun.result: text})
         .execute())


def last(job: str) -> Outcome | None:
    row = JobRun.select().where(JobRun.job == job).order_by(JobRun.day.desc()).first()
    return None if row is None else _outcome(row)


def ran_on(job: str, day: datetime.date) -> Outcome | None:
    row = JobRun.get_or_none(JobRun.job == job, JobRun.day == day)
    return None if row is None else _outcome(row)


def _outcome(row: JobRun) -> Outcome:
    try:
        detail = json.loads(row.result)
    except ValueError:
        detail = {"result": row.result}  # the reminders keep a plain text
    if not isinstance(detail, dict):
        detail = {"result": detail}
    ok = bool(detail.pop("ok", True))
    return Outcome(row.job, row.day, row.finished_at, ok, detail)
