"""Fixtures for the web sites: the Flask app on the session database, and a client that follows
the citizen's flow (CSRF tokens read from the pages, as a browser would send them)."""

from __future__ import annotations

import datetime
import re

import pytest

from appliance import clock
from db import bookings
from db.models import EligibilityQuestion
from tests.conftest import NOW, make_applicant
from web import create_app

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(db, instance):
    app = create_app(instance)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def frozen_now(monkeypatch):
    """Pin the clock the views read to tests.conftest.NOW (optionally moved by the test)."""
    state = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: state["now"])
    monkeypatch.setattr(clock, "today", lambda: state["now"].astimezone(clock.TOKYO).date())
    return state


class Citizen:
    """A test client that keeps the last page's CSRF token and posts it back."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, url, **kw):
        response = self.client.get(url, **kw)
        self._remember(response)
        return response

    def post(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        response = self.client.post(url, data=data, **kw)
        self._remember(response)
        return response

    def _remember(self, response):
        if response.mimetype != "text/html":
            return  # a PDF or CSV download
        match = CSRF.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1) or match.group(2)


@pytest.fixture
def citizen(app, frozen_now):
    return Citizen(app.test_client())


@pytest.fixture
def questions(db):
    return [EligibilityQuestion.create(sort_order=1, text="電子証明書の更新です", required=True,
                                       guidance="カードの更新は別の手続きです"),
            EligibilityQuestion.create(sort_order=2, text="通知書を持っています", required=False)]


DETAILS = {"name": "市役 太郎", "kana": "しやく たろう", "phone": "０９０－１２３４－５６７８",
           "birth_year": "1950", "birth_month": "3", "birth_day": "4", "notify": "sms", "email": ""}
BIRTH = datetime.date(1950, 3, 4)


@pytest.fixture
def city(db, create_slot, questions, settings_override):
    """A slot with room and one booking on it, rate limits out of the way (for the fuzz tests)."""
    settings_override(rate_limit_per_ip=10**6, rate_limit_per_phone=10**6)
    slot = create_slot(capacity=50)
    return slot, bookings.book(slot.id, make_applicant(), "web", NOW)
