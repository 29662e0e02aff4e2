"""The end of a contract: hand every kind of data over as CSV (`madoguchi export all`), then erase the box
for certain (`madoguchi erase`) with a signed certificate of what was destroyed when.

The export is what the city takes away: one CSV per table (personal fields decrypted; password hashes,
authenticator secrets, sessions and phone credentials left out), the settings, each call's recording as
a WAV file and its transcript, a column guide, a README and SHA256SUMS. It is written beside the target
folder and renamed into place when complete.

Erasure is crypto-shredding first: the key files are overwritten and deleted, which alone makes the
database, recordings and backups unreadable; then those files are overwritten and deleted too. The
certificate is signed before the signing key goes with the others; it carries the public key.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import peewee

from appliance.csvfile import table_csv
from appliance.settings import SETTINGS
from db import audit, crypto, recordings, signing
from db.bookings import Actor
from db.connection import write_transaction
from db.files import FolderNotEmpty, read_file, write_folder
from db.models import ALL_MODELS, CallRecord, Extension, RateLimit, RecoveryCode, StaffUser, WebSession

GUIDE = tomllib.loads(Path(__file__).with_name("handover.toml").read_text(encoding="utf-8"))
LEFT_OUT_TABLES = (WebSession, RateLimit, RecoveryCode)  # sessions and one-time codes: nothing to hand over
LEFT_OUT_COLUMNS = {StaffUser: ("password_hash", "totp_secret", "totp_last_step"), Extension: ("ha1",)}
OVERWRITE_BLOCK = 1 << 20


class HandoverProblem(Exception):
    """An export or erasure that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Exported:
    folder: Path
    tables: dict[str, int]  # rows per CSV file
    recordings: int
    problems: list[str]  # recordings that could not be read (named by call id)


def _columns(model) -> list[str]:
    left_out = LEFT_OUT_COLUMNS.get(model, ())
    return [f.column_name for f in model._meta.sorted_fields if f.column_name not in left_out]


def export_all(settings, target: Path, encoding: str, actor: Actor, now: datetime.datetime) -> Exported:
    try:
        exported = write_folder(target, lambda partial: _write(settings, partial, encoding, now), "exporting")
    except FolderNotEmpty as exc:
        raise HandoverProblem(str(exc)) from None
    target = target.resolve()
    with write_transaction():
        audit.record(actor.name, "export.all", "export", "all", now, source=actor.source, encoding=encoding,
                     tables=len(exported.tables), recordings=exported.recordings)
    return Exported(target, exported.tables, exported.recordings, exported.problems)


def _write(settings, folder: Path, encoding: str, now: datetime.datetime) -> Exported:
    tables: dict[str, int] = {}
    guide_rows = []
    for model in ALL_MODELS:
        if model in LEFT_OUT_TABLES:
            continue
        table, columns = model._meta.table_name, _columns(model)
        fields = [model._meta.columns[c] for c in columns]
        key = model._meta.primary_key
        order = [model._meta.fields[n] for n in key.field_names] if isinstance(key, peewee.CompositeKey) else [key]
        rows = list(model.select(*fields).order_by(*order).tuples())
        (folder / f"{table}.csv").write_bytes(table_csv(columns, rows, encoding))
        tables[f"{table}.csv"] = len(rows)
        described = GUIDE.get("columns", {}).get(table, {})
        guide_rows += [(f"{table}.csv", column, described.get(column, "")) for column in columns]
    settings_rows = [(s.name, str(getattr(settings, s.name)), s.help) for s in SETTINGS]
    (folder / "settings.csv").write_bytes(table_csv(("name", "value", "help"), settings_rows, encoding))
    tables["settings.csv"] = len(settings_rows)
    (folder / "columns.csv").write_bytes(table_csv(("file", "column", "description"), guide_rows, encoding))
    count, problems = _recordings(settings, folder)
    (folder / "README.txt").write_text(GUIDE["readme"].format(made=now.isoformat(), encoding=encoding,
                                                              recordings=count), encoding="utf-8")
    sums = [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(folder).as_posix()}"
            for path in sorted(folder.rglob("*")) if path.is_file()]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    return Exported(folder, tables, count, problems)


def _recordings(settings, folder: Path) -> tuple[int, list[str]]:
    count, problems = 0, []
    cipher = crypto.cipher()
    for call in CallRecord.select().where(CallRecord.recording != "").order_by(CallRecord.id):
        (folder / "recordings").mkdir(exist_ok=True)
        try:
            (folder / "recordings" / f"call-{call.id}.wav").write_bytes(
                recordings.to_wav(settings.recordings_dir / call.recording, cipher))
            count += 1
            if call.transcript:
                (folder / "recordings" / f"call-{call.id}.transcript.jsonl").write_bytes(
                    read_file(settings.recordings_dir / call.transcript, cipher))
        except (OSError, crypto.DecryptionError) as exc:
            problems.append(f"call {call.id}: {exc}")
    return count, problems


# --- erasure -------------------------------------------------------------------------------------------

def _overwrite_and_delete(path: Path) -> int:
    """Random bytes over the whole file, fsynced, then unlink; returns its size."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        left = size
        while left > 0:
            block = min(left, OVERWRITE_BLOCK)
            f.write(os.urandom(block))
            left -= block
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
    return size


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) if folder.is_dir() else []


def erase(settings, city_typed: str, now: Callable[[], datetime.datetime]) -> dict:
    """Destroy the keys, the data and the backups; returns the signed certificate (JSON-able)."""
    if city_typed.strip() != settings.city_name:
        raise HandoverProblem(f"the city's name was not typed as configured ({settings.city_name!r}): nothing erased")
    signer = signing.private_key(settings.key_dir)  # kept in memory: the certificate is signed after the files go
    keys = sorted(p for p in settings.key_dir.iterdir() if p.is_file()) if settings.key_dir.is_dir() else []
    data = _files_under(settings.data_dir)
    models = settings.data_dir / "models"
    data = [p for p in data if models not in p.parents]  # speech models are software, not the city's data
    backups = _files_under(settings.backup_dir)
    certificate = {
        "kind": "madoguchi erasure certificate", "city": settings.city_name,
        "began_at": now().isoformat(),
        "keys": [{"file": p.name, "sha256_of_key_file": hashlib.sha256(p.read_bytes()).hexdigest()} for p in keys],
        "data_dir": str(settings.data_dir), "data_files": len(data), "data_bytes": sum(p.stat().st_size for p in data),
        "backup_dir": str(settings.backup_dir), "backups": sorted(p.name for p in backups if p.suffix == ".mdbk"),
        "backup_bytes": sum(p.stat().st_size for p in backups),
        "method": "keys overwritten with random bytes and deleted (crypto-shredding), then every data and "
                  "backup file overwritten with random bytes and deleted",
    }
    for path in [*keys, *data, *backups]:
        _overwrite_and_delete(path)
    for folder in (settings.data_dir, settings.backup_dir):
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True) if folder.is_dir() else []:
            if models not in (sub, *sub.parents):
                shutil.rmtree(sub, ignore_errors=True)
    left = [str(p) for p in [*keys, *data, *backups] if p.exists()]
    if left:
        raise HandoverProblem(f"{len(left)} file(s) could not be erased, e.g. {left[0]}")
    return signing.sign_with({**certificate, "finished_at": now().isoformat()}, signer)


def certificate_text(signed: dict) -> str:
    return json.dumps(signed, ensure_ascii=False, indent=1)
