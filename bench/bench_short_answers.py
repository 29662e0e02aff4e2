"""Short answers (はい, いいえ, はい、そうです, 一番 ...) through the phone path as the engine hears them:
synthesised by every installed voice (Open JTalk at several speeds and pitches, Kokoro's Japanese
voices), spoken at several levels into white, pink or babble noise at 15 and 10 dB SNR, carried as
8 kHz G.711 μ-law and back to 16 kHz, then cut by the VAD and the endpointer, recognised (Whisper
base, the shipped recogniser, with its filters) and understood by voice.nlu.answers.decide() as a
yes/no question does (一番/二番 as the offers question reads a number). Also: noise and silence alone,
which must give nothing the dialog would act on. Prints numbers; asserts nothing.

Per utterance, voice and noise: detected (an utterance came out of the endpointer), heard (the
filters kept some text), understood (decide() found the right answer: accept or confirm; "sure":
accept). Then the recognition time p50/p95, and for the yes/no answers n-best (the transcript and
its alternatives) against the best transcript alone, and against greedy decoding.

    .venv/bin/python bench/bench_short_answers.py [--quick] [--vad-threshold 0.35] [--start-ms 100]
        [--end-silence-ms 600] [--min-utterance-ms 140] [--no-speech-threshold 0.6] [--no-compare] [--verbose]

About 11 minutes on 2 cores (--quick --no-compare: about 3).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice import audio, tts  # noqa: E402
from voice.asr import whisper  # noqa: E402
from voice.call.endpointer import Endpointer, Utterance  # noqa: E402
from voice.nlu.answers import YES_NO, decide  # noqa: E402
from voice.nlu.readings import canonical  # noqa: E402
from voice.tts import ENGINES, Voice, kokoro  # noqa: E402
from voice.vad import SileroVad  # noqa: E402

RATE = 16000
ANSWERS = (("はい", "yes"), ("いいえ", "no"), ("はい、そうです", "yes"), ("ええ、そうです", "yes"),
           ("いいえ、違います", "no"), ("お願いします", "yes"), ("そうです", "yes"), ("違います", "no"),
           ("ええ", "yes"), ("一番", "1"), ("二番", "2"))
NOISES = (("clean", None), ("white", 15), ("white", 10), ("pink", 15), ("pink", 10), ("babble", 15), ("babble", 10))
LEVELS_DB = (0.0, -8.0, -16.0)  # the speech's level below the synthesiser's (peak 0.7): loud, normal, quiet line
BABBLE = ("予約の変更をお願いしたいのですが、来週の火曜日は空いていますか。", "本庁舎の窓口は何時まで開いていますか。",
          "マイナンバーカードの電子証明書の更新に来ました。", "すみません、もう一度お願いできますか。",
          "駐車場はどこにありますか。", "申請書はこちらでよろしいですか。")
NOISE_ONLY_RMS = (300.0, 1500.0)  # about -41 and -27 dBFS
LEAD_S, TRAIL_S = 0.8, 1.5  # noise before the answer, and after it (the endpointer needs its end silence)


def voices(quick: bool = False) -> list[tuple[str, object]]:
    """(label, how to synthesise): Open JTalk's one voice (mei) at several speeds and half-tones, and
    Kokoro's Japanese voices."""
    found: list[tuple[str, object]] = [("openjtalk x1.0", (1.0, 0.0)), ("openjtalk x0.85 -3ht", (0.85, -3.0)),
                                       ("openjtalk x1.2 +3ht", (1.2, 3.0))]
    if not quick:
        found.append(("openjtalk x1.0 -6ht", (1.0, -6.0)))
    if "kokoro" in ENGINES:
        names = ("jf_alpha", "jm_kumo") if quick else kokoro.VOICES
        found += [(f"kokoro/{name}", Voice("kokoro", name=name)) for name in names]
        if not quick:
            found.append(("kokoro/jf_alpha x1.2", Voice("kokoro", name="jf_alpha", speed=1.2)))
    return found


def speak(text: str, how) -> np.ndarray:
    if isinstance(how, Voice):
        return tts.synthesize(text, how)
    import pyopenjtalk

    speed, half_tone = how
    samples, rate = pyopenjtalk.tts(text, speed=speed, half_tone=half_tone)
    return tts.finish(samples, rate, 0.7)


def noise(kind: str, length: int, rng: np.random.Generator, babble: np.ndarray) -> np.ndarray:
    """Unit-power noise: white, pink (1/f), or babble (several talkers at once, from the synthesiser)."""
    if kind == "white":
        out = rng.normal(0, 1, length)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.normal(0, 1, length))
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
        out = np.fft.irfft(spectrum, length)
    else:
        start = int(rng.integers(0, len(babble) - length))
        out = babble[start:start + length].astype(np.float64)
    return out / (np.sqrt(np.mean(out ** 2)) or 1.0)


def make_babble(rng: np.random.Generator) -> np.ndarray:
    """Five talkers (different voices, pitches and sentences), each looped to 30 s, summed."""
    import pyopenjtalk

    total = np.zeros(30 * RATE)
    for i in range(5):
        talker = []
        for j in range(len(BABBLE)):
            samples, rate = pyopenjtalk.tts(BABBLE[(i + j) % len(BABBLE)], speed=0.9 + 0.1 * i, half_tone=-6 + 3 * i)
            talker.append(tts.finish(samples, rate, 0.7))
        voice = np.concatenate(talker).astype(np.float64)
        voice = np.roll(np.tile(voice, int(np.ceil(len(total) / len(voice)))), int(rng.integers(0, len(voice))))
        total += voice[: len(total)]
    return total


def scene(speech: np.ndarray, kind: str, snr_db: float | None, level_db: float, rng, babble) -> np.ndarray:
    """The answer at level_db inside noise at snr_db (against the answer's own power), over μ-law."""
    speech = speech.astype(np.float64) * 10 ** (level_db / 20)
    clip = np.concatenate([np.zeros(int(LEAD_S * RATE)), speech, np.zeros(int(TRAIL_S * RATE))])
    if snr_db is not None:
        power = float(np.mean(speech ** 2))
        clip += noise(kind, len(clip), rng, babble) * np.sqrt(power / 10 ** (snr_db / 10))
    clip = np.clip(np.round(clip), -32768, 32767).astype(np.int16)
    return audio.over_the_phone(clip, RATE, "ulaw")


def endpoint(samples: np.ndarray, vad: SileroVad, endpointer: Endpointer) -> tuple[bytes | None, bool]:
    """The first utterance the call would recognise, and whether it ended by itself (False: only the
    end of the clip ended it, the endpointer was still holding it open)."""
    vad.reset()
    endpointer.reset()
    for frame in audio.frames(samples, RATE):
        for item in endpointer.feed(frame, vad.is_speech(frame)):
            if isinstance(item, Utterance):
                return item.pcm, True
    flushed = endpointer.flush()
    return (flushed[0].pcm, False) if flushed else (None, False)


def understood(text: str, expected: str, hypotheses: tuple[str, ...], confidence: float) -> tuple[bool, bool]:
    """(understood, sure): yes/no through decide(); 一番/二番 as the offers question reads them."""
    if expected in ("1", "2"):
        hit = any(canonical(h).startswith(canonical(f"{expected}番")) for h in hypotheses)
        return hit, hit
    decision = decide(hypotheses, confidence, YES_NO)
    return decision.key == expected and decision.action != "retry", decision.key == expected and decision.action == "accept"


def raw_decode(recognizer, samples: np.ndarray) -> str:
    """Why a detected answer came back empty: Whisper's own output before the filters, with its
    no-speech probability and average log-probability (the recogniser's silence test)."""
    import math

    from faster_whisper.audio import pad_or_trim

    features = recognizer.model.feature_extractor(samples.astype(np.float32) / 32768.0)
    seconds = len(samples) / 16000
    window_s = min(30, max(recognizer.min_window_s, math.ceil(seconds) + 1))
    encoded = recognizer.model.encode(pad_or_trim(features, window_s * 100))
    result = recognizer.model.model.generate(
        encoded, [recognizer.prompt], beam_size=recognizer.beam_size, patience=1, length_penalty=1,
        max_length=len(recognizer.prompt) + min(whisper.MAX_NEW_TOKENS, 8 + int(12 * seconds)), return_scores=True,
        return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1], num_hypotheses=whisper.HYPOTHESES)[0]
    tokens = result.sequences_ids[0]
    logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    texts = [recognizer.tokenizer.decode(ids) for ids in result.sequences_ids]
    return f"raw {texts} no_speech {result.no_speech_prob:.2f} logprob {logprob:.2f}"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer voices and levels")
    parser.add_argument("--vad-threshold", type=float, default=None)
    parser.add_argument("--start-ms", type=int, default=None)
    parser.add_argument("--end-silence-ms", type=int, default=None)
    parser.add_argument("--min-utterance-ms", type=int, default=None)
    parser.add_argument("--no-speech-threshold", type=float, default=None,
                        help=f"the recogniser's silence test (now {whisper.NO_SPEECH_THRESHOLD}; above 1: off)")
    parser.add_argument("--no-compare", action="store_true", help="skip the n-best / best-only / greedy comparison")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    args = parser.parse_args()
    ep_args = {k: v for k, v in (("start_ms", args.start_ms), ("end_silence_ms", args.end_silence_ms),
                                 ("min_utterance_ms", args.min_utterance_ms)) if v is not None}
    endpointer = Endpointer(**ep_args)
    if args.no_speech_threshold is not None:
        whisper.NO_SPEECH_THRESHOLD = args.no_speech_threshold
    vad = SileroVad(**({"threshold": args.vad_threshold} if args.vad_threshold is not None else {}))
    print(f"endpointer start {endpointer.start_ms} ms, end silence {endpointer.end_silence_ms} ms, minimum "
          f"{endpointer.min_utterance_ms} ms; VAD threshold {vad.threshold}; recogniser's no-speech test "
          f"{whisper.NO_SPEECH_THRESHOLD}/{whisper.LOGPROB_THRESHOLD}")
    rng = np.random.default_rng(20261201)
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        kokoro.install(models)
        kokoro.use_models_dir(models)
        recognizer = whisper.WhisperRecognizer(whisper.install(models))
        greedy = whisper.WhisperRecognizer(models / whisper.FOLDER_NAME, beam_size=1) if not args.no_compare else None
        babble = make_babble(rng)
        levels = LEVELS_DB[:2] if args.quick else LEVELS_DB
        results = []
        compare = collections.defaultdict(lambda: [0, 0, []])  # mode → [understood, cases, seconds]
        for v_index, (label, how) in enumerate(voices(args.quick)):
            for a_index, (text, expected) in enumerate(ANSWERS):
                speech = speak(text, how)
                for n_index, (kind, snr) in enumerate(NOISES):
                    level = levels[(v_index + a_index + n_index) % len(levels)]
                    samples = scene(speech, kind, snr, level, rng, babble)
                    pcm, ended = endpoint(samples, vad, endpointer)
                    row = {"text": text, "voice": label, "noise": kind if snr is None else f"{kind} {snr} dB",
                           "level": level, "detected": pcm is not None, "ended": ended, "heard": "",
                           "alternatives": (), "understood": False, "sure": False, "seconds": 0.0, "single": False}
                    if pcm is not None:
                        transcript = recognizer.transcribe(np.frombuffer(pcm, np.int16))
                        row.update(heard=transcript.text, alternatives=transcript.alternatives,
                                   seconds=transcript.seconds, confidence=transcript.confidence)
                        if not transcript.text and args.verbose:
                            row["why"] = raw_decode(recognizer, np.frombuffer(pcm, np.int16))
                        row["understood"], row["sure"] = understood(text, expected, transcript.hypotheses,
                                                                    transcript.confidence)
                        row["single"] = understood(text, expected, (transcript.text,) if transcript.text else (),
                                                   transcript.confidence)[0]
                        if greedy is not None and expected in ("yes", "no"):
                            samples16 = np.frombuffer(pcm, np.int16)
                            for mode, engine, hypotheses in (("beam 5, n-best (5)", recognizer, whisper.HYPOTHESES),
                                                             ("beam 5, best only", recognizer, 1),
                                                             ("greedy (beam 1)", greedy, 1)):
                                saved, whisper.HYPOTHESES = whisper.HYPOTHESES, hypotheses
                                try:
                                    t = engine.transcribe(samples16)
                                finally:
                                    whisper.HYPOTHESES = saved
                                heard = t.hypotheses if hypotheses > 1 else ((t.text,) if t.text else ())
                                compare[mode][0] += understood(text, expected, heard, t.confidence)[0]
                                compare[mode][1] += 1
                                compare[mode][2].append(t.seconds)
                    results.append(row)
                    if args.verbose:
                        mark = "ok " if row["understood"] else ("-- " if row["detected"] else "ND ")
                        print(f"{mark}{label:22s} {row['noise']:13s} {level:+5.0f} dB {text:10s} → "
                              f"{row['heard']!r} {list(row['alternatives'])} {'' if ended else '(held open)'} {row.get('why', '')}",
                              flush=True)

        noise_only = []  # no caller speaking: line noise, a noisy room, people talking, a burst (a cough, a bump)
        for kind in ("silence", "white", "pink", "babble", "burst"):
            for rms in ((0.0,) if kind == "silence" else NOISE_ONLY_RMS):
                for _ in range(3 if kind != "burst" else 6):
                    clip = np.zeros(3 * RATE)
                    if kind == "burst":
                        length = int(rng.uniform(0.15, 0.8) * RATE)
                        clip[RATE:RATE + length] = noise(str(rng.choice(["white", "pink"])), length, rng, babble) * rms * 3
                    elif rms:
                        clip = noise(kind, len(clip), rng, babble) * rms
                    samples = audio.over_the_phone(np.clip(np.round(clip), -32768, 32767).astype(np.int16), RATE)
                    pcm, _ = endpoint(samples, vad, endpointer)
                    transcript = recognizer.transcribe(np.frombuffer(pcm, np.int16)) if pcm is not None else None
                    text = transcript.text if transcript else ""
                    decision = decide(transcript.hypotheses, transcript.confidence, YES_NO) if text else None
                    noise_only.append((kind, rms, pcm is not None, text, decision))

    def rate(rows, key):
        return sum(r[key] for r in rows) / len(rows) if rows else 0.0

    print("\n== by answer (detected / heard / understood / sure)")
    for text, _ in ANSWERS:
        rows = [r for r in results if r["text"] == text]
        print(f"  {text:10s} {rate(rows, 'detected'):6.1%} {sum(bool(r['heard']) for r in rows) / len(rows):6.1%} "
              f"{rate(rows, 'understood'):6.1%} {rate(rows, 'sure'):6.1%}  (n={len(rows)})")
    print("== by voice")
    for label in dict.fromkeys(r["voice"] for r in results):
        rows = [r for r in results if r["voice"] == label]
        print(f"  {label:22s} {rate(rows, 'detected'):6.1%} {rate(rows, 'understood'):6.1%} {rate(rows, 'sure'):6.1%}")
    print("== by noise")
    for label in dict.fromkeys(r["noise"] for r in results):
        rows = [r for r in results if r["noise"] == label]
        print(f"  {label:13s} {rate(rows, 'detected'):6.1%} {rate(rows, 'understood'):6.1%} {rate(rows, 'sure'):6.1%}"
              f"  held open {1 - rate(rows, 'ended'):5.1%}")
    print("== by level")
    for level in levels:
        rows = [r for r in results if r["level"] == level]
        print(f"  {level:+5.0f} dB {rate(rows, 'detected'):6.1%} {rate(rows, 'understood'):6.1%}")
    misses = [r for r in results if not r["understood"]]
    print(f"== misses ({len(misses)})")
    for r in misses:
        print(f"  {r['voice']:22s} {r['noise']:13s} {r['level']:+4.0f} dB {r['text']:10s} → "
              + (f"{r['heard']!r} {list(r['alternatives'])}" if r["detected"] else "not detected"))
    seconds = [r["seconds"] for r in results if r["detected"]]
    print(f"\nOVERALL: {len(results)} answers; detected {rate(results, 'detected'):.1%}, understood "
          f"{rate(results, 'understood'):.1%} (sure {rate(results, 'sure'):.1%}); best transcript alone "
          f"{rate(results, 'single'):.1%}; recognition p50 {percentile(seconds, 50):.2f} s, "
          f"p95 {percentile(seconds, 95):.2f} s")
    falses = [n for n in noise_only if n[3]]
    acted = [n for n in falses if n[4] is not None and n[4].action != "retry"]
    print("NOISE ONLY, taken as an answer: " + (", ".join(f"{k} rms {lv:.0f} {t!r} → {d.key} ({d.action})"
                                                       for k, lv, _, t, d in acted) or "none"))
    print(f"NOISE ONLY: {len(noise_only)} clips; utterances cut {sum(n[2] for n in noise_only)}, text kept "
          f"{len(falses)}, taken as yes/no {len(acted)}: " + ", ".join(f"{k} rms {lv:.0f} {t!r}" for k, lv, _, t, _ in falses))
    if compare:
        print("\n== yes/no: n-best against the best transcript alone (same utterances)")
        for mode, (hits, cases, times) in compare.items():
            print(f"  {mode:20s} understood {hits / cases:6.1%} ({hits}/{cases}); recognition "
                  f"p50 {percentile(times, 50):.2f} s, p95 {percentile(times, 95):.2f} s")


if __name__ == "__main__":
    main()
