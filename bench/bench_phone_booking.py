"""Booking by phone, measured as callers meet it: scripted SIP callers book on the demo's booking line
(the whole engine: Kamailio, the pjsua2 workers, the bundled Whisper base) and the database says whether
each got the booking it wanted. Prints numbers; asserts nothing.

Each caller is a pjsua2 process that listens to every prompt (it transcribes the prompt itself at each
pause, as a person understands it) and answers as soon as it knows the question, over the rest of the
prompt as callers who have heard enough do (the final read-back it hears to the end): a venue, a day
and a time drawn at random among the free slots, a name, its own mobile number, a birth date said with
its era, yes to the confirmations whose read-back is what it said and no to the others. Voices: Open
JTalk at speeds and pitches the dialog was not tuned on; half the callers with white noise at 15 or
10 dB SNR; half may use keys once the line did not understand them ("keys"), half never do ("voice
only").

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
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance import clock, runtime  # noqa: E402
from db.connection import open_database  # noqa: E402
from tests.conftest import process_globals_kept  # noqa: E402
from tests.sip.booking_caller import Caller, conversation  # noqa: E402
from tests.sip.conftest import BOOKING_DID, call, start_engine, stop_engine  # noqa: E402

NAMES = (("佐藤一郎", "サトウイチロウ"), ("鈴木花子", "スズキハナコ"), ("高橋健太", "タカハシケンタ"),
         ("田中美咲", "タナカミサキ"), ("伊藤誠", "イトウマコト"), ("渡辺由美", "ワタナベユミ"),
         ("山本大輔", "ヤマモトダイスケ"), ("中村恵子", "ナカムラケイコ"), ("小林茂", "コバヤシシゲル"),
         ("加藤洋子", "カトウヨウコ"))
SPEEDS = (0.85, 1.0, 1.15)
PITCHES = (0.92, 1.0, 1.08)  # resampled: a lower or higher voice than the synthesiser's own


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


def heard_by_the_line(engine, caller: Caller) -> list[dict]:
    """The engine's own turns of the caller's call: what it heard and understood at each question (the
    engine writes them when the call has ended: waited for, up to 10 s)."""
    from db.bookings import phone_index
    from db.models import CallRecord, CallTurn
    with process_globals_kept():
        runtime.configure(engine.settings)
        db = open_database(engine.settings)
        try:
            ended = (CallRecord.caller_index == phone_index(caller.phone)) & CallRecord.ended_at.is_null(False)
            deadline = time.monotonic() + 10
            while (record := CallRecord.get_or_none(ended)) is None and time.monotonic() < deadline:
                time.sleep(0.5)
            turns = CallTurn.select().where(CallTurn.call == record).order_by(CallTurn.seq) if record else []
            return [{"step": t.step, "result": t.result, "heard": t.heard, "keys": t.keys, "understood": t.understood,
                     "confidence": t.confidence} for t in turns]
        finally:
            db.close()


def place(engine, folder: Path, caller: Caller, venue_names: list[str], turns_file: Path | None = None,
          at_once: int = 1) -> dict:
    started = time.monotonic()
    steps = [conversation(engine, folder / f"caller{caller.number}", caller, venue_names), {"wait_end": 20}]
    try:
        report = call(engine, folder / f"caller{caller.number}", steps, uri=engine.uri_for(BOOKING_DID),
                      caller=caller.phone, timeout_s=1800)
    except Exception as exc:  # a caller that crashed is a failed call, not a failed benchmark
        report = {"error": str(exc)[-300:], "steps": []}
    turns = next((s["converse"] for s in report["steps"] if "converse" in s), [])
    try:
        verdict = judge(engine, caller)
    except Exception as exc:  # reported with the call, so that one bad call does not lose the others
        verdict, report["error"] = "error", f"judging failed: {exc!r}"[-300:]
    result = {"caller": caller, "result": verdict, "seconds": time.monotonic() - started,
              "turns": len(turns), "latencies": [t["reply_after_s"] for t in turns if "reply_after_s" in t],
              "rules": [t.get("rule") for t in turns], "error": report.get("error")}
    if turns_file:
        with turns_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"caller": caller.__dict__, "result": result["result"],
                                  "seconds": round(result["seconds"]), "at_once": at_once, "turns": turns,
                                  "line": heard_by_the_line(engine, caller), "error": result["error"]},
                                 ensure_ascii=False, default=str) + "\n")
    print(f"caller {caller.number} ({'keys' if caller.keys else 'voice only'}, noise {caller.noise_db}): "
          f"{result['result']} in {result['seconds']:.0f} s, {len(turns)} turns", file=sys.stderr, flush=True)
    return result


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--concurrency", default="1,4", help="callers at once, one phase each (calls split evenly)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--turns", type=Path, help="write each call's turns here (JSON lines), to see where calls fail")
    parser.add_argument("--summarise", type=Path, metavar="TURNS", help="only sum up the calls of a --turns file")
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    signal.signal(signal.SIGTERM, stopped)
    phases = [int(n) for n in args.concurrency.split(",")]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        engine = start_engine(Path(tmp) / "engine", voice_ring_ms=300, voice_max_calls=8)
        try:
            everyone = callers(engine, args.calls, rng)
            names = [name for _, name, _ in free_slots(engine).values()]
            results, per_phase = [], {}
            size = -(-len(everyone) // len(phases))
            for n, phase in enumerate(phases):
                share = everyone[n * size:(n + 1) * size]  # in turn keys and voice only, clean and noisy
                pool = ThreadPoolExecutor(phase)
                try:
                    done = list(pool.map(lambda c, phase=phase: place(engine, Path(tmp), c, names, args.turns, phase),
                                         share))
                finally:  # stopped: the calls not begun are dropped
                    pool.shutdown(cancel_futures=True)
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
    print(json.dumps({"failed": [{"caller": r["caller"].number, "result": r["result"], "error": r["error"],
                                  "answered": r["rules"]} for r in results if r["result"] != "success"]},
                     ensure_ascii=False))


def stopped(*_) -> None:
    """SIGTERM: the callers on the line are ended, so that the engine is stopped at once, not after them."""
    import psutil
    for child in psutil.Process().children():
        if "tests.sip.caller" in " ".join(child.cmdline()):
            child.kill()
    sys.exit(1)


def summarise(turns_file: Path) -> None:
    """The report of the calls a --turns file holds (a run stopped early keeps its finished calls)."""
    results, per_phase = [], {}
    for line in turns_file.read_text(encoding="utf-8").splitlines():
        call_ = json.loads(line)
        caller = argparse.Namespace(**call_["caller"])
        turns = call_["turns"]
        row = {"caller": caller, "result": call_["result"], "seconds": call_.get("seconds", float("nan")),
               "turns": len(turns), "latencies": [t["reply_after_s"] for t in turns if "reply_after_s" in t],
               "rules": [t.get("rule") for t in turns], "error": call_.get("error")}
        results.append(row)
        per_phase.setdefault(call_.get("at_once", 1), []).append(row)
    report(results, per_phase)


if __name__ == "__main__":
    main()
