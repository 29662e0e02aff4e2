"""Key files: the SQLCipher database key, the blind-index key and the versioned field keys.

Layout of key_dir (mode 0700, every file 0600, owned by the service user):
    database.key        32 random bytes, hex: the SQLCipher raw key
    index.key           32 random bytes, hex: HMAC key for blind indexes (phone look-ups)
    field-0001.key ...  32 random bytes, hex: AES-256-GCM keys; the highest number is current
    backup-0001.key ... 32 random bytes, hex: the backups' AES-256-GCM keys (made by the first backup);
                        the highest number is current
    signing.key         32 random bytes, hex: the Ed25519 seed that signs purge reports (made when needed)
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

DATABASE_KEY = "database.key"
INDEX_KEY = "index.key"
SIGNING_KEY = "signing.key"  # db/signing.py: Ed25519 seed of the purge reports' and certificates' signatures
FIELD_KEY_RE = re.compile(r"^field-(\d{4})\.key$")
BACKUP_KEY_RE = re.compile(r"^backup-(\d{4})\.key$")


class KeyProblem(Exception):
    """A missing, unreadable or malformed key file; the message names the file."""


@dataclass(frozen=True)
class KeyRing:
    database_key: bytes
    index_key: bytes
    field_keys: dict[int, bytes]
    backup_keys: dict[int, bytes] = field(default_factory=dict)

    @property
    def current_field_key_id(self) -> int:
        return max(self.field_keys)


def write_private_file(path: Path, data: bytes) -> None:
    """Crash-safe write of a secret: temp file created 0600, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def new_key_text() -> bytes:
    return (secrets.token_hex(32) + "\n").encode()


def read_key(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise KeyProblem(f"key file {path} is missing (run `madoguchi init`, or restore the key folder)") from None
    except PermissionError:
        raise KeyProblem(f"key file {path} is not readable by this user") from None
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise KeyProblem(f"key file {path} is malformed: expected 64 hexadecimal characters")
    return bytes.fromhex(text)


def create_keys(key_dir: Path) -> None:
    """First-time key generation. Refuses to overwrite any existing key."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    for name in (DATABASE_KEY, INDEX_KEY, "field-0001.key"):
        if (key_dir / name).exists():
            raise KeyProblem(f"key file {key_dir / name} already exists; refusing to overwrite it")
    for name in (DATABASE_KEY, INDEX_KEY, "field-0001.key"):
        write_private_file(key_dir / name, new_key_text())


def add_field_key(key_dir: Path) -> int:
    """Create the next field key, which becomes current. Returns its id."""
    next_id = max(load_keyring(key_dir).field_keys) + 1
    write_private_file(key_dir / f"field-{next_id:04d}.key", new_key_text())
    return next_id


def add_backup_key(key_dir: Path) -> int:
    """Create the next backup key, which becomes current. Returns its id."""
    next_id = max(load_keyring(key_dir).backup_keys, default=0) + 1
    write_private_file(key_dir / f"backup-{next_id:04d}.key", new_key_text())
    return next_id


def load_keyring(key_dir: Path) -> KeyRing:
    if not key_dir.is_dir():
        raise KeyProblem(f"key folder {key_dir} does not exist (run `madoguchi init`, or set key_dir)")
    field_keys, backup_keys = {}, {}
    for entry in key_dir.iterdir():
        for pattern, keys in ((FIELD_KEY_RE, field_keys), (BACKUP_KEY_RE, backup_keys)):
            match = pattern.match(entry.name)
            if match:
                keys[int(match.group(1))] = read_key(entry)
    if not field_keys:
        raise KeyProblem(f"key folder {key_dir} has no field-NNNN.key file")
    return KeyRing(read_key(key_dir / DATABASE_KEY), read_key(key_dir / INDEX_KEY), field_keys, backup_keys)


def loose_permissions(key_dir: Path) -> list[str]:
    """Key files or the folder readable by group or others: reported by `madoguchi check`."""
    problems = []
    paths = [key_dir, *sorted(p for p in key_dir.iterdir() if p.suffix == ".key")]
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            problems.append(f"{path} has mode {mode:04o}; it must not be readable by group or others")
    return problems
