"""The operators' recorded conversations transcribed in the background: at most once a minute, when an
inquiry record's call has ended with a recording not yet transcribed and the voice engine's recognition
service is up, the worker starts `madoguchi voice transcribe` in a child process and goes on sending
(the worker may not import the voice engine; the child does the reading, voice/transcribe.py)."""

from __future__ import annotations

import datetime
import logging
import subprocess
import sys

from appliance import runtime
from db import inquiries

log = logging.getLogger(__name__)

COMMAND = (sys.executable, "-m", "appliance", "voice", "transcribe")
EVERY = datetime.timedelta(minutes=1)


class Transcripts:
    def __init__(self, command: tuple[str, ...] = COMMAND):
        self.command = command
        self.child: subprocess.Popen | None = None
        self.next_look: datetime.datetime | None = None

    def poll(self, now: datetime.datetime) -> None:
        if self.child is not None:
            status = self.child.poll()
            if status is None:
                return
            if status:
                log.error("transcribing conversations ended with status %s", status)
            self.child = None
        if self.next_look is not None and now < self.next_look:
            return
        self.next_look = now + EVERY
        if not (runtime.settings().run_dir / "asr.ready").exists() or not inquiries.pending_transcripts(1):
            return
        log.info("transcribing recorded conversations")
        self.child = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()  # a record half read is read again next time
            self.child.wait()
