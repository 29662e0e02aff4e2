"""The key escrow: every key file of the box in one file sealed with a passphrase (scrypt, then
AES-256-GCM), to keep offline apart from the backups (a USB stick in the safe, with the printed sheet
in another). A new box gets its keys back from it, then restores a backup.

Layout: b"MDGE" | version (1) | salt (16) | nonce (12) | AES-GCM(JSON {"created_at", "keys": {file: hex}})
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from db.keys import (
    BACKUP_KEY_RE,
    DATABASE_KEY,
    FIELD_KEY_RE,
    INDEX_KEY,
    SIGNING_KEY,
    load_keyring,
    write_private_file,
)

MAGIC = b"MDGE"
VERSION = 1
HEADER = struct.Struct(">4sB16s12s")
MIN_PASSPHRASE = 12


class EscrowProblem(Exception):
    """An escrow that cannot be made, read or installed; the message names the cause."""


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode("utf-8"))


def is_key_file(name: str) -> bool:
    return bool(name in (DATABASE_KEY, INDEX_KEY, SIGNING_KEY) or FIELD_KEY_RE.match(name) or BACKUP_KEY_RE.match(name))


def key_files(key_dir: Path) -> dict[str, str]:
    """Every key of the folder: file name → its 64 hexadecimal characters (checked by loading them)."""
    load_keyring(key_dir)
    names = [p.name for p in sorted(key_dir.iterdir()) if is_key_file(p.name)]
    return {name: (key_dir / name).read_text().strip() for name in names}


def seal(key_dir: Path, passphrase: str, now: datetime.datetime) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise EscrowProblem(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    header = HEADER.pack(MAGIC, VERSION, salt, nonce)
    body = json.dumps({"created_at": now.isoformat(), "keys": key_files(key_dir)}).encode()
    return header + AESGCM(_key(passphrase, salt)).encrypt(nonce, body, header)


def open_sealed(data: bytes, passphrase: str) -> dict[str, str]:
    if len(data) < HEADER.size + 16 or data[:4] != MAGIC:
        raise EscrowProblem("this is not a madoguchi key escrow file")
    magic, version, salt, nonce = HEADER.unpack_from(data)
    if version != VERSION:
        raise EscrowProblem(f"unknown escrow version {version}")
    try:
        body = AESGCM(_key(passphrase, salt)).decrypt(nonce, data[HEADER.size:], data[:HEADER.size])
    except InvalidTag:
        raise EscrowProblem("wrong passphrase, or the escrow file is damaged") from None
    return json.loads(body)["keys"]


def install(keys: dict[str, str], key_dir: Path) -> list[str]:
    """Write the escrow's keys into key_dir (made 0700 when missing); a key already there must be the
    same (never overwritten). Returns the files written."""
    for name, text in keys.items():
        if not is_key_file(name):
            raise EscrowProblem(f"the escrow holds {name!r}, which is no key file of madoguchi")
        existing = key_dir / name
        if existing.exists() and existing.read_text().strip() != text:
            raise EscrowProblem(f"{existing} exists with another key; refusing to overwrite it")
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    written = []
    for name, text in keys.items():
        if not (key_dir / name).exists():
            write_private_file(key_dir / name, (text + "\n").encode())
            written.append(name)
    load_keyring(key_dir)
    return written


def fingerprint(text: str) -> str:
    """8 hexadecimal characters to check a typed or printed key against."""
    return hashlib.sha256(bytes.fromhex(text)).hexdigest()[:8]
