"""Encrypted files (recordings, transcripts, exports, backups): AES-256-GCM in chunks, written crash-safely.

Layout: header | chunk | chunk | ... where
    header = b"MDGF" | version (1) | key id (2) | nonce prefix (7, random per file) | chunk size (4)
    chunk  = AES-GCM(nonce = prefix | chunk index (4) | last flag (1), plaintext, aad = header)
Each chunk authenticates its position and whether it is the last one, so reordered, dropped or
truncated files fail to decrypt instead of playing a shortened recording. The file is written to a
temporary name, fsynced and renamed: a crash leaves either the whole file or no file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from db.crypto import DecryptionError

MAGIC = b"MDGF"
VERSION = 1
HEADER = struct.Struct(">4sBH7sI")
TAG = 16
DEFAULT_CHUNK = 64 * 1024


class FileKeys(Protocol):
    """Whose keys encrypt the file: the field keys (db.crypto.FieldCipher) or the backup keys."""

    current_key_id: int

    def file_key(self, key_id: int) -> bytes:
        """The key with that id; DecryptionError when this box does not have it."""


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EncryptedFileWriter:
    """Use as a context manager; write() any amount; the file appears complete on a clean exit."""

    def __init__(self, path: Path, cipher: FileKeys, chunk_size: int = DEFAULT_CHUNK):
        self.path = Path(path)
        self.key_id = cipher.current_key_id
        self._aead = AESGCM(cipher.file_key(self.key_id))
        self.chunk_size = chunk_size
        self.header = HEADER.pack(MAGIC, VERSION, self.key_id, os.urandom(7), chunk_size)
        self._prefix = self.header[7:14]
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        self._file = None
        self._buffer = bytearray()
        self._index = 0

    def __enter__(self) -> EncryptedFileWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self._file.write(self.header)
        return self

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > self.chunk_size:  # keep at least one byte back for the last chunk
            self._emit(bytes(self._buffer[:self.chunk_size]), last=False)
            del self._buffer[:self.chunk_size]

    def _emit(self, chunk: bytes, last: bool) -> None:
        self._file.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk, self.header))
        self._index += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._emit(bytes(self._buffer), last=True)
                self._file.flush()
                os.fsync(self._file.fileno())
        finally:
            self._file.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
            fsync_dir(self.path.parent)
        else:
            self._tmp.unlink(missing_ok=True)


def read_chunks(path: Path, cipher: FileKeys) -> Iterator[bytes]:
    """Decrypt chunk by chunk; raises DecryptionError on any tampering, reordering or truncation."""
    with open(path, "rb") as f:
        header = f.read(HEADER.size)
        if len(header) < HEADER.size:
            raise DecryptionError(f"{path}: too short to be an encrypted file")
        magic, version, key_id, prefix, chunk_size = HEADER.unpack(header)
        if magic != MAGIC or version != VERSION:
            raise DecryptionError(f"{path}: not a madoguchi encrypted file")
        try:
            aead = AESGCM(cipher.file_key(key_id))
        except DecryptionError as exc:
            raise DecryptionError(f"{path}: {exc}") from None
        index = 0
        block = f.read(chunk_size + TAG)
        while True:
            following = f.read(chunk_size + TAG)
            last = not following
            try:
                yield aead.decrypt(_nonce(prefix, index, last), block, header)
            except InvalidTag:
                raise DecryptionError(f"{path}: chunk {index} was altered, moved or the file was cut short") from None
            if last:
                return
            block, index = following, index + 1


def read_file(path: Path, cipher: FileKeys) -> bytes:
    return b"".join(read_chunks(path, cipher))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FolderNotEmpty(Exception):
    """A folder to be written whole already holds something."""


def write_folder(target: Path, fill, purpose: str):
    """A folder that appears whole or not at all (a restore, an export): `fill(partial)` writes into a
    new folder beside the target, every file is fsynced, and the folder is renamed into place; a failure
    or a kill leaves the target as it was, and what a killed run left is cleared by the next. The target
    must be new or empty; purpose names the folder beside it (.TARGET.purpose-XXXX). Returns what fill
    returned."""
    target = Path(target).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FolderNotEmpty(f"{target} is not empty: give a new or empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.{purpose}-"
    for stale in target.parent.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        result = fill(partial)
        for folder, _, names in os.walk(partial):
            for name in names:
                with open(Path(folder) / name, "rb") as f:
                    os.fsync(f.fileno())
        if target.exists():
            target.rmdir()
        os.replace(partial, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return result
