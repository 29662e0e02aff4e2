"""Sign-in and the staff member's own account: password, then TOTP code (first time: a new password,
then enrolling an authenticator app and writing down recovery codes), re-authentication, sign-out."""

from __future__ import annotations

import datetime

from flask import abort, flash, redirect, render_template, request, session, url_for

from appliance import clock
from db import users
from db.connection import write_transaction
from db.models import StaffUser
from web.admin import auth
from web.admin.access import client_address, current_user, safe_next
from web.admin.forms import MESSAGES, ActionForm, CodeForm, EnrolForm, LoginForm, NewPasswordForm, ReauthForm
from web.sessions import regenerate

PENDING_FOR = datetime.timedelta(minutes=10)  # between the password and the last sign-in step


def _pending() -> tuple[StaffUser, dict] | None:
    pending = session.get("pending")
    if not pending:
        return None
    started = datetime.datetime.fromisoformat(pending["at"])
    user = StaffUser.get_or_none(StaffUser.id == pending["uid"])
    if user is None or clock.now() - started > PENDING_FOR or not auth.usable(user, clock.now()):
        session.pop("pending", None)
        return None
    return user, pending


def _after_stage(user: StaffUser, stage: str | None = None):
    """Move the sign-in on to its next step (or finish it)."""
    if stage is None:
        stage = "new_password" if user.must_change_password else "enrol" if not user.totp_secret else "done"
    if stage == "done":
        return _finish(user)
    pending = dict(session["pending"], stage=stage)
    session["pending"] = pending
    return redirect(url_for(f".login_{stage}"))


def _finish(user: StaffUser):
    now = clock.now()
    next_url = session.get("pending", {}).get("next")
    with write_transaction():
        auth.signed_in(user, client_address(), now)
    session.clear()
    regenerate(session)  # a new cookie for the signed-in session: a planted one is worthless
    session.update(uid=user.id, login_at=now.isoformat(), auth_at=now.isoformat())
    left = auth.recovery_codes_left(user)
    if left <= 3:
        flash(MESSAGES["login.recovery_codes_left"].format(left=left), "warning")
    return redirect(safe_next(next_url, url_for(".home")))


def login():
    if current_user():
        return redirect(url_for(".home"))
    form = LoginForm()
    message = None
    if form.validate_on_submit():
        now = clock.now()
        with write_transaction():
            outcome = auth.check_password(form.login.data, form.password.data, client_address(), now)
        if outcome.user:
            session.clear()
            regenerate(session)
            session["pending"] = {"uid": outcome.user.id, "at": now.isoformat(), "stage": "code",
                                  "next": safe_next(request.args.get("next"), "")}
            return redirect(url_for(".login_code")) if outcome.user.totp_secret else _after_stage(outcome.user)
        message = MESSAGES[f"login.{outcome.refusal}"]
    status = 200 if request.method == "GET" or form.errors else 401 if message else 422
    return render_template("admin/login.html", form=form, message=message), status


def login_code():
    found = _pending()
    if not found or found[1]["stage"] != "code":
        return redirect(url_for(".login"))
    user, _ = found
    form = CodeForm()
    message = None
    if form.validate_on_submit():
        with write_transaction():
            outcome = auth.check_code(user.id, form.code.data, client_address(), clock.now())
        if outcome.user:
            return _after_stage(outcome.user)
        message = MESSAGES[f"login.{outcome.refusal}"]
        if outcome.refusal in ("locked", "unusable"):
            session.pop("pending", None)
    return render_template("admin/login_code.html", form=form, message=message), 200 if not message else 401


def login_new_password():
    found = _pending()
    if not found or found[1]["stage"] != "new_password":
        return redirect(url_for(".login"))
    user, _ = found
    form = NewPasswordForm()
    del form.current  # the one-time password was just typed at the sign-in
    problems = []
    if form.validate_on_submit():
        problems = auth.password_problems(user, form.new.data, form.repeat.data)
        if not problems:
            with write_transaction():
                auth.change_password(user, form.new.data, client_address(), clock.now())
            user = StaffUser.get_by_id(user.id)
            return _after_stage(user)
    return render_template("admin/login_new_password.html", form=form,
                           problems=[MESSAGES[f"password.{p}"] for p in problems]), 422 if problems else 200


def login_enrol():
    found = _pending()
    if not found or found[1]["stage"] != "enrol":
        return redirect(url_for(".login"))
    user, pending = found
    secret = pending.get("secret") or auth.new_totp_secret()
    session["pending"] = dict(pending, secret=secret)  # the session is encrypted server-side
    form = EnrolForm()
    message = None
    if form.validate_on_submit():
        with write_transaction():
            codes = auth.enrol_totp(user, secret, form.code.data, client_address(), clock.now())
        if codes:
            session["pending"] = dict(session["pending"], stage="codes", codes=codes, secret=None)
            return redirect(url_for(".login_codes"))
        message = MESSAGES["login.enrol_code"]
    return render_template("admin/login_enrol.html", form=form, message=message, secret=secret,
                           qr=auth.enrolment_qr_svg(user, secret)), 422 if message else 200


def login_codes():
    """The recovery codes, shown once; continuing finishes the sign-in."""
    found = _pending()
    if not found or found[1]["stage"] != "codes":
        return redirect(url_for(".login"))
    user, pending = found
    form = ActionForm()
    if form.validate_on_submit():
        return _finish(user)
    return render_template("admin/recovery_codes.html", form=form, codes=pending["codes"], signing_in=True)


def logout():
    if ActionForm().validate_on_submit():
        session.clear()
        regenerate(session)
        flash(MESSAGES["login.logged_out"], "info")
    return redirect(url_for(".login"))


def reauth():
    user = current_user()
    form = ReauthForm()
    message = None
    if form.validate_on_submit():
        now = clock.now()
        with write_transaction():
            outcome = auth.check_password(user.login, form.password.data, client_address(), now)
            if outcome.user:
                outcome = auth.check_code(user.id, form.code.data, client_address(), now)
        if outcome.user:
            session["auth_at"] = now.isoformat()
            return redirect(safe_next(request.args.get("next"), url_for(".home")))
        message = MESSAGES[f"login.{outcome.refusal}"]
    return render_template("admin/reauth.html", form=form, message=message or MESSAGES["login.reauth_needed"]), \
        401 if request.method == "POST" else 200


def account():
    user = current_user()
    return render_template("admin/account.html", user=user, form=NewPasswordForm(), action=ActionForm(),
                           codes_left=auth.recovery_codes_left(user))


def account_password():
    user = current_user()
    form = NewPasswordForm()
    problems = []
    if form.validate_on_submit():
        if not users.verify_password(user, form.current.data):
            problems = ["current_wrong"]
        else:
            problems = auth.password_problems(user, form.new.data, form.repeat.data)
        if not problems:
            with write_transaction():
                auth.change_password(user, form.new.data, client_address(), clock.now())
            flash(MESSAGES["login.password_changed"], "info")
            return redirect(url_for(".account"))
    return render_template("admin/account.html", user=user, form=form, action=ActionForm(),
                           codes_left=auth.recovery_codes_left(user),
                           problems=[MESSAGES[f"password.{p}"] for p in problems]), 422


def account_recovery_codes():
    user = current_user()
    if not ActionForm().validate_on_submit():
        abort(400)
    with write_transaction():
        codes = auth.new_recovery_codes(user, client_address(), clock.now())
    return render_template("admin/recovery_codes.html", form=ActionForm(), codes=codes, signing_in=False)
