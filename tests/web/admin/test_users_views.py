"""Staff accounts on the admin site: an administrator adds a clerk (a one-time password shown once),
disables and re-enables, sets an expiry, and resets a forgotten password or a lost phone; each step is
one audit row, and a disabled clerk's open session ends."""

from __future__ import annotations

import datetime
import re

from db.models import AuditLog, StaffUser
from tests.conftest import reload


def one_time_password(page) -> str:
    return re.search(r'<code class="secret">([^<]+)</code>', page.get_data(as_text=True)).group(1)


def test_add_a_clerk_who_then_signs_in_for_the_first_time(admin, clerk_client):
    admin.get("/users")
    page = admin.post("/users/new", data={"login": "Suzuki.T", "display_name": "鈴木", "role": "staff",
                                          "expires": "2027-03-31"})
    password = one_time_password(page)
    account = StaffUser.get(StaffUser.login == "suzuki.t")
    assert account.must_change_password and account.totp_secret is None
    assert account.expires_at.astimezone(datetime.timezone(datetime.timedelta(hours=9))).date() == \
        datetime.date(2027, 3, 31)
    assert AuditLog.select().where(AuditLog.action == "user.add", AuditLog.object_id == "suzuki.t").count() == 1
    newcomer = clerk_client()
    newcomer.get("/login")
    first = newcomer.post("/login", data={"login": "suzuki.t", "password": password})
    assert first.headers["Location"] == "/login/new-password"


def test_bad_or_taken_logins_are_refused_in_japanese(admin, create_user):
    create_user("staff", login="taken")
    admin.get("/users")
    taken = admin.post("/users/new", data={"login": "taken", "display_name": "x", "role": "staff"})
    assert taken.status_code == 422 and "すでに使われています" in taken.get_data(as_text=True)
    bad = admin.post("/users/new", data={"login": "山田", "display_name": "x", "role": "staff"})
    assert bad.status_code == 422 and "英小文字・数字" in bad.get_data(as_text=True)


def test_disabling_ends_the_clerks_session_and_enabling_restores_sign_in(admin, clerk_client, create_user):
    user = create_user("staff")
    clerk = clerk_client(user)
    admin.get("/users")
    admin.post(f"/users/{user.login}", data={"action": "disable"})
    assert reload(user).disabled
    assert clerk.get("/").headers["Location"].startswith("/login")
    admin.post(f"/users/{user.login}", data={"action": "enable"})
    assert not reload(user).disabled
    assert clerk_client(user).get("/").status_code == 200


def test_reset_for_a_lost_phone_removes_the_authenticator(admin, create_user):
    user = create_user("staff")
    admin.get("/users")
    page = admin.post(f"/users/{user.login}", data={"action": "reset_mfa"})
    assert one_time_password(page)
    stored = reload(user)
    assert stored.must_change_password and stored.totp_secret is None
    assert AuditLog.select().where(AuditLog.action == "user.reset").count() == 1


def test_expiry_can_be_set_and_cleared(admin, create_user):
    user = create_user("viewer")
    admin.get("/users")
    admin.post(f"/users/{user.login}", data={"action": "expiry", "expires": "2026-12-31"})
    assert reload(user).expires_at is not None
    admin.post(f"/users/{user.login}", data={"action": "expiry", "expires": ""})
    assert reload(user).expires_at is None


def test_an_administrator_cannot_lock_themselves_or_the_last_admin_out(admin):
    me = StaffUser.get(StaffUser.role == "admin")
    admin.get("/users")
    refused = admin.post(f"/users/{me.login}", data={"action": "disable"})
    assert refused.status_code == 302 and not reload(me).disabled
    assert "自分のアカウント" in admin.get("/users").get_data(as_text=True)
