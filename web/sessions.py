"""Server-side sessions in the encrypted database: the cookie holds only a random token, the table
only the token's hash and the AES-GCM-encrypted session data.

A row is written only once there is something to keep. A visitor who only reads pages, or a crawler,
writes nothing: the CSRF token of a form is derived from the cookie's token (an HMAC under the
app's secret), so a page with a form sets the cookie but stores no row.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import secrets

from flask import g
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from appliance import clock, runtime
from db.connection import write_transaction
from db.models import WebSession

COOKIE = "madoguchi_session"
CSRF_KEY = "csrf_token"  # Flask-WTF's name for the session's raw CSRF token
REFRESH_AFTER = datetime.timedelta(minutes=5)  # extend the idle deadline at most this often (one write)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


class ServerSession(CallbackDict, SessionMixin):
    """stored: a row holds this session; ended: the session had a row that has since expired (the
    admin site tells the clerk). The CSRF token is never stored: it follows from the token."""

    permanent = True  # the cookie always carries the idle lifetime (and SessionMixin would store a key)

    def __init__(self, data=None, token: str | None = None, expires_at: datetime.datetime | None = None, *,
                 secret: bytes = b"", stored: bool = False, ended: bool = False):
        def on_update(_):
            self.modified = True
        super().__init__(data or {}, on_update)
        self.token = token or secrets.token_urlsafe(32)
        self.token_sent = token is not None  # the browser already holds this token
        self.expires_at = expires_at
        self.secret, self.stored, self.ended = secret, stored, ended
        self.replaced = False  # regenerate() gave it a new token: the browser's cookie must change
        self.modified = False

    def csrf(self) -> str:
        return hmac.new(self.secret, b"csrf:" + self.token.encode(), hashlib.sha256).hexdigest()

    def __contains__(self, key):
        return key == CSRF_KEY or super().__contains__(key)

    def __getitem__(self, key):
        return self.csrf() if key == CSRF_KEY else super().__getitem__(key)

    def get(self, key, default=None):
        return self.csrf() if key == CSRF_KEY else super().get(key, default)

    def __setitem__(self, key, value):
        if key != CSRF_KEY:  # Flask-WTF offers a random one when it finds none: ours is derived
            super().__setitem__(key, value)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DatabaseSessionInterface(SessionInterface):
    """cookie: each site has its own (cookies ignore the port, so both sites on one host would share
    one name); idle_setting: the setting that holds the idle lifetime in minutes."""

    def __init__(self, cookie: str = COOKIE, idle_setting: str = "session_idle_minutes"):
        self.cookie, self.idle_setting = cookie, idle_setting

    def open_session(self, app, request):
        token = request.cookies.get(self.cookie, "")
        if not _TOKEN.fullmatch(token):
            return ServerSession(secret=app.secret_key)
        row = WebSession.get_or_none(WebSession.token_hash == _hash(token))
        if row and row.expires_at > clock.now():
            return ServerSession(json.loads(row.data), token, row.expires_at, secret=app.secret_key, stored=True)
        if row is not None:  # expired: say so once, and never take the old token up again
            return ServerSession(secret=app.secret_key, ended=True)
        return ServerSession(None, token, secret=app.secret_key)

    def save_session(self, app, session: ServerSession, response):
        now = clock.now()
        lifetime = datetime.timedelta(minutes=getattr(runtime.settings(), self.idle_setting))
        if not session:
            if session.stored and session.modified:  # cleared: its row goes
                with write_transaction():
                    WebSession.delete().where(WebSession.token_hash == _hash(session.token)).execute()
            if CSRF_KEY in g and not session.token_sent:  # a form's token needs the cookie, not a row
                self._set_cookie(app, response, session.token, lifetime)
            elif session.replaced:  # the old token names nothing any more: the browser forgets it
                response.delete_cookie(self.cookie, path="/")
            return
        stale = session.expires_at is None or session.expires_at - now < lifetime - REFRESH_AFTER
        if session.stored and not (session.modified or stale):
            return
        with write_transaction():
            (WebSession.insert(token_hash=_hash(session.token), data=json.dumps(dict(session), ensure_ascii=False),
                               expires_at=now + lifetime, updated_at=now)
             .on_conflict_replace().execute())
        self._set_cookie(app, response, session.token, lifetime)

    def _set_cookie(self, app, response, token: str, lifetime: datetime.timedelta) -> None:
        response.set_cookie(self.cookie, token, max_age=int(lifetime.total_seconds()), httponly=True,
                            secure=app.config.get("SESSION_COOKIE_SECURE") or False, samesite="Lax", path="/")
        response.vary.add("Cookie")


def regenerate(session: ServerSession) -> None:
    """A new token for the same data (when personal data enters the session, and when it leaves), so
    an older cookie, or a page a shared browser kept, is worthless."""
    if session.stored:
        with write_transaction():
            WebSession.delete().where(WebSession.token_hash == _hash(session.token)).execute()
    session.replaced = session.replaced or session.token_sent
    session.token, session.token_sent, session.stored = secrets.token_urlsafe(32), False, False
    session.modified = True
