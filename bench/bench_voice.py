"""The voice engine on this machine, measured as a caller meets it. Prints numbers; asserts nothing
except that the calls it places were served (a benchmark of a broken engine would be meaningless).

1. ASR, per installed engine: real-time factor and character error rate on synthesized utterances
   sent through 8 kHz G.711 (several voices and speeds, half of them with noise at 15 dB SNR). The
   error rate is counted on readings (katakana), since 「予約」 and 「よやく」 are the same answer on
   the phone; "closed set" is how often the utterance is the best match among all the utterances, as
   a question with expected answers uses the recogniser.
2. Turn latency: real SIP calls to the demo line through Kamailio, each a pjsua2 caller process that
   speaks and times the reply (end of its speech to the first sound of the engine's answer: end of
   speech detection + recognition + synthesis + the jitter buffers), with 1, 2, 3... callers at once
   until the 95th percentile passes 2 s.
3. DTMF-only calls: SIPp places `--dtmf-calls` concurrent calls (default 50) that each press 1 2 3 #
   and listen to the read-back; every call must succeed.

    .venv/bin/python bench/bench_voice.py [--skip asr,turns,dtmf] [--dtmf-calls 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice import audio  # noqa: E402
from voice.nlu.readings import closest, reading  # noqa: E402
from voice.tts import ENGINES, Voice, synthesize  # noqa: E402

PHRASES = (
    "予約をお願いします", "キャンセルしたいです", "予約の変更をお願いします", "はい、そうです", "いいえ、違います",
    "来週の火曜日の午前中", "十二月三日の十時からでお願いします", "マイナンバーカードの電子証明書の更新です",
    "本庁舎でお願いします", "電話番号は、ゼロ九ゼロ、一二三四、五六七八です",
)
TURN_PHRASES = ("予約をお願いします", "来週の火曜日の午前中", "はい、そうです")
SNR_DB = 15
LATENCY_GOAL_S = 2.0


def voices() -> list[Voice]:
    found = [Voice("openjtalk", speed=s) for s in (0.85, 1.0, 1.2)]
    if "kokoro" in ENGINES:  # a second engine, with a female and a male voice
        found += [Voice("kokoro", name=n) for n in ("jf_alpha", "jm_kumo")]
    return found


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def phone_utterances() -> list[tuple[str, str, np.ndarray]]:
    """(phrase, description, 16 kHz samples after an 8 kHz G.711 leg)."""
    rng = np.random.default_rng(7)
    out = []
    for v_index, voice in enumerate(voices()):
        for p_index, phrase in enumerate(PHRASES):
            clean = synthesize(phrase, voice)
            noisy = (v_index + p_index) % 2 == 1
            if noisy:
                power = float(np.mean(clean.astype(np.float64) ** 2))
                noise = rng.normal(0, np.sqrt(power / 10 ** (SNR_DB / 10)), len(clean))
                clean = np.clip(clean + noise, -32768, 32767).astype(np.int16)
            label = f"{voice.engine}{'/' + voice.name if voice.name else ''} x{voice.speed}" + (" +noise" if noisy else "")
            out.append((phrase, label, audio.over_the_phone(np.concatenate([np.zeros(3200, np.int16), clean,
                                                                            np.zeros(3200, np.int16)]), 16000)))
    return out


def installed_engines(models_dir: Path) -> dict:
    from voice.asr import reazonspeech, whisper
    from voice.asr.whisper import ModelProblem
    engines = {}
    try:
        folder = whisper.install(models_dir)
        engines["whisper (as run: beam 5, 10 s window)"] = whisper.WhisperRecognizer(folder, threads=2)
        engines["whisper, 30 s window"] = whisper.WhisperRecognizer(folder, threads=2, min_window_s=30)
        engines["whisper, 5 s window"] = whisper.WhisperRecognizer(folder, threads=2, min_window_s=5)
        engines["whisper, greedy"] = whisper.WhisperRecognizer(folder, threads=2, beam_size=1)
    except ModelProblem as exc:
        print(f"  whisper: not measured ({exc})")
    folder = models_dir / reazonspeech.FOLDER_NAME
    if reazonspeech.check(folder):
        print("  reazonspeech: not measured (no model installed: `madoguchi models import DIR`)")
    else:
        engines["reazonspeech"] = reazonspeech.ReazonSpeechRecognizer(folder, threads=2)
    print("  reazonspeech-espnet: not measured (optional extra, not installed here)")
    return engines


def bench_asr(models_dir: Path) -> None:
    print("== ASR on synthesized 8 kHz G.711 utterances")
    from voice.tts import kokoro
    kokoro.install(models_dir)
    kokoro.use_models_dir(models_dir)
    utterances = phone_utterances()
    engines = installed_engines(models_dir)
    print(f"  {len(utterances)} utterances, {sum(len(u[2]) for u in utterances) / 16000:.0f} s of speech, "
          f"voices: {', '.join(sorted({u[1].replace(' +noise', '') for u in utterances}))}")
    print("| engine | RTF | reading CER | reading CER with noise | closed-set top-1 |")
    print("|---|---|---|---|---|")
    for name, engine in engines.items():
        engine.transcribe(utterances[0][2])  # warm-up
        seconds = errors = chars = noisy_errors = noisy_chars = hits = 0
        for phrase, label, samples in utterances:
            result = engine.transcribe(samples)
            seconds += result.seconds
            wrong, length = edit_distance(reading(result.text), reading(phrase)), len(reading(phrase))
            errors, chars = errors + wrong, chars + length
            if "noise" in label:
                noisy_errors, noisy_chars = noisy_errors + wrong, noisy_chars + length
            hits += closest(result.hypotheses, {p: (p,) for p in PHRASES})[0] == phrase
        audio_s = sum(len(u[2]) for u in utterances) / 16000
        print(f"| {name} | {seconds / audio_s:.3f} | {errors / chars:.1%} | {noisy_errors / noisy_chars:.1%} "
              f"| {hits}/{len(utterances)} |")


def _caller_steps(speech: list[Path]) -> list[dict]:
    # a caller who waits for 1.5 s of quiet before speaking, so a pause inside a prompt is not taken for its end
    steps = [{"wait_prompt": 40, "quiet": 1.5}]
    for wav in speech:
        steps += [{"say": str(wav)}, {"wait_prompt": 20, "quiet": 1.5}]
    return steps + [{"hangup": True}]


def bench_turns(root: Path) -> None:
    from tests.sip.conftest import call, speech_wav, start_engine, stop_engine
    print("== Turn latency (real SIP calls to the demo line, Whisper base, 8 kHz PCMU)")
    engine = start_engine(root / "turns", voice_max_calls=16, voice_ring_ms=0, record_calls=True)
    try:
        speech = [speech_wav(root / f"turn{i}.wav", p) for i, p in enumerate(TURN_PHRASES)]
        best = 0
        print("| callers at once | turns | p50 s | p95 s | max s |")
        print("|---|---|---|---|---|")
        for callers in (1, 2, 3, 4, 6, 8, 12, 16):
            def one(i: int, callers: int = callers) -> dict:
                folder = root / f"c{callers}-{i}"
                folder.mkdir()
                time.sleep(i * 0.7)  # callers do not all start speaking in the same 20 ms
                return call(engine, folder, _caller_steps(speech), timeout_s=240)

            with ThreadPoolExecutor(callers) as pool:
                reports = list(pool.map(one, range(callers)))
            latencies = [s.get("reply_after_s") for r in reports for s in r["steps"][2::2]]
            values = sorted(v for v in latencies if v is not None)
            missing = len(TURN_PHRASES) * callers - len(values)
            if missing or not all(r["answered"] for r in reports):
                print(f"| {callers} | {len(values)} | - | - | - |  ({missing} turns without a reply)")
                print(json.dumps(reports, ensure_ascii=False)[:3000])
                break
            p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
            print(f"| {callers} | {len(values)} | {statistics.median(values):.2f} | {p95:.2f} | {values[-1]:.2f} |")
            best = callers if p95 <= LATENCY_GOAL_S else best
            engine.wait_idle()
            if p95 > 3 * LATENCY_GOAL_S:
                break
        print(f"  most callers at once with p95 under {LATENCY_GOAL_S:.0f} s: {best}")
    finally:
        stop_engine(engine)


def bench_dtmf(root: Path, most: int) -> None:
    from tests.sip.conftest import run_sipp, start_engine, stop_engine
    print(f"== DTMF-only calls at once (SIPp, RFC 4733 keys 1 2 3 #, each call about 14 s), up to {most}")
    engine = start_engine(root / "dtmf", voice_max_calls=most + 4, voice_ring_ms=0, record_calls=True)
    best = 0
    try:
        print("| calls at once | SIPp exit | answered | keys read back | busiest second's load (1 min avg) |")
        print("|---|---|---|---|---|")
        for calls in sorted({*range(10, most, 10), most}):
            before = engine.last_call_id()
            run = run_sipp(engine, str(ROOT / "bench" / "dtmf_call.xml"), calls=calls, rate=25, limit=calls,
                           timeout_s=300)
            engine.wait_idle(60)
            rows = engine.calls(before)
            answered = sum(1 for r in rows if r["answered_at"])
            read_back = sum(1 for r in rows if "digits" in r["path"])
            print(f"| {calls} | {run.returncode} | {answered} | {read_back} | {os.getloadavg()[0]:.1f} |")
            if run.returncode != 0 or read_back < calls:
                failures = [line for line in run.stderr.splitlines() if "Aborting" in line][:3]
                print("  " + "\n  ".join(failures))
                break
            best = calls
            time.sleep(5)
        print(f"  most DTMF calls at once with none failed: {best}")
    finally:
        stop_engine(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: asr, turns, dtmf")
    parser.add_argument("--dtmf-calls", type=int, default=50)
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-voice-") as tmp:
        root = Path(tmp)
        if "asr" not in skip:
            bench_asr(root / "models")
        if "turns" not in skip:
            bench_turns(root)
        if "dtmf" not in skip:
            bench_dtmf(root, args.dtmf_calls)
    print(json.dumps({"load_average_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
