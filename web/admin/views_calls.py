"""The phone for staff: the call log (filters, pages, CSV), one call with its turns and recording
(played in the browser, decrypted on the fly, each playback audited), marking a misrecognised turn
with what the caller really said (the evaluation set), and the call statistics (screen and CSV)."""

from __future__ import annotations

import datetime
import logging

from flask import Response, abort, flash, redirect, render_template, request, url_for

from appliance import clock, runtime
from appliance.clock import TOKYO
from db import audit, crypto, recordings
from db.connection import write_transaction
from db.crypto import DecryptionError
from db.models import CallRecord, CallTurn
from web.admin import calls, ivr_report, printing
from web.admin.access import actor, client_address, current_user
from web.admin.forms import ActionForm
from web.admin.forms_calls import CallFilterForm, CallStatisticsForm, CorrectionForm
from web.admin.views_reports import csv_type, download
from web.forms import arg_integer, arg_month

log = logging.getLogger(__name__)
FILTERS = ("did", "first", "last", "outcome", "booked", "kind")


def _encoding() -> str:
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in printing.CSV_ENCODINGS:
        abort(400)
    return encoding


def _filter(form: CallFilterForm) -> calls.Filter:
    return calls.Filter(did=form.did.data or "", first=form.first.data, last=form.last.data,
                        outcome=form.outcome.data or "", booked=form.booked.data or "", kind=form.kind.data or "")


def _filter_form() -> tuple[CallFilterForm, bool]:
    form = CallFilterForm(request.args).fill(calls.line_choices(), calls.outcome_choices())
    return form, form.validate()


def call_list():
    form, valid = _filter_form()
    page = arg_integer("page", 1, 1, 100_000)
    query = calls.calls(_filter(form)) if valid else CallRecord.select().where(False)
    rows = list(query.paginate(page, calls.PAGE))
    filters = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    return render_template("admin/calls.html", form=form, rows=rows, page=page, more=len(rows) == calls.PAGE,
                           filters=filters, endings={c.id: calls.call_ending(c) for c in rows},
                           corrected=calls.corrected_counts([c.id for c in rows]), names=calls.line_names(),
                           label=calls.label, abandoned=calls.abandoned), 200 if valid else 422


def call_list_csv():
    form, valid = _filter_form()
    if not valid:
        abort(400)  # the page's filter form shows why
    encoding = _encoding()
    header, rows = calls.list_csv_rows(calls.calls(_filter(form)).iterator())
    with write_transaction():
        audit.record(current_user().login, "export.calls_csv", "export", "calls_csv", clock.now(),
                     source=client_address(), rows=len(rows), encoding=encoding)
    return download(printing.table_csv(header, rows, encoding), f"calls-{clock.today()}-{encoding}.csv",
                    csv_type(encoding))


def _call(call_id: int) -> CallRecord:
    return CallRecord.get_or_none(CallRecord.id == call_id) or abort(404)


def _turn(call: CallRecord, turn_id: int) -> CallTurn:
    return CallTurn.get_or_none((CallTurn.id == turn_id) & (CallTurn.call == call)) or abort(404)


def call_detail(call_id: int):
    return _detail(_call(call_id))


def _detail(call: CallRecord, *, failed: dict[int, CorrectionForm] | None = None, status: int = 200):
    rows = calls.turns(call)
    forms = {t.id: (failed or {}).get(t.id) or CorrectionForm(data={"text": t.corrected or t.heard or ""})
             for t in rows}
    for turn_id, form in forms.items():
        form.text.id = f"correction-{turn_id}"  # one form per turn: ids stay unique on the page
    windows = {t.id: recordings.turn_window(t.offset_s, t.duration_s) for t in rows}
    return render_template("admin/call.html", call=call, turns=rows, forms=forms, windows=windows,
                           path=calls.path_of(call), end=calls.call_ending(call), label=calls.label,
                           line=calls.line_names().get(call.did, ""), booking=calls.booking_of(call),
                           abandoned=calls.abandoned(call, calls.call_ending(call))), status


def _wav(call: CallRecord, start_s: float | None = None, end_s: float | None = None) -> bytes:
    if not call.recording:
        abort(404)
    path = runtime.settings().recordings_dir / call.recording
    try:
        if start_s is None:
            return recordings.to_wav(path, crypto.cipher())
        return recordings.segment_wav(path, crypto.cipher(), start_s, end_s)
    except (OSError, DecryptionError) as exc:
        log.warning("recording of call %s cannot be read: %s", call.id, type(exc).__name__)
        abort(404)


def _audio(wav: bytes) -> Response:
    response = Response(wav, content_type="audio/wav")
    response.headers["Cache-Control"] = "no-store"
    return response


def call_recording(call_id: int):
    call = _call(call_id)
    wav = _wav(call)
    with write_transaction():
        calls.played(actor(), call, clock.now())
    return _audio(wav)


def call_turn_audio(call_id: int, turn_id: int):
    call = _call(call_id)
    turn = _turn(call, turn_id)
    window = recordings.turn_window(turn.offset_s, turn.duration_s) or abort(404)
    wav = _wav(call, *window)
    with write_transaction():
        calls.played(actor(), call, clock.now(), turn)
    return _audio(wav)


def call_turn_correct(call_id: int, turn_id: int):
    call = _call(call_id)
    turn = _turn(call, turn_id)
    if request.form.get("action") == "clear":
        if not ActionForm().validate_on_submit():
            abort(400)
        with write_transaction():
            calls.unmark(turn, actor(), clock.now())
        flash(calls.texts()["form.cleared"], "info")
    else:
        form = CorrectionForm()
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                abort(400)
            return _detail(call, failed={turn.id: form}, status=422)
        with write_transaction():
            calls.mark(turn, form.text.data, actor(), clock.now())
        flash(calls.texts()["form.saved"], "info")
    return redirect(url_for(".call", call_id=call.id) + f"#turn-{turn.id}")


def corrections():
    page = arg_integer("page", 1, 1, 100_000)
    rows = list(calls.marked_turns().paginate(page, calls.PAGE))
    return render_template("admin/call_corrections.html", rows=rows, page=page, more=len(rows) == calls.PAGE,
                           filters={}, label=calls.label)


# --- statistics ---------------------------------------------------------------------------------------

def _period(form: CallStatisticsForm) -> tuple[datetime.date, datetime.date]:
    today = clock.today()
    first = form.first.data or today.replace(day=1)
    last = form.last.data or (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
    return first, last


def _statistics_form() -> tuple[CallStatisticsForm, bool]:
    form = CallStatisticsForm(request.args).fill(calls.line_choices())
    return form, form.validate()


def statistics_page():
    form, valid = _statistics_form()
    first, last = _period(form)
    if not valid:
        return render_template("admin/call_statistics.html", form=form, summary=None), 422
    try:
        summary = calls.summary(first, last, form.did.data or "", form.kind.data or "")
    except calls.CallsError as error:
        return render_template("admin/call_statistics.html", form=form, summary=None, message=str(error)), 422
    filters = {name: request.args[name] for name in ("first", "last", "did", "kind") if request.args.get(name)}
    return render_template("admin/call_statistics.html", form=form, summary=summary, first=first, last=last,
                           filters=filters, names=calls.line_names(), label=calls.label, reasons=calls.REASONS,
                           by_question=calls.by_question_and_reason(summary))


def statistics_csv():
    form, valid = _statistics_form()
    if not valid:
        abort(400)
    encoding = _encoding()
    first, last = _period(form)
    try:
        summary = calls.summary(first, last, form.did.data or "", form.kind.data or "")
    except calls.CallsError:
        abort(400)
    header, rows = calls.stats_csv_rows(summary)
    return download(printing.table_csv(header, rows, encoding), f"call-statistics-{first}-{last}-{encoding}.csv",
                    csv_type(encoding))


def live_calls():
    """The calls going on now, per line: caller's number, where each is in its flow and the keys pressed
    so far, ringing or talking with whom; the page refreshes the table itself (fragment=1) every 2 s.
    Opening the page is audited: it shows callers' numbers."""
    rows = list(CallRecord.select().where(CallRecord.ended_at.is_null()).order_by(CallRecord.did,
                                                                                   CallRecord.started_at))
    now = clock.now()
    if request.args.get("fragment") != "1":
        with write_transaction():
            audit.record(current_user().login, "calls.live_view", "calls", "live", now, source=client_address(),
                         calls=len(rows))
    template = "admin/calls_live_table.html" if request.args.get("fragment") == "1" else "admin/calls_live.html"
    return render_template(template, rows=rows, names=calls.line_names(), now=now, label=calls.label, tz=TOKYO)


def _ivr_report():
    year, month = (arg_month("month") or abort(404)) if request.args.get("month") else (clock.today().year,
                                                                                          clock.today().month)
    did = request.args.get("did", "")
    lines = {line.did: line.label for line in ivr_report.ivr_lines()}
    if did and did not in lines:
        abort(404)
    report = ivr_report.month_report(year, month, did)
    label_text = f"{did} {lines[did]}" if did else ""
    return ivr_report.tables(report, label_text), f"{year}-{month:02d}", did, lines


def ivr_report_page():
    (title, subtitle, tables), month, did, lines = _ivr_report()
    return render_template("admin/ivr_report.html", title_text=title, subtitle=subtitle, tables=tables,
                           month=month, did=did, lines=lines)


def ivr_report_pdf():
    (title, subtitle, tables), month, did, _ = _ivr_report()
    data = printing.report_pdf(title, subtitle, tables, clock.now(), current_user().display_name)
    return download(data, f"ivr-report-{month}{'-' + did if did else ''}.pdf", "application/pdf")


def ivr_report_csv():
    (_, _, tables), month, did, _ = _ivr_report()
    encoding = _encoding()
    _, columns, rows = tables[2]  # per day: what a spreadsheet sums
    return download(printing.table_csv(columns, rows, encoding), f"ivr-report-{month}-{encoding}.csv",
                    csv_type(encoding))
