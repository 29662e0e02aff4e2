"""The booking dialog's closed answers through the phone path, as the engine hears them: 「次」「次の会場」
at a menu, a number said (「二番」), a time alone and in a sentence (「十一時半」「十一時半です」), and each
of the demo city's 14 venues said as 「…でお願いします」, matched among all 14 and among its menu page's 4.
Open JTalk at four speeds and pitches, clean and with white noise at 15 and 10 dB SNR, over 8 kHz
μ-law, cut by the engine's VAD and endpointer, recognised by Whisper base (its 5 best) and understood
by voice.nlu as the dialog does. Prints numbers; asserts nothing. About 4 minutes on 2 cores.

    .venv/bin/python bench/bench_closed_answers.py
"""

from __future__ import annotations

import datetime
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_short_answers import endpoint, make_babble, scene, speak  # noqa: E402

from voice.asr import whisper  # noqa: E402
from voice.call.endpointer import Endpointer  # noqa: E402
from voice.call.requests import VenueChoice  # noqa: E402
from voice.nlu.answers import asks_next, choice  # noqa: E402
from voice.nlu.readings import closest  # noqa: E402
from voice.nlu.times import closest_time, parse_time  # noqa: E402
from voice.nlu.venues import phrases  # noqa: E402
from voice.vad import SileroVad  # noqa: E402

VOICES = ((1.0, 0.0), (0.85, -3.0), (1.2, 3.0), (1.15, 1.5))  # (speed, half-tones)
LINES = (("clean", None), ("white", 15), ("white", 10))
T = datetime.time
FREE = [T(9), T(9, 30), T(10), T(10, 30), T(11), T(11, 30), T(13), T(13, 30), T(14), T(15)]
TIMES = (("十一時半", T(11, 30)), ("十一時半です", T(11, 30)), ("十一時半でお願いします", T(11, 30)),
         ("午後二時でお願いします", T(14)), ("十時です", T(10)))


def heard_as(recognizer, vad, endpointer, text: str, how, kind: str, snr, rng, babble) -> tuple[str, ...]:
    pcm, _ = endpoint(scene(speak(text, how), kind, snr, 0.0, rng, babble), vad, endpointer)
    if pcm is None:
        return ()
    transcript = recognizer.transcribe(np.frombuffer(pcm, dtype=np.int16))
    return (transcript.text, *transcript.alternatives) if transcript.text else ()


def time_understood(hypotheses: tuple[str, ...]) -> T | None:
    wish = parse_time(hypotheses)
    if wish is not None:
        return wish.at
    at, likeness = closest_time(hypotheses, FREE)
    return at if likeness >= 0.75 else None


def main() -> None:
    city = tomllib.loads((ROOT / "appliance" / "demo_city.toml").read_text(encoding="utf-8"))
    venues = tuple(VenueChoice(i, v["name"], v.get("kana", "")) for i, v in enumerate(city["venue"]))
    rng = np.random.default_rng(20261202)
    with tempfile.TemporaryDirectory() as tmp:
        recognizer = whisper.WhisperRecognizer(whisper.install(Path(tmp)))
        vad, endpointer, babble = SileroVad(), Endpointer(), make_babble(rng)

        def each(text: str):
            for how in VOICES:
                for kind, snr in LINES:
                    yield heard_as(recognizer, vad, endpointer, text, how, kind, snr, rng, babble)

        cases = len(VOICES) * len(LINES)
        print(f"{cases} cases per answer: {len(VOICES)} voices x clean, white 15 dB, white 10 dB")
        for text in ("次", "次の会場", "次の会場をお願いします"):
            print(f"{text}: next page {sum(asks_next(h) for h in each(text))}/{cases}")
        for text, number in (("一番", 1), ("二番", 2), ("四番", 4), ("二番でお願いします", 2)):
            print(f"{text}: number {sum(choice(h, 4) == number for h in each(text))}/{cases}")
        for text, at in TIMES:
            print(f"{text}: time {sum(time_understood(h) == at for h in each(text))}/{cases}")
        counts = {"all 14": [0, 0, 0, 0], "its page's 4": [0, 0, 0, 0]}  # best right, sure right, sure wrong, cases
        for index, venue in enumerate(venues):
            page = venues[index // 4 * 4:index // 4 * 4 + 4]
            short = venue.name.split()[-1]
            for hypotheses in each(f"{short}でお願いします"):
                for label, pool in (("all 14", venues), ("its page's 4", page)):
                    key, likeness = closest(hypotheses, phrases(pool), partial=True)
                    right = key == str(venue.id)
                    tally = counts[label]
                    tally[0] += right
                    tally[1] += right and likeness >= 0.8
                    tally[2] += not right and likeness >= 0.8
                    tally[3] += 1
        for label, (best, sure, wrong, total) in counts.items():
            print(f"venue among {label}: best match right {best}/{total}, taken without asking (likeness ≥ 0.8) "
                  f"{sure} right and {wrong} wrong")


if __name__ == "__main__":
    main()
