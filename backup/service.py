"""Backups of the box: take one (a consistent database snapshot, the recordings and transcripts, the
uploaded announcement audio and the configuration, never the keys) into backup_dir, list them, verify
one, restore one into an empty folder, the nightly restore drill, and retention.

Everything that can fail names its cause: a missing or full target folder, a wrong key, a damaged
archive. Nothing is left half-written: the archive appears under its name only when complete (db.files),
its NAME.json after it; a restore is extracted beside the target and renamed into place when verified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import peewee

from appliance.clock import TOKYO
from appliance.settings import config_path
from backup import archive
from backup.archive import MANIFEST, SUFFIX, ArchiveWriter, BackupKeys
from db import snapshot
from db.connection import DatabaseProblem
from db.crypto import DecryptionError
from db.files import FolderNotEmpty, file_sha256, write_folder
from db.keys import add_backup_key, load_keyring, write_private_file

log = logging.getLogger(__name__)

DATABASE_MEMBER = "database/madoguchi.db"
FORMAT = 1


class BackupProblem(Exception):
    """A backup, verification or restore that cannot be done; the message names the cause."""


@dataclass(frozen=True)
class Backup:
    name: str
    path: Path
    created_at: datetime.datetime | None  # None: no NAME.json (the backup was cut short)
    size: int
    sha256: str
    counts: dict[str, int]
    audit_head: dict = dataclasses.field(default_factory=dict)  # the audit chain's latest link in it

    @property
    def complete(self) -> bool:
        return self.created_at is not None


@dataclass(frozen=True)
class Verified:
    counts: dict[str, int]
    schema_version: int
    members: int
    bytes: int


def _folder(settings) -> Path:
    folder = settings.backup_dir
    if not folder.is_dir():
        raise BackupProblem(f"the backup folder {folder} does not exist (is the NAS or USB disk mounted? "
                            "create it, or set backup_dir)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BackupProblem(f"the backup folder {folder} is not writable by this user")
    return folder


def _keys(settings, *, create: bool = False) -> tuple[BackupKeys, object]:
    keyring = load_keyring(settings.key_dir)
    if not keyring.backup_keys and create:
        key_id = add_backup_key(settings.key_dir)
        log.warning("made backup key backup-%04d.key in %s: export the key escrow now (madoguchi keys export)",
                    key_id, settings.key_dir)
        keyring = load_keyring(settings.key_dir)
    return BackupKeys(keyring), keyring


def _sources(settings) -> list[tuple[str, Path]]:
    """(member name, file) of everything backed up besides the database, in a stable order; files being
    written (dot-named temporary files) are not."""
    found = []
    for prefix, root in (("recordings", settings.recordings_dir), ("ivr_audio", settings.data_dir / "ivr_audio")):
        if root.is_dir():
            found += [(f"{prefix}/{path.relative_to(root).as_posix()}", path) for path in sorted(root.rglob("*"))
                      if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)]
    config = config_path()
    if config.is_file():
        found.append(("config/madoguchi.toml", config))
    return found


def run(settings, db, now: datetime.datetime) -> Backup:
    """Take a backup now. The database is read in one snapshot while bookings and calls go on."""
    folder = _folder(settings)
    keys, keyring = _keys(settings, create=True)
    stamp = now.astimezone(TOKYO).strftime("%Y%m%d-%H%M%S")
    name = f"madoguchi-{stamp}"
    while (folder / f"{name}{SUFFIX}").exists():
        name += "b"
    path = folder / f"{name}{SUFFIX}"
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=folder))
    try:
        snap = staging / "madoguchi.db"
        snapshot.take(db, snap)
        checked = snapshot.check(snap, keyring)
        with ArchiveWriter(path, keys) as writer:
            writer.add_file(DATABASE_MEMBER, snap)
            for member, source in _sources(settings):
                writer.add_file(member, source)
            writer.finish({"format": FORMAT, "created_at": now.isoformat(), "counts": checked.counts,
                           "schema_version": checked.schema_version, "audit_head": checked.audit_head})
        sidecar = {"format": FORMAT, "name": name, "created_at": now.isoformat(), "size": path.stat().st_size,
                   "sha256": file_sha256(path), "key_id": keys.current_key_id, "counts": checked.counts,
                   "schema_version": checked.schema_version, "members": len(writer.members),
                   "audit_head": checked.audit_head}
        write_private_file(folder / f"{name}.json", json.dumps(sidecar, ensure_ascii=False, indent=1).encode())
    except (OSError, peewee.DatabaseError) as exc:  # a full disk: OSError from files, DatabaseError from VACUUM INTO
        path.unlink(missing_ok=True)
        cause = getattr(exc, "strerror", None) or str(exc)
        raise BackupProblem(f"the backup to {folder} failed: {cause} (earlier backups are kept)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("backup %s: %d bytes, %d files", name, sidecar["size"], sidecar["members"])
    return describe(path)


def describe(path: Path) -> Backup:
    name = path.name[:-len(SUFFIX)]
    try:
        sidecar = json.loads(path.with_name(f"{name}.json").read_text(encoding="utf-8"))
        created = datetime.datetime.fromisoformat(sidecar["created_at"])
    except (OSError, ValueError, KeyError):
        return Backup(name, path, None, path.stat().st_size, "", {})
    return Backup(name, path, created, sidecar["size"], sidecar["sha256"], sidecar.get("counts", {}),
                  sidecar.get("audit_head", {}))


def all_backups(settings) -> list[Backup]:
    """Oldest first; NAME.mdbk without NAME.json (cut short) included, as incomplete."""
    folder = settings.backup_dir
    if not folder.is_dir():
        return []
    found = [describe(path) for path in folder.glob(f"madoguchi-*{SUFFIX}") if path.is_file()]
    return sorted(found, key=lambda b: (b.created_at or datetime.datetime.min.replace(tzinfo=TOKYO), b.name))


def find(settings, name_or_path: str) -> Path:
    path = Path(name_or_path)
    if not path.is_file():
        path = settings.backup_dir / (name_or_path if name_or_path.endswith(SUFFIX) else f"{name_or_path}{SUFFIX}")
    if not path.is_file():
        raise BackupProblem(f"there is no backup {name_or_path!r} (see `madoguchi backup list`)")
    return path


def _safe_member(name: str) -> PurePosixPath:
    member = PurePosixPath(name)
    if member.is_absolute() or ".." in member.parts or not member.parts:
        raise BackupProblem(f"the archive holds a member named {name!r}, which no backup writes: it is not ours")
    return member


def _read(path: Path, settings, extract_to: Path | None) -> Verified:
    """Decrypt the whole archive, check every member against the manifest and the database page by page;
    with extract_to, write every member there (the database as madoguchi.db)."""
    keys, keyring = _keys(settings)
    described = describe(path)
    intact = described.complete and described.size == path.stat().st_size and described.sha256 == file_sha256(path)
    if described.complete and not intact:
        raise BackupProblem(f"{path.name} is damaged: its SHA-256 differs from {described.name}.json")
    seen: dict[str, dict] = {}
    manifest = None
    near = extract_to.parent if extract_to else settings.data_dir if settings.data_dir.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=".verify-", dir=near) as scratch:
        database = (extract_to or Path(scratch)) / "madoguchi.db"
        try:
            for info, reader in archive.members(path, keys):
                if info.name == MANIFEST:
                    manifest = json.loads(reader.read())
                    continue
                member = _safe_member(info.name)
                target = database if info.name == DATABASE_MEMBER else (extract_to / member if extract_to else None)
                seen[info.name] = _copy(reader, target)
        except DecryptionError as exc:
            if intact:
                raise BackupProblem(f"{path.name} cannot be decrypted with the backup keys of this box "
                                    f"(wrong key: {exc})") from None
            raise BackupProblem(f"{path.name} is damaged or not a backup: {exc}") from None
        if manifest is None or manifest.get("members") != seen:
            raise BackupProblem(f"{path.name} is damaged: its files do not match its manifest")
        try:
            checked = snapshot.check(database, keyring)
        except DatabaseProblem as exc:
            raise BackupProblem(f"{path.name}: the database in it cannot be opened with this box's database key "
                                f"({exc})") from None
        if checked.problems:
            raise BackupProblem(f"{path.name}: the database in it is damaged: {'; '.join(checked.problems[:3])}")
        if checked.counts != manifest["counts"]:
            raise BackupProblem(f"{path.name}: the database in it does not hold what the manifest counted")
    return Verified(checked.counts, checked.schema_version, len(seen), sum(m["size"] for m in seen.values()))


def _copy(reader, target: Path | None) -> dict:
    """Read a member through (written to target when given): its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") if target is not None else contextlib.nullcontext() as out:
        while block := reader.read(1 << 20):
            digest.update(block)
            size += len(block)
            if out is not None:
                out.write(block)
    return {"size": size, "sha256": digest.hexdigest()}


def verify(path: Path, settings) -> Verified:
    return _read(path, settings, None)


def restore(path: Path, target: Path, settings) -> Verified:
    """Into an empty or new folder: madoguchi.db, recordings/, ivr_audio/, config/madoguchi.toml.
    Extracted beside it and renamed into place only when everything verified; a restore cut short
    leaves the target as it was (run it again)."""
    try:
        return write_folder(target, lambda partial: _read(path, settings, partial), "restoring")
    except FolderNotEmpty as exc:
        raise BackupProblem(str(exc)) from None


def drill(settings) -> tuple[Backup, Verified]:
    """The newest complete backup, restored into a scratch folder and compared with what it counted."""
    complete = [b for b in all_backups(settings) if b.complete]
    if not complete:
        raise BackupProblem(f"there is no complete backup in {settings.backup_dir} to drill with")
    newest = complete[-1]
    scratch = Path(tempfile.mkdtemp(prefix=".drill-", dir=settings.data_dir))
    try:
        verified = restore(newest.path, scratch / "restored", settings)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if verified.counts != newest.counts:
        raise BackupProblem(f"{newest.name}: the restored database does not hold what its backup counted")
    return newest, verified


def expired(backups: list[Backup], settings, now: datetime.datetime) -> list[Backup]:
    """Which to delete: incomplete ones; any older than backup_max_age_days; beyond that, all but the
    newest of each of the last backup_keep_daily days, and the first of each of the last
    backup_keep_weekly ISO weeks and backup_keep_monthly months (the first: so they reach back).
    The newest complete backup is always kept."""
    complete = sorted((b for b in backups if b.complete), key=lambda b: b.created_at)
    oldest_allowed = now - datetime.timedelta(days=settings.backup_max_age_days)
    keep: set[str] = set()
    for count, period, newest in ((settings.backup_keep_daily, lambda d: d.isoformat(), True),
                                  (settings.backup_keep_weekly, lambda d: d.isocalendar()[:2], False),
                                  (settings.backup_keep_monthly, lambda d: (d.year, d.month), False)):
        chosen: dict = {}
        for b in complete:
            key = period(b.created_at.astimezone(TOKYO).date())
            if newest or key not in chosen:
                chosen[key] = b.name
        keep.update(list(chosen.values())[-count:] if count else [])
    keep = {b.name for b in complete if b.name in keep and b.created_at >= oldest_allowed}
    if complete:
        keep.add(complete[-1].name)
    return [b for b in backups if b.name not in keep]


def _left_by_dead_processes(folder: Path) -> list[Path]:
    """Staging folders (.staging-PID-*) and unfinished archives (.NAME.mdbk.PID.part) whose process is gone."""
    found = []
    for path in folder.glob(".*") if folder.is_dir() else []:
        parts = path.name.split("-" if path.name.startswith(".staging-") else ".")
        pid = parts[1] if path.name.startswith(".staging-") else parts[-2] if path.name.endswith(".part") else ""
        if pid.isdigit() and not _alive(int(pid)):
            found.append(path)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def prune(settings, now: datetime.datetime) -> list[str]:
    """Delete what expired() names (the archive and its NAME.json); returns their names."""
    gone = []
    for b in expired(all_backups(settings), settings, now):
        b.path.unlink(missing_ok=True)
        b.path.with_name(f"{b.name}.json").unlink(missing_ok=True)
        gone.append(b.name)
    for stale in _left_by_dead_processes(settings.backup_dir):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)  # a backup killed halfway
    if gone:
        log.info("backups deleted by retention: %s", ", ".join(gone))
    return gone
