"""The worker starts the nightly backup once a day at backup_time (or later that day, if it was down
then), never while one runs, and not again on a day that already has an outcome."""

from __future__ import annotations

import datetime
import sys

from appliance.notify.nightly import Nightly
from db import jobs
from db.models import JobRun

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
DAY = datetime.date(2026, 12, 8)


def at(hour: int, minute: int = 0, day: datetime.date = DAY) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), TOKYO)


def marker_command(path) -> tuple[str, ...]:
    return (sys.executable, "-c", f"open({str(path)!r}, 'a').write('ran\\n')")


def test_starts_at_backup_time_once_a_day(db, tmp_path):
    marker = tmp_path / "ran"
    nightly = Nightly(marker_command(marker))
    nightly.poll(at(2, 29))
    assert nightly.child is None
    nightly.poll(at(2, 30))
    nightly.child.wait()
    nightly.poll(at(2, 31))  # reaps the child; the day has had its start
    nightly.poll(at(9, 0))
    assert nightly.child is None and marker.read_text() == "ran\n"
    nightly.poll(at(2, 30, DAY + datetime.timedelta(days=1)))
    nightly.child.wait()
    assert marker.read_text() == "ran\nran\n"


def test_a_worker_started_after_a_run_with_an_outcome_does_not_run_it_again(db, tmp_path):
    JobRun.create(job="backup", day=DAY, finished_at=at(2, 35), result='{"ok": false, "error": "disk full"}')
    nightly = Nightly(marker_command(tmp_path / "ran"))
    nightly.poll(at(10, 0))
    assert nightly.child is None
    assert jobs.last("backup").ok is False and jobs.last("backup").detail == {"error": "disk full"}
