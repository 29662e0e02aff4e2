"""The operators' conversations transcribed after the call (voice/transcribe.py) through the real
recognition service with Whisper: a recorded call of three sentences (synthesised, at phone quality)
is read in pieces, each line with its time in the call, kept encrypted with the record and found by
the book's search; an unreadable recording is tried three times, then marked failed; with the
service down nothing is marked and the records wait for the next run."""

from __future__ import annotations

import datetime
import threading

import numpy as np
import pytest

from db import crypto, inquiries
from db.bookings import Actor
from db.files import EncryptedFileWriter
from db.models import CallRecord, Inquiry
from tests.conftest import NOW
from voice import audio, tts
from voice.asr import whisper
from voice.recognition import RecognitionClient, RecognitionServer
from voice.transcribe import pieces, transcribe_pending

OPERATOR = Actor("test-operator", role="staff")
SENTENCES = ("マイナンバーカードの暗証番号を忘れてしまいました。",
             "市役所の窓口で、暗証番号を設定し直すことができます。",
             "本人確認の書類と、カードをお持ちください。")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The recognition service with Whisper on a socket of its own."""
    folder = tmp_path_factory.mktemp("transcribe")
    recognizer = whisper.WhisperRecognizer(whisper.install(folder / "models"))
    server = RecognitionServer(folder / "asr.sock", recognizer, 1)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield RecognitionClient(folder / "asr.sock", timeout_s=120)
    server.shutdown()
    server.server_close()


def conversation() -> np.ndarray:
    """Three sentences with pauses, at phone quality (8 kHz, through G.711), as a call is recorded."""
    import pyopenjtalk

    parts = []
    for text in SENTENCES:
        samples, rate = pyopenjtalk.tts(text)
        parts += [tts.finish(samples, rate, 0.7), np.zeros(16000 * 2, dtype=np.int16)]
    return audio.resample(audio.over_the_phone(np.concatenate(parts), 16000), 16000, 8000)


def recorded_call(settings, sip_call_id: str, data: bytes) -> Inquiry:
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    name = f"{sip_call_id}.ulaw.enc"
    with EncryptedFileWriter(settings.recordings_dir / name, crypto.cipher()) as writer:
        writer.write(data)
    CallRecord.create(sip_call_id=sip_call_id, did="0462000001", worker=1, started_at=NOW, ended_at=NOW,
                      recording=name, recording_seconds=1.0)
    return inquiries.open_for_call(sip_call_id, "コールセンター", NOW)


def test_a_recorded_conversation_is_read_in_pieces_kept_and_searchable(db, instance, service):
    samples = conversation()
    assert len(pieces(samples)) >= 2  # longer than one piece: read in several
    record = recorded_call(instance, "conversation-1", audio.ulaw_encode(samples))
    other = inquiries.open_contact("counter", OPERATOR, NOW)  # a record without a call: nothing to read
    assert transcribe_pending(instance, service).transcribed == 1
    done = Inquiry.get_by_id(record.id)
    assert done.transcript_state == "done" and Inquiry.get_by_id(other.id).transcript_state == ""
    lines = done.transcript.splitlines()
    times = [line[1:line.index("]")] for line in lines]
    assert len(lines) >= 2 and times[0] == "0:00" and times == sorted(times, key=lambda t: int(t.replace(":", ""))), lines
    # Whisper base on phone audio mishears some words (暗証 as 緩称 or 安証); these it gets
    assert "番号を忘れて" in done.transcript and "窓口" in done.transcript and "お持ちください" in done.transcript, lines
    raw = db.execute_sql("SELECT transcript FROM inquiry WHERE id = ?", (record.id,)).fetchone()[0]
    assert "窓口".encode() not in bytes(raw)
    week = (NOW - datetime.timedelta(days=1), NOW + datetime.timedelta(days=1))
    assert [r.id for r in inquiries.search(*week, words="窓口")] == [record.id]
    assert transcribe_pending(instance, service).transcribed == 0  # done once


def test_an_unreadable_recording_is_tried_three_times_then_marked_failed(db, instance, service):
    record = recorded_call(instance, "broken-1", b"")
    (instance.recordings_dir / "broken-1.ulaw.enc").write_bytes(b"not an encrypted recording")
    for _ in range(3):
        assert transcribe_pending(instance, service).failed == 1
    assert Inquiry.get_by_id(record.id).transcript_state == "failed"
    assert transcribe_pending(instance, service).failed == 0


def test_with_the_service_down_nothing_is_marked(db, instance, tmp_path):
    record = recorded_call(instance, "waiting-1", audio.ulaw_encode(conversation()[:16000]))
    run = transcribe_pending(instance, RecognitionClient(tmp_path / "no-service.sock", timeout_s=2))
    assert (run.transcribed, run.failed) == (0, 0)
    assert Inquiry.get_by_id(record.id).transcript_state == "" and inquiries.pending_transcripts()[0].id == record.id


def test_only_the_conversation_is_read_not_the_lines_announcements_before(db, instance, service):
    """The recording starts at the answer; the operator came on 7 s later: the first sentence (the
    line's own words) is skipped, and the times stay the call's."""
    samples = conversation()
    record = recorded_call(instance, "conversation-2", audio.ulaw_encode(samples))
    CallRecord.update(answered_at=NOW).where(CallRecord.sip_call_id == "conversation-2").execute()
    Inquiry.update(answered_at=NOW + datetime.timedelta(seconds=7)).where(Inquiry.id == record.id).execute()
    transcribe_pending(instance, service)
    text = Inquiry.get_by_id(record.id).transcript
    assert "忘れて" not in text and "窓口" in text, text
    assert not text.startswith("[0:00]"), text  # begins 5 s in (2 s before the operator)
