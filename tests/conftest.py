"""Shared fixtures: one real encrypted database per session, each test inside a rolled-back transaction,
and create_<model> factories with dummy_<model> defaults."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import shutil
from pathlib import Path

import pytest

from appliance import runtime
from appliance.clock import TOKYO
from appliance.settings import load_settings
from db import crypto, migrations
from db.bookings import Actor, Applicant
from db.connection import database, open_database
from db.keys import create_keys
from db.models import Booking, Slot, Venue

pytest_plugins = ["tests.notify_servers"]  # mail_server, sms_gateway, senders

# A fixed "now" for tests: Tuesday 1 December 2026, 10:00 in Tokyo.
NOW = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
SLOT_DAY = datetime.date(2026, 12, 10)  # a Thursday, inside the default reception window
ADMIN = Actor("test-admin", role="admin", source="test")
CLERK = Actor("test-clerk", role="staff", source="test")


def make_instance(root: Path, **overrides):
    """Keys, config and a migrated encrypted database under root; returns its settings."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "madoguchi.toml"
    overrides.setdefault("backup_dir", str(root / "backups"))
    lines = [f'data_dir = "{root / "data"}"', f'key_dir = "{root / "keys"}"']
    lines += [f"{k} = {v!r}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}" for k, v in overrides.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings(config, environ={})
    create_keys(settings.key_dir)
    db = open_database(settings, create=True, require_current_schema=False)
    migrations.migrate(db)
    db.close()
    return settings


MISCOUNTED_SLOTS_SQL = """
    SELECT s.id, s.booked_web, s.booked_phone, s.booked_staff, s.booked_over,
           coalesce(sum(CASE WHEN b.counted_as = 'web' THEN b.party_size END), 0) AS seats_web,
           coalesce(sum(CASE WHEN b.counted_as = 'phone' THEN b.party_size END), 0) AS seats_phone,
           coalesce(sum(CASE WHEN b.counted_as = 'staff' THEN b.party_size END), 0) AS seats_staff,
           coalesce(sum(CASE WHEN b.counted_as = 'over' THEN b.party_size END), 0) AS seats_over
    FROM slot s LEFT JOIN booking b ON b.slot_id = s.id AND b.status != 'cancelled'
    GROUP BY s.id
    HAVING s.booked_web != seats_web OR s.booked_phone != seats_phone
        OR s.booked_staff != seats_staff OR s.booked_over != seats_over
        OR s.booked_web + s.booked_phone + s.booked_staff > s.capacity"""
"""Slots whose counters differ from the bookings holding seats (all but cancelled ones: an attended or
no-show booking keeps its seat), by counted_as, or whose ordinary bookings exceed capacity: empty
whenever the store is consistent."""


@contextlib.contextmanager
def process_globals_kept():
    """make_instance() installs its database and cipher process-wide; put back whatever the test
    session had, so the tests that run after this module keep their own database."""
    saved_db, saved_cipher, saved_settings = database.obj, crypto._cipher, runtime._settings
    try:
        yield
    finally:
        database.initialize(saved_db)
        crypto.install(saved_cipher)
        runtime.configure(saved_settings)


@pytest.fixture(scope="session")
def instance(tmp_path_factory):
    root = tmp_path_factory.mktemp("instance")
    settings = make_instance(root)
    os.environ["MADOGUCHI_CONFIG"] = str(root / "madoguchi.toml")
    runtime.configure(settings)
    db = open_database(settings)
    _session["db"], _session["cipher"] = db, crypto.cipher()
    yield settings
    db.close()


_session: dict = {}


@pytest.fixture
def db(instance):
    """The session database inside a transaction that is rolled back after the test. (Tests that open
    other instances re-point the process-wide proxy; this puts it back.)"""
    runtime.configure(instance)
    database.initialize(_session["db"])
    crypto.install(_session["cipher"])
    with database.atomic() as transaction:
        yield database
        transaction.rollback()


@pytest.fixture
def no_audio_yet(instance):
    """The session's instance is shared: the test starts with no uploaded IVR audio, and leaves none."""
    from db import ivr_audio
    shutil.rmtree(ivr_audio.folder(), ignore_errors=True)
    yield
    shutil.rmtree(ivr_audio.folder(), ignore_errors=True)


@pytest.fixture
def settings_override(instance):
    """Change settings for one test: settings_override(one_booking_per_person=False)."""
    def apply(**changes):
        runtime.configure(instance.replace(**changes))
    yield apply
    runtime.configure(instance)


_counter = itertools.count(1)


@pytest.fixture
def create_venue(db):
    def factory(**kw):
        n = next(_counter)
        values = {"slug": f"venue-{n}", "name": f"会場{n}", "kana": f"カイジョウ{n}", "sort_order": n}
        values.update(kw)
        return Venue.create(**values)
    return factory


@pytest.fixture
def dummy_venue(create_venue):
    return create_venue(slug="dummy", name="本庁舎", kana="ホンチョウシャ")


@pytest.fixture
def create_slot(db, dummy_venue):
    def factory(venue=None, date=SLOT_DAY, start="10:00", capacity=2, **kw):
        start = datetime.time.fromisoformat(start) if isinstance(start, str) else start
        return Slot.create(venue=venue or dummy_venue, date=date, start=start, capacity=capacity, **kw)
    return factory


@pytest.fixture
def dummy_slot(create_slot):
    return create_slot()


def make_applicant(n: int | None = None, **kw) -> Applicant:
    """A distinct person each call (phone and birth date differ)."""
    n = next(_counter) if n is None else n
    values = {"name": f"市民 {n}号", "kana": "シミン　タロウ", "phone": f"090{n:08d}",
              "birth_date": datetime.date(1950, 1, 1) + datetime.timedelta(days=n % 20000)}
    values.update(kw)
    return Applicant(**values)


@pytest.fixture
def applicant():
    return make_applicant


def reload(model):
    return type(model).get_by_id(model.id)


def confirmed_seats(slot: Slot) -> int:
    return sum(b.party_size for b in Booking.select().where(Booking.slot == slot, Booking.status == "confirmed"))
