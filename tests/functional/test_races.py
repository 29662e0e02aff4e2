"""Real races between processes, each with its own database connection, through the capacity engine.

Eight long-lived worker processes (spawned, so nothing is inherited from pytest) each load the
settings, configure the runtime and open the encrypted database themselves, exactly like an entry
point. For every round they meet at a barrier and then run one engine call inside
`write_transaction()`. The parent never uses the engine: it creates slots and reads the results
through its own raw connection, so what it sees is what the database holds.
"""

from __future__ import annotations

import datetime
import itertools
import multiprocessing
import queue
import traceback
from collections import Counter
from pathlib import Path

import peewee
import pytest

from appliance import runtime
from appliance.settings import load_settings
from db.bookings import AlreadyBooked, SlotFull, book, cancel, change
from db.connection import connect, database, open_database, write_transaction
from db.keys import load_keyring
from tests.conftest import MISCOUNTED_SLOTS_SQL, NOW, make_applicant, make_instance, process_globals_kept

WORKERS = 8
ROUNDS_CAPACITY_1 = 200
ROUNDS_CAPACITY_3 = 60
ROUNDS_CHANGE = 60
ROUNDS_CANCEL = 60
ROUNDS_SAME_PERSON = 30
ROUNDS_RAW_INCREMENT = 30
CHANNELS = ("web", "phone", "staff")

# Deadlock guards only (a hung worker fails the test instead of hanging it); no outcome depends on them.
BARRIER_TIMEOUT = 60
ANSWER_TIMEOUT = 120

# Slot dates the default reception window (60 days before 09:00 .. 19:30 the day before) has open at NOW.
FIRST_DAY = NOW.date() + datetime.timedelta(days=1)
DAYS = [FIRST_DAY + datetime.timedelta(days=i) for i in range(58)]

_persons = itertools.count(10_000_000)  # well away from the numbers the other tests' factories use


def next_person() -> int:
    return next(_persons)


# --- the worker processes --------------------------------------------------------------------------

def _book(slot_id: int, person: int, channel: str = "web") -> str:
    return book(slot_id, make_applicant(person), channel, NOW).number


def _change(number: str, slot_id: int) -> int:
    return change(number, slot_id, "web", NOW).slot_id


def _cancel(number: str) -> str:
    return cancel(number, "web", NOW).status


def _raw_increment(slot_id: int) -> int:
    """Bypasses the engine: an unconditional increment, so only the schema can refuse it."""
    return database.execute_sql("UPDATE slot SET booked_web = booked_web + 1 WHERE id = ?", (slot_id,)).rowcount


_OPS = {"book": _book, "change": _change, "cancel": _cancel, "raw_increment": _raw_increment}


def _worker(index: int, config_path: str, barrier, tasks, answers) -> None:
    """One racing process: its own settings, runtime and connection, reused across rounds."""
    try:
        settings = load_settings(config_path, environ={})
        runtime.configure(settings)
        open_database(settings)
    except Exception:
        answers.put((index, "error", traceback.format_exc()))
        return
    answers.put((index, "ready", None))
    while (task := tasks.get()) is not None:
        op, args, together = task
        try:
            if together:
                barrier.wait(BARRIER_TIMEOUT)
            with write_transaction():
                answer = ("ok", _OPS[op](*args))
        except SlotFull:
            answer = ("SlotFull", None)
        except AlreadyBooked:
            answer = ("AlreadyBooked", None)
        except peewee.IntegrityError as exc:
            answer = ("IntegrityError", str(exc))
        except Exception as exc:
            answer = ("error", f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
        answers.put((index, *answer))


class RacePool:
    """WORKERS spawned processes fed through one task queue each; answers come back on a shared queue."""

    def __init__(self, config_path: Path):
        ctx = multiprocessing.get_context("spawn")
        self.barrier = ctx.Barrier(WORKERS)
        self.answers = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(WORKERS)]
        self.procs = [ctx.Process(target=_worker, name=f"race-worker-{i}", daemon=True,
                                  args=(i, str(config_path), self.barrier, self.tasks[i], self.answers))
                      for i in range(WORKERS)]
        for proc in self.procs:
            proc.start()
        started = self._collect(WORKERS)
        problems = {i: value for i, (kind, value) in started.items() if kind != "ready"}
        assert not problems, f"workers could not open the database: {problems}"

    def race(self, tasks: list[tuple[str, tuple]]) -> list[tuple[str, object]]:
        """Every worker gets one task; they meet at the barrier and then run them all at once."""
        assert len(tasks) == WORKERS
        for i, (op, args) in enumerate(tasks):
            self.tasks[i].put((op, args, True))
        answers = self._collect(WORKERS)
        return [answers[i] for i in range(WORKERS)]

    def do(self, index: int, op: str, *args) -> object:
        """One task on one worker, no barrier (setting up a round); it must succeed."""
        self.tasks[index].put((op, args, False))
        kind, value = self._collect(1)[index]
        assert kind == "ok", f"set-up {op}{args} on worker {index}: {kind} {value}"
        return value

    def _collect(self, count: int) -> dict[int, tuple[str, object]]:
        got: dict[int, tuple[str, object]] = {}
        while len(got) < count:
            try:
                index, kind, value = self.answers.get(timeout=ANSWER_TIMEOUT)
            except queue.Empty:
                alive = [proc.is_alive() for proc in self.procs]
                raise AssertionError(f"workers stopped answering (alive: {alive})") from None
            got[index] = (kind, value)
        return got

    def close(self) -> None:
        for tasks in self.tasks:
            tasks.put(None)
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
                proc.join()


class Store:
    """The parent's own raw connection: makes slots and reads what the database holds, engine-free."""

    def __init__(self, settings):
        self.db = connect(settings.database_path, load_keyring(settings.key_dir), settings.busy_timeout_ms)
        self.venue_id = self.db.execute_sql(
            "INSERT INTO venue (slug, name, kana) VALUES ('races', 'レース会場', 'レースカイジョウ')").lastrowid
        self._places = ((day.isoformat(), f"{hour:02d}:{minute:02d}")
                        for day in DAYS for hour in range(24) for minute in (0, 30))

    def sql(self, sql: str, *params) -> list[tuple]:
        return self.db.execute_sql(sql, params).fetchall()

    def new_slot(self, capacity: int) -> int:
        day, start = next(self._places)
        return self.db.execute_sql("INSERT INTO slot (venue_id, date, start, capacity) VALUES (?, ?, ?, ?)",
                                   (self.venue_id, day, start, capacity)).lastrowid

    def slot(self, slot_id: int) -> dict[str, int]:
        names = ("capacity", "booked_web", "booked_phone", "booked_staff", "booked_over")
        (row,) = self.sql(f"SELECT {', '.join(names)} FROM slot WHERE id = ?", slot_id)
        values = dict(zip(names, row, strict=True))
        values["booked"] = sum(values[n] for n in names[1:])
        return values

    def confirmed(self, slot_id: int) -> set[str]:
        return {n for (n,) in self.sql("SELECT number FROM booking WHERE slot_id = ? AND status = 'confirmed'",
                                       slot_id)}

    def booking(self, number: str) -> tuple:
        (row,) = self.sql("SELECT slot_id, status, counted_as, version, active_person_key IS NULL "
                          "FROM booking WHERE number = ?", number)
        return row

    def audit_id(self, number: str, action: str) -> int:
        (row,) = self.sql("SELECT id FROM audit_log WHERE object_id = ? AND action = ?", number, action)
        return row[0]

    def miscounted_slots(self) -> list[tuple]:
        """Slots whose booked_* counters differ from the party sizes of their confirmed bookings,
        counted by counted_as (empty when every slot is consistent)."""
        return self.sql(MISCOUNTED_SLOTS_SQL)


@pytest.fixture(scope="module")
def race_settings(tmp_path_factory):
    root = tmp_path_factory.mktemp("races")
    with process_globals_kept():
        settings = make_instance(root)
    return root / "madoguchi.toml", settings


@pytest.fixture(scope="module")
def store(race_settings):
    store = Store(race_settings[1])
    yield store
    store.db.close()


@pytest.fixture(scope="module")
def pool(race_settings, store):
    pool = RacePool(race_settings[0])
    yield pool
    pool.close()


def outcomes(answers: list[tuple[str, object]]) -> Counter:
    return Counter(kind for kind, _ in answers)


def winners(answers: list[tuple[str, object]]) -> list:
    return [value for kind, value in answers if kind == "ok"]


def assert_last_seats_race(pool: RacePool, store: Store, capacity: int, rounds: int, channels) -> None:
    for round_no in range(rounds):
        slot_id = store.new_slot(capacity)
        tasks = [("book", (slot_id, next_person(), channels[(round_no + i) % len(channels)]))
                 for i in range(WORKERS)]
        answers = pool.race(tasks)
        counted = outcomes(answers)
        assert counted == {"ok": capacity, "SlotFull": WORKERS - capacity}, (round_no, answers)
        assert store.confirmed(slot_id) == set(winners(answers)), round_no
        # The losers wrote nothing: no booking row of any status beyond the winners'.
        assert store.sql("SELECT count(*) FROM booking WHERE slot_id = ?", slot_id) == [(capacity,)]
        assert store.slot(slot_id)["booked"] == capacity
    assert store.miscounted_slots() == []


@pytest.mark.slow
def test_last_seat_goes_to_exactly_one_of_eight_processes(pool, store):
    """200 rounds: eight processes book the only seat of a fresh slot at the same moment; exactly one
    gets it and the other seven get SlotFull (never a database error or Busy), and the slot's
    counter equals its one confirmed booking."""
    assert_last_seats_race(pool, store, 1, ROUNDS_CAPACITY_1, ("web",))


@pytest.mark.slow
def test_three_seats_go_to_exactly_three_processes_across_channels(pool, store):
    """Capacity 3, eight processes on the web, phone and staff channels: exactly three bookings, five
    SlotFull, and each channel's counter equals the seats its confirmed bookings count."""
    assert_last_seats_race(pool, store, 3, ROUNDS_CAPACITY_3, CHANNELS)


@pytest.mark.slow
def test_change_into_the_last_seat_races_new_bookings(pool, store):
    """One process moves a phone booking into a slot with one free seat while seven others book that
    seat: exactly one of the eight wins. A move that loses leaves the booking untouched where it
    was; a move that wins frees its old seat. Every slot's counters stay equal to its bookings."""
    tally = Counter()
    for round_no in range(ROUNDS_CHANGE):
        mover = round_no % WORKERS
        source, target = store.new_slot(1), store.new_slot(2)
        moving = pool.do(mover, "book", source, next_person(), "phone")
        sitting = pool.do((mover + 1) % WORKERS, "book", target, next_person(), "web")
        tasks = [("change", (moving, target)) if i == mover else ("book", (target, next_person(), "web"))
                 for i in range(WORKERS)]
        answers = pool.race(tasks)

        assert outcomes(answers)["ok"] == 1, (round_no, answers)
        assert set(outcomes(answers)) <= {"ok", "SlotFull"}, (round_no, answers)
        moved = answers[mover][0] == "ok"
        tally["move won" if moved else "booking won"] += 1
        if moved:
            assert answers[mover][1] == target
            assert store.booking(moving)[:4] == (target, "confirmed", "phone", 2)
            assert store.confirmed(target) == {sitting, moving}
            assert store.slot(source)["booked"] == 0
        else:
            assert store.booking(moving)[:4] == (source, "confirmed", "phone", 1), "a lost move changed nothing"
            assert store.confirmed(source) == {moving}
            assert store.confirmed(target) == {sitting, *winners(answers)}
        assert store.slot(target)["booked"] == 2
        assert store.miscounted_slots() == [], round_no
    print(f"change races: {dict(tally)}")


@pytest.mark.slow
def test_cancel_races_rebooking_a_full_slot(pool, store):
    """A slot is full; one process cancels its booking while seven others try to book the slot: at
    most one rebooking succeeds, only after the cancellation committed, the cancelled booking frees
    its person, and the counters stay equal to the confirmed bookings."""
    tally = Counter()
    for round_no in range(ROUNDS_CANCEL):
        canceller = round_no % WORKERS
        slot_id = store.new_slot(1)
        held = pool.do(canceller, "book", slot_id, next_person(), "web")
        tasks = [("cancel", (held,)) if i == canceller else ("book", (slot_id, next_person(), "web"))
                 for i in range(WORKERS)]
        answers = pool.race(tasks)

        assert answers[canceller] == ("ok", "cancelled"), (round_no, answers)
        rebooked = [answer for i, answer in enumerate(answers) if i != canceller]
        assert set(outcomes(rebooked)) <= {"ok", "SlotFull"}, (round_no, answers)
        assert outcomes(rebooked)["ok"] <= 1, (round_no, answers)
        tally[f"{outcomes(rebooked)['ok']} rebooked"] += 1
        assert store.booking(held)[1:] == ("cancelled", "web", 2, 1)
        assert store.confirmed(slot_id) == set(winners(rebooked))
        assert store.slot(slot_id)["booked"] == len(winners(rebooked))
        for number in winners(rebooked):
            # Writes are serialised, so audit ids give the commit order.
            assert store.audit_id(number, "booking.create") > store.audit_id(held, "booking.cancel")
        assert store.miscounted_slots() == [], round_no
    print(f"cancel races: {dict(tally)}")


@pytest.mark.slow
def test_same_person_booking_from_eight_processes_gets_one_booking(pool, store):
    """The same person books eight different slots from eight processes at once: one booking, seven
    AlreadyBooked (the domain outcome, not the unique index's IntegrityError)."""
    for round_no in range(ROUNDS_SAME_PERSON):
        person = next_person()
        slots = [store.new_slot(1) for _ in range(WORKERS)]
        answers = pool.race([("book", (slots[i], person, CHANNELS[i % 3])) for i in range(WORKERS)])
        assert outcomes(answers) == {"ok": 1, "AlreadyBooked": WORKERS - 1}, (round_no, answers)
        assert sum(store.slot(s)["booked"] for s in slots) == 1
    assert store.miscounted_slots() == []


@pytest.mark.slow
def test_raw_increments_from_eight_processes_stop_at_capacity(pool, store):
    """Without the engine, eight processes each run an unconditional `booked_web = booked_web + 1` on a
    slot of capacity 3: the schema lets exactly three through and refuses five with IntegrityError."""
    for round_no in range(ROUNDS_RAW_INCREMENT):
        slot_id = store.new_slot(3)
        answers = pool.race([("raw_increment", (slot_id,))] * WORKERS)
        assert outcomes(answers) == {"ok": 3, "IntegrityError": WORKERS - 3}, (round_no, answers)
        assert store.slot(slot_id)["booked_web"] == 3


def test_database_refuses_sql_that_overbooks(store):
    """Raw SQL that would put ordinary bookings over capacity, or cut capacity below what is booked, is
    refused by the database (CHECK or trigger) with IntegrityError and changes nothing; admin
    overrides (booked_over) and releasing seats stay allowed."""

    def slot_with(capacity: int, **booked) -> int:
        slot_id = store.new_slot(capacity)
        for column, value in booked.items():  # one column at a time, each step itself allowed
            store.db.execute_sql(f"UPDATE slot SET {column} = ? WHERE id = ?", (value, slot_id))
        return slot_id

    refused = [
        # (capacity, starting counters, statement): the CHECK on web + phone + staff
        (2, {}, "booked_web = capacity + 1"),
        (1, {"booked_phone": 1}, "booked_staff = booked_staff + 1"),
        (1, {"booked_web": 1}, "booked_web = booked_web + 1"),
        (3, {"booked_web": 2}, "capacity = 1"),
        # the trigger: totals including admin overrides
        (2, {"booked_web": 1, "booked_over": 1}, "booked_web = booked_web + 1"),
        (2, {"booked_over": 2}, "booked_phone = booked_phone + 1"),
        (2, {"booked_over": 2}, "capacity = 1"),
        (3, {"booked_staff": 1, "booked_over": 2}, "capacity = capacity - 1"),
    ]
    for capacity, booked, assignment in refused:
        slot_id = slot_with(capacity, **booked)
        before = store.slot(slot_id)
        with pytest.raises(peewee.IntegrityError):
            store.db.execute_sql(f"UPDATE slot SET {assignment} WHERE id = ?", (slot_id,))
        assert store.slot(slot_id) == before, assignment

    allowed = [
        (1, {"booked_web": 1}, "booked_over = booked_over + 1", "booked_over", 1),  # admin override
        (2, {"booked_web": 1, "booked_over": 2}, "booked_web = booked_web - 1", "booked_web", 0),
        (2, {"booked_web": 1}, "capacity = 1", "capacity", 1),
    ]
    for capacity, booked, assignment, column, expected in allowed:
        slot_id = slot_with(capacity, **booked)
        store.db.execute_sql(f"UPDATE slot SET {assignment} WHERE id = ?", (slot_id,))
        assert store.slot(slot_id)[column] == expected, assignment
