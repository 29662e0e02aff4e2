"""The operators' conversations transcribed after the call: each inquiry record whose call ended with
a recording is read by the shared recognition service in pieces of at most PIECE_S seconds, cut at the
quietest moment before the limit, so live callers' answers are heard between two pieces rather than
after a whole call. The text, a line per piece with its time in the call ("[1:05] …"), is kept with
the record (encrypted) and searched with it. Only the conversation is read: the recording starts at the
answer, so what the line said before the operator came on (its announcements and menus) is skipped. A recording that cannot be read is tried again on the
next run, three times at most; the recognition service being down stops the run (nothing is marked)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from db import crypto, inquiries, recordings
from db.connection import write_transaction
from db.crypto import DecryptionError
from voice import audio
from voice.asr.reazonspeech import split
from voice.recognition import RecognitionFailed

log = logging.getLogger(__name__)

PIECE_S = 10  # as the recogniser decodes long audio itself: one piece is one decoding window
LEAD_S = 2.0  # kept before the moment the operator came on (the clocks of the call log and the record)
RATE = 16000


@dataclass(frozen=True)
class Run:
    transcribed: int
    failed: int


def pieces(samples_8k: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(start in seconds, 16 kHz piece) of a recording, cut at quiet points."""
    samples = audio.resample(samples_8k, recordings.RATE, RATE)
    found, start = [], 0
    for piece in split(samples, PIECE_S * RATE):
        found.append((start / RATE, piece))
        start += len(piece)
    return found


def transcript_of(samples_8k: np.ndarray, client, skip_s: float = 0.0) -> str:
    """The conversation from skip_s seconds into the recording (times stay the call's)."""
    skipped = min(len(samples_8k), int(max(0.0, skip_s) * recordings.RATE))
    lines = []
    for start, piece in pieces(samples_8k[skipped:]):
        heard = client.transcribe(piece.tobytes()).text.strip()
        if heard:
            minutes, seconds = divmod(int(start + skipped / recordings.RATE), 60)
            lines.append(f"[{minutes}:{seconds:02d}] {heard}")
    return "\n".join(lines)


def operator_offset(record) -> float:
    """Seconds into the call's recording (it starts at the answer) where the operator came on: the
    announcements and menus before are the line's own words, not the conversation (a little is kept)."""
    call = record.call
    if record.answered_at is None or call.answered_at is None:
        return 0.0
    return max(0.0, (record.answered_at - call.answered_at).total_seconds() - LEAD_S)


def transcribe_pending(settings, client, limit: int = 20) -> Run:
    """Transcribe up to `limit` records' calls (each committed on its own)."""
    transcribed = failed = 0
    with write_transaction():
        pending = [(record.id, record.call.recording, operator_offset(record))
                   for record in inquiries.pending_transcripts(limit)]
    for inquiry_id, recording, skip_s in pending:
        try:
            samples = recordings.samples(settings.recordings_dir / recording, crypto.cipher())
        except (OSError, DecryptionError) as exc:
            log.error("inquiry %s: the recording cannot be read: %s", inquiry_id, exc)
            with write_transaction():
                inquiries.transcript_failed(inquiry_id)
            failed += 1
            continue
        try:
            text = transcript_of(samples, client, skip_s)
        except RecognitionFailed as exc:  # the service is down or overloaded: try the rest another time
            log.warning("transcribing stopped: %s", exc)
            break
        with write_transaction():
            inquiries.keep_transcript(inquiry_id, text)
        transcribed += 1
    return Run(transcribed, failed)
