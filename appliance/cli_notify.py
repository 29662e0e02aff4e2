"""`madoguchi worker`, `madoguchi notify ...` (secrets, reminders, the outbox), `madoguchi usage`
(the monthly statement) and `madoguchi mailcatcher` (a local SMTP server for the demo)."""

from __future__ import annotations

import datetime
import signal
import sys
import threading
from pathlib import Path

import click

from appliance import clock


def _cli():
    from appliance import cli  # the shared settings/database set-up of every command

    return cli


@click.command()
def worker():
    """Send the outbox (SMS, email) and run the daily jobs, until stopped (supervisor does)."""
    from appliance.notify import worker as notify_worker
    settings = _cli()._settings()
    _cli()._open()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    notify_worker.run(stop, notify_worker.Senders.from_settings(settings))


@click.group()
def notify():
    """Notifications: gateway secrets, reminders, the outbox."""


SECRET_FILES = {"smtp": "smtp.password", "sms": "sms.token"}


@notify.command("password")
@click.argument("which", type=click.Choice(sorted(SECRET_FILES)))
def notify_password(which):
    """Store the SMTP password or the SMS gateway token (asked for, or read from standard input) in key_dir."""
    import getpass

    from db.keys import write_private_file
    settings = _cli()._settings()
    secret = getpass.getpass(f"{which} secret: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not secret or "\n" in secret:
        raise click.ClickException("the secret is empty")
    settings.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(settings.key_dir / SECRET_FILES[which], secret.encode() + b"\n")
    click.echo(f"saved in {settings.key_dir / SECRET_FILES[which]}; the worker uses it from its next start")


@notify.command("reminders")
def notify_reminders():
    """Queue today's day-before reminders now if they are due and have not run (the worker does this)."""
    from appliance.notify import reminders
    _cli()._open()
    queued = reminders.run_if_due(clock.now())
    click.echo("not due, or already done today" if queued is None else f"{queued} reminder(s) queued")


@notify.command("status")
def notify_status():
    """Messages by channel and status; dead letters listed with their reason."""
    from peewee import fn

    from db.models import Outbox
    _cli()._open()
    for channel, status, count in (Outbox.select(Outbox.channel, Outbox.status, fn.COUNT(Outbox.id))
                                   .group_by(Outbox.channel, Outbox.status).tuples()):
        click.echo(f"{channel:6} {status:8} {count}")
    for message in Outbox.select().where(Outbox.status == "dead").order_by(Outbox.id):
        click.echo(f"dead #{message.id} {message.event} {message.channel}: {message.last_error}")
    settings = _cli()._settings()
    if settings.sms_gateway:
        from web.api.views import receipt_token
        click.echo(f"SMS receipt URL for the gateway: {settings.public_url.rstrip('/')}/api/sms/receipts/{receipt_token()}")


@notify.command("resend")
@click.argument("message_id", type=int)
def notify_resend(message_id):
    """Send a finished message (dead, skipped, failed or sent) again under a new reference."""
    from appliance.notify.worker import resend
    from db.connection import write_transaction
    _cli()._open()
    try:
        with write_transaction():
            resend(message_id, _cli().cli_actor(), clock.now())
    except ValueError as exc:
        raise click.ClickException(f"message {message_id}: {exc}") from None
    click.echo(f"message {message_id} queued again")


def _month(text: str) -> tuple[int, int]:
    try:
        day = datetime.date.fromisoformat(text + "-01")
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a month like 2026-12") from None
    return day.year, day.month


@click.group()
def usage():
    """Metered usage: SMS, email and call minutes."""


@usage.command("statement")
@click.option("--month", "month_text", required=True, help="The month, e.g. 2026-12.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write a CSV here.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write a PDF here.")
@click.option("--encoding", type=click.Choice(["utf-8", "shift_jis"]), default="utf-8", show_default=True)
def usage_statement(month_text, csv_path, pdf_path, encoding):
    """Print the month's usage statement (flat fee plus metered items, priced from the usage_* settings)."""
    from appliance.notify import usage as usage_module
    from db.keys import write_private_file
    from web.admin import printing
    _cli()._open()
    statement = usage_module.statement(*_month(month_text))
    title, subtitle, tables = usage_module.tables(statement)
    click.echo(f"{title}\n{subtitle}")
    for heading, columns, rows in tables:
        click.echo(f"\n{heading}\n" + "\t".join(columns))
        for row in rows:
            click.echo("\t".join(str(cell) for cell in row))
    if csv_path:
        _, columns, rows = tables[0]
        write_private_file(csv_path, printing.table_csv(columns, rows, encoding))
        click.echo(f"wrote {csv_path}")
    if pdf_path:
        write_private_file(pdf_path, printing.report_pdf(title, subtitle, tables, clock.now(), "madoguchi"))
        click.echo(f"wrote {pdf_path}")


@click.group()
def mailcatcher():
    """A local SMTP server and SMS gateway that keep what they receive (encrypted) instead of delivering
    it: the demo's (smtp_host 127.0.0.1, smtp_port 1025, smtp_security none; sms_gateway http-json,
    sms_url http://127.0.0.1:1026/sms)."""


@mailcatcher.command("serve")
@click.option("--bind", default="127.0.0.1:1025", show_default=True, help="SMTP address:port.")
@click.option("--sms-port", type=click.IntRange(0, 65535), default=1026, show_default=True,
              help="Also take SMS as an http-json gateway on this port (POST /sms); 0: no.")
def mailcatcher_serve(bind, sms_port):
    """Receive mail (and SMS) until stopped."""
    from appliance.notify import mailcatcher as catcher
    settings = _cli()._settings()
    _cli()._open()
    host, _, port = bind.rpartition(":")
    catcher.serve(settings, host or "127.0.0.1", int(port), sms_port or None)


@mailcatcher.command("list")
def mailcatcher_list():
    """The messages received, newest last: number, time, recipient (domain, or a phone's last 4 digits), subject."""
    from appliance.notify import mailcatcher as catcher
    settings = _cli()._settings()
    _cli()._open()
    for number, message in enumerate(catcher.messages(settings), start=1):
        to = str(message["To"])
        shown = f"@{to.rpartition('@')[2]}" if "@" in to else f"SMS …{to[-4:]}"
        click.echo(f"{number:4} {message['Date']}  {shown:24} {message['Subject']}")


@mailcatcher.command("show")
@click.argument("number", type=int)
def mailcatcher_show(number):
    """One received message, decoded (headers and text)."""
    from appliance.notify import mailcatcher as catcher
    settings = _cli()._settings()
    _cli()._open()
    found = catcher.messages(settings)
    if not 1 <= number <= len(found):
        raise click.ClickException(f"there is no message {number} ({len(found)} received)")
    message = found[number - 1]
    for header in ("Date", "From", "To", "Reply-To", "Subject", "Message-ID"):
        if message[header]:
            click.echo(f"{header}: {message[header]}")
    click.echo("\n" + message.get_content())
