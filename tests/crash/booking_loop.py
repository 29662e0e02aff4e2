"""The process tests/crash/test_booking_crash.py kills: books, moves and cancels in a loop, forever.

    python -m tests.crash.booking_loop CONFIG SEED FIRST_PERSON NOW_ISO SLOT_ID [SLOT_ID ...]

It opens the database like an entry point (settings, runtime, open_database), prints READY, then
loops. Each operation runs in its own `write_transaction()`. On stdout, flushed line by line:

    try <op> <number> <slot>    before the transaction starts (op: book, move, cancel; '-' if unknown)
    ok <op> <number> <slot>     after the transaction committed: the acknowledgement
    no <op> <number> <slot>     the engine refused (SlotFull and the like); nothing was written

A `try` without its `ok` or `no` is the operation the kill interrupted.
"""

from __future__ import annotations

import datetime
import random
import sys

from appliance import runtime
from appliance.settings import load_settings
from db.bookings import Applicant, BookingError, book, cancel, change
from db.connection import open_database, write_transaction

CHANNELS = ("web", "phone", "staff")


def say(*words: object) -> None:
    print(*words, flush=True)


def applicant(n: int, rng: random.Random) -> Applicant:
    return Applicant(name=f"市民 {n}号", kana="シミン　ハナコ", phone=f"080{n:08d}",
                     birth_date=datetime.date(1940, 1, 1) + datetime.timedelta(days=n % 20000),
                     notify=rng.choice(("none", "sms")))


def main(argv: list[str]) -> None:
    config, seed, person, now_iso, *slot_args = argv
    rng = random.Random(int(seed))
    person = int(person)
    now = datetime.datetime.fromisoformat(now_iso)
    slots = [int(s) for s in slot_args]
    settings = load_settings(config, environ={})
    runtime.configure(settings)
    open_database(settings)
    say("READY")
    mine: dict[str, int] = {}  # this run's confirmed bookings: number -> slot
    while True:
        pick = rng.random()
        if mine and pick < 0.2:
            number = rng.choice(sorted(mine))
            op, slot = "move", rng.choice([s for s in slots if s != mine[number]])
        elif mine and pick < 0.3:
            number = rng.choice(sorted(mine))
            op, slot = "cancel", mine[number]
        else:
            number, op, slot = "-", "book", rng.choice(slots)
        say("try", op, number, slot)
        try:
            with write_transaction():
                if op == "book":
                    person += 1
                    number = book(slot, applicant(person, rng), rng.choice(CHANNELS), now,
                                  party_size=rng.choice((1, 1, 2, 3))).number
                elif op == "move":
                    change(number, slot, "web", now)
                else:
                    cancel(number, "web", now)
        except BookingError as refused:
            say("no", op, number, slot, refused.code)
            continue
        if op == "cancel":
            del mine[number]
        else:
            mine[number] = slot
        say("ok", op, number, slot)


if __name__ == "__main__":
    main(sys.argv[1:])
