"""`madoguchi keys rotate`: every personal field re-encrypted under a new key, resumable after a crash."""

from __future__ import annotations

import datetime

import pytest

from appliance import runtime
from db import crypto
from db.bookings import book
from db.connection import open_database, write_transaction
from db.keys import load_keyring
from db.models import Booking, Slot, Venue
from db.rotation import rotate, rows_under_old_keys
from tests.conftest import NOW, SLOT_DAY, make_applicant, make_instance


@pytest.fixture
def populated(tmp_path):
    settings = make_instance(tmp_path)
    runtime.configure(settings)
    open_database(settings)
    with write_transaction():
        venue = Venue.create(slug="r", name="会場", kana="カイジョウ")
        slot = Slot.create(venue=venue, date=SLOT_DAY, start=datetime.time(10), capacity=50)
        for n in range(7):
            book(slot.id, make_applicant(500 + n, email=f"p{n}@example.jp"), "web", NOW)
    return settings


def test_interrupted_rotation_resumes_without_a_second_new_key(populated):
    class Interrupted(Exception):
        pass

    def crash_after_first_batch(done):
        raise Interrupted

    with pytest.raises(Interrupted):
        rotate(populated.key_dir, batch_size=3, progress=crash_after_first_batch)
    assert crypto.cipher().current_key_id == 2
    assert rows_under_old_keys(2) == 4  # the first batch of 3 committed, 4 still under key 1

    result = rotate(populated.key_dir, batch_size=3)
    assert (result.key_id, result.new_key, result.rows) == (2, False, 4)
    assert rows_under_old_keys(2) == 0

    people = {b.name: b.email for b in Booking.select()}
    assert len(people) == 7 and all(email.endswith("@example.jp") for email in people.values())


def test_completed_rotation_makes_a_new_key_next_time(populated):
    assert rotate(populated.key_dir).new_key
    second = rotate(populated.key_dir)
    assert (second.key_id, second.new_key, second.rows) == (3, True, 7)
    assert sorted(load_keyring(populated.key_dir).field_keys) == [1, 2, 3]
    assert len({b.phone for b in Booking.select()}) == 7
