"""The citizens' FAQ: the published public entries by category, one entry per page (the address an IVR's
SMS can link to), and a search in the citizen's own words with the operators' engine. A search that
finds nothing, or whose results the citizen says do not answer it, is kept (digits masked) as a
proposal for staff; an entry that solved the question is counted as used."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from appliance import clock
from db import faq
from db.connection import write_transaction
from db.models import FaqCategory
from web.public.forms import MESSAGES, FaqSearchForm

RESULTS = 5


def _public_entry(key: str):
    entry = faq.entry_by_key(key)
    if entry is None or not entry.public or entry.status == "draft":
        abort(404)
    return entry


def faq_index():
    entries = faq.entries(status="published", public_only=True)
    return render_template("public/faq.html", form=FaqSearchForm(request.args), categories=faq.categories(),
                           entries=entries)


def faq_category(key: str):
    category = FaqCategory.get_or_none(FaqCategory.key == key) or abort(404)
    entries = faq.entries(category, status="published", public_only=True) or abort(404)
    return render_template("public/faq_category.html", category=category, entries=entries,
                           form=FaqSearchForm(request.args))


def faq_entry(key: str):
    entry = _public_entry(key)
    if entry.status == "withdrawn":  # an old SMS or bookmark: say so, and where to look now
        return render_template("public/faq_withdrawn.html", form=FaqSearchForm(request.args)), 410
    solved = request.args.get("solved") == "1"
    return render_template("public/faq_entry.html", entry=entry, form=FaqSearchForm(request.args), solved=solved,
                           message=MESSAGES["faq.thanks_solved"] if solved else None)


def faq_search():
    form = FaqSearchForm(request.args)
    question = (form.q.data or "").strip()
    if not question or not form.validate():
        return render_template("public/faq_search.html", form=form, results=None), 422 if form.errors else 200
    results = faq.search(question, RESULTS, public_only=True)
    if not results:
        with write_transaction():
            faq.record_miss(question, 0, clock.now())
    missing = request.args.get("missing") == "1"
    return render_template("public/faq_search.html", form=form, results=results, missing=missing,
                           message=MESSAGES["faq.thanks_missing"] if missing else None)


def faq_missing():
    """「この中に答えがありませんでした」: the question kept for staff (digits masked)."""
    form = FaqSearchForm(request.form)
    question = (form.q.data or "").strip()
    if question and form.validate():
        with write_transaction():
            faq.record_miss(question, min(request.form.get("found", type=int) or 0, RESULTS), clock.now())
    return redirect(url_for(".faq_search", q=question[:200], missing="1"))


def faq_solved(key: str):
    entry = _public_entry(key)
    with write_transaction():
        faq.record_use(entry.id, "citizen", clock.now())
    return redirect(url_for(".faq_entry", key=entry.key, solved="1"))
