"""Bookings at the counter: search, book on behalf of a caller, edit, move, cancel, check in or record a
no-show, register a walk-in. Every write goes through db.bookings (the one capacity engine) with the
version the clerk saw, so two clerks never overwrite each other silently."""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for

from appliance import clock
from appliance.notify.compose import LABELS as NOTIFY_LABELS
from db import bookings, normalize
from db.bookings import Applicant, BookingError, InvalidRequest
from db.connection import Busy, write_transaction
from db.models import Booking, Outbox, Slot, Venue
from web.admin import service
from web.admin.access import actor, current_user, recently_authenticated
from web.admin.forms import MESSAGES, EditForm, OnBehalfForm, SearchForm, VersionForm, WalkInForm
from web.admin.printing import booking_number
from web.forms import arg_date, arg_id

FIELD_MESSAGES = {"name": "field.name", "kana": "field.kana", "phone": "field.phone", "email": "field.email",
                  "birth_date": "field.birth_date", "party_size": "field.party_size", "notify": "field.email"}


def problem(error: BookingError | Busy) -> str:
    if isinstance(error, Busy):
        return MESSAGES["booking.busy"]
    if isinstance(error, InvalidRequest):
        return MESSAGES[FIELD_MESSAGES.get(error.field, "field.required")]
    return MESSAGES.get(f"booking.{error.code}") or MESSAGES["booking.not_permitted"]


def _booking(number: str) -> Booking:
    return Booking.get_or_none(Booking.number == number) or abort(404)


def _version(form) -> int:
    if form.version.data is None:
        abort(400)
    return form.version.data


def _stale_sign_in(override_reason: str) -> str | None:
    """Booking over capacity is an administrator's decision, confirmed with password and code when the
    last sign-in is older than admin_reauth_minutes (the page links to /reauth)."""
    if override_reason and not recently_authenticated():
        return MESSAGES["login.reauth_needed"]
    return None


def search():
    form = SearchForm(request.args)
    form.venue.choices = service.venue_choices("すべて")
    criteria = service.Criteria()
    if request.args and form.validate():
        criteria = service.Criteria(number=form.number.data or "", kana=form.kana.data or "",
                                    phone=form.phone.data or "", date=form.date.data, venue_id=form.venue.data or 0,
                                    status=form.status.data or "")
    results = service.search(criteria, clock.today())
    return render_template("admin/bookings.html", form=form, results=results, searched=not criteria.empty)


def detail(number: str):
    booking = _booking(number)
    return _detail_page(booking)


def _detail_page(booking: Booking, *, edit_form=None, message=None, status=200):
    edit_form = edit_form or EditForm(obj=booking, version=booking.version)
    messages = list(Outbox.select().where(Outbox.booking == booking).order_by(Outbox.id))
    return render_template("admin/booking.html", booking=booking, slot=booking.slot, edit_form=edit_form,
                           action=VersionForm(version=booking.version), messages=messages, message=message,
                           reasons=NOTIFY_LABELS["reason"],
                           today=clock.today()), status


def new():
    slot = Slot.get_or_none(Slot.id == (arg_id("slot") or 0)) or abort(404)
    form = OnBehalfForm()
    if request.method == "GET":
        form.nonce.data = secrets.token_urlsafe(16)
    message = None
    if form.validate_on_submit():
        reason = (form.override_reason.data or "").strip()
        message = _stale_sign_in(reason)
        if not message:
            applicant = Applicant(name=form.name.data, kana=form.kana.data, phone=form.phone.data,
                                  birth_date=form.birth_date.data, email=form.email.data or None,
                                  notify=form.notify.data)
            try:
                with write_transaction():
                    booking = bookings.book(slot.id, applicant, "staff", clock.now(), actor=actor(),
                                            party_size=form.party_size.data, override_reason=reason,
                                            idempotency_key=f"staff:{form.nonce.data}" if form.nonce.data else None)
            except (BookingError, Busy) as error:
                message = problem(error)
            else:
                flash(MESSAGES["booking.booked"].format(number=booking_number(booking.number)), "info")
                return redirect(url_for(".booking", number=booking.number))
    return render_template("admin/booking_new.html", form=form, slot=slot, message=message,
                           may_override=current_user().role == "admin"), 422 if (form.errors or message) else 200


def edit(number: str):
    booking = _booking(number)
    form = EditForm()
    if not form.validate_on_submit():
        return _detail_page(booking, edit_form=form, status=422)
    try:
        with write_transaction():
            bookings.edit(number, clock.now(), actor=actor(), expected_version=_version(form), name=form.name.data,
                          kana=form.kana.data, party_size=form.party_size.data)
    except (BookingError, Busy) as error:
        return _detail_page(_booking(number), edit_form=form, message=problem(error), status=409)
    flash(MESSAGES["booking.updated"], "info")
    return redirect(url_for(".booking", number=number))


def _simple_action(number: str, action, done_key: str):
    booking = _booking(number)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with write_transaction():
            action(booking, form)
    except (BookingError, Busy) as error:
        return _detail_page(_booking(number), message=problem(error), status=409)
    flash(MESSAGES[done_key], "info")
    return redirect(request.form.get("back") if request.form.get("back", "").startswith("/lists")
                    else url_for(".booking", number=number))


def cancel(number: str):
    return _simple_action(number, lambda b, form: bookings.cancel(
        b.number, "staff", clock.now(), actor=actor(), expected_version=_version(form)), "booking.cancelled")


def attendance(number: str):
    status = request.form.get("status", "")
    if status not in ("attended", "no_show", "confirmed"):
        abort(400)
    return _simple_action(number, lambda b, form: bookings.set_attendance(
        b.number, status, clock.now(), actor=actor(), expected_version=_version(form)), f"booking.{status}")


def move(number: str):
    booking = _booking(number)
    venue_id = arg_id("venue") if "venue" in request.args else booking.slot.venue_id
    venue = Venue.get_or_none(Venue.id == (venue_id or 0)) or abort(404)
    day = arg_date("date") or booking.slot.date
    form = VersionForm(version=booking.version)
    message = None
    if form.validate_on_submit():
        reason = (form.override_reason.data or "").strip()
        message = _stale_sign_in(reason)
        if not message:
            try:
                with write_transaction():
                    bookings.change(number, normalize.record_id(request.form.get("slot_id")) or 0, "staff", clock.now(),
                                    actor=actor(), expected_version=_version(form), override_reason=reason)
            except (BookingError, Busy) as error:
                message = problem(error)
            else:
                flash(MESSAGES["booking.moved"], "info")
                return redirect(url_for(".booking", number=number))
    return render_template("admin/booking_move.html", booking=booking, venue=venue, chosen_day=day, form=form,
                           venues=service.venues(), slots=service.day_slots(venue, day), message=message,
                           may_override=current_user().role == "admin"), 409 if message else 200


def walk_in(slot_id: int):
    slot = Slot.get_or_none(Slot.id == slot_id) or abort(404)
    form = WalkInForm()
    back = url_for(".day_list", venue=slot.venue_id, date=slot.date.isoformat())
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], "error")
        return redirect(back)
    try:
        with write_transaction():
            booking = bookings.walk_in(slot.id, form.name.data, form.kana.data, form.party_size.data, clock.now(),
                                       actor=actor())
    except (BookingError, Busy) as error:
        flash(problem(error), "error")
        return redirect(back)
    flash(MESSAGES["booking.walk_in"].format(number=booking_number(booking.number)), "info")
    return redirect(back)
