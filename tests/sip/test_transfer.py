"""Transfers from the demo line (0 then # asks for `staff`), with SIPp as the staff phone: bridged (the
engine calls staff through Kamailio and joins the calls, recording on) and blind (REFER: the caller's
phone calls staff itself); a busy or unanswered target gives the announcement and the flow goes on."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from tests.sip.conftest import (
    call,
    engine_problems,
    free_port_block,
    run_sipp,
    start_engine,
    start_uas,
    stop_engine,
)

GREETING, PRESS_ZERO = {"wait_prompt": 40}, {"dtmf": "0#"}


def transfer_engine(tmp_path_factory, mode: str):
    staff_port = free_port_block(1, region=45000)
    engine = start_engine(tmp_path_factory.mktemp(f"transfer-{mode}"), voice_max_calls=4, voice_ring_ms=0,
                          transfer_targets=f"staff=sip:staff@127.0.0.1:{staff_port}", transfer_mode=mode,
                          transfer_timeout_s=4)
    return engine, staff_port


def finish(engine) -> None:
    stop_engine(engine)
    assert engine.process.returncode == 0, engine.log_text()[-3000:]
    assert not engine_problems(engine.log_text())


@pytest.fixture(scope="module")
def bridged(tmp_path_factory):
    engine, port = transfer_engine(tmp_path_factory, "bridged")
    yield engine, port
    finish(engine)


@pytest.fixture(scope="module")
def blind(tmp_path_factory):
    engine, port = transfer_engine(tmp_path_factory, "blind")
    yield engine, port
    finish(engine)


def level(path, last_seconds: float) -> float:
    with wave.open(str(path), "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        tail = samples[-int(last_seconds * w.getframerate()):]
    return float(np.sqrt(np.mean(tail ** 2)))


def test_bridged_transfer_joins_the_caller_and_staff_and_keeps_recording(bridged, tmp_path):
    """The caller presses 0 #, hears ringback, then staff (SIPp plays speech for 3 s and hangs up); the
    engine then hangs up on the caller. The call log says transferred; the recording runs to the end."""
    engine, port = bridged
    staff = start_uas(tmp_path / "staff", "staff_answer.xml", port, duration_ms=3000)
    before = engine.last_call_id()
    report = call(engine, tmp_path, [GREETING, PRESS_ZERO, {"wait_end": 40}])
    out, err = staff.communicate(timeout=60)
    assert staff.returncode == 0, out[-2000:] + err[-2000:]
    assert report["answered"] and report["steps"][-1] == {"ended_by_engine": True}, report
    assert level(tmp_path / "heard.wav", 2.0) > 300  # staff's voice, not silence, before the end
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["outcome"] == "transferred" and row["end_reason"] == "transfer_ended", row
    assert row["path"] == ["greeting", "transfer", "transferred"]
    assert abs(row["recording_seconds"] - row["duration_s"]) < 1.5


@pytest.mark.parametrize(("scenario", "reason"), [("staff_busy.xml", "busy"), ("staff_no_answer.xml", "no_answer")])
def test_busy_or_unanswered_staff_gives_the_announcement_and_the_flow_goes_on(bridged, tmp_path, scenario, reason):
    """Busy (486) or no answer within transfer_timeout_s (the engine CANCELs: SIPp checks it): the caller
    is still on the line, hears transfer_failed_announcement and the flow's next question, and can go on."""
    engine, port = bridged
    staff = start_uas(tmp_path / "staff", scenario, port)
    before = engine.last_call_id()
    report = call(engine, tmp_path, [GREETING, PRESS_ZERO, {"wait_prompt": 30, "quiet": 2.5}, {"dtmf": "5#"},
                                     {"wait_prompt": 20}, {"hangup": True}])
    out, err = staff.communicate(timeout=60)
    assert staff.returncode == 0, out[-2000:] + err[-2000:]
    assert report["answered"] and report["state"] == "disconnected", report
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["end_reason"] == "caller_hangup" and row["outcome"] != "transferred", row
    assert row["path"] == ["greeting", "transfer", f"transfer_{reason}", "after_transfer", "digits"]


def test_blind_transfer_hands_the_caller_over_with_refer(blind, tmp_path):
    """In blind mode the engine sends REFER: the caller's phone calls staff itself (SIPp answers it), the
    engine's part of the call ends as transferred."""
    engine, port = blind
    staff = start_uas(tmp_path / "staff", "staff_answer.xml", port, duration_ms=2000)
    before = engine.last_call_id()
    # A-law: the only codec both the test caller (one codec enabled) and the SIPp staff phone offer
    report = call(engine, tmp_path, [GREETING, PRESS_ZERO, {"wait_end": 40}], codec="PCMA/8000/1")
    out, err = staff.communicate(timeout=60)
    assert report["steps"][-1] == {"ended_by_engine": True}, report
    assert staff.returncode == 0, f"{report}\n{out[-2000:]}{err[-2000:]}"
    [transfer] = report["transfers"]
    assert f"sip:staff@127.0.0.1:{port}" in transfer["to"] and transfer["answered"], report
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["outcome"] == "transferred" and row["end_reason"] == "transferred", row
    assert row["path"] == ["greeting", "transfer", "transferred"]


def test_a_worker_keeps_a_call_place_for_each_of_its_callers_transfers(bridged):
    """Every demo call may be put through, and a bridged transfer calls the target from the caller's
    worker (4 call places each). So a worker takes 2 of them, keeping a place for each one's leg: with
    voice_max_calls 4 (two workers), 5 calls at once are 4 answered by the line and 1 by the overflow
    worker's busy announcement (never a transfer falling back to REFER for want of a place)."""
    engine, _ = bridged
    before = engine.last_call_id()
    result = run_sipp(engine, "basic.xml", calls=5, rate=20, limit=5, extra=("-d", "1500"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    engine.wait_idle()
    rows = engine.calls(before)
    assert sorted(row["path"] == ["busy"] for row in rows) == [False, False, False, False, True], rows
    workers = [row[0] for row in engine.query("SELECT worker FROM call_record WHERE id > ?", before)]
    assert sorted(workers.count(index) for index in set(workers)) == [1, 2, 2], workers
