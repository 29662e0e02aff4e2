"""A stateful model test of the capacity engine: random sequences of web / phone / staff bookings,
changes, cancellations, admin overrides and slot closures, each in its own write transaction like a
real entry point, checked step by step against a plain Python model of the seats."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass, field

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from appliance import runtime
from db import bookings, slots
from db.bookings import (
    CITIZEN,
    Actor,
    AlreadyBooked,
    BookingError,
    NotChangeable,
    NotPermitted,
    SlotClosed,
    SlotFull,
)
from db.capacity import CHANNELS
from db.connection import database, write_transaction
from db.models import Slot, Venue
from tests.conftest import ADMIN, CLERK, NOW, SLOT_DAY, make_applicant

COUNTED_AS = ("web", "phone", "staff", "over")
CALLER = Actor("caller", source="test")
ACTORS = {"web": CITIZEN, "phone": CALLER, "staff": CLERK}
# Three slots on SLOT_DAY (held-back seats still held) and one two days after NOW, inside the default
# reserved_seats_release_days (3), where every free seat is open to every channel.
SLOT_TIMES = ((SLOT_DAY, "10:00"), (SLOT_DAY, "10:30"), (SLOT_DAY, "11:00"),
              (NOW.date() + datetime.timedelta(days=2), "10:00"))
slot_index = st.sampled_from(range(len(SLOT_TIMES)))
party_size = st.integers(1, 3)
channel = st.sampled_from(CHANNELS)


@st.composite
def slot_spec(draw) -> tuple[int, int, int]:
    """(capacity, phone_seats, staff_seats): small, with some seats often held back."""
    capacity = draw(st.integers(1, 5))
    phone_seats = draw(st.integers(0, capacity))
    staff_seats = draw(st.integers(0, capacity - phone_seats))
    return capacity, phone_seats, staff_seats


class _Rollback(Exception):
    """Raised into the example's transaction to roll it back."""


@dataclass
class ModelSlot:
    id: int
    capacity: int
    phone_seats: int
    staff_seats: int
    released: bool
    closed: bool = False
    overridden: bool = False  # an admin override has been counted here at some point
    counted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED_AS, 0))

    @property
    def booked(self) -> int:
        return sum(self.counted.values())

    def room(self, channel: str) -> int:
        """Seats a channel may still take: web only the general seats, phone and staff their own
        held-back seats and then the general ones; overrides and held seats a channel outgrew
        count against the general seats; once released, every free seat is open to all."""
        if self.closed:
            return 0
        free = self.capacity - self.booked
        if self.released:
            return max(0, free)
        general = self.capacity - self.phone_seats - self.staff_seats
        general_taken = (self.counted["web"] + self.counted["over"]
                         + max(0, self.counted["phone"] - self.phone_seats)
                         + max(0, self.counted["staff"] - self.staff_seats))
        own_free = {"web": 0,
                    "phone": max(0, self.phone_seats - self.counted["phone"]),
                    "staff": max(0, self.staff_seats - self.counted["staff"])}[channel]
        return max(0, min(free, general - general_taken + own_free))


@dataclass
class ModelBooking:
    number: str
    person: int
    slot: int
    channel: str
    counted_as: str
    party_size: int
    status: str = "confirmed"


class CapacityMachine(RuleBasedStateMachine):
    """The engine, driven through its public functions, against ModelSlot / ModelBooking."""

    booked = Bundle("booked")

    def __init__(self):
        super().__init__()
        self._transaction = database.atomic()
        self._transaction.__enter__()
        self.people = itertools.count(900_001)
        self.slots: list[ModelSlot] = []
        self.bookings: dict[str, ModelBooking] = {}
        self.events = 0  # successful, non-idempotent operations: one audit row and one notice each
        self.closures = 0
        self.closure_notices: set[tuple[str, int]] = set()
        self.audit_before = self._count("audit_log")
        self.outbox_before = self._count("outbox")
        self.release_days = runtime.settings().reserved_seats_release_days

    def teardown(self):
        self._transaction.__exit__(_Rollback, _Rollback(), None)

    # -- set-up -------------------------------------------------------------------------------

    @initialize(specs=st.lists(slot_spec(), min_size=len(SLOT_TIMES), max_size=len(SLOT_TIMES)))
    def create_slots(self, specs):
        with write_transaction():
            self.venue = Venue.create(slug="stateful", name="状態会場", kana="ジョウタイカイジョウ")
            for (day, start), (capacity, phone_seats, staff_seats) in zip(SLOT_TIMES, specs, strict=True):
                slot = Slot.create(venue=self.venue, date=day, start=datetime.time.fromisoformat(start),
                                   capacity=capacity, phone_seats=phone_seats, staff_seats=staff_seats)
                released = (day - NOW.date()).days <= self.release_days
                self.slots.append(ModelSlot(slot.id, capacity, phone_seats, staff_seats, released))
        assert [s.released for s in self.slots] == [False, False, False, True]

    # -- helpers ------------------------------------------------------------------------------

    def _person_active(self, person: int) -> bool:
        return any(b.person == person and b.status == "confirmed" for b in self.bookings.values())

    def _call(self, operation):
        """One engine call in its own write transaction: (result, None) or (None, refusal)."""
        try:
            with write_transaction():
                return operation(), None
        except BookingError as refused:
            return None, refused

    def _check_outcome(self, expected, result, refused):
        """expected is a BookingError subclass, or the counter the seats should be counted in."""
        if isinstance(expected, type):
            got = type(refused).__name__ if refused else f"success ({result.counted_as})"
            assert type(refused) is expected, f"expected {expected.__name__}, engine said {got}"
        else:
            assert refused is None, f"expected success counted as {expected}, engine refused: {refused!r}"
            assert result.counted_as == expected, (result.counted_as, expected)

    def _expect_take(self, slot: ModelSlot, channel: str, party: int, *, override_by: Actor | None = None):
        """What taking seats in `slot` for `channel` should give (the order the engine checks in)."""
        if slot.closed:
            return SlotClosed
        if slot.room(channel) >= party:
            return channel
        if override_by is None:
            return SlotFull
        return "over" if override_by.role == "admin" else NotPermitted

    def _book(self, person: int, index: int, channel: str, party: int, *, actor: Actor,
              override_reason: str = ""):
        slot = self.slots[index]
        if slot.closed:
            expected = SlotClosed
        elif self._person_active(person):
            expected = AlreadyBooked
        else:
            expected = self._expect_take(slot, channel, party, override_by=actor if override_reason else None)
        result, refused = self._call(lambda: bookings.book(
            slot.id, make_applicant(person, notify="sms"), channel, NOW, actor=actor, party_size=party,
            override_reason=override_reason))
        self._check_outcome(expected, result, refused)
        if refused:
            return multiple()
        slot.counted[expected] += party
        slot.overridden |= expected == "over"
        self.events += 1
        self.bookings[result.number] = ModelBooking(result.number, person, index, channel, expected, party)
        self._assert_ordinary_fits(slot, expected)
        return result.number

    def _assert_ordinary_fits(self, slot: ModelSlot, counted_as: str):
        """An ordinary booking or move never leaves its slot over capacity, overrides included."""
        if counted_as != "over":
            row = self._stored_slots()[slot.id]
            booked = row["web"] + row["phone"] + row["staff"] + row["over"]
            assert booked <= row["capacity"], f"an ordinary booking put slot {slot.id} over capacity"

    def _change(self, number: str, index: int, via: str, *, actor: Actor, override_reason: str = ""):
        booking = self.bookings[number]
        slot = self.slots[index]
        if booking.status != "confirmed":
            expected = NotChangeable
        elif index == booking.slot:
            expected = booking.counted_as  # nothing to do
        else:
            expected = self._expect_take(slot, booking.channel, booking.party_size,
                                         override_by=actor if override_reason else None)
        result, refused = self._call(lambda: bookings.change(
            number, slot.id, via, NOW, actor=actor, override_reason=override_reason))
        self._check_outcome(expected, result, refused)
        if refused or index == booking.slot:
            return
        self.slots[booking.slot].counted[booking.counted_as] -= booking.party_size
        slot.counted[expected] += booking.party_size
        slot.overridden |= expected == "over"
        booking.slot, booking.counted_as = index, expected
        self.events += 1
        self._assert_ordinary_fits(slot, expected)

    # -- rules --------------------------------------------------------------------------------

    @rule(target=booked, index=slot_index, channel=channel, party=party_size)
    def book(self, index, channel, party):
        """A new person books through web, phone or staff."""
        return self._book(next(self.people), index, channel, party, actor=ACTORS[channel])

    @rule(target=booked, earlier=booked, index=slot_index, channel=channel, party=party_size)
    def book_again(self, earlier, index, channel, party):
        """Someone who booked before books again: refused while their booking is active."""
        return self._book(self.bookings[earlier].person, index, channel, party, actor=ACTORS[channel])

    @rule(target=booked, index=slot_index, party=party_size, actor=st.sampled_from([ADMIN, CLERK]))
    def book_with_override(self, index, party, actor):
        """Staff book with an override reason: over capacity only for an admin, only when full."""
        return self._book(next(self.people), index, "staff", party, actor=actor, override_reason="高齢のため")

    @rule(number=booked, index=slot_index, via=channel)
    def change(self, number, index, via):
        """Move a booking (counted by the channel it was booked through)."""
        self._change(number, index, via, actor=ACTORS[via])

    @rule(number=booked, index=slot_index, actor=st.sampled_from([ADMIN, CLERK]))
    def change_with_override(self, number, index, actor):
        self._change(number, index, "staff", actor=actor, override_reason="窓口で調整")

    @rule(number=booked, via=channel)
    def cancel(self, number, via):
        """Cancel frees the seats from the counter they were counted in; again changes nothing."""
        booking = self.bookings[number]
        result, refused = self._call(lambda: bookings.cancel(number, via, NOW, actor=ACTORS[via]))
        assert refused is None, f"cancel refused: {refused!r}"
        assert result.status == "cancelled"
        if booking.status == "confirmed":
            self.slots[booking.slot].counted[booking.counted_as] -= booking.party_size
            booking.status = "cancelled"
            self.events += 1

    @precondition(lambda self: not any(s.closed for s in self.slots))
    @rule(index=slot_index)
    def close_slot(self, index):
        """Close one slot: it refuses new bookings and moves in, even overrides; its bookings stay."""
        slot = self.slots[index]
        day, start = SLOT_TIMES[index]
        start = datetime.time.fromisoformat(start)
        until = (datetime.datetime.combine(day, start) + datetime.timedelta(minutes=30)).time()
        with write_transaction():
            affected = slots.close_slots(self.venue, day, day, "臨時休業", ADMIN, NOW, times=(start, until))
        assert sorted(b.number for b in affected) == sorted(
            b.number for b in self.bookings.values() if b.slot == index and b.status == "confirmed")
        slot.closed = True
        self.closures += 1
        # Each affected booking gets one closure notice per version (closing again adds none).
        self.closure_notices |= {(b.number, b.version) for b in affected}

    # -- invariants (plain SQL: they run after every step) -------------------------------------

    def _stored_slots(self) -> dict[int, dict[str, int]]:
        rows = database.execute_sql(
            "SELECT id, capacity, booked_web, booked_phone, booked_staff, booked_over, closed FROM slot "
            "WHERE venue_id = ?", (self.venue.id,))
        return {row[0]: dict(zip(("capacity", "web", "phone", "staff", "over", "closed"), row[1:], strict=True))
                for row in rows}

    def _count(self, table: str) -> int:
        return database.execute_sql(f"SELECT count(*) FROM {table}").fetchone()[0]

    @invariant()
    def ordinary_bookings_never_exceed_capacity(self):
        """booked_web + booked_phone + booked_staff <= capacity always; in a slot no admin override was
        ever counted in, the total (booked_over included) does too."""
        stored = self._stored_slots()
        for model in self.slots:
            row = stored[model.id]
            ordinary = row["web"] + row["phone"] + row["staff"]
            assert ordinary <= row["capacity"], f"slot {model.id}: {ordinary} ordinary seats > {row['capacity']}"
            if not model.overridden:
                total = ordinary + row["over"]
                assert total <= row["capacity"], f"slot {model.id}: {total} seats booked > {row['capacity']}"

    @invariant()
    def counters_are_the_sums_of_confirmed_bookings(self):
        sums = {(slot_id, counted_as): seats for slot_id, counted_as, seats in database.execute_sql(
            "SELECT slot_id, counted_as, sum(party_size) FROM booking WHERE status = 'confirmed' "
            "GROUP BY slot_id, counted_as")}
        for slot_id, row in self._stored_slots().items():
            for counted_as in COUNTED_AS:
                held = sums.get((slot_id, counted_as), 0)
                assert row[counted_as] == held, (
                    f"slot {slot_id}: booked_{counted_as}={row[counted_as]}, confirmed bookings hold {held}")

    @invariant()
    def database_matches_the_model(self):
        """Same counters, same bookings; refused operations left no booking, audit row or notice."""
        stored_slots = self._stored_slots()
        for model in self.slots:
            row = stored_slots[model.id]
            got = {counted_as: row[counted_as] for counted_as in COUNTED_AS}
            assert got == model.counted, f"slot {model.id}: database {got}, model {model.counted}"
            assert bool(row["closed"]) == model.closed
        slot_index_of = {s.id: i for i, s in enumerate(self.slots)}
        stored = {number: (slot_index_of[slot_id], status, ch, counted_as, party)
                  for number, slot_id, status, ch, counted_as, party in database.execute_sql(
                      "SELECT number, slot_id, booking.status, channel, counted_as, party_size FROM booking "
                      "JOIN slot ON slot.id = booking.slot_id WHERE slot.venue_id = ?", (self.venue.id,))}
        expected = {b.number: (b.slot, b.status, b.channel, b.counted_as, b.party_size)
                    for b in self.bookings.values()}
        assert stored == expected
        assert self._count("audit_log") - self.audit_before == self.events + self.closures
        assert self._count("outbox") - self.outbox_before == self.events + len(self.closure_notices)


# About 8 s on an idle 2-core machine. The explain phase is left out: on a state machine it can
# rerun a failing example for minutes before reporting it.
SETTINGS = settings(max_examples=100, stateful_step_count=30, deadline=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])


def test_capacity_engine_agrees_with_a_model(instance):
    """Any sequence of book / change / cancel / override / close keeps every slot's counters equal to
    its confirmed bookings, never lets an ordinary booking past capacity, refuses exactly when the
    model has no room for the channel (SlotFull, NotPermitted, SlotClosed, AlreadyBooked), and a
    refused operation writes nothing."""
    runtime.configure(instance.replace(max_party_size=3))
    run_state_machine_as_test(CapacityMachine, settings=SETTINGS)
