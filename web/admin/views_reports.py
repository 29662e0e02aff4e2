"""Reading and handing over: the day's list per 30-minute slot (screen, PDF, CSV), statistics with the
monthly report, the audit and access logs (screen and CSV), and the message texts editor."""

from __future__ import annotations

import datetime
import json

from flask import Response, abort, flash, redirect, render_template, request, url_for

from appliance import clock
from db import audit, texts
from db.connection import write_transaction
from db.models import AccessLog, AuditLog, Booking, Slot, Venue
from web.admin import charts, fonts, lists, printing, service, statistics
from web.admin.access import actor, client_address, current_user
from web.admin.forms import MESSAGES, ActionForm, LogFilterForm, StatisticsForm, TextForm, WalkInForm
from web.forms import arg_date, arg_id, arg_integer, arg_month, arg_time

LOG_PAGE = 200


def download(data: bytes, filename: str, content_type: str) -> Response:
    """A file to save; content_type is sent as given (Werkzeug would add a second charset to text/*)."""
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


def csv_type(encoding: str) -> str:
    return f"text/csv; charset={'shift_jis' if encoding == 'shift_jis' else 'utf-8'}"


def _export_audit(what: str, **details) -> None:
    """An export of personal data is itself an action: one audit row."""
    with write_transaction():
        audit.record(current_user().login, f"export.{what}", "export", what, clock.now(), source=client_address(),
                     **details)


def _encoding() -> str:
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in printing.CSV_ENCODINGS:
        abort(400)
    return encoding


# --- the day's list ---------------------------------------------------------------------------------

def _venue_and_day() -> tuple[Venue, datetime.date]:
    venue = Venue.get_or_none(Venue.id == (arg_id("venue") or 0))
    if venue is None:
        venue = (service.venues() or [None])[0] or abort(404)
    return venue, arg_date("date") or clock.today()


def _start() -> datetime.time | None:
    if not request.args.get("start"):
        return None
    return arg_time("start") or abort(404)


def day_list():
    venue, day = _venue_and_day()
    listing = lists.day_list(venue, day, printed_by=current_user().display_name, now=clock.now())
    slot_ids = {s.start: s.id for s in service.day_slots(venue, day)}
    versions = dict(Booking.select(Booking.number, Booking.version).join(Slot)
                    .where(Slot.venue == venue, Slot.date == day).tuples())
    texts = [text for section in listing.sections for e in section.entries for text in (e.name, e.kana)]
    return render_template("admin/day_list.html", venue=venue, list_day=day, listing=listing, slot_ids=slot_ids,
                           versions=versions, unprintable=fonts.unprintable(texts),
                           not_in_shift_jis=printing.not_in_shift_jis(texts),
                           venues=service.venues(), action=ActionForm(), walk_in=WalkInForm(),
                           today=clock.today(), one_day=datetime.timedelta(days=1))


def day_list_pdf():
    venue, day = _venue_and_day()
    start = _start()
    listing = lists.day_list(venue, day, start=start, printed_by=current_user().display_name, now=clock.now())
    if start and not listing.sections:
        abort(404)
    _export_audit("day_list_pdf", venue=venue.slug, date=day, start=start.strftime("%H:%M") if start else "all",
                  bookings=sum(len(s.entries) for s in listing.sections))
    suffix = f"-{start:%H%M}" if start else ""
    return download(printing.day_list_pdf(listing), f"list-{venue.slug}-{day}{suffix}.pdf", "application/pdf")


def day_list_csv():
    venue, day = _venue_and_day()
    encoding = _encoding()
    listing = lists.day_list(venue, day, printed_by=current_user().display_name, now=clock.now())
    _export_audit("day_list_csv", venue=venue.slug, date=day, encoding=encoding,
                  bookings=sum(len(s.entries) for s in listing.sections))
    return download(printing.day_list_csv(listing, encoding), f"list-{venue.slug}-{day}-{encoding}.csv",
                    csv_type(encoding))


# --- statistics ---------------------------------------------------------------------------------------

def _period(form: StatisticsForm) -> tuple[datetime.date, datetime.date]:
    today = clock.today()
    first = form.first.data or today.replace(day=1)
    last = form.last.data or (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
    return first, last


def statistics_page():
    form = StatisticsForm(request.args)
    form.venue.choices = service.venue_choices("すべての会場")
    form.validate()
    first, last = _period(form)
    try:
        summary = statistics.summary(first, last, form.venue.data or None)
    except statistics.StatisticsError as error:
        return render_template("admin/statistics.html", form=form, summary=None, message=str(error)), 422
    return render_template("admin/statistics.html", form=form, summary=summary, first=first, last=last,
                           month=f"{first:%Y-%m}", charts=charts.summary_charts(summary),
                           tables=statistics.tables(summary))


def _month() -> tuple[int, int]:
    return arg_month("month") or abort(404)


def report_pdf():
    year, month = _month()
    title, subtitle, tables = statistics.monthly_report(year, month)
    return download(printing.report_pdf(title, subtitle, tables, clock.now(), current_user().display_name),
                     f"report-{year}-{month:02d}.pdf", "application/pdf")


def report_csv():
    """One row per day and venue (what a spreadsheet sums and filters best)."""
    year, month = _month()
    encoding = _encoding()
    header, rows = statistics.csv_rows(statistics.summary(*statistics.month_range(year, month)))
    return download(printing.table_csv(header, rows, encoding), f"report-{year}-{month:02d}-{encoding}.csv",
                    csv_type(encoding))


# --- logs ---------------------------------------------------------------------------------------------

def _filtered(model, form: LogFilterForm):
    query = model.select().order_by(model.id.desc())
    if form.first.data:
        query = query.where(model.at >= datetime.datetime.combine(form.first.data, datetime.time(0), clock.TOKYO))
    if form.last.data:
        query = query.where(model.at < datetime.datetime.combine(form.last.data + datetime.timedelta(days=1),
                                                                  datetime.time(0), clock.TOKYO))
    if form.actor.data:
        query = query.where(model.actor == form.actor.data.strip().lower())
    if form.action.data:
        column = model.action if model is AuditLog else model.endpoint
        query = query.where(column.contains(form.action.data.strip()))
    return query


def _log_page(model, template: str):
    form = LogFilterForm(request.args)
    page = arg_integer("page", 1, 1, 100_000)
    query = _filtered(model, form) if form.validate() else model.select().where(False)
    rows = list(query.paginate(page, LOG_PAGE))
    # The links (CSV, pages) carry the filter on, and only that: never whatever else the URL held.
    filters = {name: request.args[name] for name in ("first", "last", "actor", "action") if request.args.get(name)}
    return render_template(template, form=form, rows=rows, page=page, more=len(rows) == LOG_PAGE,
                           details=_details, filters=filters)


def _details(row: AuditLog) -> str:
    try:
        data = json.loads(row.details)
    except ValueError:
        return row.details
    return "、".join(f"{k}={v}" for k, v in data.items())


def audit_log():
    return _log_page(AuditLog, "admin/audit_log.html")


def access_log():
    return _log_page(AccessLog, "admin/access_log.html")


def _log_csv(model, columns, row_values, name: str):
    form = LogFilterForm(request.args)
    if not form.validate():
        abort(400)  # the page's filter form shows why
    encoding = _encoding()
    rows = [row_values(r) for r in _filtered(model, form).iterator()]
    _export_audit(name, rows=len(rows), encoding=encoding)
    return download(printing.table_csv(columns, rows, encoding), f"{name}-{clock.today()}-{encoding}.csv",
                    csv_type(encoding))


def audit_log_csv():
    return _log_csv(AuditLog, ["日時", "職員", "操作", "対象", "対象ID", "内容", "接続元"],
                    lambda r: [r.at.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M:%S"), r.actor, r.action,
                               r.object_type, r.object_id, r.details, r.source], "audit_log")


def access_log_csv():
    return _log_csv(AccessLog, ["日時", "職員", "機能", "方法", "結果", "接続元"],
                    lambda r: [r.at.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M:%S"), r.actor, r.endpoint,
                               r.method, r.status, r.source], "access_log")


# --- message texts --------------------------------------------------------------------------------------

def texts_index():
    rows = [(event, channel, texts.current(event, channel)) for event in texts.EVENTS for channel in texts.CHANNELS]
    return render_template("admin/texts.html", rows=rows)


def text_edit(event: str, channel: str):
    if event not in texts.EVENTS or channel not in texts.CHANNELS:
        abort(404)
    current = texts.current(event, channel)
    form = TextForm(data={"subject": current.subject, "body": current.body} if request.method == "GET" else None)
    problems: list[str] = []
    if form.validate_on_submit():
        action = request.form.get("action", "preview")
        if action == "reset":
            with write_transaction():
                texts.reset(event, channel, actor(), clock.now())
            flash(MESSAGES["texts.reset"], "info")
            return redirect(url_for(".text_edit", event=event, channel=channel))
        problems = texts.problems(event, channel, form.subject.data or "", form.body.data)
        if action == "save" and not problems:
            with write_transaction():
                texts.save(event, channel, form.subject.data or "", form.body.data, actor(), clock.now())
            flash(MESSAGES["texts.saved"], "info")
            return redirect(url_for(".text_edit", event=event, channel=channel))
    subject, body = texts.preview(event, channel, form.subject.data or "", form.body.data or "")
    return render_template("admin/text_edit.html", form=form, event=event, channel=channel, current=current,
                           problems=problems, preview_subject=subject, preview_body=body,
                           length=texts.sms_length(body) if channel == "sms" else None,
                           placeholders=texts.placeholders(event), max_chars=texts.SMS_MAX_CHARS), \
        422 if (problems or form.errors) else 200
