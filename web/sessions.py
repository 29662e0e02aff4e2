"""Server-side sessions in the encrypted database: the cookie holds only a random token, the table
only the token's hash and the AES-GCM-encrypted session data."""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets

from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from appliance import clock, runtime
from db.connection import write_transaction
from db.models import WebSession

COOKIE = "madoguchi_session"
REFRESH_AFTER = datetime.timedelta(minutes=5)  # extend the idle deadline at most this often (one write)


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, data=None, token: str | None = None, expires_at: datetime.datetime | None = None):
        def on_update(_):
            self.modified = True
        super().__init__(data or {}, on_update)
        self.token = token
        self.expires_at = expires_at
        self.modified = False
        self.permanent = True


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DatabaseSessionInterface(SessionInterface):
    """cookie: each site has its own (cookies ignore the port, so both sites on one host would share
    one name); idle_setting: the setting that holds the idle lifetime in minutes."""

    def __init__(self, cookie: str = COOKIE, idle_setting: str = "session_idle_minutes"):
        self.cookie, self.idle_setting = cookie, idle_setting

    def open_session(self, app, request):
        token = request.cookies.get(self.cookie)
        if token and len(token) < 100:
            row = WebSession.get_or_none(WebSession.token_hash == _hash(token))
            if row and row.expires_at > clock.now():
                return ServerSession(json.loads(row.data), token, row.expires_at)
        return ServerSession()

    def save_session(self, app, session: ServerSession, response):
        now = clock.now()
        lifetime = datetime.timedelta(minutes=getattr(runtime.settings(), self.idle_setting))
        secure = app.config.get("SESSION_COOKIE_SECURE") or False
        if not session:
            if session.token and session.modified:
                with write_transaction():
                    WebSession.delete().where(WebSession.token_hash == _hash(session.token)).execute()
                response.delete_cookie(self.cookie, path="/")
            return
        stale = session.expires_at is None or session.expires_at - now < lifetime - REFRESH_AFTER
        if not (session.modified or stale):
            return
        token = session.token or secrets.token_urlsafe(32)
        expires_at = now + lifetime
        with write_transaction():
            (WebSession.insert(token_hash=_hash(token), data=json.dumps(dict(session), ensure_ascii=False),
                               expires_at=expires_at, updated_at=now)
             .on_conflict_replace().execute())
        response.set_cookie(self.cookie, token, max_age=int(lifetime.total_seconds()), httponly=True,
                            secure=secure, samesite="Lax", path="/")
        response.vary.add("Cookie")


def regenerate(session: ServerSession) -> None:
    """New token for the same data (after a booking or look-up), so an older cookie is worthless."""
    if session.token:
        with write_transaction():
            WebSession.delete().where(WebSession.token_hash == _hash(session.token)).execute()
    session.token = None
    session.modified = True


def purge_expired(now: datetime.datetime) -> int:
    return WebSession.delete().where(WebSession.expires_at <= now).execute()
