"""The key escrow: sealed with a passphrase, opened only with it, installed into an empty key folder
(0600 files) and never over a different key."""

from __future__ import annotations

import stat

import pytest

from db import escrow
from db.keys import add_backup_key, create_keys, load_keyring
from tests.conftest import NOW


@pytest.fixture
def key_dir(tmp_path):
    create_keys(tmp_path / "keys")
    add_backup_key(tmp_path / "keys")
    return tmp_path / "keys"


def test_sealed_keys_come_back_with_the_passphrase_only(key_dir, tmp_path):
    sealed = escrow.seal(key_dir, "kinko-no-naka-2026", NOW)
    assert key_dir.joinpath("database.key").read_text().strip().encode() not in sealed
    keys = escrow.open_sealed(sealed, "kinko-no-naka-2026")
    assert sorted(keys) == ["backup-0001.key", "database.key", "field-0001.key", "index.key"]
    with pytest.raises(escrow.EscrowProblem, match="wrong passphrase"):
        escrow.open_sealed(sealed, "kinko-no-naka-2025")
    with pytest.raises(escrow.EscrowProblem, match="not a madoguchi key escrow"):
        escrow.open_sealed(b"PK\x03\x04 a zip file", "kinko-no-naka-2026")
    with pytest.raises(escrow.EscrowProblem, match="at least 12 characters"):
        escrow.seal(key_dir, "short", NOW)


def test_installed_into_a_new_folder_the_keys_load_and_are_private(key_dir, tmp_path):
    keys = escrow.open_sealed(escrow.seal(key_dir, "kinko-no-naka-2026", NOW), "kinko-no-naka-2026")
    new = tmp_path / "new-box" / "keys"
    assert sorted(escrow.install(keys, new)) == sorted(keys)
    assert load_keyring(new) == load_keyring(key_dir)
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in new.iterdir()} == {0o600}
    assert escrow.install(keys, new) == []  # again: everything is there already


def test_a_different_key_already_there_is_never_overwritten(key_dir, tmp_path):
    keys = escrow.key_files(key_dir)
    other = tmp_path / "other"
    create_keys(other)
    with pytest.raises(escrow.EscrowProblem, match="exists with another key; refusing to overwrite"):
        escrow.install(keys, other)
    with pytest.raises(escrow.EscrowProblem, match="no key file of madoguchi"):
        escrow.install({"../../etc/passwd": "00" * 32}, tmp_path / "third")
