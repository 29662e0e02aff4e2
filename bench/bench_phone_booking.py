"""Booking by phone, measured as callers meet it: scripted SIP callers book on the demo's booking line
(the whole engine: Kamailio, the pjsua2 workers, the bundled Whisper base) and the database says whether
each got the booking it wanted. Prints numbers; asserts nothing.

Each caller is a pjsua2 process that listens to every prompt (it transcribes the prompt itself, as a
person understands it) and answers the question it holds: a venue, a day and a time drawn at random
among the free slots, a name, its own mobile number, a birth date said with its era, yes to the
confirmations whose read-back is what it said and no to the others. Voices: Open JTalk at speeds and
pitches the dialog was not tuned on; half the callers with white noise at 15 or 10 dB SNR; half may use
keys once the line did not understand them ("keys"), half never do ("voice only").

A call succeeds when exactly one booking carries the caller's number, for the slot it wanted and its
birth date (and its name's reading, or none when a keys caller skipped it); a wrong booking is one that
was made but is not that. Turn latency is the end of the caller's speech to the first sound of the
reply; the callers' own transcription shares the machine's cores, so it is pessimistic.

    .venv/bin/python bench/bench_phone_booking.py [--calls 60] [--concurrency 1,4] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance import clock, runtime  # noqa: E402
from db.connection import open_database  # noqa: E402
from tests.conftest import process_globals_kept  # noqa: E402
from tests.sip.conftest import BOOKING_DID, call, start_engine, stop_engine  # noqa: E402
from tests.sip.test_booking_calls import kanji_number, with_noise  # noqa: E402

NAMES = (("佐藤一郎", "サトウイチロウ"), ("鈴木花子", "スズキハナコ"), ("高橋健太", "タカハシケンタ"),
         ("田中美咲", "タナカミサキ"), ("伊藤誠", "イトウマコト"), ("渡辺由美", "ワタナベユミ"),
         ("山本大輔", "ヤマモトダイスケ"), ("中村恵子", "ナカムラケイコ"), ("小林茂", "コバヤシシゲル"),
         ("加藤洋子", "カトウヨウコ"))
SPEEDS = (0.85, 1.0, 1.15)
PITCHES = (0.92, 1.0, 1.08)  # resampled: a lower or higher voice than the synthesiser's own


@dataclass
class Caller:
    number: int
    phone: str
    venue: str
    venue_name: str
    venue_index: int  # its place in the key menu
    slot_id: int
    day: datetime.date
    start: datetime.time
    name: str
    kana: str
    born: datetime.date
    speed: float
    pitch: float
    noise_db: float | None
    keys: bool


def free_slots(engine) -> dict[str, list]:
    from db.capacity import bookable_slots
    from db.models import Venue
    with process_globals_kept():
        runtime.configure(engine.settings)
        db = open_database(engine.settings)
        try:
            found = {}
            venues = list(Venue.select().where(Venue.active).order_by(Venue.sort_order, Venue.id))
            for index, venue in enumerate(venues):
                offers = bookable_slots("phone", clock.now(), release_days=engine.settings.reserved_seats_release_days,
                                        venue_id=venue.id)
                found[venue.slug] = (index, venue.name, [next(offers) for _ in range(12)])
            return found
        finally:
            db.close()


def callers(engine, count: int, rng: random.Random) -> list[Caller]:
    slots = free_slots(engine)
    made = []
    for number in range(count):
        slug = rng.choice(sorted(slots))
        index, venue_name, offers = slots[slug]
        offer = offers.pop(rng.randrange(len(offers)))
        name, kana = rng.choice(NAMES)
        born = datetime.date(rng.randint(1935, 1988), rng.randint(1, 12), rng.randint(1, 28))
        made.append(Caller(number, f"090{rng.randint(10_000_000, 99_999_999)}", slug, venue_name, index,
                           offer.slot_id, offer.date, offer.start, name, kana, born, rng.choice(SPEEDS),
                           rng.choice(PITCHES), (15.0, 10.0)[number % 4 // 2] if number % 4 in (1, 3) else None,
                           keys=number % 2 == 0))
    return made


def era_words(born: datetime.date) -> str:
    if born >= datetime.date(1989, 1, 8):
        era, year = "平成", born.year - 1988
    else:
        era, year = "昭和", born.year - 1925
    return f"{era}{'元' if year == 1 else kanji_number(year)}年{kanji_number(born.month)}月{kanji_number(born.day)}日"


def voice_wav(path: Path, text: str, caller: Caller) -> str:
    from voice.audio import resample
    from voice.tts import Voice, synthesize
    samples = synthesize(text, Voice(speed=caller.speed))
    if caller.pitch != 1.0:
        samples = resample(samples, 16000, int(16000 / caller.pitch)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    if caller.noise_db is not None:
        with_noise(path, caller.noise_db)
    return str(path)


def rules(folder: Path, caller: Caller) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    said = iter(range(100))

    def wav(text):
        return voice_wav(folder / f"{next(said)}.wav", text, caller)
    yes, no = wav("はい"), wav("いいえ、違います")
    at = f"{kanji_number(caller.start.hour)}時" + (f"{kanji_number(caller.start.minute)}分" if caller.start.minute else "")
    page, key = divmod(caller.venue_index, 4)
    short_venue = caller.venue_name.split()[-1] if " " in caller.venue_name else caller.venue_name
    return [  # first match wins: the final read-back holds the words of the other questions
        {"when": ["この内容で予約して", "直す場合は"], "say": wav("はい、お願いします"), "keys": "1",
         "expect": [caller.kana], "otherwise": no},
        {"when": ["ご用件", "新しく予約する場合", "担当者とお話になる"], "say": wav("予約をお願いします"), "keys": "1"},
        {"when": ["当てはまる", "お答えください"], "say": wav("はい、そうです"), "keys": "1"},
        # the venue menu: a keys caller pages with 9 and presses the number, a voice caller says 「次」 and it
        {"when": ["番号で選びます", "次の会場は"], "keys": ["9"] * page + [str(key + 1)]} if caller.keys else
        {"when": ["番号で選びます", "次の会場は"], "say": [wav("次")] * page + [wav(f"{kanji_number(key + 1)}番")]},
        {"when": ["ご希望の会場", "どの会場でも"], "say": wav(f"{short_venue}でお願いします"), "keys": "9"},
        {"when": ["ご希望の時間", "までの間で空き"], "say": wav(at), "keys": f"{caller.start:%H%M}"},
        {"when": ["ご希望の日にち", "月と日"], "say": wav(f"{kanji_number(caller.day.month)}月"
                                                    f"{kanji_number(caller.day.day)}日"),
         "keys": f"{caller.day:%m%d}"},
        {"when": ["様ですね"], "say": yes, "keys": "1", "expect": [caller.kana], "otherwise": no},
        {"when": ["フルネーム", "お名前を"], "say": wav(f"{caller.name}です"), "keys": "1"},
        {"when": ["おかけいただいている", "別の番号にする"], "say": yes, "keys": "1"},
        {"when": ["生年月日", "西暦の8けた", "1950年3月4日なら"], "say": wav(era_words(caller.born)), "keys": f"{caller.born:%Y%m%d}"},
        {"when": ["ショートメッセージでお送りします"], "say": yes, "keys": "1"},
        {"when": ["ですね", "違う場合"], "say": yes, "keys": "1"},
    ]


def judge(engine, caller: Caller) -> str:
    from db.models import Booking
    with process_globals_kept():
        runtime.configure(engine.settings)
        db = open_database(engine.settings)
        try:
            mine = [b for b in Booking.select().where(Booking.channel == "phone") if b.phone == caller.phone]
            if not mine:
                return "none"
            right = [b for b in mine if b.slot_id == caller.slot_id and b.birth_date == caller.born.isoformat()
                     and b.kana in (caller.kana, "ミカクニン")]
            return "success" if len(mine) == 1 and right else "wrong"
        finally:
            db.close()


def place(engine, folder: Path, caller: Caller) -> dict:
    from voice.asr.whisper import FOLDER_NAME
    started = time.monotonic()
    steps = [{"converse": rules(folder / f"caller{caller.number}", caller), "keys": caller.keys, "turns": 60,
              "prompt_timeout": 70, "model": str(engine.settings.models_dir / FOLDER_NAME)}, {"wait_end": 20}]
    try:
        report = call(engine, folder / f"caller{caller.number}", steps, uri=engine.uri_for(BOOKING_DID),
                      caller=caller.phone, timeout_s=900)
    except Exception as exc:  # a caller that crashed is a failed call, not a failed benchmark
        report = {"error": str(exc)[-300:], "steps": []}
    turns = next((s["converse"] for s in report["steps"] if "converse" in s), [])
    return {"caller": caller, "result": judge(engine, caller), "seconds": time.monotonic() - started,
            "turns": len(turns), "latencies": [t["reply_after_s"] for t in turns if "reply_after_s" in t]}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--concurrency", default="1,4", help="callers at once, one phase each (calls split evenly)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    phases = [int(n) for n in args.concurrency.split(",")]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        engine = start_engine(Path(tmp) / "engine", voice_ring_ms=300, voice_max_calls=8)
        try:
            everyone = callers(engine, args.calls, rng)
            results, per_phase = [], {}
            for n, phase in enumerate(phases):
                share = everyone[n::len(phases)]
                with ThreadPoolExecutor(phase) as pool:
                    done = list(pool.map(lambda c: place(engine, Path(tmp), c), share))
                per_phase[phase] = done
                results += done
        finally:
            stop_engine(engine)
    report(results, per_phase)


def report(results: list[dict], per_phase: dict[int, list[dict]]) -> None:
    def rate(rows, what="success"):
        return f"{sum(r['result'] == what for r in rows)}/{len(rows)}" + (
            f" ({100 * sum(r['result'] == what for r in rows) / len(rows):.0f} %)" if rows else "")
    keys = [r for r in results if r["caller"].keys]
    voice = [r for r in results if not r["caller"].keys]
    noisy = [r for r in results if r["caller"].noise_db is not None]
    print(f"calls: {len(results)} (keys allowed {len(keys)}, voice only {len(voice)}, with noise {len(noisy)})")
    print(f"task success, keys allowed: {rate(keys)}")
    print(f"task success, voice only:   {rate(voice)}")
    print(f"task success, with noise:   {rate(noisy)}")
    print(f"wrong bookings:             {rate(results, 'wrong')}")
    print(f"no booking:                 {rate(results, 'none')}")
    print(f"mean call time {statistics.mean(r['seconds'] for r in results):.0f} s, "
          f"mean turns {statistics.mean(r['turns'] for r in results):.1f}")
    for phase, rows in per_phase.items():
        latencies = [x for r in rows for x in r["latencies"]]
        print(f"turn latency with {phase} caller(s) at once: p50 {percentile(latencies, 50):.2f} s, "
              f"p95 {percentile(latencies, 95):.2f} s ({len(latencies)} turns)")
    print(json.dumps({"failed": [{"caller": r["caller"].number, "result": r["result"]}
                                 for r in results if r["result"] != "success"]}))


if __name__ == "__main__":
    main()
