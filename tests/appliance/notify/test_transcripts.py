"""The worker has recorded conversations transcribed in a child process: only when a record's call has
ended with a recording not yet read and the recognition service is up, at most once a minute, never
two children at once."""

from __future__ import annotations

import datetime
import sys

from appliance import runtime
from appliance.notify.transcripts import Transcripts
from db import inquiries
from db.models import CallRecord
from tests.conftest import NOW


def marker_command(path) -> tuple[str, ...]:
    return (sys.executable, "-c", f"open({str(path)!r}, 'a').write('ran\\n')")


def test_a_child_reads_pending_conversations_when_the_service_is_up_once_a_minute(db, tmp_path):
    marker = tmp_path / "ran"
    transcripts = Transcripts(marker_command(marker))
    ready = runtime.settings().run_dir / "asr.ready"
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.unlink(missing_ok=True)
    transcripts.poll(NOW)
    assert transcripts.child is None  # nothing pending
    CallRecord.create(sip_call_id="t-1", did="0462000001", worker=1, started_at=NOW, ended_at=NOW,
                      recording="t-1.ulaw.enc")
    inquiries.open_for_call("t-1", "コールセンター", NOW)
    transcripts.poll(NOW + datetime.timedelta(minutes=1))
    assert transcripts.child is None  # the recognition service is not up
    ready.touch()
    try:
        transcripts.poll(NOW + datetime.timedelta(seconds=61))
        assert transcripts.child is None  # looked less than a minute ago
        transcripts.poll(NOW + datetime.timedelta(minutes=2))
        first = transcripts.child
        assert first is not None
        transcripts.poll(NOW + datetime.timedelta(minutes=10))
        assert transcripts.child is first or first.poll() is not None  # one child at a time
        first.wait()
        transcripts.poll(NOW + datetime.timedelta(minutes=11))
        transcripts.stop()
        assert marker.read_text().count("ran") >= 1
    finally:
        ready.unlink(missing_ok=True)
