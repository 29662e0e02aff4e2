"""Access to the admin site: every route refuses anonymous users, viewers change nothing, the address
allowlist, sign-in with a single-use TOTP code, first sign-in (new password, authenticator, recovery
codes), lockout without locking out the real user, session limits and re-authentication."""

from __future__ import annotations

import datetime
import re

import pytest

from db.models import AccessLog, AuditLog, RateLimit, StaffUser, WebSession
from tests.conftest import reload
from tests.web.admin.conftest import PASSWORD, code_for
from web.admin.blueprint import RULES

OPEN_ENDPOINTS = {endpoint for _, endpoint, _, _, role, _ in RULES if role in (None, "token")}  # token: 401


def concrete(rule) -> str:
    """A URL for the rule with its variables filled (the guard answers before any lookup)."""
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if m.group(0).startswith("<int:") else "x", rule.rule)


def admin_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]


def test_every_route_refuses_anonymous_users(admin_app, clerk_client):
    """Walking app.url_map: each admin route, GET and POST (with a valid CSRF token, so the guard itself
    answers), sends an anonymous client to the sign-in page and shows nothing else. Only the sign-in
    pages themselves are open."""
    anonymous = clerk_client()
    anonymous.get("/login")
    checked = 0
    for rule in admin_rules(admin_app):
        endpoint = rule.endpoint.removeprefix("admin.")
        if endpoint in OPEN_ENDPOINTS:
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = anonymous.get(concrete(rule)) if method == "GET" else anonymous.post(concrete(rule))
            assert response.status_code == 302, (rule.rule, method, response.status_code)
            assert response.headers["Location"].startswith("/login"), (rule.rule, method)
            checked += 1
    assert checked >= 40
    assert {r.endpoint.removeprefix("admin.") for r in admin_rules(admin_app)} >= OPEN_ENDPOINTS


def test_viewer_cannot_change_anything(admin_app, viewer, dummy_slot):
    """Every POST route except the viewer's own account and sign-in pages answers 403 to a viewer, and
    the admin-only pages refuse their GET too."""
    own = OPEN_ENDPOINTS | {"reauth", "account_password", "account_recovery_codes"}
    before = AuditLog.select().count()
    refused = 0
    for rule in admin_rules(admin_app):
        endpoint = rule.endpoint.removeprefix("admin.")
        role = next(r for _, e, _, _, r, _ in RULES if e == endpoint)
        if endpoint in own:
            continue
        if "POST" in rule.methods:
            assert viewer.post(concrete(rule), data={"status": "attended", "version": "1"}).status_code == 403, rule.rule
            refused += 1
        if role == "admin" and "GET" in rule.methods:
            assert viewer.get(concrete(rule)).status_code == 403, rule.rule
    assert refused >= 15
    assert AuditLog.select().count() == before


def test_address_outside_the_allowlist_gets_403_everywhere(clerk_client, create_user, settings_override):
    """Only the configured networks reach the site at all: other addresses get 403 on the sign-in page,
    on static files and on pages, even with a valid session."""
    settings_override(admin_allowlist="192.168.10.0/24")
    inside = clerk_client(create_user("admin"), address="192.168.10.20")
    assert inside.get("/").status_code == 200
    outsider = clerk_client(address="10.0.0.5")
    assert outsider.get("/login").status_code == 403
    assert outsider.get("/static/css/admin.css").status_code == 403
    inside.client.environ_base["REMOTE_ADDR"] = "10.0.0.5"  # the same cookie from elsewhere
    assert inside.get("/").status_code == 403


def test_an_outsider_is_refused_before_anything_else_and_writes_nothing(clerk_client, settings_override):
    """A POST to /login from outside the allowlist gets 403 (not CSRF's 400) and leaves no session,
    access-log or rate-limit row behind."""
    settings_override(admin_allowlist="192.168.10.0/24")
    outsider = clerk_client(address="10.0.0.5")
    before = [m.select().count() for m in (WebSession, AccessLog, RateLimit, AuditLog)]
    for _ in range(3):
        refused = outsider.client.post("/login", data={"login": "admin", "password": "x"})
        assert refused.status_code == 403 and "この端末からは使えません" in refused.text
        assert "Set-Cookie" not in refused.headers
    assert [m.select().count() for m in (WebSession, AccessLog, RateLimit, AuditLog)] == before


def test_sign_in_needs_password_and_a_code_that_works_once(clerk_client, create_user, frozen_now):
    """A code is accepted once: signing in again with the same code (still inside its 30 s) is refused."""
    user = create_user("staff")
    first = clerk_client()
    first.sign_in(user)
    code = code_for(user, frozen_now["now"])
    assert first.get("/").status_code == 200
    second = clerk_client()
    second.get("/login")
    second.post("/login", data={"login": user.login, "password": PASSWORD})
    second.get("/login/code")
    refused = second.post("/login/code", data={"code": code})
    assert refused.status_code == 401 and "すでに使われたコード" in refused.get_data(as_text=True)
    assert second.get("/").headers["Location"].startswith("/login")
    assert AuditLog.select().where(AuditLog.action == "login.code", AuditLog.actor == user.login).count() == 1


def test_a_code_in_full_width_digits_works_and_other_digits_are_refused(clerk_client, create_user, frozen_now):
    """The code typed with a Japanese IME (全角) signs in; the same digits in Arabic-Indic script are a
    wrong code (a 401 with the Japanese message, not a crash in the comparison)."""
    user = create_user("staff")
    code = code_for(user, frozen_now["now"] + datetime.timedelta(seconds=30))
    arabic = "".join(chr(0x0660 + int(d)) for d in code)
    clerk = clerk_client()
    clerk.clock["now"] += datetime.timedelta(seconds=30)
    clerk.get("/login")
    clerk.post("/login", data={"login": user.login, "password": PASSWORD})
    clerk.get("/login/code")
    refused = clerk.post("/login/code", data={"code": arabic})
    assert refused.status_code == 401 and "確認コードが違うか" in refused.get_data(as_text=True)
    full_width = "".join(chr(0xFF10 + int(d)) for d in code)
    assert clerk.post("/login/code", data={"code": full_width}).headers["Location"] == "/"


def test_wrong_password_and_unknown_login_look_the_same(clerk_client, create_user):
    """Neither tells whether the login exists; the typed login is not written to the audit log."""
    user = create_user("staff")
    client = clerk_client()
    client.get("/login")
    wrong = client.post("/login", data={"login": user.login, "password": "nope nope nope"})
    unknown = client.post("/login", data={"login": "no-such-person", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert "ログインIDまたはパスワードが違います" in wrong.get_data(as_text=True)
    assert "ログインIDまたはパスワードが違います" in unknown.get_data(as_text=True)
    assert not AuditLog.select().where(AuditLog.object_id == "no-such-person").exists()


def test_lockout_stops_the_attacker_address_but_not_the_user_at_their_desk(clerk_client, create_user,
                                                                           settings_override):
    """Five wrong passwords from one address lock that login there (even the right password is then
    refused); the same user signs in from their own desk without trouble."""
    settings_override(admin_allowlist="127.0.0.0/8")
    user = create_user("staff")
    attacker = clerk_client(address="127.0.0.66")
    attacker.get("/login")
    for _ in range(5):
        assert attacker.post("/login", data={"login": user.login, "password": "guess guess"}).status_code == 401
    locked = attacker.post("/login", data={"login": user.login, "password": PASSWORD})
    assert locked.status_code == 401 and "15分間止めています" in locked.get_data(as_text=True)
    desk = clerk_client(address="127.0.0.10")
    assert desk.sign_in(user).headers["Location"] == "/"


def test_first_sign_in_sets_a_password_an_authenticator_and_recovery_codes(clerk_client, create_user,
                                                                           frozen_now):
    """A new account (one-time password, no TOTP yet) must choose a new password, enrol an authenticator
    with a code, and is shown recovery codes once; a recovery code then signs in once."""
    user = create_user("staff", totp=False, must_change=True)
    client = clerk_client()
    client.get("/login")
    assert client.post("/login", data={"login": user.login, "password": PASSWORD}).headers["Location"] == \
        "/login/new-password"
    assert client.get("/").headers["Location"].startswith("/login")  # nothing else until finished
    client.get("/login/new-password")
    weak = client.post("/login/new-password", data={"new": "short", "repeat": "short"})
    assert weak.status_code == 422 and "12文字以上" in weak.get_data(as_text=True)
    new_password = "a much better passphrase 7"
    assert client.post("/login/new-password", data={"new": new_password, "repeat": new_password}) \
        .headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    wrong = client.post("/login/enrol", data={"code": "000000"})
    assert wrong.status_code == 422
    import pyotp
    code = pyotp.TOTP(secret).at(int(frozen_now["now"].timestamp()))
    assert client.post("/login/enrol", data={"code": code}).headers["Location"] == "/login/recovery-codes"
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", client.get("/login/recovery-codes").get_data(as_text=True))
    assert len(codes) == 10
    assert client.post("/login/recovery-codes").headers["Location"] == "/"
    assert client.get("/").status_code == 200
    stored = reload(user)
    assert not stored.must_change_password and stored.totp_secret == secret

    other = clerk_client()
    other.get("/login")
    other.post("/login", data={"login": user.login, "password": new_password})
    other.get("/login/code")
    assert other.post("/login/code", data={"code": codes[0].upper()}).headers["Location"] == "/"
    again = clerk_client()
    again.get("/login")
    again.post("/login", data={"login": user.login, "password": new_password})
    again.get("/login/code")
    assert again.post("/login/code", data={"code": codes[0]}).status_code == 401


def test_disabled_or_expired_accounts_end_their_sessions(clerk, frozen_now):
    """Disabling an account (or passing its expiry) ends a session that is already open."""
    assert clerk.get("/").status_code == 200
    user = StaffUser.get(StaffUser.role == "staff")
    StaffUser.update(expires_at=frozen_now["now"] + datetime.timedelta(minutes=1)).where(StaffUser.id == user.id).execute()
    frozen_now["now"] += datetime.timedelta(minutes=2)
    assert clerk.get("/").headers["Location"].startswith("/login")


def test_idle_and_absolute_session_limits(clerk_client, create_user, frozen_now, settings_override):
    """A session ends after admin_idle_minutes without a click, and after admin_session_hours however busy."""
    settings_override(admin_idle_minutes=30, admin_session_hours=2)
    idle = clerk_client(create_user("staff"))
    frozen_now["now"] += datetime.timedelta(minutes=31)
    assert idle.get("/").headers["Location"].startswith("/login")

    busy = clerk_client(create_user("staff"))
    for _ in range(4):  # a click every 25 minutes keeps the idle limit away...
        frozen_now["now"] += datetime.timedelta(minutes=25)
        assert busy.get("/").status_code == 200
    frozen_now["now"] += datetime.timedelta(minutes=21)  # ...but not past two hours after sign-in
    ended = busy.get("/")
    assert ended.headers["Location"].startswith("/login")
    assert "ログアウトしました" in busy.get(ended.headers["Location"]).get_data(as_text=True)


def test_sensitive_actions_ask_for_password_and_code_again(clerk_client, create_user, frozen_now, dummy_slot):
    """After admin_reauth_minutes, a personal-data export leads through /reauth; a wrong code is refused,
    the right one returns to the export."""
    user = create_user("staff")
    clerk = clerk_client(user)
    url = f"/lists/export.csv?venue={dummy_slot.venue_id}&date={dummy_slot.date}&encoding=utf-8"
    assert clerk.get(url).status_code == 200
    frozen_now["now"] += datetime.timedelta(minutes=11)
    redirected = clerk.get(url)
    assert redirected.headers["Location"].startswith("/reauth")
    clerk.get(redirected.headers["Location"])
    assert clerk.post(redirected.headers["Location"], data={"password": PASSWORD, "code": "123456"}).status_code == 401
    frozen_now["now"] += datetime.timedelta(seconds=30)
    back = clerk.post(redirected.headers["Location"],
                      data={"password": PASSWORD, "code": code_for(user, frozen_now["now"])})
    assert back.headers["Location"] == url
    assert clerk.get(url).status_code == 200


def test_every_request_is_in_the_access_log(clerk):
    """One access-log row per request, naming the function (endpoint), never the query string."""
    before = AccessLog.select().count()
    clerk.get("/bookings?kana=ヤマダ")
    row = AccessLog.select().order_by(AccessLog.id.desc()).get()
    assert AccessLog.select().count() == before + 1
    assert (row.endpoint, row.method, row.status, row.source) == ("admin.bookings", "GET", 200, "127.0.0.1")
    assert "ヤマダ" not in str(row.__data__)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_the_site(clerk_client, create_user, target):
    """A crafted ?next= is ignored after sign-in."""
    user = create_user("staff")
    client = clerk_client()
    client.get("/login")
    client.post(f"/login?next={target}", data={"login": user.login, "password": PASSWORD})
    client.get("/login/code")
    response = client.post("/login/code", data={"code": code_for(user, client.clock["now"])})
    assert response.headers["Location"] == "/"
