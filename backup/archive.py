"""The backup archive: a tar stream encrypted with db.files (AES-256-GCM in authenticated chunks, written
to a temporary name, fsynced and renamed) under a backup key, never the database's or the fields'.

Members: database/madoguchi.db (a VACUUM INTO snapshot, itself still SQLCipher-encrypted under the
database key), recordings/..., ivr_audio/..., config/madoguchi.toml, and manifest.json last: every other
member's size and SHA-256, the row counts and schema version of the snapshot. Beside the archive,
NAME.json holds the archive file's size and SHA-256 and the same counts (no personal data), so a list
needs no key and a damaged file is told apart from a wrong key.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

from db.crypto import DecryptionError
from db.files import EncryptedFileWriter, read_chunks
from db.keys import KeyRing

SUFFIX = ".mdbk"
MANIFEST = "manifest.json"


class BackupKeys:
    """The backup keys of the key folder, as db.files wants them."""

    def __init__(self, keyring: KeyRing):
        self.keys = keyring.backup_keys
        self.current_key_id = max(self.keys, default=0)

    def file_key(self, key_id: int) -> bytes:
        if key_id not in self.keys:
            raise DecryptionError(f"backup key {key_id} (backup-{key_id:04d}.key) is not in the key folder: "
                                  "import the key escrow of the box that made it (madoguchi keys import)")
        return self.keys[key_id]


class _Hashing(io.RawIOBase):
    """Reads a file through, hashing what tarfile takes."""

    def __init__(self, file):
        self.file, self.digest = file, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.file.read(len(buffer))
        self.digest.update(data)
        buffer[:len(data)] = data
        return len(data)


class ArchiveWriter:
    """with ArchiveWriter(path, keys) as archive: archive.add_file(...); archive.finish(manifest)"""

    def __init__(self, path: Path, keys: BackupKeys):
        self._encrypted = EncryptedFileWriter(path, keys, chunk_size=1 << 20)
        self.members: dict[str, dict] = {}

    def __enter__(self) -> ArchiveWriter:
        self._encrypted.__enter__()
        self._tar = tarfile.open(fileobj=self._encrypted, mode="w|", format=tarfile.PAX_FORMAT)
        return self

    def add_file(self, name: str, path: Path) -> None:
        """A file as it is now; one that is gone by the time it is read (a purge) is left out."""
        try:
            with open(path, "rb") as file:
                info = tarfile.TarInfo(name)
                stat = os.fstat(file.fileno())
                info.size, info.mode, info.mtime = stat.st_size, 0o600, int(stat.st_mtime)
                hashing = _Hashing(file)
                self._tar.addfile(info, hashing)
        except FileNotFoundError:
            return
        self.members[name] = {"size": info.size, "sha256": hashing.digest.hexdigest()}

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o600
        self._tar.addfile(info, io.BytesIO(data))
        self.members[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def finish(self, manifest: dict) -> None:
        data = json.dumps({**manifest, "members": self.members}, ensure_ascii=False, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(data), 0o600
        self._tar.addfile(info, io.BytesIO(data))

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._tar.close()
        finally:
            self._encrypted.__exit__(exc_type, exc, tb)


class _Decrypted(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def members(path: Path, keys: BackupKeys) -> Iterator[tuple[tarfile.TarInfo, io.BufferedReader | None]]:
    """Each member and a reader of its content, in order (read it before asking for the next);
    DecryptionError on a wrong key or any altered or missing byte."""
    stream = io.BufferedReader(_Decrypted(read_chunks(path, keys)), buffer_size=1 << 20)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                yield info, tar.extractfile(info)
    except tarfile.TarError as exc:
        raise DecryptionError(f"{path}: not a backup archive ({exc})") from None
