"""Staff accounts for administrators: add (a one-time password to hand over), disable and enable,
expiry, and a reset for a forgotten password or a lost phone. Every step is audited by db.users."""

from __future__ import annotations

import datetime

from flask import abort, flash, redirect, render_template, request, url_for

from appliance import clock
from db import users
from db.connection import write_transaction
from db.models import StaffUser
from db.users import UserError
from web.admin.access import actor, current_user
from web.admin.forms import MESSAGES, ActionForm, ExpiryForm, UserForm


def _end_of(day: datetime.date | None) -> datetime.datetime | None:
    """An account 'until 31 March' works through that whole day in Tokyo."""
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), clock.TOKYO) if day else None


def user_list():
    accounts = list(StaffUser.select().order_by(StaffUser.role, StaffUser.login))
    return render_template("admin/users.html", accounts=accounts, form=UserForm(), action=ActionForm(),
                           now=clock.now())


def user_new():
    form = UserForm()
    if form.validate_on_submit():
        try:
            with write_transaction():
                account, password = users.add_user(form.login.data, form.role.data, actor(), clock.now(),
                                                   display_name=form.display_name.data.strip(),
                                                   expires_at=_end_of(form.expires.data),
                                                   edits_flows=form.edits_flows.data)
        except UserError:
            form.login.errors.append(MESSAGES["users.exists"])
        else:
            return render_template("admin/user_password.html", account=account, password=password,
                                   message_text=MESSAGES["users.added"].format(login=account.login))
    accounts = list(StaffUser.select().order_by(StaffUser.role, StaffUser.login))
    return render_template("admin/users.html", accounts=accounts, form=form, action=ActionForm(),
                           now=clock.now()), 422


def user_action(login: str):
    account = StaffUser.get_or_none(StaffUser.login == login) or abort(404)
    what = request.form.get("action", "")
    if (what not in ("disable", "enable", "reset", "reset_mfa", "expiry", "flows_on", "flows_off")
            or not ActionForm().validate_on_submit()):
        abort(400)
    if account.id == current_user().id and what != "expiry":
        flash(MESSAGES["users.self"], "error")
        return redirect(url_for(".users"))
    now = clock.now()
    try:
        with write_transaction():
            if what in ("disable", "enable"):
                users.set_disabled(login, what == "disable", actor(), now)
            elif what == "expiry":
                form = ExpiryForm()
                if not form.validate():
                    abort(400)
                users.set_expiry(login, _end_of(form.expires.data), actor(), now)
            elif what in ("flows_on", "flows_off"):
                users.set_edits_flows(login, what == "flows_on", actor(), now)
            else:
                _, password = users.reset(login, actor(), now, clear_mfa=what == "reset_mfa")
    except UserError:
        flash(MESSAGES["users.flows_staff_only" if what == "flows_on" else "users.last_admin"], "error")
        return redirect(url_for(".users"))
    if what in ("reset", "reset_mfa"):
        return render_template("admin/user_password.html", account=account, password=password,
                               message_text=MESSAGES[f"users.{what}"].format(login=login))
    done = {"disable": "disabled", "enable": "enabled"}.get(what, what)
    flash(MESSAGES[f"users.{done}"].format(login=login), "info")
    return redirect(url_for(".users"))
