"""Who may reach the admin site and do what, enforced once for every URL rule (blueprint.RULES
declares each rule's role): the address allowlist, the staff session with its idle and absolute
limits, roles, re-authentication for sensitive actions, and the access log."""

from __future__ import annotations

import datetime
import functools
import hmac
import ipaddress
import logging

from flask import abort, flash, g, redirect, request, session, url_for

from appliance import clock, runtime
from appliance.settings import admin_networks
from db.bookings import Actor
from db.connection import Busy, write_transaction
from db.models import AccessLog, StaffUser
from web import traffic
from web.admin import auth
from web.admin.forms import MESSAGES

log = logging.getLogger(__name__)
# "flows": staff who may also edit and publish IVR flows (StaffUser.edits_flows), below administrators
ROLE_RANK = {"viewer": 0, "staff": 1, "flows": 2, "admin": 3}
COOKIE = "madoguchi_admin"


def client_address() -> str:
    return request.remote_addr or ""


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in admin_networks(runtime.settings().admin_allowlist))


def current_user() -> StaffUser | None:
    return g.get("user")


def rank(user: StaffUser) -> int:
    return ROLE_RANK["flows"] if user.role == "staff" and user.edits_flows else ROLE_RANK[user.role]


def may(role: str) -> bool:
    """Whether the signed-in user reaches pages of `role` (the templates' menus ask)."""
    user = current_user()
    return user is not None and rank(user) >= ROLE_RANK[role]


def actor() -> Actor:
    user = g.user
    return Actor(user.login, role=user.role, source=client_address())


def _parse(value: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def refuse_outsiders() -> None:
    """The first before_request of the admin site, before the CSRF check: addresses outside
    admin_allowlist get 403, and nothing is written for them (no session, access-log or counter row)."""
    if not address_allowed(client_address()):
        abort(403)


def load_user() -> None:
    """before_request: find the signed-in user. A session past its idle or absolute limit, or of an
    account since disabled or expired, ends here."""
    g.user = None
    if getattr(session, "ended", False):
        flash(MESSAGES["login.session_ended"], "warning")  # the idle limit removed it
        return
    uid = session.get("uid")
    if not uid:
        return
    now = clock.now()
    login_at = _parse(session.get("login_at"))
    limit = datetime.timedelta(hours=runtime.settings().admin_session_hours)
    user = StaffUser.get_or_none(StaffUser.id == uid)
    if login_at is None or now - login_at > limit or user is None or not auth.usable(user, now):
        session.clear()
        flash(MESSAGES["login.session_ended"], "warning")
        return
    g.user = user


def recently_authenticated() -> bool:
    auth_at = _parse(session.get("auth_at"))
    window = datetime.timedelta(minutes=runtime.settings().admin_reauth_minutes)
    return auth_at is not None and clock.now() - auth_at <= window


def guard(view, role: str | None, sensitive: bool = False):
    """Wrap a view with its declared access: None (sign-in pages), "token" (a machine with the bearer
    token of key_dir/metrics.token: the Prometheus scraper), or the least role that may use it."""
    if role is None:
        return view
    if role == "token":
        return _token_guard(view)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
        if rank(user) < ROLE_RANK[role]:
            abort(403)
        if sensitive and not recently_authenticated():
            target = request.full_path if request.method == "GET" else (request.referrer or url_for("admin.home"))
            return redirect(url_for("admin.reauth", next=target))
        return view(*args, **kwargs)
    return wrapper


METRICS_TOKEN = "metrics.token"


def _token_guard(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        path = runtime.settings().key_dir / METRICS_TOKEN
        if not path.is_file():
            abort(404)  # not switched on (`madoguchi metrics token`)
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not offered or not hmac.compare_digest(offered.encode(), path.read_text().strip().encode()):
            abort(401)
        return view(*args, **kwargs)
    return wrapper


def log_access(response):
    """after_request: one access-log row per request (never the query string: it can hold names).
    Refused addresses are not logged here: they never reached the site."""
    if request.endpoint == "static" or not address_allowed(client_address()):
        return response
    now = clock.now()
    user = current_user()
    try:
        with write_transaction():
            AccessLog.create(at=now, actor=user.login if user else "", endpoint=request.endpoint or "-",
                             method=request.method, status=response.status_code, source=client_address())
    except Busy:
        log.warning("access log row skipped: database busy (endpoint=%s)", request.endpoint)
    traffic.count("admin", now)
    return response


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site (never //host or a scheme) is followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
