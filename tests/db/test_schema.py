"""The schema refuses what would break capacity, however the write arrives."""

from __future__ import annotations

import peewee
import pytest


def test_slot_cannot_be_inserted_over_capacity(db, dummy_venue):
    with pytest.raises(peewee.IntegrityError, match="over capacity"):
        db.execute_sql("INSERT INTO slot (venue_id, date, start, capacity, booked_web, booked_over) "
                       "VALUES (?, '2026-12-10', '10:00', 1, 1, 1)", (dummy_venue.id,))
    with pytest.raises(peewee.IntegrityError):
        db.execute_sql("INSERT INTO slot (venue_id, date, start, capacity, booked_web) "
                       "VALUES (?, '2026-12-10', '10:30', 1, 2)", (dummy_venue.id,))
