"""Security declared once: CSRF on every unsafe route (walking app.url_map), headers, no caching,
rate limits, server-side sessions that hold no readable data."""

from __future__ import annotations

import pytest

from db.models import WebSession
from tests.web.conftest import Citizen
from web import csrf

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_unsafe_route_refuses_a_request_without_csrf_token(app, frozen_now):
    """Walk the URL map: each POST route of the citizens' site is CSRF-protected and refuses a bare POST.
    Only the machine API is exempt, and each of its routes refuses a wrong secret in its URL."""
    assert not csrf._exempt_views and {b.name for b in csrf._exempt_blueprints} == {"api"}
    client = app.test_client()
    client.get("/start")  # a real session exists; only the token is missing
    for rule in [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]:
        assert client.post(rule.rule.replace("<token>", "0" * 32), json={}).status_code == 404, rule.rule
    routes = [r for r in app.url_map.iter_rules() if r.methods & UNSAFE and not r.endpoint.startswith("api.")]
    assert len(routes) >= 7
    for rule in routes:
        url = rule.rule.replace("<slug>", "dummy").replace("<day>", "2026-12-10").replace("<size>", "large")
        response = client.post(url, data={"slot_id": "1", "version": "1", "nonce": "x"})
        assert response.status_code == 400, rule.rule
        assert "受け付けられませんでした" in response.get_data(as_text=True)


def test_security_headers_and_no_store(app, frozen_now):
    response = app.test_client().get("/")
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "<html lang=\"ja\">" in response.get_data(as_text=True)
    static = app.test_client().get("/static/css/site.css")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"


def test_no_inline_script_or_style_in_pages(app, frozen_now):
    """The CSP forbids inline code, so no page may rely on it."""
    client = Citizen(app.test_client())
    for url in ("/", "/start", "/lookup"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "<style" not in html, url


def test_session_cookie_and_storage(app, frozen_now, questions):
    """Reading pages writes no session row, not even a page with a form (its CSRF token follows from
    the cookie, which is HttpOnly and SameSite). The first answer worth keeping writes one row, holding
    a hash of the token and encrypted data only."""
    citizen = Citizen(app.test_client())
    assert "Set-Cookie" not in citizen.get("/").headers  # no form: nothing to remember
    cookie = citizen.get("/start").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert WebSession.select().count() == 0
    assert citizen.post("/start", data={f"q{q.id}": "y" for q in questions}).status_code == 302
    token = cookie.split("=", 1)[1].split(";", 1)[0]
    row = WebSession.get()
    assert row.token_hash != token and len(row.token_hash) == 64
    raw = WebSession._meta.database.execute_sql("SELECT data FROM web_session").fetchone()[0]
    assert b"eligible" not in raw and b"csrf_token" not in raw


def test_lookup_is_rate_limited_per_address(app, frozen_now, instance, settings_override):
    settings_override(rate_limit_per_ip=3)
    citizen = Citizen(app.test_client())
    citizen.get("/lookup")
    form = {"number": "12345674", "birth_year": "1950", "birth_month": "1", "birth_day": "1", "phone_last4": "1234"}
    statuses = [citizen.post("/lookup", data=form).status_code for _ in range(5)]
    assert statuses == [404, 404, 404, 429, 429]
    assert "10分ほどおいて" in citizen.post("/lookup", data=form).get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/"])
def test_text_size_switch_never_redirects_off_site(app, frozen_now, target):
    response = app.test_client().get(f"/textsize/large?next={target}")
    assert response.headers["Location"] == "/"
    assert "textsize=large" in response.headers["Set-Cookie"]


def test_booking_attempts_are_limited_per_phone_number(app, frozen_now, settings_override, questions, create_slot):
    """The second attempt with the same phone number within a day is refused with a Japanese message,
    and books nothing."""
    from db.models import Booking
    from tests.web.public.test_flow import book_through_the_site
    settings_override(rate_limit_per_phone=1, one_booking_per_person=False)
    slot = create_slot(capacity=5)
    first, _ = book_through_the_site(Citizen(app.test_client()), questions, slot)
    assert first.status_code == 302
    second, _ = book_through_the_site(Citizen(app.test_client()), questions, slot)
    assert second.status_code == 429 and "本日の上限に達しました" in second.get_data(as_text=True)
    assert Booking.select().count() == 1
