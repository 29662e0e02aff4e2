"""`madoguchi backup ...`: take, list, verify and restore backups, the restore drill and retention, and
`backup nightly`, which the worker starts at backup_time (each step's result kept in job_run)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from appliance import clock
from backup import service
from db import jobs

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
    """Backup, retention and drill, as the worker runs them at backup_time."""
    db = _cli()._open()
    settings = _cli()._settings()
    failed = False
    try:
        jobs.recorded("backup", lambda: service.run(settings, db, clock.now()), clock.now, describe=_taken)
        service.prune(settings, clock.now())
        jobs.recorded("backup_drill", lambda: service.drill(settings), clock.now,
                      describe=lambda result: json.dumps({"name": result[0].name}))
    except service.BackupProblem as exc:
        log.error("nightly backup: %s", exc)
        failed = True
    raise SystemExit(1 if failed else 0)
