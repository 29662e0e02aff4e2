"""Calls as the voice worker leaves them: logged through voice.calllog (call_started, call_answered,
call_ended with the dialog's turns) with a real encrypted recording made by voice.recording.CallRecorder.
Shared by the tests of the call pages, the call log and `madoguchi voice evaluate`."""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path

import numpy as np

from appliance import runtime
from db import crypto
from db.models import CallRecord
from voice import calllog
from voice.recording import SUFFIX, CallRecorder

RATE = 16000  # what the recorder takes (it stores 8 kHz)
FRAME = 320
_ids = itertools.count(1)


def tone(seconds: float, hz: float = 1000.0, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def caller_audio(seconds: float, pieces: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """`seconds` of silence with each (offset_s, samples) piece placed on it."""
    out = np.zeros(int(RATE * seconds), dtype=np.int16)
    for offset_s, samples in pieces:
        start = int(offset_s * RATE)
        out[start:start + len(samples)] = samples[:len(out) - start]
    return out


def write_recording(name: str, heard: np.ndarray, recordings_dir: Path | None = None) -> float:
    """Record `heard` (16 kHz, the caller's side) under recordings_dir/name; returns its seconds."""
    folder = recordings_dir or runtime.settings().recordings_dir
    recorder = CallRecorder(folder / name, crypto.cipher())
    padded = np.concatenate([heard, np.zeros((-len(heard)) % FRAME, dtype=np.int16)])
    for i in range(0, len(padded), FRAME):
        recorder.add(padded[i:i + FRAME].tobytes(), None)
    recorder.close()
    return round(recorder.seconds, 2)


def turn(step: str, result: str = "understood", *, heard: str = "", offset_s: float | None = None,
         duration_s: float | None = None, **kw) -> dict:
    """A turn as voice/flows/booking/dialog.py Dialog._turn makes it."""
    values = {"step": step, "prompt": f"{step}の質問です", "result": result, "understood": heard if result ==
              "understood" else "", "offset_s": offset_s, "duration_s": duration_s, "heard": heard,
              "alternatives": [], "confidence": 0.8 if heard else None, "keys": "", "scores": []}
    values.update(kw)
    return values


def make_call(start: datetime.datetime, *, did: str = "0586000001", kind: str = "ai", seconds: float = 60.0,
              outcome: str = "booked", end_reason: str = "caller_hangup", path: list[str] | None = None,
              turns: list[dict] = (), answered: bool = True, audio: np.ndarray | None = None,
              caller: str = "09012345678", sip_call_id: str | None = None) -> CallRecord:
    """One ended call; with `audio`, a recording of it (the caller's side) under settings.recordings_dir."""
    cid = sip_call_id or f"test-call-{next(_ids)}-{start.timestamp():.0f}@127.0.0.1"
    calllog.call_started(cid, did, caller, worker=1, at=start, kind=kind)
    if answered:
        calllog.call_answered(cid, start)
    recording, recording_seconds = "", None
    if audio is not None:
        recording = f"{start:%Y-%m}/{cid.replace('@', '_')}{SUFFIX}"
        recording_seconds = write_recording(recording, audio)
    calllog.call_ended(cid, start + datetime.timedelta(seconds=seconds), outcome=outcome, end_reason=end_reason,
                       path=path or [], turns=list(turns), recording=recording, recording_seconds=recording_seconds)
    return CallRecord.get(CallRecord.sip_call_id == cid)
