"""Fixtures for the admin site: the Flask app on the session database, staff accounts with known
passwords and TOTP secrets, and a Clerk client that signs in as a person does (password, then the
code their authenticator app shows) and posts forms with the CSRF token of the page it last read."""

from __future__ import annotations

import datetime
import itertools

import pyotp
import pytest

from db import users
from db.models import StaffUser
from tests.conftest import NOW
from tests.web.conftest import Citizen
from web import create_app

PASSWORD = "correct horse battery staple"
_logins = itertools.count(1)


@pytest.fixture
def admin_app(db, instance):
    app = create_app(instance, site="admin")
    app.config["TESTING"] = True
    return app


@pytest.fixture
def create_user(db):
    """create_user(role, totp=True, must_change=False): a StaffUser with PASSWORD (and a TOTP secret)."""
    def factory(role: str = "staff", *, totp: bool = True, must_change: bool = False, **kw) -> StaffUser:
        login = kw.pop("login", f"{role}{next(_logins)}")
        return StaffUser.create(login=login, display_name=kw.pop("display_name", f"{role}さん"), role=role,
                                password_hash=users.hash_password(PASSWORD), must_change_password=must_change,
                                totp_secret=pyotp.random_base32() if totp else None, created_at=NOW, **kw)
    return factory


def code_for(user: StaffUser, at: datetime.datetime) -> str:
    return pyotp.TOTP(user.totp_secret).at(int(at.timestamp()))


class Clerk(Citizen):
    """A browser-like client (the CSRF token of the last page goes with every POST) that signs in."""

    def __init__(self, client, clock_state):
        super().__init__(client)
        self.clock = clock_state

    def sign_in(self, user: StaffUser, *, code: str | None = None):
        """Password, then the current TOTP code (the clock moves 30 s on, so each sign-in has a fresh one)."""
        self.clock["now"] += datetime.timedelta(seconds=30)
        self.get("/login")
        first = self.post("/login", data={"login": user.login, "password": PASSWORD})
        assert first.status_code == 302, first.get_data(as_text=True)
        self.get("/login/code")
        return self.post("/login/code", data={"code": code or code_for(user, self.clock["now"])})

    def refresh_token(self):
        self.get("/account")


@pytest.fixture
def clerk_client(admin_app, frozen_now):
    """clerk_client(user=None, address='127.0.0.1'): a Clerk, signed in as the user when one is given."""
    def make(user: StaffUser | None = None, address: str = "127.0.0.1") -> Clerk:
        client = admin_app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        clerk = Clerk(client, frozen_now)
        if user is not None:
            response = clerk.sign_in(user)
            assert response.status_code == 302 and "/login" not in response.headers["Location"], \
                response.get_data(as_text=True)
            clerk.refresh_token()
        return clerk
    return make


@pytest.fixture
def clerk(clerk_client, create_user):
    return clerk_client(create_user("staff"))


@pytest.fixture
def admin(clerk_client, create_user):
    return clerk_client(create_user("admin"))


@pytest.fixture
def viewer(clerk_client, create_user):
    return clerk_client(create_user("viewer"))
