"""`madoguchi check`: keys, database integrity, pragmas, schema, fonts, free disk and versions, which must
hold for the appliance to start; and how the box is kept (the last backup and restore drill), which
only warn: a box without a backup yet still starts."""

from __future__ import annotations

import datetime
import platform
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import peewee
from sqlcipher3 import dbapi2 as sqlcipher

from appliance import clock, tls
from appliance.clock import TOKYO
from db import jobs, migrations
from db.connection import DatabaseProblem, open_database
from db.keys import KeyProblem, load_keyring, loose_permissions
from db.rotation import rows_under_old_keys
from web.admin import fonts

STALE = datetime.timedelta(hours=36)


@dataclass
class Finding:
    ok: bool
    what: str
    detail: str
    blocking: bool = True  # a failure stops the start (ExecStartPre); False: a warning


def certificate_findings(settings, now: datetime.datetime) -> list[Finding]:
    """The TLS certificates nginx serves (tls_cert_dir): a warning 30 days before one expires."""
    if not settings.tls_cert_dir:
        return []
    found = []
    for site, until in tls.expiries(Path(settings.tls_cert_dir)).items():
        left = until - now
        found.append(Finding(left > datetime.timedelta(days=30), f"certificate {site}",
                             f"valid until {until.astimezone(TOKYO):%Y-%m-%d} ({left.days} days)", False))
    return found


def kept_findings(settings, now: datetime.datetime) -> list[Finding]:
    """The last backup and drill (from job_run): a failure, or none within a day and a half, warns."""
    findings = []
    for job, what in (("backup", "backup"), ("backup_drill", "restore drill"), ("purge", "purge")):
        outcome = jobs.last(job)
        if outcome is None:
            findings.append(Finding(False, what, f"none yet (the worker runs it at backup_time; by hand: "
                                    f"`madoguchi {'purge run' if job == 'purge' else 'backup run'}`)", False))
            continue
        when = outcome.finished_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
        stale = now - outcome.finished_at > STALE
        done = outcome.detail.get("name") or f"{outcome.detail.get('removed', 0)} removed"
        detail = (f"{when}: {done}" if outcome.ok
                  else f"{when} FAILED: {outcome.detail.get('error', '')}")
        findings.append(Finding(outcome.ok and not stale, what, detail + (" (more than a day ago)" if stale else ""),
                                False))
    return findings


def run_checks(settings) -> list[Finding]:
    findings: list[Finding] = []
    add = lambda ok, what, detail: findings.append(Finding(ok, what, detail))  # noqa: E731

    try:
        keyring = load_keyring(settings.key_dir)
        loose = loose_permissions(settings.key_dir)
        add(not loose, "keys", "; ".join(loose) or
            f"{settings.key_dir}: database, index and {len(keyring.field_keys)} field key(s), mode 0600")
    except KeyProblem as exc:
        add(False, "keys", str(exc))
        return findings

    try:
        db = open_database(settings, require_current_schema=False)
    except DatabaseProblem as exc:
        add(False, "database", str(exc))
        return findings
    try:
        state = migrations.state(db)
        add(not state.pending and not state.unknown, "schema",
            f"version {state.current} of {state.latest}" + (" (run `madoguchi db migrate`)" if state.pending else ""))
        integrity = [r[0] for r in db.execute_sql("PRAGMA integrity_check").fetchall()]
        add(integrity == ["ok"], "integrity", ", ".join(integrity[:5]))
        cipher_errors = db.execute_sql("PRAGMA cipher_integrity_check").fetchall()
        add(not cipher_errors, "page authentication",
            "every page's HMAC verifies" if not cipher_errors else f"{len(cipher_errors)} page(s) fail")
        journal = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
        sync = db.execute_sql("PRAGMA synchronous").fetchone()[0]
        add(journal == "wal" and sync == 2, "pragmas", f"journal_mode={journal} synchronous={sync}")
        if not state.pending:
            findings += kept_findings(settings, clock.now())
            findings += certificate_findings(settings, clock.now())
            stale = rows_under_old_keys(keyring.current_field_key_id)
            add(True, "field keys", f"current key {keyring.current_field_key_id}"
                + (f"; {stale} row(s) still under older keys: run `madoguchi keys rotate`" if stale else ""))
    finally:
        db.close()

    missing = [str(path) for path in (fonts.FONT_PATH, *(path for _, path in fonts.FALLBACK_FONTS))
               if not path.is_file()]
    add(not missing, "fonts", "missing (apt install fonts-ipaexfont fonts-ipamj-mincho fonts-symbola): "
        + ", ".join(missing) if missing else "IPAex Gothic, IPAmj Mincho and Symbola for printed lists")

    free_mb = shutil.disk_usage(settings.data_dir).free // 2**20
    add(free_mb >= settings.min_free_disk_mb, "disk", f"{free_mb} MB free in {settings.data_dir} "
        f"(minimum {settings.min_free_disk_mb} MB)")
    add(True, "versions", f"madoguchi {metadata.version('madoguchi')}, Python {platform.python_version()}, "
        f"SQLite {sqlcipher.sqlite_version}, peewee {peewee.__version__}")
    return findings
