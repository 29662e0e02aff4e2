"""The call log and the phone lines (services: the caller owns the transaction), and the thread that
writes the log for a voice worker so a slow disk never holds up the SIP polling thread."""

from __future__ import annotations

import datetime
import json
import logging
import queue
import threading

from appliance import clock
from db import crypto, flows, inquiries, queues
from db.connection import write_transaction
from db.models import CallRecord, CallTurn, PhoneLine
from voice.flows.base import Line

log = logging.getLogger(__name__)

# What a dialog's turn holds (voice/flows/booking/dialog.py Dialog._turn), as call_turn stores it.
TURN_FIELDS = ("step", "result", "prompt", "heard", "alternatives", "confidence", "keys", "understood", "offset_s",
               "duration_s", "scores")
SCORES_KEPT = 5  # the best expected answers a turn keeps, with their scores
MAX_TURNS = 500  # a call that loops is cut off here, not the log
MAX_TEXT = 2000
SHORT_TEXT = {"step": 40, "result": 20, "keys": 40}


def line_for(did: str) -> Line | None:
    """The active phone line of a dialled number, as a call sees it."""
    row = PhoneLine.get_or_none((PhoneLine.did == did) & PhoneLine.active)
    if row is None:
        return None
    return Line(did=row.did, flow=row.flow, label=row.label, tts_engine=row.tts_engine, tts_voice=row.tts_voice,
                tts_speed=row.tts_speed, tts_volume=row.tts_volume, record=bool(row.record), mode=row.mode)


def program_for(line: Line) -> flows.Program | None:
    """An IVR line's published flow graph (None for other flows, or when none is published)."""
    return flows.program(line.did) if line.flow == "ivr" else None


def lines_use_engine(engine: str) -> bool:
    return PhoneLine.select().where(PhoneLine.active & (PhoneLine.tts_engine == engine)).exists()


def call_started(sip_call_id: str, did: str, caller: str, worker: int, at: datetime.datetime, *,
                 kind: str = "ivr", flow_version: int | None = None) -> None:
    CallRecord.insert(
        sip_call_id=sip_call_id, did=did, worker=worker, started_at=at, kind=kind, flow_version=flow_version,
        caller=caller or None, caller_index=crypto.cipher().blind_index(caller, "phone") if caller else None,
    ).on_conflict_ignore().execute()  # a retransmitted INVITE is the same call


def call_answered(sip_call_id: str, at: datetime.datetime) -> None:
    CallRecord.update(answered_at=at).where(CallRecord.sip_call_id == sip_call_id).execute()


def call_progress(sip_call_id: str, step: str, keys: str, state: str) -> None:
    """Where a call is now, for the live view (kept until it ends). A call put through to a staff phone
    opens its record in the inquiry book, prefilled with the line and linked to the call."""
    (CallRecord.update(live_step=step[:40], live_keys=keys[-200:] or None, live_state=state[:80])
     .where((CallRecord.sip_call_id == sip_call_id) & CallRecord.ended_at.is_null()).execute())
    if state.startswith("talking:"):
        inquiries.open_for_call(sip_call_id, state.removeprefix("talking:"), clock.now())


def call_ended(sip_call_id: str, at: datetime.datetime, *, outcome: str, end_reason: str, path: list[str],
               turns: list[dict] = (), recording: str = "", recording_seconds: float | None = None,
               transcript: str = "", kind: str | None = None) -> None:
    record = CallRecord.get_or_none(CallRecord.sip_call_id == sip_call_id)
    if record is None or record.ended_at is not None:
        return
    since = record.answered_at or record.started_at
    record.ended_at = at
    record.duration_s = round((at - since).total_seconds(), 2) if record.answered_at else 0.0
    record.outcome, record.end_reason = outcome or end_reason, end_reason
    record.path = json.dumps(path, ensure_ascii=False)
    record.recording, record.recording_seconds = recording, recording_seconds
    record.transcript = transcript
    record.kind = kind or record.kind  # an IVR call handed to the AI dialog is billed as one
    record.live_step, record.live_keys, record.live_state = "", None, ""
    record.save()
    queues.leave(sip_call_id, "connected" if record.outcome == "transferred" else "abandoned", at)
    inquiries.call_ended(record, at)
    rows = [_turn_row(record.id, seq, turn) for seq, turn in enumerate(list(turns)[:MAX_TURNS], 1)]
    if rows:
        CallTurn.insert_many(rows).execute()


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value, limit: int = MAX_TEXT) -> str:
    return str(value if value is not None else "")[:limit]


def _best_scores(value) -> list[list]:
    """The best SCORES_KEPT (answer, score) pairs, best first; anything else a flow passed is left out."""
    pairs = [(_text(pair[0], 40), float(pair[1])) for pair in value or ()
             if isinstance(pair, list | tuple) and len(pair) == 2 and _number(pair[1]) is not None]
    return [[answer, round(score, 1)] for answer, score in sorted(pairs, key=lambda p: -p[1])[:SCORES_KEPT]]


def _turn_row(call_id: int, seq: int, turn: dict) -> dict:
    """A turn as call_turn stores it: the TURN_FIELDS only, texts bounded (and encrypted by the model),
    numbers or NULL."""
    row: dict = {"call": call_id, "seq": seq}
    for name in TURN_FIELDS:
        value = turn.get(name)
        if name in ("offset_s", "duration_s", "confidence"):
            row[name] = _number(value)
        elif name == "alternatives":
            row[name] = json.dumps([_text(a) for a in value or ()][:10], ensure_ascii=False)
        elif name == "scores":
            row[name] = json.dumps(_best_scores(value), ensure_ascii=False)
        else:
            row[name] = _text(value, SHORT_TEXT.get(name, MAX_TEXT))
    row["step"], row["result"] = row["step"] or "-", row["result"] or "-"
    return row


def close_stale(worker: int, at: datetime.datetime) -> int:
    """A worker starting again ends the calls its previous life left open (it crashed or was killed)."""
    return (CallRecord.update(ended_at=at, end_reason="engine_restart", outcome="engine_restart")
            .where((CallRecord.worker == worker) & CallRecord.ended_at.is_null()).execute())


def live_calls() -> list[CallRecord]:
    return list(CallRecord.select().where(CallRecord.ended_at.is_null()).order_by(CallRecord.started_at))


class CallLogWriter:
    """Runs call-log services one write transaction each, in order, on its own thread."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="call-log", daemon=True)
        self._thread.start()

    def submit(self, service, *args, **kwargs) -> None:
        self._queue.put((service, args, kwargs))

    def close(self, timeout_s: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            service, args, kwargs = item
            for attempt in range(3):
                try:
                    with write_transaction():
                        service(*args, **kwargs)
                    break
                except Exception:
                    log.exception("call log write failed (%s, attempt %d)", service.__name__, attempt + 1)


def now() -> datetime.datetime:
    return clock.now()
