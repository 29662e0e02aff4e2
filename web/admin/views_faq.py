"""The FAQ on the admin site: the answer candidates for what a caller asks (the operator types it; the
page refreshes the candidates as they type), recording which entry was used in the answer; the entries
by category with their revisions, editing (the revision edited travels with the form, so the second of
two editors is told), publish / withdraw / restore / delete; categories; CSV export and import for
Excel; and what citizens searched for on the public FAQ without finding it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from appliance import clock
from appliance.csvfile import CSV_ENCODINGS
from db import faq, faqfile
from db.connection import write_transaction
from db.models import FaqCategory, FaqEntry
from web.admin.access import actor
from web.admin.forms import MESSAGES, choices
from web.admin.forms_faq import AskForm, CategoryForm, EntryForm
from web.admin.views_reports import csv_type, download

CANDIDATES = 5


def _entry(entry_id: int) -> FaqEntry:
    return FaqEntry.select(FaqEntry, FaqCategory).join(FaqCategory).where(FaqEntry.id == entry_id).first() \
        or abort(404)


def _ask() -> tuple[AskForm, list]:
    form = AskForm(request.args)
    question = (form.q.data or "").strip()
    candidates = faq.search(question, CANDIDATES) if question and form.validate() else []
    return form, candidates


def faq_list():
    """The operator's page: the question box with its candidates, then the entries by category; with
    fragment=1 only the candidates (the page's script asks for them as the operator types)."""
    form, candidates = _ask()
    if request.args.get("fragment") == "1":
        return render_template("admin/faq_candidates.html", form=form, candidates=candidates)
    status = request.args.get("status") if request.args.get("status") in faq.STATUSES else None
    return render_template("admin/faq.html", form=form, candidates=candidates, status=status,
                           categories=faq.categories(), entries=faq.entries(status=status),
                           encodings=CSV_ENCODINGS)


def faq_use():
    entry = FaqEntry.get_or_none(FaqEntry.id == request.form.get("entry_id", type=int))
    if entry is None:
        flash(MESSAGES["faq.gone"], "error")
        return redirect(url_for(".faq"))
    rank = request.form.get("rank", type=int)
    with write_transaction():
        faq.record_use(entry.id, "operator", clock.now(), rank=rank if rank and 1 <= rank <= 20 else None,
                       by=actor().name)
    flash(MESSAGES["faq.used"].format(question=entry.question), "info")
    return redirect(url_for(".faq", q=request.form.get("q", "")[:2000]))


def faq_entry(entry_id: int):
    entry = _entry(entry_id)
    return render_template("admin/faq_entry.html", entry=entry, phrasings=faq.phrasings(entry),
                           revisions=faq.revisions(entry))


def _form(entry: FaqEntry | None) -> EntryForm:
    form = EntryForm()
    form.category.choices = choices((c.key, c.name) for c in faq.categories())
    if request.method == "GET" and entry is not None:
        fields = faq.EntryFields.of(entry)
        form.process(data={**fields.__dict__, "phrasings": "\n".join(fields.phrasings),
                           "revision": str(entry.revision)})
    return form


def _show_problems(form: EntryForm, error: faq.FaqProblem) -> None:
    for problem in getattr(error, "problems", [error]):
        target = getattr(form, problem.field, None) if problem.field else None
        if target is not None:
            target.errors = [*target.errors, str(problem)]
        else:
            flash(str(problem), "error")


def faq_edit(entry_id: int | None = None):
    entry = _entry(entry_id) if entry_id else None
    form = _form(entry)
    if form.validate_on_submit():
        try:
            with write_transaction():
                if entry is None:
                    saved = faq.create(form.fields(), actor(), clock.now(), comment=form.comment.data or "")
                else:
                    saved = faq.update(entry.id, form.seen_revision(), form.fields(), actor(), clock.now(),
                                       comment=form.comment.data or "")
        except faq.EditConflict as conflict:
            return _conflict(form, conflict)
        except faq.FaqProblem as error:
            _show_problems(form, error)
        else:
            flash(MESSAGES["faq.created" if entry is None else "faq.saved"].format(question=saved.question), "info")
            return redirect(url_for(".faq_entry", entry_id=saved.id))
    return render_template("admin/faq_edit.html", form=form, entry=entry), 422 if request.method == "POST" else 200


def _conflict(form: EntryForm, conflict: faq.EditConflict):
    """Keep what this editor wrote in the form, show what the other saved, and take their revision."""
    form.revision.data = str(conflict.entry.revision)
    flash(str(conflict), "error")
    return render_template("admin/faq_edit.html", form=form, entry=conflict.entry, theirs=conflict.entry,
                           their_phrasings=faq.phrasings(conflict.entry)), 409


def faq_new():
    return faq_edit(None)


def faq_status(entry_id: int):
    entry = _entry(entry_id)
    status = request.form.get("status", "")
    try:
        with write_transaction():
            saved = faq.set_status(entry.id, request.form.get("revision", type=int) or 0, status, actor(),
                                   clock.now())
    except faq.EditConflict as conflict:
        flash(str(conflict), "error")
    except faq.FaqProblem as error:
        flash(str(error), "error")
    else:
        flash(MESSAGES["faq.status"].format(question=saved.question, status=faq.text(f"status.{status}")), "info")
    return redirect(url_for(".faq_entry", entry_id=entry.id))


def faq_restore(entry_id: int):
    entry = _entry(entry_id)
    revision = request.form.get("restore", type=int) or 0
    try:
        with write_transaction():
            faq.restore(entry.id, request.form.get("revision", type=int) or 0, revision, actor(), clock.now())
    except faq.EditConflict as conflict:
        flash(str(conflict), "error")
    except faq.FaqProblem as error:
        flash(str(error), "error")
    else:
        flash(MESSAGES["faq.restored"].format(revision=revision), "info")
    return redirect(url_for(".faq_entry", entry_id=entry.id))


def faq_delete(entry_id: int):
    entry = _entry(entry_id)
    try:
        with write_transaction():
            faq.delete(entry.id, actor(), clock.now())
    except faq.FaqProblem as error:
        flash(str(error), "error")
        return redirect(url_for(".faq_entry", entry_id=entry.id))
    flash(MESSAGES["faq.deleted"], "info")
    return redirect(url_for(".faq"))


def faq_categories():
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            with write_transaction():
                category = faq.save_category(form.key.data, form.name.data, form.sort_order.data or 0, actor(),
                                             clock.now())
        except faq.FaqProblem as error:
            getattr(form, error.field or "name").errors = [str(error)]
        else:
            flash(MESSAGES["faq.category_saved"].format(name=category.name), "info")
            return redirect(url_for(".faq_categories"))
    counts = {c.id: 0 for c in faq.categories()}
    for entry in faq.entries():
        counts[entry.category_id] += 1
    return render_template("admin/faq_categories.html", form=form, categories=faq.categories(),
                           counts=counts), 422 if form.errors else 200


def faq_category(category_id: int):
    category = FaqCategory.get_or_none(FaqCategory.id == category_id) or abort(404)
    try:
        with write_transaction():
            if request.form.get("action") == "delete":
                faq.delete_category(category.id, actor(), clock.now())
                flash(MESSAGES["faq.category_deleted"], "info")
            else:
                saved = faq.save_category(request.form.get("key", ""), request.form.get("name", ""),
                                          request.form.get("sort_order", type=int) or 0, actor(), clock.now(),
                                          category_id=category.id)
                flash(MESSAGES["faq.category_saved"].format(name=saved.name), "info")
    except faq.FaqProblem as error:
        flash(str(error), "error")
    return redirect(url_for(".faq_categories"))


def faq_csv():
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in CSV_ENCODINGS:
        abort(404)
    return download(faqfile.export(encoding), f"faq-{clock.today().isoformat()}.csv", csv_type(encoding))


def faq_import():
    upload = request.files.get("file")
    data = upload.read(faqfile.MAX_BYTES + 1) if upload else b""
    if not data:
        flash(MESSAGES["faq.import_file"], "error")
        return redirect(url_for(".faq"))
    try:
        with write_transaction():
            result = faqfile.import_csv(data, actor(), clock.now())
    except faqfile.ImportRefused as refused:
        return render_template("admin/faq_import_refused.html", problems=refused.problems), 422
    flash(MESSAGES["faq.imported"].format(**result.__dict__), "info")
    return redirect(url_for(".faq"))


def faq_misses():
    """What citizens searched for without finding it, the same words counted together: proposals."""
    return render_template("admin/faq_misses.html", proposals=faq.proposals())


def faq_misses_reviewed():
    ids = [int(i) for value in request.form.getlist("id") for i in value.split(",") if i.isdigit()]
    ids = ids[:faq.PROPOSALS_MAX_ROWS]
    with write_transaction():
        count = faq.mark_reviewed(ids)
    flash(MESSAGES["faq.reviewed"].format(count=count), "info")
    return redirect(url_for(".faq_misses"))
