"""The nightly jobs (backup, retention, restore drill) in a process of their own: once a day at
backup_time (or at the first moment after it, for a worker started late) the worker starts
`madoguchi backup nightly` and goes on sending; the child keeps each step's outcome in job_run, and a
day that has an outcome, good or bad, is not run again by itself (a failure is for staff to look at)."""

from __future__ import annotations

import datetime
import logging
import subprocess
import sys

from appliance import runtime
from appliance.clock import TOKYO
from db import jobs

log = logging.getLogger(__name__)

COMMAND = (sys.executable, "-m", "appliance", "backup", "nightly")


def moment(day: datetime.date) -> datetime.datetime:
    hour, minute = (int(part) for part in runtime.settings().backup_time.split(":"))
    return datetime.datetime.combine(day, datetime.time(hour, minute), TOKYO)


class Nightly:
    def __init__(self, command: tuple[str, ...] = COMMAND):
        self.command = command
        self.child: subprocess.Popen | None = None
        self.started_on: datetime.date | None = None  # one start a day, even if the child dies unrecorded

    def poll(self, now: datetime.datetime) -> None:
        if self.child is not None:
            status = self.child.poll()
            if status is None:
                return
            (log.info if status == 0 else log.error)("nightly backup and drill ended with status %s", status)
            self.child = None
        today = now.astimezone(TOKYO).date()
        if now < moment(today) or self.started_on == today or jobs.ran_on("backup", today) is not None:
            return
        log.info("nightly backup and drill starting")
        self.started_on = today
        self.child = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        """Let a running backup finish (it is consistent whenever it stops, but a finished one is kept)."""
        if self.child is not None and self.child.poll() is None:
            log.info("waiting for the nightly backup to finish")
            self.child.wait()
