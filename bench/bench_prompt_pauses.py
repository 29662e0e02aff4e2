"""The pauses inside a prompt as the caller hears it, before and after trimming the synthesiser's own
silence: for real prompts from voice/prompts.toml and each installed engine, the silence before the
first sentence, between sentences (each gap) and after the last, and the prompt's length. Prints
numbers; asserts nothing.

"before" is what the worker used to play: each sentence as the engine made it (its own leading and
trailing silence) followed by 0.3 s; "after" is what it plays now (voice/sip/helpers.py): trimmed
sentences with voice.tts.sentence_pause() between them. Silence is measured by energy (10 ms frames
quieter than 40 dB below the prompt's loudest), at the joins the construction knows.

    .venv/bin/python bench/bench_prompt_pauses.py [--prompts echo.greeting,booking.intent] [--engines openjtalk]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice import prompts, tts  # noqa: E402
from voice.tts import ENGINES, Voice, kokoro, sentence_pause, split_sentences  # noqa: E402

PROMPTS = ("echo.greeting", "booking.greeting", "booking.intent", "booking.yes_no_keys", "booking.venue",
           "booking.date", "booking.booked_end", "booking.birth_keys")
OLD_PAUSE_S = 0.3  # what voice/sip/helpers.py appended to each untrimmed piece
FRAME = 160  # 10 ms at 16 kHz
SILENCE_DB = -40.0


def voices() -> list[Voice]:
    found = [Voice("openjtalk"), Voice("openjtalk", speed=0.85)]
    if "kokoro" in ENGINES:
        found += [Voice("kokoro", name="jf_alpha"), Voice("kokoro", name="jm_kumo", speed=0.85)]
    return found


def label(voice: Voice) -> str:
    return f"{voice.engine}{'/' + voice.name if voice.name else ''} x{voice.speed}"


def edges(samples: np.ndarray, reference: float) -> tuple[float, float]:
    """Seconds of silence at the start and at the end of one piece."""
    n = len(samples) // FRAME
    rms = np.sqrt(np.mean(samples[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2, axis=1))
    loud = np.flatnonzero(rms >= reference * 10 ** (SILENCE_DB / 20))
    if not len(loud):
        return len(samples) / tts.RATE, 0.0
    return loud[0] * FRAME / tts.RATE, (len(samples) - (loud[-1] + 1) * FRAME) / tts.RATE


def peak_rms(samples: np.ndarray) -> float:
    n = len(samples) // FRAME
    return float(np.sqrt(np.mean(samples[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2, axis=1)).max())


def pieces(text: str, voice: Voice, trimmed: bool) -> list[np.ndarray]:
    """The prompt as the worker sends it: one piece per sentence, each but the last with its pause."""
    out = []
    sentences = split_sentences(text)
    for number, sentence in enumerate(sentences, 1):
        samples, rate = ENGINES[voice.engine](sentence, voice)
        piece = tts.finish(samples, rate, voice.volume, trim=trimmed)
        out.append(piece)
        if number < len(sentences):
            out.append(sentence_pause() if trimmed else np.zeros(int(OLD_PAUSE_S * tts.RATE), np.int16))
    return out


def measure(text: str, voice: Voice, trimmed: bool) -> dict:
    parts = pieces(text, voice, trimmed)
    speech = parts[::2]
    reference = max(peak_rms(p) for p in speech)
    silences = [edges(p, reference) for p in speech]
    pause = len(parts[1]) / tts.RATE if len(parts) > 1 else 0.0
    gaps = [silences[i][1] + pause + silences[i + 1][0] for i in range(len(speech) - 1)]
    return {"lead": silences[0][0], "gaps": gaps, "tail": silences[-1][1],
            "seconds": sum(len(p) for p in parts) / tts.RATE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", default=",".join(PROMPTS))
    parser.add_argument("--engines", default=",".join(ENGINES), help="which installed engines")
    args = parser.parse_args()
    chosen = [voice for voice in voices() if voice.engine in args.engines.split(",")]
    catalogue = prompts.defaults()
    with tempfile.TemporaryDirectory() as tmp:
        kokoro.install(Path(tmp))  # assembled from the installed packages, as `madoguchi models setup` does
        kokoro.use_models_dir(Path(tmp))
        summary: dict[tuple[str, str], list[float]] = {}
        for voice in chosen:
            print(f"\n== {label(voice)}")
            for key in args.prompts.split(","):
                text = catalogue[key]
                for name, trimmed in (("before", False), ("after", True)):
                    m = measure(text, voice, trimmed)
                    summary.setdefault((label(voice), name), []).extend(m["gaps"])
                    summary.setdefault((label(voice), name + " lead"), []).append(m["lead"])
                    summary.setdefault((label(voice), name + " length"), []).append(m["seconds"])
                    gaps = " ".join(f"{g:.2f}" for g in m["gaps"]) or "-"
                    print(f"  {key:22s} {name:6s} start {m['lead']:.2f} s  gaps {gaps} s  end {m['tail']:.2f} s"
                          f"  length {m['seconds']:.2f} s")
        print("\n== summary (gaps between sentences; silence before the first; total length)")
        for voice in chosen:
            for name in ("before", "after"):
                gaps = summary[(label(voice), name)]
                print(f"  {label(voice):26s} {name:6s} gap mean {statistics.mean(gaps):.2f} s"
                      f" (min {min(gaps):.2f}, max {max(gaps):.2f}, n={len(gaps)}),"
                      f" start mean {statistics.mean(summary[(label(voice), name + ' lead')]):.2f} s,"
                      f" all prompts {sum(summary[(label(voice), name + ' length')]):.1f} s")


if __name__ == "__main__":
    main()
