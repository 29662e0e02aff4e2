"""Short answers reach the dialog: 「はい」「いいえ」「はい、そうです」「ええ、そうです」「いいえ、違います」
「お願いします」「一番」「二番」, synthesised by several voices (Open JTalk at two speeds and pitches, two
Kokoro voices) into white, pink or babble noise at 15 and 10 dB SNR, carried as 8 kHz G.711 μ-law
and back, go through the phone path (Silero VAD → endpointer → Whisper base with its filters) and
are understood as the dialog understands them (voice.nlu.answers.decide() with YES_NO; a number as
the offers question reads it). And noise or silence alone never becomes a yes or a no.

The rates asserted are well under those measured (bench/bench_short_answers.py prints them by
answer, voice and noise): the noise is seeded, so a run gives the same audio, and nothing is timed.
"""

from __future__ import annotations

import numpy as np
import pytest

from voice import audio, tts
from voice.asr import whisper
from voice.call.endpointer import Endpointer, Utterance
from voice.nlu.answers import YES_NO, decide
from voice.nlu.readings import canonical
from voice.tts import Voice, kokoro
from voice.vad import SileroVad

RATE = 16000
ANSWERS = (("はい", "yes"), ("いいえ", "no"), ("はい、そうです", "yes"), ("ええ、そうです", "yes"),
           ("いいえ、違います", "no"), ("お願いします", "yes"), ("一番", "1"), ("二番", "2"))
NOISES = (("white", 15), ("pink", 10), ("babble", 15), ("white", 10))
TALKERS = ("本庁舎の窓口は何時まで開いていますか。", "予約の変更をお願いしたいのですが。", "駐車場はどこにありますか。")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    kokoro.install(folder)
    kokoro.use_models_dir(folder)
    yield folder
    kokoro.use_models_dir(None)


@pytest.fixture(scope="module")
def recognizer(models):
    return whisper.WhisperRecognizer(whisper.install(models))


def open_jtalk(text: str, speed: float, half_tone: float) -> np.ndarray:
    import pyopenjtalk

    samples, rate = pyopenjtalk.tts(text, speed=speed, half_tone=half_tone)
    return tts.finish(samples, rate, 0.7)


VOICES = (("openjtalk x1.0", lambda text: open_jtalk(text, 1.0, 0.0)),
          ("openjtalk x0.85 -3ht", lambda text: open_jtalk(text, 0.85, -3.0)),
          ("kokoro/jf_alpha", lambda text: tts.synthesize(text, Voice("kokoro", name="jf_alpha"))),
          ("kokoro/jm_kumo", lambda text: tts.synthesize(text, Voice("kokoro", name="jm_kumo"))))


def babble(rng: np.random.Generator) -> np.ndarray:
    """Three people talking at once (the synthesiser at other pitches), 20 s."""
    total = np.zeros(20 * RATE)
    for i, half_tone in enumerate((-6.0, 0.0, 4.0)):
        talker = np.concatenate([open_jtalk(t, 1.0, half_tone) for t in TALKERS[i:] + TALKERS[:i]]).astype(float)
        total += np.roll(np.tile(talker, int(np.ceil(len(total) / len(talker))))[: len(total)], int(rng.integers(RATE)))
    return total


def noise(kind: str, length: int, rng: np.random.Generator, talk: np.ndarray) -> np.ndarray:
    if kind == "white":
        out = rng.normal(0, 1, length)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.normal(0, 1, length))
        out = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(len(spectrum)), 1)), length)
    else:
        start = int(rng.integers(0, len(talk) - length))
        out = talk[start:start + length]
    return out / np.sqrt(np.mean(out ** 2))


def on_the_phone(speech: np.ndarray, kind: str, snr_db: float, level_db: float, rng, talk) -> np.ndarray:
    """0.8 s of noise, the answer at level_db, 1.5 s of noise; the noise snr_db under the answer; μ-law."""
    speech = speech.astype(float) * 10 ** (level_db / 20)
    clip = np.concatenate([np.zeros(int(0.8 * RATE)), speech, np.zeros(int(1.5 * RATE))])
    clip += noise(kind, len(clip), rng, talk) * np.sqrt(np.mean(speech ** 2) / 10 ** (snr_db / 10))
    return audio.over_the_phone(np.clip(np.round(clip), -32768, 32767).astype(np.int16), RATE, "ulaw")


def first_utterance(samples: np.ndarray, vad: SileroVad, endpointer: Endpointer) -> bytes | None:
    """What a call would send to the recogniser: the first utterance the endpointer cuts (or, when the
    noise still held it open at the end, what it was holding)."""
    vad.reset()
    endpointer.reset()
    for frame in audio.frames(samples, RATE):
        for item in endpointer.feed(frame, vad.is_speech(frame)):
            if isinstance(item, Utterance):
                return item.pcm
    flushed = endpointer.flush()
    return flushed[0].pcm if flushed else None


def understood(expected: str, hypotheses: tuple[str, ...], confidence: float) -> bool:
    if expected in ("1", "2"):  # as the offers question reads 「一番」 (voice/flows/booking/flow.py)
        return any(canonical(h).startswith(canonical(f"{expected}番")) for h in hypotheses)
    decision = decide(hypotheses, confidence, YES_NO)
    return decision.key == expected and decision.action != "retry"


@pytest.fixture(scope="module")
def results(recognizer):
    rng = np.random.default_rng(20261201)
    talk = babble(rng)
    vad, endpointer = SileroVad(), Endpointer()
    rows = []
    for v_index, (voice, speak) in enumerate(VOICES):
        for a_index, (text, expected) in enumerate(ANSWERS):
            speech = speak(text)
            for n_index, (kind, snr) in enumerate(NOISES):
                level = (0.0, -8.0, -16.0)[(v_index + a_index + n_index) % 3]
                pcm = first_utterance(on_the_phone(speech, kind, snr, level, rng, talk), vad, endpointer)
                transcript = recognizer.transcribe(np.frombuffer(pcm, np.int16)) if pcm is not None else None
                rows.append({"voice": voice, "text": text, "noise": f"{kind} {snr} dB", "detected": pcm is not None,
                             "heard": transcript.hypotheses if transcript else (),
                             "understood": bool(transcript) and understood(expected, transcript.hypotheses,
                                                                           transcript.confidence)})
    return rows


def test_short_answers_are_detected_as_speech(results):
    """The VAD and the endpointer pass nearly every answer on (99% measured here); none of the quick ones is
    lost for being short."""
    detected = [r for r in results if r["detected"]]
    assert len(detected) >= 0.9 * len(results), [(r["voice"], r["noise"], r["text"]) for r in results
                                                  if not r["detected"]]
    quick = [r for r in results if r["text"] in ("はい", "いいえ")]
    assert sum(r["detected"] for r in quick) >= 0.8 * len(quick)


def test_short_answers_are_heard_not_filtered(results):
    """What was detected comes back as text: the filters and the recogniser's silence test keep it."""
    detected = [r for r in results if r["detected"]]
    assert sum(bool(r["heard"]) for r in detected) >= 0.85 * len(detected)


def test_short_answers_are_understood(results):
    """decide() finds the answer said in most cases, and in every voice and noise some; the misses are
    Whisper base mishearing noisy 8 kHz speech (printed on failure)."""
    rate = sum(r["understood"] for r in results) / len(results)
    yes_no = [r for r in results if r["text"] not in ("一番", "二番")]
    misses = [(r["voice"], r["noise"], r["text"], r["heard"][:3]) for r in results if not r["understood"]]
    assert rate >= MIN_UNDERSTOOD, (rate, misses)
    assert sum(r["understood"] for r in yes_no) >= MIN_YES_NO * len(yes_no), misses
    for key in ("voice", "noise"):
        for value in {r[key] for r in results}:
            rows = [r for r in results if r[key] == value]
            assert sum(r["understood"] for r in rows) >= 0.3 * len(rows), (value, misses)


MIN_UNDERSTOOD = 0.55  # measured 0.70 (yes/no 0.84; 一番/二番, which Whisper base hears as 行って.., 0.28)
MIN_YES_NO = 0.7


def test_noise_and_silence_alone_are_no_answer(recognizer):
    """No caller speaking (silence, hiss, hum, a bump, people talking nearby): nothing the yes/no
    question would take as an answer."""
    rng = np.random.default_rng(7)
    talk = babble(rng)
    vad, endpointer = SileroVad(), Endpointer()
    taken = []
    for kind in ("silence", "white", "pink", "babble", "burst"):
        for rms in (300.0, 1500.0):
            clip = np.zeros(3 * RATE)
            if kind == "burst":
                clip[RATE:RATE + int(0.4 * RATE)] = noise("pink", int(0.4 * RATE), rng, talk) * rms * 3
            elif kind != "silence":
                clip = noise(kind, len(clip), rng, talk) * rms
            samples = audio.over_the_phone(np.clip(np.round(clip), -32768, 32767).astype(np.int16), RATE)
            pcm = first_utterance(samples, vad, endpointer)
            if pcm is None:
                continue
            transcript = recognizer.transcribe(np.frombuffer(pcm, np.int16))
            decision = decide(transcript.hypotheses, transcript.confidence, YES_NO)
            if transcript.text and decision.action != "retry":
                taken.append((kind, rms, transcript.hypotheses, decision))
    assert taken == []


def test_a_quick_high_yes_the_vad_does_not_hear_still_reaches_the_recogniser(recognizer):
    """Silero hears no voice at all in 「はい」 said quickly a little higher (the phone benchmark's
    callers went unheard at every read-back): loudness and voicing make it an utterance all the same,
    and the recogniser hears a yes in it."""
    vad = SileroVad()
    for speed in (0.85, 1.0, 1.15):
        speech = audio.resample(tts.synthesize("はい", Voice(speed=speed)), RATE, int(RATE / 1.08))
        clip = np.concatenate([np.zeros(RATE), speech, np.zeros(int(1.5 * RATE))])
        samples = audio.over_the_phone(np.clip(clip, -32768, 32767).astype(np.int16), RATE)
        assert first_utterance(samples, vad, Endpointer(min_level=1e9)) is None  # the VAD alone: nothing
        pcm = first_utterance(samples, vad, Endpointer())
        assert pcm is not None, speed
        transcript = recognizer.transcribe(np.frombuffer(pcm, np.int16), ("はい", "いいえ"))
        assert understood("yes", transcript.hypotheses, transcript.confidence), (speed, transcript)
