"""The operators' conversations transcribed after the call: each inquiry record whose call ended with
a recording is read by the shared recognition service in pieces of at most PIECE_S seconds, cut at the
quietest moment before the limit, so live callers' answers are heard between two pieces rather than
after a whole call. The text, a line per piece with its time in the call ("[1:05] …"), is kept with
the record (encrypted) and searched with it. A recording that cannot be read is tried again on the
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


def transcript_of(samples_8k: np.ndarray, client) -> str:
    lines = []
    for start, piece in pieces(samples_8k):
        heard = client.transcribe(piece.tobytes()).text.strip()
        if heard:
            minutes, seconds = divmod(int(start), 60)
            lines.append(f"[{minutes}:{seconds:02d}] {heard}")
    return "\n".join(lines)


def transcribe_pending(settings, client, limit: int = 20) -> Run:
    """Transcribe up to `limit` records' calls (each committed on its own)."""
    transcribed = failed = 0
    with write_transaction():
        pending = [(record.id, record.call.recording) for record in inquiries.pending_transcripts(limit)]
    for inquiry_id, recording in pending:
        try:
            samples = recordings.samples(settings.recordings_dir / recording, crypto.cipher())
        except (OSError, DecryptionError) as exc:
            log.error("inquiry %s: the recording cannot be read: %s", inquiry_id, exc)
            with write_transaction():
                inquiries.transcript_failed(inquiry_id)
            failed += 1
            continue
        try:
            text = transcript_of(samples, client)
        except RecognitionFailed as exc:  # the service is down or overloaded: try the rest another time
            log.warning("transcribing stopped: %s", exc)
            break
        with write_transaction():
            inquiries.keep_transcript(inquiry_id, text)
        transcribed += 1
    return Run(transcribed, failed)
