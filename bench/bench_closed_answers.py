"""The booking dialog's closed answers through the phone path, as the engine hears them, understood
three ways: by the transcripts' readings alone (voice.nlu matching Whisper's 5 best), by the
recogniser's scores of the expected answers alone (voice/nlu/scores.py), and by both as the dialog
does (agree()). Answers: what the caller wants, yes and no, 「次の会場」 at a menu, a number said
(「二番」), a time alone and in a sentence, each of the demo city's 14 venues said as 「…でお願いします」
(among all 14 and among its menu page's 4), and answers to another question at the venue question
(which should be asked again, or at most confirmed), and noise with nobody speaking. Open JTalk at four speeds and pitches, clean and
with white noise at 15 and 10 dB SNR, over 8 kHz μ-law, cut by the engine's VAD and endpointer.
Prints numbers; asserts nothing. About 6 minutes on 2 cores.

Per way: right (the answer the dialog takes or confirms is the one said), sure right (taken without
asking), sure wrong (taken without asking, and wrong: the costly kind), and recognition time p50/p95
with and without scoring.

    .venv/bin/python bench/bench_closed_answers.py
"""

from __future__ import annotations

import collections
import datetime
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_short_answers import NOISE_ONLY_RMS, RATE, endpoint, make_babble, noise, scene, speak  # noqa: E402

from voice import audio  # noqa: E402
from voice.asr import whisper  # noqa: E402
from voice.call.endpointer import Endpointer  # noqa: E402
from voice.call.requests import VenueChoice  # noqa: E402
from voice.nlu.answers import (  # noqa: E402
    INTENTS,
    INTENTS_SAID,
    NEXT_SAID,
    YES_NO,
    YES_NO_SAID,
    asks_next,
    choice,
    decide,
)
from voice.nlu.readings import closest  # noqa: E402
from voice.nlu.scores import Guess, agree, phrases_of, scored  # noqa: E402
from voice.nlu.times import closest_time, parse_time, said_times  # noqa: E402
from voice.nlu.venues import phrases, said  # noqa: E402
from voice.vad import SileroVad  # noqa: E402

VOICES = ((1.0, 0.0), (0.85, -3.0), (1.2, 3.0), (1.15, 1.5))  # (speed, half-tones)
LINES = (("clean", None), ("white", 15), ("white", 10))
WAYS = ("readings", "scores", "both")
T = datetime.time
FREE = [T(9), T(9, 30), T(10), T(10, 30), T(11), T(11, 30), T(13), T(13, 30), T(14), T(15)]
TIMES = (("十一時半", T(11, 30)), ("十一時半です", T(11, 30)), ("十一時半でお願いします", T(11, 30)),
         ("午後二時でお願いします", T(14)), ("十時です", T(10)), ("九時でお願いします", T(9)))
INTENT_ANSWERS = (("予約をお願いします", "book"), ("予約の変更をしたいです", "manage"), ("キャンセルしたいです", "manage"),
                  ("予約の取り消しをお願いします", "manage"), ("予約の確認をしたいです", "manage"),
                  ("オペレーターをお願いします", "person"))
YES_NO_ANSWERS = (("はい", "yes"), ("いいえ", "no"), ("はい、そうです", "yes"), ("いいえ、違います", "no"))
ELSEWHERE = ("もう一度お願いします", "えーと、わからないです", "予約をお願いします")  # said at the venue question


class Heard:
    """Each answer as the engine hears it (its transcripts and its scores), with the times taken."""

    def __init__(self, recognizer, rng):
        self.recognizer, self.rng = recognizer, rng
        self.vad, self.endpointer, self.babble = SileroVad(), Endpointer(), make_babble(rng)
        self.seconds: dict[str, list[float]] = collections.defaultdict(list)

    def each(self, text: str, expected: tuple[str, ...]):
        """(hypotheses, confidence, scores) per voice and line; None when nothing was detected."""
        for how in VOICES:
            for kind, snr in LINES:
                pcm, _ = endpoint(scene(speak(text, how), kind, snr, 0.0, self.rng, self.babble), self.vad,
                                  self.endpointer)
                if pcm is None:
                    yield None
                    continue
                samples = np.frombuffer(pcm, dtype=np.int16)
                started = time.perf_counter()
                self.recognizer.transcribe(samples)
                self.seconds["without scoring"].append(time.perf_counter() - started)
                transcript = self.recognizer.transcribe(samples, expected)
                self.seconds[f"scoring {len(expected)} answers"].append(transcript.seconds)
                yield transcript.hypotheses, transcript.confidence, paired(expected, transcript.scores)


def noise_alone(heard: Heard):
    """Nobody speaking: white, pink or babble noise (-41 and -27 dBFS) or a burst (a cough, a bump), as
    the endpointer passes it on (most is never an utterance)."""
    rng = heard.rng
    for kind in ("white", "pink", "babble", "burst"):
        for rms in NOISE_ONLY_RMS:
            for _ in range(4 if kind != "burst" else 8):
                clip = np.zeros(3 * RATE)
                if kind == "burst":
                    length = int(rng.uniform(0.15, 0.8) * RATE)
                    clip[RATE:RATE + length] = noise(str(rng.choice(["white", "pink"])), length, rng, heard.babble) * rms * 3
                else:
                    clip = noise(kind, len(clip), rng, heard.babble) * rms
                samples = audio.over_the_phone(np.clip(np.round(clip), -32768, 32767).astype(np.int16), RATE)
                pcm, _ = endpoint(samples, heard.vad, heard.endpointer)
                if pcm is not None:
                    yield np.frombuffer(pcm, dtype=np.int16)


class Tally:
    def __init__(self):
        self.rows: dict[str, collections.Counter] = {}

    def add(self, label: str, right, guesses: dict[str, Guess | None]) -> None:
        for way, guess in guesses.items():
            counts = self.rows.setdefault(f"{label}: {way}", collections.Counter())
            counts["cases"] += 1
            counts["right"] += guess is not None and guess.key == right
            counts["sure right"] += guess is not None and guess.sure and guess.key == right
            counts["sure wrong"] += guess is not None and guess.sure and guess.key != right
            counts["asked again"] += guess is None

    def print(self) -> None:
        for label, c in self.rows.items():
            print(f"{label:44} right {c['right']:3}/{c['cases']}, sure right {c['sure right']:3}, "
                  f"sure wrong {c['sure wrong']:2}, asked again {c['asked again']:3}")


def three_ways(matched: Guess | None, scores, table) -> dict[str, Guess | None]:
    from_scores = scored(scores, table)
    return {"readings": matched, "scores": from_scores, "both": agree(matched, from_scores)}


def decided(hypotheses, confidence, answers, scores) -> dict[str, Guess | None]:
    def guess(decision):
        return None if decision.action == "retry" else Guess(decision.key, decision.action == "accept")
    return {"readings": guess(decide(hypotheses, confidence, answers)), "scores": scored(scores, answers),
            "both": guess(decide(hypotheses, confidence, answers, scores))}


def time_matched(hypotheses) -> Guess | None:
    wish = parse_time(hypotheses)
    if wish is None:
        at, likeness = closest_time(hypotheses, FREE)
        return Guess(at.isoformat(), False) if likeness >= 0.75 else None
    return Guess(wish.at.isoformat(), False) if wish.at else None


def venue_matched(hypotheses, pool) -> Guess | None:
    key, likeness = closest(hypotheses, phrases(pool), partial=True)
    return Guess(key, likeness >= 0.8) if likeness >= 0.6 else None


def main() -> None:
    city = tomllib.loads((ROOT / "appliance" / "demo_city.toml").read_text(encoding="utf-8"))
    venues = tuple(VenueChoice(i, v["name"], v.get("kana", "")) for i, v in enumerate(city["venue"]))
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        heard = Heard(whisper.WhisperRecognizer(whisper.install(Path(tmp))), np.random.default_rng(20261202))
        print(f"{len(VOICES) * len(LINES)} cases per answer: {len(VOICES)} voices x clean, white 15 dB, white 10 dB")
        for text, key in INTENT_ANSWERS:
            for case in heard.each(text, INTENTS_SAID):
                if case:
                    tally.add("what the caller wants", key, decided(*case[:2], INTENTS, case[2]))
        for text, key in YES_NO_ANSWERS:
            for case in heard.each(text, YES_NO_SAID):
                if case:
                    tally.add("yes or no", key, decided(*case[:2], YES_NO, case[2]))
        page = venues[:4]
        menu = said(page, numbered=True) | {"page": NEXT_SAID}
        for text, key in (("次の会場", "page"), ("次", "page"), ("二番", str(page[1].id)), ("四番でお願いします", str(page[3].id))):
            for case in heard.each(text, phrases_of(menu)):
                if case:
                    hypotheses = case[0]
                    number = choice(hypotheses, 4)
                    matched = (Guess("page", True) if asks_next(hypotheses) else
                               Guess(str(page[number - 1].id), False) if number else venue_matched(hypotheses, page))
                    tally.add("the venue menu: next, a number", key, three_ways(matched, case[2], menu))
        times = said_times(FREE)
        for text, at in TIMES:
            for case in heard.each(text, phrases_of(times)):
                if case:
                    guesses = three_ways(time_matched(case[0]), case[2], times)
                    guesses["both"] = guesses["both"] or guesses["readings"]  # as the dialog does for a time
                    tally.add("a time among the day's 10 free", at.isoformat(), guesses)
        every = said(venues)
        for index, venue in enumerate(venues):
            short = venue.name.split()[1] if " " in venue.name else venue.name
            pool = venues[index // 4 * 4:index // 4 * 4 + 4]
            for case in heard.each(f"{short}でお願いします", phrases_of(every) + phrases_of(said(pool, numbered=True))):
                if case:
                    tally.add("a venue among all 14", str(venue.id),
                              three_ways(venue_matched(case[0], venues), case[2], every))
                    tally.add("a venue among its menu page's 4", str(venue.id),
                              three_ways(venue_matched(case[0], pool), case[2], said(pool, numbered=True)))
        for text in ELSEWHERE:
            for case in heard.each(text, phrases_of(every)):
                if case:
                    tally.add("another answer at the venue question", None,
                              three_ways(venue_matched(case[0], venues), case[2], every))
        for samples in noise_alone(heard):  # what the dialog would do with it at three questions
            for answers, said_ in ((YES_NO, YES_NO_SAID), (INTENTS, INTENTS_SAID)):
                transcript = heard.recognizer.transcribe(samples, said_)
                case = (transcript.hypotheses, transcript.confidence, paired(said_, transcript.scores))
                tally.add("noise alone at a yes/no or intent question", None, decided(*case[:2], answers, case[2]))
            transcript = heard.recognizer.transcribe(samples, phrases_of(every))
            scores = paired(phrases_of(every), transcript.scores)
            tally.add("noise alone at the venue question", None,
                      three_ways(venue_matched(transcript.hypotheses, venues), scores, every))
    tally.print()
    for label, values in heard.seconds.items():
        print(f"recognition {label}: p50 {np.percentile(values, 50):.2f} s, p95 {np.percentile(values, 95):.2f} s "
              f"({len(values)} utterances)")


def paired(said_: tuple[str, ...], scores: tuple[float, ...]) -> tuple[tuple[str, float], ...]:
    """The answers with their scores, as the engine pairs them: none when the recogniser heard silence."""
    return tuple(zip(said_, scores, strict=True)) if scores else ()


if __name__ == "__main__":
    main()
