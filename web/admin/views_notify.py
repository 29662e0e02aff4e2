"""Notifications on the admin site: messages that could not be sent (with resend), the month's usage
statement (screen, PDF, CSV), and the purge's signed reports."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from peewee import JOIN

from appliance import clock
from appliance.notify import usage
from appliance.notify.compose import LABELS
from appliance.notify.worker import resend
from db.connection import write_transaction
from db.models import Booking, Outbox, PurgeReport
from web.admin import printing
from web.admin.access import actor, current_user, safe_next
from web.admin.forms import MESSAGES, ActionForm
from web.admin.views_reports import csv_type, download
from web.forms import arg_month

PROBLEMS = ("dead", "failed", "skipped")


def problems():
    rows = list(Outbox.select(Outbox, Booking).join(Booking, JOIN.LEFT_OUTER)  # IVR SMS and alerts have none
                .where(Outbox.status.in_(PROBLEMS)).order_by(Outbox.id.desc()).limit(500))
    return render_template("admin/messages.html", rows=rows, action=ActionForm(), reasons=LABELS["reason"])


def message_resend(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with write_transaction():
            message = resend(message_id, actor(), clock.now())
    except ValueError:
        abort(409)
    flash(MESSAGES["notify.resent"], "info")
    return redirect(safe_next(request.form.get("back"), url_for(".booking", number=message.booking.number)))


def _month() -> tuple[int, int]:
    if not request.args.get("month"):
        return clock.today().year, clock.today().month
    return arg_month("month") or abort(404)


def usage_page():
    year, month = _month()
    statement = usage.statement(year, month)
    title, subtitle, tables = usage.tables(statement)
    return render_template("admin/usage.html", title_text=title, subtitle=subtitle, tables=tables,
                           month=f"{year}-{month:02d}")


def usage_pdf():
    year, month = _month()
    title, subtitle, tables = usage.tables(usage.statement(year, month))
    data = printing.report_pdf(title, subtitle, tables, clock.now(), current_user().display_name)
    return download(data, f"usage-{year}-{month:02d}.pdf", "application/pdf")


def usage_csv():
    year, month = _month()
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in printing.CSV_ENCODINGS:
        abort(400)
    _, _, tables = usage.tables(usage.statement(year, month))
    _, columns, rows = tables[0]
    return download(printing.table_csv(columns, rows, encoding), f"usage-{year}-{month:02d}-{encoding}.csv",
                    csv_type(encoding))


def purge_reports():
    """The purge's signed reports, newest first (what was removed, from which periods, when)."""
    rows = list(PurgeReport.select().order_by(PurgeReport.id.desc()).limit(200))
    reports = [(row, json.loads(row.document)) for row in rows]
    return render_template("admin/purge_reports.html", reports=reports)


def purge_report_json(report_id: int):
    row = PurgeReport.get_or_none(PurgeReport.id == report_id) or abort(404)
    return download(row.document.encode("utf-8"), f"purge-report-{row.made_at.astimezone(clock.TOKYO):%Y%m%d-%H%M}-{row.id}.json",
                    "application/json")
