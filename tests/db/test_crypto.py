"""Field encryption: versioned envelopes, tamper detection, columns bound to their place."""

from __future__ import annotations

import pytest

from db import crypto
from db.crypto import DecryptionError, FieldCipher
from db.keys import add_field_key, create_keys, load_keyring
from db.models import Booking
from tests.conftest import NOW, make_applicant


@pytest.fixture
def cipher(tmp_path):
    create_keys(tmp_path)
    return FieldCipher(load_keyring(tmp_path))


def test_round_trip_with_fresh_nonces(cipher):
    a = cipher.encrypt("試験太郎", "booking.name")
    b = cipher.encrypt("試験太郎", "booking.name")
    assert a != b
    assert cipher.decrypt(a, "booking.name") == "試験太郎"
    assert a[0] == 1 and FieldCipher.key_id_of(a) == 1


def test_tampering_is_detected(cipher):
    envelope = bytearray(cipher.encrypt("090-0000-1234", "booking.phone"))
    envelope[-1] ^= 1
    with pytest.raises(DecryptionError, match="tampered"):
        cipher.decrypt(bytes(envelope), "booking.phone")


def test_value_moved_to_another_column_does_not_decrypt(cipher):
    with pytest.raises(DecryptionError):
        cipher.decrypt(cipher.encrypt("試験太郎", "booking.name"), "booking.kana")


def test_old_key_still_decrypts_after_a_new_one(tmp_path, cipher):
    old = cipher.encrypt("x", "t.c")
    add_field_key(tmp_path)
    newer = FieldCipher(load_keyring(tmp_path))
    assert newer.current_key_id == 2
    assert newer.decrypt(old, "t.c") == "x"
    assert FieldCipher.key_id_of(newer.encrypt("x", "t.c")) == 2


def test_unknown_key_id_is_named(tmp_path, cipher):
    add_field_key(tmp_path)
    envelope = FieldCipher(load_keyring(tmp_path)).encrypt("x", "t.c")
    with pytest.raises(DecryptionError, match="field key 2 is not in the key folder"):
        cipher.decrypt(envelope, "t.c")


def test_blind_index_is_keyed_and_stable(tmp_path, cipher):
    assert cipher.blind_index("09000001234", "phone") == cipher.blind_index("09000001234", "phone")
    assert cipher.blind_index("09000001234", "phone") != cipher.blind_index("09000001234", "person")
    other = tmp_path / "other"
    create_keys(other)
    assert FieldCipher(load_keyring(other)).blind_index("09000001234", "phone") != cipher.blind_index("09000001234", "phone")


def test_booking_columns_hold_envelopes_not_text(dummy_slot, db):
    """What the database stores for a booking's personal fields is ciphertext."""
    from db.bookings import book
    booking = book(dummy_slot.id, make_applicant(name="試験太郎", phone="090-0000-1234"), "web", NOW)
    raw = db.execute_sql("SELECT name, phone, birth_date FROM booking WHERE id = ?", (booking.id,)).fetchone()
    for value in raw:
        assert isinstance(value, bytes) and value[0] == 1
        assert "試験".encode() not in value and b"0000" not in value
    assert crypto.cipher().decrypt(raw[0], "booking.name") == "試験太郎"
    assert Booking.get_by_id(booking.id).phone == "09000001234"
