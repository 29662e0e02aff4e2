"""Venues and slots: the week grid, generating slots from a weekly template (preview, then save),
capacity changes, closures, one slot's seats; reception window, eligibility questions, the notice."""

from __future__ import annotations

import datetime

from flask import abort, flash, redirect, render_template, request, url_for

from appliance import clock
from db import normalize, slots
from db.connection import write_transaction
from db.models import EligibilityQuestion, Slot, Venue
from db.slots import CapacityBelowBooked, SlotRequestError, WeeklyTemplate
from web.admin import service
from web.admin.access import actor, current_user
from web.admin.forms import (
    MESSAGES,
    ActionForm,
    CapacityForm,
    CloseForm,
    GenerateForm,
    NoticeForm,
    QuestionForm,
    SlotForm,
    VenueForm,
    WindowForm,
    parse_hours,
)
from web.forms import arg_date, arg_id


def venues():
    return render_template("admin/venues.html", venues=service.venues())


def _venue(venue_id: int) -> Venue:
    return Venue.get_or_none(Venue.id == venue_id) or abort(404)


def venue_edit(venue_id: int | None = None):
    venue = _venue(venue_id) if venue_id else None
    form = VenueForm(obj=venue)
    if form.validate_on_submit():
        taken = Venue.select().where(Venue.slug == form.slug.data, Venue.id != (venue.id if venue else 0)).exists()
        if taken:
            form.slug.errors.append(MESSAGES["field.slug"])
        else:
            values = {f: getattr(form, f).data for f in ("slug", "name", "kana", "address", "access", "sort_order", "active")}
            values["sort_order"] = values["sort_order"] or 0
            with write_transaction():
                saved = service.save_venue(venue, values, actor(), clock.now())
            flash(MESSAGES["slots.venue_saved"], "info")
            return redirect(url_for(".week", venue_id=saved.id))
    return render_template("admin/venue_edit.html", form=form, venue=venue), 422 if form.errors else 200


def venue_new():
    return venue_edit(None)


def week(venue_id: int):
    venue = _venue(venue_id)
    start = arg_date("start") or clock.today()
    monday = service.monday_of(start)
    return render_template("admin/week.html", grid=service.week_grid(venue, monday), monday=monday,
                           today=clock.today(), one_week=datetime.timedelta(days=7))


def _template(form: GenerateForm) -> WeeklyTemplate:
    ranges = parse_hours(form.hours.data)
    return WeeklyTemplate({d: ranges for d in sorted(form.weekdays.data)}, form.capacity.data,
                          form.phone_seats.data, form.staff_seats.data)


def generate():
    form = GenerateForm()
    form.venue.choices = service.venue_choices()
    if request.method == "GET":
        form.venue.data = arg_id("venue")
        form.first.data = form.first.data or clock.today() + datetime.timedelta(days=1)
        form.last.data = form.last.data or form.first.data + datetime.timedelta(days=27)
    plan = None
    if form.validate_on_submit():
        venue = _venue(form.venue.data)
        template = _template(form)
        if request.form.get("action") == "save":
            with write_transaction():
                plan = slots.generate_slots(venue, form.first.data, form.last.data, template, actor(), clock.now())
            flash(MESSAGES["slots.generated"].format(created=len(plan.new), existing=plan.existing,
                                                     skipped=len(plan.skipped_days)), "info")
            return redirect(url_for(".week", venue_id=venue.id, start=form.first.data.isoformat()))
        plan = slots.plan_slots(venue, form.first.data, form.last.data, template)
    return render_template("admin/generate.html", form=form, plan=plan), 422 if form.errors else 200


def _range_venue(form) -> Venue | None:
    return _venue(form.venue.data) if form.venue.data else None


def capacity():
    form = CapacityForm()
    form.venue.choices = service.venue_choices("すべての会場")
    conflicts, message = [], None
    if request.method == "GET":
        form.venue.data = arg_id("venue") or 0
        form.first.data = form.first.data or clock.today()
        form.last.data = form.last.data or form.first.data
    if form.validate_on_submit():
        try:
            with write_transaction():
                changed = slots.adjust_capacity(_range_venue(form), form.first.data, form.last.data, actor(),
                                                clock.now(), delta=form.delta(), set_to=form.set_to.data,
                                                times=form.times())
        except CapacityBelowBooked as exc:
            conflicts = exc.conflicts
            message = MESSAGES["slots.capacity_below_booked"].format(count=len(conflicts))
        except SlotRequestError:
            message = MESSAGES["field.capacity"]
        else:
            if not changed:
                message = MESSAGES["slots.no_slots"]
            else:
                flash(MESSAGES["slots.capacity_changed"].format(count=len(changed)), "info")
                return redirect(url_for(".capacity", venue=form.venue.data))
    return render_template("admin/capacity.html", form=form, conflicts=conflicts, message=message), \
        422 if (form.errors or message) else 200


def close():
    form = CloseForm()
    form.venue.choices = service.venue_choices("すべての会場")
    affected, message = None, None
    if request.method == "GET":
        form.venue.data = arg_id("venue") or 0
        form.first.data = form.first.data or clock.today()
        form.last.data = form.last.data or form.first.data
    if form.validate_on_submit():
        reopening = request.form.get("action") == "reopen"
        if not reopening and not (form.reason.data or "").strip():
            form.reason.errors.append(MESSAGES["field.reason"])
        else:
            try:
                with write_transaction():
                    if reopening:
                        count = slots.reopen_slots(_range_venue(form), form.first.data, form.last.data, actor(),
                                                   clock.now(), times=form.times())
                    else:
                        affected = slots.close_slots(_range_venue(form), form.first.data, form.last.data,
                                                     form.reason.data, actor(), clock.now(), times=form.times())
            except SlotRequestError:
                message = MESSAGES["slots.no_slots"]
            else:
                if reopening:
                    flash(MESSAGES["slots.reopened"].format(slots=count), "info")
                    return redirect(url_for(".close"))
                flash(MESSAGES["slots.closed"].format(slots=_count_closed(form), affected=len(affected)), "info")
    return render_template("admin/close.html", form=form, affected=affected, message=message), \
        422 if (form.errors or message) else 200


def _count_closed(form: CloseForm) -> int:
    query = Slot.select().where(Slot.date.between(form.first.data, form.last.data), Slot.closed)
    if form.venue.data:
        query = query.where(Slot.venue == form.venue.data)
    times = form.times()
    if times:
        query = query.where(Slot.start >= times[0], Slot.start < times[1])
    return query.count()


def slot_edit(slot_id: int):
    slot = Slot.get_or_none(Slot.id == slot_id) or abort(404)
    form = SlotForm(obj=slot)
    message = None
    if form.validate_on_submit():
        try:
            with write_transaction():
                slots.set_seats(slot, form.capacity.data, form.phone_seats.data, form.staff_seats.data, actor(),
                                clock.now())
        except CapacityBelowBooked:
            message = MESSAGES["slots.capacity_below_booked"].format(count=1)
        except SlotRequestError:
            message = MESSAGES["field.seats"]
        else:
            flash(MESSAGES["slots.slot_saved"], "info")
            return redirect(url_for(".week", venue_id=slot.venue_id, start=slot.date.isoformat()))
    return render_template("admin/slot_edit.html", form=form, slot=slot, message=message), \
        422 if (form.errors or message) else 200


def window():
    venue = Venue.get_or_none(Venue.id == (arg_id("venue") or 0))
    own = service.window_of(venue)
    row = own or service.window_of(None)
    form = WindowForm(obj=row)
    if request.method == "GET" and row:
        form.opens_time.data = row.opens_time.strftime("%H:%M")
        form.closes_time.data = row.closes_time.strftime("%H:%M")
    if request.method == "POST" and request.form.get("action") == "remove" and ActionForm().validate_on_submit():
        with write_transaction():
            service.save_window(venue, None, actor(), clock.now())
        flash(MESSAGES["slots.window_saved"], "info")
        return redirect(url_for(".window", venue=venue.id if venue else None))
    if form.validate_on_submit():
        values = {"opens_days_before": form.opens_days_before.data,
                  "opens_time": normalize.clock_time(form.opens_time.data),
                  "closes_days_before": form.closes_days_before.data,
                  "closes_time": normalize.clock_time(form.closes_time.data)}
        if values["opens_days_before"] <= values["closes_days_before"]:
            form.closes_days_before.errors.append(MESSAGES["field.window_order"])
        else:
            with write_transaction():
                service.save_window(venue, values, actor(), clock.now())
            flash(MESSAGES["slots.window_saved"], "info")
            return redirect(url_for(".window", venue=venue.id if venue else None))
    return render_template("admin/window.html", form=form, venue=venue, own=own, venues=service.venues()), \
        422 if form.errors else 200


def questions():
    return render_template("admin/questions.html", questions=service.questions())


def question_edit(question_id: int | None = None):
    question = (EligibilityQuestion.get_or_none(EligibilityQuestion.id == question_id) or abort(404)) \
        if question_id else None
    form = QuestionForm(obj=question)
    if request.method == "GET" and question:
        form.required_check.data = question.required
    if form.validate_on_submit():
        values = {"text": form.text.data.strip(), "guidance": form.guidance.data or "",
                  "required": form.required_check.data, "sort_order": form.sort_order.data or 0,
                  "active": form.active.data}
        with write_transaction():
            service.save_question(question, values, actor(), clock.now())
        flash(MESSAGES["slots.question_saved"], "info")
        return redirect(url_for(".questions"))
    return render_template("admin/question_edit.html", form=form, question=question), 422 if form.errors else 200


def question_new():
    return question_edit(None)


def notice():
    current = service.notice()
    form = NoticeForm(data={"text": current.text} if request.method == "GET" else None)
    if form.validate_on_submit():
        with write_transaction():
            service.save_notice((form.text.data or "").strip(), actor(), clock.now())
        flash(MESSAGES["slots.notice_saved"], "info")
        return redirect(url_for(".notice"))
    return render_template("admin/notice.html", form=form, current=current), 422 if form.errors else 200


def home():
    """Today at every venue: seats booked of capacity, checked in, closed slots."""
    today = clock.today()
    rows = service.day_totals(today)
    health = service.box_health(clock.now()) if current_user().role == "admin" else None
    return render_template("admin/home.html", today=today, rows=rows, health=health)
