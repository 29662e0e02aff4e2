"""`madoguchi voice ...` as an administrator runs it, in real processes against an appliance folder:
`voice evaluate` recognises the marked turns again with the configured recogniser (Whisper here, on
synthesised speech recorded as a call records it) and prints each item and a summary, audited; with
no marked turns it says so; `voice recording` still exports a call as a WAV file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from appliance import runtime
from db.connection import open_database, write_transaction
from db.models import AuditLog, CallTurn
from tests.calls import caller_audio, make_call, turn
from tests.conftest import NOW, make_instance, process_globals_kept

REPO = Path(__file__).parents[2]
PHRASE = "予約をお願いします"


def run(settings, *args, ok=True):
    result = subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MADOGUCHI_CONFIG": str(settings.data_dir.parent / "madoguchi.toml"),
                                 "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


def instance_with_a_call(root: Path, *, marked: bool):
    """An appliance folder with one recorded AI call whose first answer was misheard (and marked)."""
    from voice import audio, tts
    with process_globals_kept():
        settings = make_instance(root)
        runtime.configure(settings)
        db = open_database(settings)
        try:
            speech = audio.over_the_phone(tts.synthesize(PHRASE), tts.RATE)
            recording = caller_audio(3.0 + len(speech) / 16000, [(1.5, speech)])
            with write_transaction():
                call = make_call(NOW, audio=recording, path=["intent", "intent_nomatch"], outcome="caller_hangup",
                                 turns=[turn("intent", "nomatch", heard="よやくをおねがいしま", offset_s=1.5,
                                             duration_s=round(len(speech) / 16000, 2))])
                if marked:
                    CallTurn.update(corrected=PHRASE, corrected_by="clerk", corrected_at=NOW).where(
                        CallTurn.call == call).execute()
        finally:
            db.close()
    return settings, call.id


def audit_actions(settings) -> list[str]:
    with process_globals_kept():
        runtime.configure(settings)
        db = open_database(settings)
        try:
            return [row.action for row in AuditLog.select().order_by(AuditLog.id)]
        finally:
            db.close()


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    from voice.asr import whisper
    settings, call_id = instance_with_a_call(tmp_path_factory.mktemp("evaluate"), marked=True)
    whisper.install(settings.models_dir)
    return settings, call_id


def test_evaluate_prints_each_marked_turn_and_a_summary(marked):
    settings, call_id = marked
    out = run(settings, "voice", "evaluate").stdout
    assert "1 marked turn(s), recogniser whisper" in out
    item = next(line for line in out.splitlines() if line.startswith(("= turn", "x turn")))
    assert f"(call {call_id}, intent)" in item and f"expected: {PHRASE}" in item
    assert "at the call: よやくをおねがいしま" in item
    assert "予約" in item.split("heard: ")[1]  # Whisper hears the request again from the recording's segment
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("1 item(s), character error rate ") and "exact matches" in summary
    assert "call.evaluate" in audit_actions(settings)


def test_evaluate_without_marked_turns_says_what_to_do(tmp_path):
    settings, _ = instance_with_a_call(tmp_path / "box", marked=False)
    out = run(settings, "voice", "evaluate").stdout
    assert out.startswith("no marked turns: mark misrecognised answers on the staff site")


def test_recording_exports_the_call_as_wav(marked, tmp_path):
    settings, call_id = marked
    target = tmp_path / "call.wav"
    assert "wrote" in run(settings, "voice", "recording", str(call_id), str(target)).stdout
    with wave.open(io.BytesIO(target.read_bytes())) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        assert w.getframerate() == 8000 and len(samples) > 3 * 8000
    assert np.abs(samples[: 8000].astype(np.int32)).max() < 50 < np.abs(samples[12000:20000].astype(np.int32)).max()
    assert "call.export_recording" in audit_actions(settings)
    assert "has no recording" in run(settings, "voice", "recording", "999", str(target), ok=False).stderr
