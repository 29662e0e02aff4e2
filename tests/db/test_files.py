"""Encrypted files in chunks: round trip, and every kind of damage is refused rather than played."""

from __future__ import annotations

import os

import pytest

from db.crypto import DecryptionError, FieldCipher
from db.files import EncryptedFileWriter, read_file
from db.keys import add_field_key, create_keys, load_keyring


@pytest.fixture
def cipher(tmp_path):
    create_keys(tmp_path / "keys")
    return FieldCipher(load_keyring(tmp_path / "keys"))


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 1000, 12345])
def test_round_trip_across_chunk_boundaries(tmp_path, cipher, size):
    data = os.urandom(size)
    path = tmp_path / "call.wav.enc"
    with EncryptedFileWriter(path, cipher, chunk_size=100) as out:
        for i in range(0, size, 37):
            out.write(data[i:i + 37])
    assert read_file(path, cipher) == data
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    if size >= 16:
        assert data[:16] not in path.read_bytes()  # ciphertext, not the recording


def _write(path, cipher, data, chunk=100):
    with EncryptedFileWriter(path, cipher, chunk_size=chunk) as out:
        out.write(data)


def test_truncated_at_a_chunk_boundary_is_refused(tmp_path, cipher):
    path = tmp_path / "f"
    _write(path, cipher, os.urandom(1000))
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) - 116])  # drop the whole last chunk
    with pytest.raises(DecryptionError, match="cut short"):
        read_file(path, cipher)


def test_swapped_chunks_and_flipped_bits_are_refused(tmp_path, cipher):
    path = tmp_path / "f"
    _write(path, cipher, os.urandom(350))
    raw = bytearray(path.read_bytes())
    header, body = raw[:18], raw[18:]
    swapped = header + body[116:232] + body[:116] + body[232:]
    path.write_bytes(bytes(swapped))
    with pytest.raises(DecryptionError):
        read_file(path, cipher)
    raw[40] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(DecryptionError):
        read_file(path, cipher)


def test_a_failed_write_leaves_no_file(tmp_path, cipher):
    path = tmp_path / "f"
    with pytest.raises(RuntimeError), EncryptedFileWriter(path, cipher) as out:
        out.write(b"half a recording")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == [tmp_path / "keys"]


def test_old_files_stay_readable_after_a_new_key(tmp_path, cipher):
    path = tmp_path / "f"
    _write(path, cipher, b"x" * 500)
    add_field_key(tmp_path / "keys")
    assert read_file(path, FieldCipher(load_keyring(tmp_path / "keys"))) == b"x" * 500


def test_not_our_file_is_named(tmp_path, cipher):
    path = tmp_path / "plain.wav"
    path.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(DecryptionError, match="not a madoguchi encrypted file"):
        read_file(path, cipher)
