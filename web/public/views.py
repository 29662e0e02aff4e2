"""Views of the public booking site: parse with a form, check the flow, call one service, render."""

from __future__ import annotations

import datetime
import functools
import secrets

from flask import abort, jsonify, redirect, render_template, request, session, url_for

from appliance import clock, runtime
from db import bookings, normalize, ratelimit
from db.bookings import Applicant, BookingError, InvalidRequest
from db.capacity import alternatives
from db.connection import write_transaction
from db.models import Booking
from web import forms
from web.public import calendar_file, service
from web.public.forms import (
    MESSAGES,
    ActionForm,
    ConfirmForm,
    DetailsForm,
    LookupForm,
    SlotChoiceForm,
    eligibility_form,
)
from web.sessions import regenerate

TEN_MINUTES = datetime.timedelta(minutes=10)
ONE_DAY = datetime.timedelta(days=1)


def message_for(error: BookingError) -> str:
    return MESSAGES.get(f"booking.{error.code}", MESSAGES["booking.not_permitted"])


def needs(*keys):
    """The flow's guard: a step needs what the earlier steps put into the session."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if "eligible" in keys and not (session.get("eligible") or session.get("change")):
                return redirect(url_for(".start"))
            if "slot" in keys and not session.get("slot_id"):
                return redirect(url_for(".venues"))
            if "details" in keys and not session.get("details"):
                return redirect(url_for(".details"))
            if "lookup" in keys and not session.get("lookup"):
                return redirect(url_for(".lookup"))
            return view(*args, **kwargs)
        return wrapper
    return decorator


def _rate_limited(*limits: ratelimit.Limit) -> str | None:
    """The message to show when an attempt is over a limit, else None."""
    over = ratelimit.exceeded(list(limits), clock.now())
    return over and MESSAGES[f"booking.rate_limited_{over.purpose.split('-')[1]}"]


def _client() -> str:
    return request.remote_addr or "unknown"


def _alternatives_for(view: service.SlotView | None, venue, day: datetime.date):
    now = clock.now()
    return alternatives(venue.id, day, service.CHANNEL, now,
                        release_days=runtime.settings().reserved_seats_release_days,
                        exclude_slot_id=view.slot.id if view else None)


def index():
    forget_personal_data()
    return render_template("public/index.html", notice=service.notice(), venues=service.active_venues())


def venue_link(slug):
    """A venue's own link from the city's pages: the start page carries the venue on (in the URL and
    the form, not in a session: a crawler following links writes nothing)."""
    venue = service.venue_by_slug(slug) or abort(404)
    return redirect(url_for(".start", venue=venue.slug))


def start():
    if request.method == "GET":
        forget_personal_data()  # a new booking starts clean, whatever the last citizen left here
    questions = service.questions()
    form = eligibility_form(questions)
    if request.method == "GET":
        form.venue.data = request.args.get("venue", "")
    venue = service.venue_by_slug(form.venue.data) if form.venue.data else None
    unchecked = []
    if form.validate_on_submit():
        unchecked = [q for q in questions if q.required and not form[f"q{q.id}"].data]
        if not unchecked:
            session["eligible"] = True
            if venue:
                return redirect(url_for(".calendar_page", slug=venue.slug))
            return redirect(url_for(".venues"))
    return render_template("public/start.html", form=form, questions=questions, unchecked=unchecked,
                           message=MESSAGES["field.eligibility_required"] if unchecked else None)


@needs("eligible")
def venues():
    return render_template("public/venues.html", venues=service.active_venues())


def _month_arg(now):
    month = forms.arg_month("month")
    if month is None:
        return now.date().replace(day=1), "month" in request.args
    return datetime.date(*month, 1), None


@needs("eligible")
def calendar_page(slug):
    venue = service.venue_by_slug(slug) or abort(404)
    now = clock.now()
    first, bad_month = _month_arg(now)
    months = service.bookable_months(venue, now)
    if (first.year, first.month) not in months:
        first, bad_month = datetime.date(*months[0], 1), bad_month or "month" in request.args
    return render_template("public/calendar.html", venue=venue, first=first, months=months,
                           weeks=service.month_calendar(venue, first.year, first.month, now),
                           bad_month=bad_month)


def _venue_and_date(slug: str, day: str):
    venue = service.venue_by_slug(slug) or abort(404)
    return venue, normalize.iso_date(day) or abort(404)


@needs("eligible")
def day(slug, day):
    venue, date = _venue_and_date(slug, day)
    views = service.day_slots(venue, date, clock.now())
    full = bool(views) and not any(v.bookable for v in views) and any(v.state == "open" for v in views)
    return render_template("public/day.html", venue=venue, date=date, views=views, form=SlotChoiceForm(),
                           full=full, alternatives=_alternatives_for(None, venue, date) if full else [])


@needs("eligible")
def choose_slot():
    form = SlotChoiceForm()
    slot_id = form.slot() if form.validate_on_submit() else None
    view = service.slot_view(slot_id, clock.now()) if slot_id else None
    if view is None:
        abort(404)
    if not view.bookable:
        error_key = "booking.slot_full" if view.state == "open" else f"booking.{view.state}"
        return render_template("public/day.html", venue=view.slot.venue, date=view.slot.date,
                               views=service.day_slots(view.slot.venue, view.slot.date, clock.now()),
                               form=SlotChoiceForm(), message=MESSAGES[error_key], full=True,
                               alternatives=_alternatives_for(view, view.slot.venue, view.slot.date)), 409
    if session.get("change"):
        session["new_slot_id"] = view.slot.id
        return redirect(url_for(".change_confirm"))
    session["slot_id"] = view.slot.id
    return redirect(url_for(".confirm" if session.get("details") else ".details"))


@needs("eligible", "slot")
def details():
    settings = runtime.settings()
    saved = session.get("details") or {}
    form = DetailsForm(data=_form_data(saved) if request.method == "GET" else None,
                       max_party_size=settings.max_party_size)
    if form.validate_on_submit():
        email = (form.email.data or "").strip()
        session["details"] = {"name": form.name.data.strip(), "kana": normalize.katakana(form.kana.data),
                              "phone": normalize.phone(form.phone.data),
                              "email": normalize.email(email) if email else "", "notify": form.notify.data,
                              "birth_date": form.birth_date().isoformat(), "party_size": form.party()}
        regenerate(session)  # personal data came in: a new token, so an older cookie holds none of it
        return redirect(url_for(".confirm"))
    view = service.slot_view(session["slot_id"], clock.now())
    return render_template("public/details.html", form=form, view=view), 200 if request.method == "GET" else 422


def _form_data(saved: dict) -> dict:
    if not saved:
        return {}
    born = datetime.date.fromisoformat(saved["birth_date"])
    return {**saved, "birth_year": str(born.year), "birth_month": str(born.month), "birth_day": str(born.day),
            "party_size": str(saved.get("party_size", 1))}


def _applicant(saved: dict) -> Applicant:
    return Applicant(name=saved["name"], kana=saved["kana"], phone=saved["phone"],
                     birth_date=datetime.date.fromisoformat(saved["birth_date"]),
                     email=saved["email"] or None, notify=saved["notify"])


def confirm():
    """A confirm sent again after it booked (a double click; the session has moved on) shows the
    same done page again: the nonce names the booking this browser just made."""
    if request.method == "POST" and session.get("done"):
        nonce = request.form.get("nonce", "")
        earlier = Booking.get_or_none(Booking.idempotency_key == f"web:{nonce}") if nonce else None
        if earlier and earlier.number == session["done"]:  # (CSRFProtect has checked the token)
            session["done_shown"] = False
            return redirect(url_for(".done"))
    return _confirm()


@needs("eligible", "slot", "details")
def _confirm():
    form = ConfirmForm()
    now = clock.now()
    view = service.slot_view(session["slot_id"], now)
    if view is None:
        session.pop("slot_id", None)
        return redirect(url_for(".venues"))
    saved = session["details"]
    message, alts, status = None, [], 200
    if form.validate_on_submit():
        nonce = form.nonce.data or ""
        if nonce != session.get("nonce"):
            message, status = MESSAGES["booking.session_lost"], 409
        elif limited := _rate_limited(
                ratelimit.Limit("book-ip", _client(), runtime.settings().rate_limit_per_ip, TEN_MINUTES),
                ratelimit.Limit("book-phone", saved["phone"], runtime.settings().rate_limit_per_phone, ONE_DAY)):
            message, status = limited, 429
        else:
            try:
                with write_transaction():
                    booking = bookings.book(view.slot.id, _applicant(saved), "web", now,
                                            party_size=saved.get("party_size", 1),
                                            idempotency_key=f"web:{nonce}",
                                            actor=bookings.Actor("citizen", source=_client()))
            except InvalidRequest:
                return redirect(url_for(".details"))
            except BookingError as error:
                message, status = message_for(error), 409
                alts = _alternatives_for(view, view.slot.venue, view.slot.date)
                view = service.slot_view(view.slot.id, now)
            else:
                for key in ("slot_id", "details", "nonce", "eligible", "venue"):
                    session.pop(key, None)
                # No new session token here: a double-clicked confirm still carries the old cookie
                # and must land on this same done page (the nonce makes it the same booking).
                session["done"], session["done_shown"] = booking.number, False
                return redirect(url_for(".done"))
    session["nonce"] = secrets.token_urlsafe(16)
    form.nonce.data = session["nonce"]
    return render_template("public/confirm.html", form=form, view=view, details=saved, message=message,
                           alternatives=alts, choice_form=SlotChoiceForm()), status


def _booking_in_session(key: str) -> Booking:
    booking = Booking.get_or_none(Booking.number == session.get(key, ""))
    if booking is None:
        session.pop(key, None)
        abort(404)
    return booking


def done():
    """The booking's details, shown once: a reload, or whoever opens this page from the history of a
    shared computer, sees only that a booking was made."""
    if not session.get("done"):
        return redirect(url_for(".index"))
    booking = _booking_in_session("done")
    if session.get("done_shown"):
        return render_template("public/done_again.html", form=ActionForm())
    session["done_shown"] = True
    return render_template("public/done.html", booking=booking, form=ActionForm())


def booking_ics():
    key = "done" if session.get("done") else "lookup"
    if not session.get(key):
        abort(404)
    booking = _booking_in_session(key)
    return calendar_file.response(booking, runtime.settings())


def finish():
    """終了する: everything this browser holds of the citizen is gone (the session row and cookie).
    CSRFProtect has checked the token already; no form is built, so no new token (and cookie) is made."""
    session.clear()
    regenerate(session)
    return redirect(url_for(".finished"))


def finished():
    return render_template("public/finished.html")


# Pages that belong to the done page (its calendar file, the text size switch, live seat counts):
# opening any other page leaves it, and the booking's details leave the session.
STAYS_ON_DONE = {"public.done", "public.booking_ics", "public.textsize", "public.seats", "public.finish",
                 "public.finished", "public.confirm", "static"}
PERSONAL_KEYS = ("details", "done", "done_shown", "lookup", "change", "new_slot_id", "slot_id", "nonce")


def forget_personal_data(keys: tuple[str, ...] = PERSONAL_KEYS) -> None:
    """Personal data leaves the session under a new token (a shared browser keeps nothing of it)."""
    if any(key in session for key in keys):
        for key in keys:
            session.pop(key, None)
        regenerate(session)


def leave_done_page() -> None:
    """before_request of the public site: a citizen who goes on from the done page has left it."""
    if request.endpoint not in STAYS_ON_DONE:
        forget_personal_data(("done", "done_shown"))


def lookup():
    if request.method == "GET":
        forget_personal_data()  # starting a look-up ends whatever the last citizen left here
    form = LookupForm()
    message, status = None, 200
    if form.validate_on_submit():
        with write_transaction():
            found = service.look_up(normalize.reservation_number(form.number.data), form.birth_date(),
                                    form.phone_last4.data, _client(), clock.now())
        if found.booking:
            session.clear()
            session["lookup"] = found.booking.number
            regenerate(session)
            return redirect(url_for(".mybooking"))
        if found.refusal == "rate_limited_ip":
            message, status = MESSAGES["booking.rate_limited_ip"], 429
        elif found.refusal == "locked":
            message, status = MESSAGES["lookup.locked"], 429
        else:
            message, status = MESSAGES["lookup.not_found"], 404
    elif request.method == "POST":
        status = 422
    return render_template("public/lookup.html", form=form, message=message), status


@needs("lookup")
def mybooking():
    return render_template("public/mybooking.html", booking=_booking_in_session("lookup"), form=ActionForm(),
                           now=clock.now(), changed=request.args.get("changed"))


@needs("lookup")
def cancel():
    booking = _booking_in_session("lookup")
    form = ActionForm()
    message = None
    if form.validate_on_submit():
        try:
            with write_transaction():
                bookings.cancel(booking.number, "web", clock.now(), actor=bookings.Actor("citizen", source=_client()),
                                expected_version=form.version.data or 0)
            return render_template("public/cancelled.html", booking=Booking.get_by_id(booking.id),
                                   form=ActionForm())
        except BookingError as error:
            message = message_for(error)
    elif form.version.errors:
        message = form.version.errors[0]
    return render_template("public/cancel.html", booking=booking, form=form, message=message)


@needs("lookup")
def change_start():
    booking = _booking_in_session("lookup")
    if ActionForm().validate_on_submit() and booking.status == "confirmed":
        session["change"] = True
        return redirect(url_for(".calendar_page", slug=booking.slot.venue.slug))
    return redirect(url_for(".mybooking"))


@needs("lookup")
def change_confirm():
    booking = _booking_in_session("lookup")
    if not session.get("new_slot_id"):
        return redirect(url_for(".mybooking"))
    now = clock.now()
    view = service.slot_view(session["new_slot_id"], now) or abort(404)
    form = ActionForm()
    message, alts = None, []
    if form.validate_on_submit():
        try:
            with write_transaction():
                bookings.change(booking.number, view.slot.id, "web", now,
                                actor=bookings.Actor("citizen", source=_client()),
                                expected_version=form.version.data or 0)
        except BookingError as error:
            message = message_for(error)
            alts = _alternatives_for(view, view.slot.venue, view.slot.date)
        else:
            session.pop("change", None)
            session.pop("new_slot_id", None)
            return redirect(url_for(".mybooking", changed=1))
    elif form.version.errors:
        message = form.version.errors[0]
    return render_template("public/change_confirm.html", booking=booking, view=view, form=form,
                           message=message, alternatives=alts, choice_form=SlotChoiceForm())


def seats(slug, day):
    """Remaining seats for a day, for the page's live update (announced by screen readers)."""
    venue, date = _venue_and_date(slug, day)
    return jsonify({str(v.slot.id): {"remaining": v.remaining, "bookable": v.bookable}
                    for v in service.day_slots(venue, date, clock.now())})


def healthz():
    """Liveness for the proxy and the container: the process answers (no database work, so the rush
    benchmark also uses it as the bare-Flask ceiling)."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


def textsize(size):
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    response.set_cookie("textsize", "large" if size == "large" else "normal", max_age=365 * 86400,
                        samesite="Lax", httponly=True)
    return response
