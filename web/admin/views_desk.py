"""The operator's desk and the inquiry record book: the calls put through to this operator's phones
open as records (the list refreshes itself), the record page with the call's line, path and keys, the
answer candidates for what was asked (FAQ and past answers), finishing or escalating a record, the
book searched and exported, and the escalations with their due times and the groups' replies. A
viewer reads the book with callers' names, numbers and digit runs masked."""

from __future__ import annotations

import datetime

from flask import abort, flash, redirect, render_template, request, session, url_for

from appliance import clock
from appliance.clock import TOKYO
from appliance.csvfile import CSV_ENCODINGS, table_csv
from db import audit, faq, inquiries, targets
from db.connection import write_transaction
from db.masking import masked
from db.models import Escalation, Inquiry
from web.admin import calls
from web.admin.access import actor, may
from web.admin.forms import MESSAGES, choices
from web.admin.forms_desk import (
    CHANNEL_LABELS,
    STATUS_LABELS,
    BookSearchForm,
    EscalateForm,
    RecordForm,
    ReplyForm,
)
from web.admin.views_reports import csv_type, download

PHONES_KEY = "desk_phones"


def _my_phones() -> list[str]:
    return [p for p in session.get(PHONES_KEY, []) if isinstance(p, str)]


def desk():
    """The operator's desk; with fragment=1 only the open records (the page refreshes them every 2 s)."""
    if request.args.get("fragment") == "1":
        return render_template("admin/desk_records.html", records=inquiries.open_records(_my_phones() or None),
                               labels=calls.line_names())
    return render_template("admin/desk.html", phones=sorted(targets.all_targets()), mine=_my_phones(),
                           records=inquiries.open_records(_my_phones() or None), channels=CHANNEL_LABELS,
                           labels=calls.line_names())


def desk_phones():
    known = set(targets.all_targets())
    session[PHONES_KEY] = [p for p in request.form.getlist("phone") if p in known][:20]
    return redirect(url_for(".desk"))


def inquiry_new():
    try:
        with write_transaction():
            record = inquiries.open_contact(request.form.get("channel", ""), actor(), clock.now())
    except inquiries.InquiryProblem as error:
        flash(str(error), "error")
        return redirect(url_for(".desk"))
    return redirect(url_for(".inquiry", inquiry_id=record.id))


def _record(inquiry_id: int) -> Inquiry:
    return Inquiry.get_or_none(Inquiry.id == inquiry_id) or abort(404)


def _record_form(record: Inquiry, formdata=None) -> RecordForm:
    form = RecordForm(formdata=formdata)
    form.topic.choices = choices([("", "その他（分類なし）"), *((c.key, c.name) for c in faq.categories())])
    if formdata is None:
        form.process(data={"topic": record.topic, "summary": record.summary or "", "answer": record.answer or "",
                           "caller_name": record.caller_name or "", "caller_phone": record.caller_phone or "",
                           "booking_number": record.booking_number, "revision": str(record.revision),
                           "faq_entries": [e.id for e in inquiries.faq_entries(record)],
                           "outcome": "resolved" if record.status == "resolved" else "open",
                           "first_contact": record.first_contact or record.status == "open"})
    return form


def _escalate_form(record: Inquiry, formdata=None) -> EscalateForm:
    form = EscalateForm(formdata=formdata)
    form.group.choices = choices((name, name) for name in inquiries.groups())
    if formdata is None:
        form.revision.data = str(record.revision)
    return form


def _page(record: Inquiry, form: RecordForm, escalate_form: EscalateForm, status: int = 200, theirs=None,
          ask: str | None = None):
    ask = (record.summary or "" if ask is None else ask).strip()
    path, keys = inquiries.call_path(record)
    hidden = not may("staff")  # a viewer reads the book without callers' names, numbers and digits
    return render_template(
        "admin/inquiry.html", record=record, form=form, escalate_form=escalate_form, ask=ask,
        candidates=faq.search(ask, 5) if ask else [], past=inquiries.past_answers().search(ask, 3) if ask else [],
        used=inquiries.faq_entries(record), path=[calls.label("step", step) for step in path], keys=keys,
        line=calls.line_names().get(record.did, ""), escalations=list(record.escalations),
        channels=CHANNEL_LABELS, statuses=STATUS_LABELS, hidden=hidden, masked=masked if hidden else (lambda t: t),
        theirs=theirs, tz=TOKYO), status


def inquiry(inquiry_id: int):
    record = _record(inquiry_id)
    return _page(record, _record_form(record), _escalate_form(record))


def inquiry_save(inquiry_id: int):
    record = _record(inquiry_id)
    form = _record_form(record, request.form)
    escalate_form = _escalate_form(record)
    if request.form.get("action") == "candidates":  # what was written so far, searched; nothing saved
        return _page(record, form, escalate_form, ask=form.summary.data or "")
    if not form.validate_on_submit():
        return _page(record, form, escalate_form, 422)
    try:
        with write_transaction():
            saved = inquiries.save(record.id, form.seen_revision(), form.fields(), actor(), clock.now())
    except inquiries.RecordConflict as conflict:
        flash(str(conflict), "error")
        form.revision.data = str(conflict.inquiry.revision)
        return _page(conflict.inquiry, form, escalate_form, 409, theirs=conflict.inquiry)
    except inquiries.InquiryProblem as error:
        for problem in getattr(error, "problems", [error]):
            field = getattr(form, problem.field, None)
            if field is not None:
                field.errors = [*field.errors, str(problem)]
        return _page(record, form, escalate_form, 422)
    flash(MESSAGES["desk.finished" if saved.status == "resolved" else "desk.saved"].format(number=saved.id), "info")
    return redirect(url_for(".desk") if saved.status == "resolved" else url_for(".inquiry", inquiry_id=saved.id))


def inquiry_escalate(inquiry_id: int):
    record = _record(inquiry_id)
    escalate_form = _escalate_form(record, request.form)
    if escalate_form.validate_on_submit():
        try:
            with write_transaction():
                escalation = inquiries.escalate(record.id, int(escalate_form.revision.data or 0), escalate_form.group.data,
                                                escalate_form.note.data, actor(), clock.now())
        except inquiries.RecordConflict as conflict:
            flash(str(conflict), "error")
        except inquiries.InquiryProblem as error:
            flash(str(error), "error")
        else:
            due = escalation.due_at.astimezone(TOKYO)
            flash(MESSAGES["desk.escalated"].format(number=record.id, group=escalation.group_name,
                                                    due=f"{due:%m/%d %H:%M}"), "info")
            return redirect(url_for(".desk"))
    return _page(_record(inquiry_id), _record_form(record), escalate_form, 422)


def _period(form: BookSearchForm) -> tuple[datetime.datetime, datetime.datetime]:
    today = clock.today()
    first = form.start.data or today - datetime.timedelta(days=30)
    last = form.end.data or today
    return (datetime.datetime.combine(first, datetime.time(), TOKYO),
            datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), TOKYO))


def _found(form: BookSearchForm) -> list[Inquiry]:
    form.topic.choices = choices([("", "すべて"), *((c.key, c.name) for c in faq.categories())])
    if not form.validate():
        return []
    return inquiries.search(*_period(form), words=form.words.data or "", topic=form.topic.data or "",
                            status=form.status.data or "", channel=form.channel.data or "")


def book():
    form = BookSearchForm(request.args)
    rows = _found(form)
    hidden = not may("staff")
    return render_template("admin/inquiries.html", form=form, rows=rows, channels=CHANNEL_LABELS,
                           statuses=STATUS_LABELS, topics={c.key: c.name for c in faq.categories()},
                           encodings=CSV_ENCODINGS, masked=masked if hidden else (lambda t: t)), 422 if form.errors else 200


def book_csv():
    form = BookSearchForm(request.args)
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in CSV_ENCODINGS:
        abort(404)
    topics = {c.key: c.name for c in faq.categories()}
    rows = [(r.id, f"{r.received_at.astimezone(TOKYO):%Y-%m-%d %H:%M}", CHANNEL_LABELS[r.channel], r.did,
             topics.get(r.topic, "その他"), r.summary or "", r.answer or "",
             "、".join(e.question for e in inquiries.faq_entries(r)), STATUS_LABELS[r.status],
             "はい" if r.first_contact else "", r.booking_number, r.updated_by) for r in _found(form)]
    header = ["番号", "受付日時", "受付方法", "電話番号（回線）", "分類", "問い合わせの内容", "回答", "使ったFAQ", "状態",
              "一次完了", "予約番号", "記録した職員"]
    with write_transaction():  # the book holds what citizens asked: an export is itself audited
        audit.record(actor().name, "export.inquiries", "export", "inquiries", clock.now(), source=actor().source,
                     rows=len(rows))
    return download(table_csv(header, rows, encoding), f"inquiries-{clock.today().isoformat()}.csv", csv_type(encoding))


def escalation_list():
    return render_template("admin/escalations.html", rows=inquiries.escalations(open_only=request.args.get("all") != "1"),
                           now=clock.now(), form=ReplyForm(), tz=TOKYO)


def escalation_action(escalation_id: int):
    escalation = Escalation.get_or_none(Escalation.id == escalation_id) or abort(404)
    try:
        with write_transaction():
            if request.form.get("action") == "close":
                inquiries.close(escalation.id, actor(), clock.now())
                flash(MESSAGES["desk.closed"].format(number=escalation.inquiry_id), "info")
            else:
                form = ReplyForm()
                if not form.validate_on_submit():
                    flash(form.reply.errors[0] if form.reply.errors else MESSAGES["field.required"], "error")
                    return redirect(url_for(".escalations"))
                inquiries.reply(escalation.id, form.reply.data, actor(), clock.now())
                flash(MESSAGES["desk.replied"].format(number=escalation.inquiry_id), "info")
    except inquiries.InquiryProblem as error:
        flash(str(error), "error")
    return redirect(url_for(".escalations"))
