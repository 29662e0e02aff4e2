"""`madoguchi backup ...`: take, list, verify and restore backups, the restore drill and retention;
`madoguchi purge ...`: the purge of personal data past its period and its signed reports;
`madoguchi export all` and `madoguchi erase`: the hand-over at the end of a contract; and
`backup nightly`, which the worker starts at backup_time: purge, backup, retention, drill (each step's
outcome kept in job_run)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from appliance import clock, runtime
from appliance.notify import mailcatcher
from backup import handover, service
from db import alerts, jobs
from db import purge as purging
from db.models import PurgeReport

log = logging.getLogger(__name__)


def _cli():
    from appliance import cli  # the shared settings/database set-up of every command

    return cli


def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} kB"


@click.group()
def backup():
    """Encrypted backups to backup_dir: run, list, verify, restore, drill, prune."""


@backup.command("run")
def backup_run():
    """Take a backup now (while bookings and calls go on), then delete what retention no longer keeps."""
    db = _cli()._open()
    settings = _cli()._settings()
    taken = jobs.recorded("backup", lambda: service.run(settings, db, clock.now()), clock.now, describe=_taken)
    click.echo(f"backup {taken.name}: {_size(taken.size)}, {taken.counts.get('booking', 0)} bookings, "
               f"{taken.counts.get('call_record', 0)} calls -> {taken.path}")
    for name in service.prune(settings, clock.now()):
        click.echo(f"deleted by retention: {name}")


def _taken(taken: service.Backup) -> str:
    return json.dumps({"name": taken.name, "size": taken.size})


@backup.command("list")
def backup_list():
    """The backups in backup_dir, oldest first."""
    settings = _cli()._settings()
    found = service.all_backups(settings)
    if not found:
        click.echo(f"no backups in {settings.backup_dir}")
    for b in found:
        when = b.created_at.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M") if b.complete else "incomplete"
        click.echo(f"{b.name:28} {when:16} {_size(b.size):>10}  {b.counts.get('booking', 0)} bookings, "
                   f"{b.counts.get('call_record', 0)} calls")


@backup.command("verify")
@click.argument("name")
def backup_verify(name):
    """Decrypt a backup, check every file against its manifest and the database page by page."""
    settings = _cli()._settings()
    verified = service.verify(service.find(settings, name), settings)
    click.echo(f"ok: {verified.members} files, {_size(verified.bytes)}, schema version {verified.schema_version}, "
               f"{verified.counts.get('booking', 0)} bookings, {verified.counts.get('call_record', 0)} calls")


@backup.command("restore")
@click.argument("name")
@click.option("--to", "target", type=click.Path(path_type=Path), required=True,
              help="An empty or new folder: it gets madoguchi.db, recordings/, ivr_audio/ and config/.")
def backup_restore(name, target):
    """Restore a backup into an empty folder (the keys come from the key folder or the escrow).

    To bring a box back: stop the appliance, restore into a new folder, point data_dir at it (or move
    it into place), `madoguchi db migrate`, start."""
    settings = _cli()._settings()
    verified = service.restore(service.find(settings, name), target, settings)
    click.echo(f"restored {verified.members} files into {target} ({verified.counts.get('booking', 0)} bookings, "
               f"{verified.counts.get('call_record', 0)} calls, schema version {verified.schema_version})")


@backup.command("drill")
def backup_drill():
    """Restore the newest backup into a scratch folder, check it, and delete the scratch folder."""
    _cli()._open()
    settings = _cli()._settings()
    drilled, verified = jobs.recorded("backup_drill", lambda: service.drill(settings), clock.now,
                                      describe=lambda result: json.dumps({"name": result[0].name}))
    click.echo(f"drill ok: {drilled.name} restored and checked ({verified.members} files)")


@backup.command("prune")
def backup_prune():
    """Delete the backups retention no longer keeps (backup_keep_*, backup_max_age_days)."""
    settings = _cli()._settings()
    gone = service.prune(settings, clock.now())
    click.echo("\n".join(f"deleted: {name}" for name in gone) or "nothing to delete")


@backup.command("nightly", hidden=True)
def backup_nightly():
    """Log rotation, purge, backup, retention and drill, as the worker runs them at backup_time."""
    db = _cli()._open()
    settings = _cli()._settings()
    failed = False
    for line in runtime.rotate_logs(settings, clock.now()):
        log.info("logs: %s", line)
    steps = (("purge", lambda: _purge(settings, dry_run=False), _purged),
             ("backup", lambda: service.run(settings, db, clock.now()), _taken),
             ("backup_drill", lambda: service.drill(settings), lambda result: json.dumps({"name": result[0].name})))
    for job, action, describe in steps:  # each runs even when the one before failed: the backup above all
        try:
            jobs.recorded(job, action, clock.now, describe=describe)
        except Exception as exc:
            log.exception("nightly %s failed", job)
            alerts.raise_alert(f"{job}_failed", str(exc) or type(exc).__name__, clock.now())
            failed = True
        if job == "backup":
            service.prune(settings, clock.now())
    raise SystemExit(1 if failed else 0)


def _purge(settings, *, dry_run: bool) -> dict:
    done = purging.run(settings, clock.now(), dry_run=dry_run, mail_store=mailcatcher.folder(settings))
    return purging.keep_report(done, settings)


def _purged(report: dict) -> str:
    return json.dumps({"removed": sum(report["removed"].values())})


@click.group()
def purge():
    """Personal data past its period (purge_*_days, access_log_days), with signed reports."""


@purge.command("run")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed (a report marked dry run).")
def purge_run(dry_run):
    """Remove personal data past its period now (the worker does it every night before the backup)."""
    _cli()._open()
    settings = _cli()._settings()
    report = (_purge(settings, dry_run=True) if dry_run else
              jobs.recorded("purge", lambda: _purge(settings, dry_run=False), clock.now, describe=_purged))
    click.echo(("would remove" if dry_run else "removed") + ":")
    for what, count in report["removed"].items():
        click.echo(f"  {what:24} {count}")
    click.echo(f"periods: {json.dumps(report['periods'], ensure_ascii=False)}")


@purge.command("list")
def purge_list():
    """The kept purge reports, newest first."""
    _cli()._open()
    for row in PurgeReport.select().order_by(PurgeReport.id.desc()):
        document = json.loads(row.document)
        click.echo(f"{row.id:5} {row.made_at.astimezone(clock.TOKYO):%Y-%m-%d %H:%M} "
                   f"{'dry run ' if row.dry_run else ''}{sum(document['removed'].values())} removed")


@purge.command("report")
@click.argument("report_id", type=int)
def purge_report(report_id):
    """Print a kept report as the signed JSON (give it to an auditor; `purge verify` checks it)."""
    _cli()._open()
    row = PurgeReport.get_or_none(PurgeReport.id == report_id)
    if row is None:
        raise click.ClickException(f"there is no purge report {report_id} (see `madoguchi purge list`)")
    click.echo(row.document)


@purge.command("verify")
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def purge_verify(report):
    """Check that a purge report (or an erasure certificate) is unaltered and signed by this box."""
    settings = _cli()._settings()
    document, ours = purging.verify_report(report.read_text(encoding="utf-8"), settings.key_dir)
    signer = "this box" if ours else f"the key {document['public_key']} (this box has no signing key to compare)"
    click.echo(f"ok: unaltered, signed by {signer}: {document.get('kind', 'report')}, "
               f"made {document.get('made_at') or document.get('finished_at')}")


@click.group("export")
def export():
    """Hand the city's data over."""


@export.command("all")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--encoding", type=click.Choice(["utf-8", "shift_jis"]), default="utf-8", show_default=True)
def export_all(folder, encoding):
    """Every kind of data as CSV, recordings as WAV, a column guide and SHA256SUMS, into a new or empty FOLDER."""
    _cli()._open()
    settings = _cli()._settings()
    done = handover.export_all(settings, folder, encoding, _cli().cli_actor(), clock.now())
    click.echo(f"exported {len(done.tables)} tables ({sum(done.tables.values())} rows) and {done.recordings} "
               f"recordings into {done.folder}")
    for problem in done.problems:
        click.echo(f"not exported: {problem}", err=True)


@click.command("erase")
@click.option("--confirm", is_flag=True, help="Required: this destroys the keys, the data and the backups.")
@click.option("--certificate", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the signed erasure certificate (JSON), outside data_dir and backup_dir.")
def erase(confirm, certificate):
    """Destroy the keys (crypto-shredding), then overwrite and delete the data and the backups, and write a
    signed certificate. Stop the appliance first; export what the city takes away before."""
    if not confirm:
        raise click.UsageError("erase destroys every key, the data and the backups: give --confirm")
    settings = _cli()._settings()
    resolved = certificate.resolve()
    for folder in (settings.data_dir, settings.backup_dir, settings.key_dir):
        if folder.resolve() in resolved.parents:
            raise click.UsageError(f"the certificate must not be written inside {folder}: it would be erased")
    if certificate.exists():
        raise click.UsageError(f"{certificate} exists; give a new file name")
    typed = click.prompt(f"type the city's name ({settings.city_name}) to erase everything")
    signed = handover.erase(settings, typed, clock.now)
    certificate.write_text(handover.certificate_text(signed), encoding="utf-8")
    click.echo(f"erased: {len(signed['keys'])} keys, {signed['data_files']} data files, "
               f"{len(signed['backups'])} backups; certificate: {certificate} (public key {signed['public_key']})")
