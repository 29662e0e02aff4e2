"""The out-of-the-box recogniser: the model is assembled from the installed packages and verified,
and real synthesized Japanese, degraded to 8 kHz G.711, is recognised."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from voice import audio, tts
from voice.asr import whisper
from voice.asr.filters import normalize


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return whisper.install(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def recognizer(model_folder):
    return whisper.WhisperRecognizer(model_folder)


def test_model_is_assembled_and_verified_once(model_folder):
    assert whisper.check(model_folder) == []
    before = (model_folder / "model.bin").stat().st_mtime_ns
    assert whisper.install(model_folder.parent) == model_folder
    assert (model_folder / "model.bin").stat().st_mtime_ns == before


def test_damaged_model_is_named(tmp_path, model_folder):
    broken = tmp_path / "whisper-base"
    broken.mkdir()
    for name in whisper.SIDE_FILES:
        (broken / name).write_bytes((model_folder / name).read_bytes())
    (broken / "model.bin").write_bytes(b"not a model")
    assert "does not match the expected SHA-256" in whisper.check(broken)[0]
    (broken / "config.json").unlink()
    assert any("config.json is missing" in p for p in whisper.check(broken))
    with pytest.raises(whisper.ModelProblem, match="models setup"):
        whisper.WhisperRecognizer(broken)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_recognises_synthesized_speech_over_the_phone(recognizer, law):
    speech = audio.over_the_phone(tts.synthesize("予約をお願いします"), tts.RATE, law)
    result = recognizer.transcribe(speech)
    assert "予約" in normalize(result.text), result
    assert 0 < result.confidence <= 1 and result.seconds > 0


def test_long_audio_is_recognised_in_pieces(recognizer):
    """Past Whisper's 30 s window (a whole call checked with `asr transcribe`) the audio is cut at a
    quiet point and each piece decoded: speech near the end is not lost."""
    speech = audio.over_the_phone(tts.synthesize("予約をお願いします"), 16000)
    samples = np.concatenate([np.zeros(16000 * 33, np.int16), speech, np.zeros(8000, np.int16)])
    assert "予約" in recognizer.transcribe(samples).text


def test_silence_and_noise_give_nothing(recognizer):
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 200, 16000 * 2)).astype(np.int16)
    for samples in (np.zeros(16000 * 2, dtype=np.int16), noise):
        result = recognizer.transcribe(samples)
        assert result.text == "" and result.confidence == 0.0, result


def test_cli_transcribes_wav_files_of_any_rate(tmp_path, model_folder):
    root = tmp_path / "box"
    (root / "data" / "models").mkdir(parents=True)
    (root / "data" / "models" / "whisper-base").symlink_to(model_folder)
    config = root / "madoguchi.toml"
    config.write_text(f'data_dir = "{root / "data"}"\nkey_dir = "{root / "keys"}"\n', encoding="utf-8")
    wav = tmp_path / "caller.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(audio.resample(tts.synthesize("予約をお願いします"), 16000, 8000).tobytes())
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    env = {**os.environ, "MADOGUCHI_CONFIG": str(config)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "appliance", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=300)
    assert "ok   whisper" in run("models", "check").stdout
    out = run("asr", "transcribe", str(wav))
    assert out.returncode == 0 and "予約" in out.stdout, out.stderr
    bad = run("asr", "transcribe", str(tmp_path / "junk.wav"))
    assert bad.returncode != 0 and "not a readable WAV file" in bad.stderr


def as_the_endpointer_cuts_it(text: str) -> np.ndarray:
    """An answer over μ-law with the half second of silence before and after that an utterance has."""
    speech = audio.over_the_phone(tts.synthesize(text), tts.RATE, "ulaw")
    return np.concatenate([np.zeros(8000, np.int16), speech, np.zeros(8000, np.int16)])


@pytest.mark.parametrize("venue", ["本庁舎", "南支所"])
def test_expected_answers_are_scored_and_the_one_said_leads(recognizer, venue):
    """Whisper writes 「本庁舎でお願いします」 as 「本教者で…」, but scoring each expected venue against the
    audio puts the one said first, clearly ahead of names that sound alike (北支所, 南部公民館), one
    score per answer in the order asked."""
    expected = ("本庁舎", "北支所", "南支所", "東支所", "西支所", "南部公民館", "どこでも")
    result = recognizer.transcribe(as_the_endpointer_cuts_it(f"{venue}でお願いします"), expected)
    assert len(result.scores) == len(expected)
    ranked = sorted(zip(result.scores, expected, strict=True), reverse=True)
    assert ranked[0][1] == venue and ranked[0][0] - ranked[1][0] >= 3, ranked


def test_nothing_is_scored_without_expected_answers_or_without_speech(recognizer):
    assert recognizer.transcribe(as_the_endpointer_cuts_it("はい")).scores == ()
    assert recognizer.transcribe(np.zeros(16000 * 2, dtype=np.int16), ("はい", "いいえ")).scores == ()
