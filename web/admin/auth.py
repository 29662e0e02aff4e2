"""Staff sign-in: an argon2id password, then a TOTP code that is accepted once (or a one-time recovery
code). Failures are counted per login *and address* (and per address across logins), so an attacker
elsewhere on the network slows only themselves and never locks the real user out at their own desk.

Nothing here commits: the view wraps each step in one write transaction, which commits refusals too
(the failure counters and their audit rows must stay).
"""

from __future__ import annotations

import datetime
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache

import pyotp
import segno

from appliance import runtime
from db import audit, crypto, ratelimit, users
from db.models import RecoveryCode, StaffUser

FAILURES_PER_LOGIN_AND_ADDRESS = 5
FAILURES_PER_ADDRESS = 30
LOCK_WINDOW = datetime.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
RECOVERY_CODE_COUNT = 10
TOTP_STEP = 30  # seconds (RFC 6238 default, what every authenticator app uses)
ISSUER = "madoguchi"
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read off paper


@dataclass(frozen=True)
class Outcome:
    """A sign-in step's result: the user, or why not ("credentials", "locked", "unusable")."""

    user: StaffUser | None
    refusal: str = ""


def _limits(login: str, source: str) -> list[ratelimit.Limit]:
    return [ratelimit.Limit("admin-login", f"{login}|{source}", FAILURES_PER_LOGIN_AND_ADDRESS, LOCK_WINDOW),
            ratelimit.Limit("admin-address", source, FAILURES_PER_ADDRESS, LOCK_WINDOW)]


@cache
def _dummy_hash() -> str:
    return users.hash_password(secrets.token_hex(16))


def usable(user: StaffUser, now: datetime.datetime) -> bool:
    return not user.disabled and (user.expires_at is None or user.expires_at > now)


def _refuse(user: StaffUser | None, code: str, limits, source: str, now: datetime.datetime) -> Outcome:
    if code != "locked":
        ratelimit.exceeded(limits, now)
    # A mistyped login is not recorded as typed: people type their password into the wrong field.
    audit.record(user.login if user else "-", f"login.{code}", "staff_user", user.login if user else "unknown",
                 now, source=source)
    return Outcome(None, code)


def check_password(login: str, password: str, source: str, now: datetime.datetime) -> Outcome:
    """The first step. Wrong login and wrong password look the same and take the same time."""
    login = (login or "").strip().lower()[:40]
    limits = _limits(login, source)
    user = StaffUser.get_or_none(StaffUser.login == login)
    if any(ratelimit.reached(rule, now) for rule in limits):
        return _refuse(user, "locked", limits, source, now)
    if user is None:
        _burn(password)
        return _refuse(None, "credentials", limits, source, now)
    if not users.verify_password(user, password or ""):
        return _refuse(user, "credentials", limits, source, now)
    if not usable(user, now):
        return _refuse(user, "unusable", limits, source, now)
    return Outcome(user)


def _burn(password: str | None) -> None:
    """Spend the time a real verification takes, so timing does not tell which logins exist."""
    users.verify_hash(_dummy_hash(), password or "-")


def _typed_code(code: str) -> str:
    """A TOTP or recovery code as typed (full-width too), without spaces or hyphens."""
    return "".join(unicodedata.normalize("NFKC", code or "").split()).replace("-", "")


def _accept_totp(user: StaffUser, code: str, now: datetime.datetime) -> bool:
    """A code of the previous, current or next 30-second step, never one at or before the last used."""
    if not (len(code) == 6 and code.isascii() and code.isdigit() and user.totp_secret):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = int(now.timestamp()) // TOTP_STEP
    for step in (current - 1, current, current + 1):
        if step > user.totp_last_step and crypto.same_text(totp.at(step * TOTP_STEP), code):
            # Conditional, so two requests racing with the same code cannot both win.
            taken = (StaffUser.update(totp_last_step=step)
                     .where(StaffUser.id == user.id, StaffUser.totp_last_step < step).execute())
            user.totp_last_step = step
            return bool(taken)
    return False


def _recovery_hash(code: str) -> str:
    return crypto.cipher().blind_index(code.lower(), "recovery-code")


def _accept_recovery_code(user: StaffUser, code: str, now: datetime.datetime) -> bool:
    code = code.lower()
    if len(code) != 10:
        return False
    return bool(RecoveryCode.update(used_at=now)
                .where(RecoveryCode.user == user, RecoveryCode.code_hash == _recovery_hash(code),
                       RecoveryCode.used_at.is_null()).execute())


def check_code(user_id: int, code: str, source: str, now: datetime.datetime) -> Outcome:
    """The second step: a TOTP code, or a recovery code (used up by this)."""
    user = StaffUser.get_or_none(StaffUser.id == user_id)
    if user is None or not usable(user, now):
        return Outcome(None, "unusable")
    limits = _limits(user.login, source)
    if any(ratelimit.reached(rule, now) for rule in limits):
        return _refuse(user, "locked", limits, source, now)
    code = _typed_code(code)
    if _accept_totp(user, code, now):
        method = "totp"
    elif _accept_recovery_code(user, code, now):
        method = "recovery_code"
    else:
        return _refuse(user, "code", limits, source, now)
    return Outcome(user) if method == "totp" else _used_recovery(user, source, now)


def _used_recovery(user: StaffUser, source: str, now: datetime.datetime) -> Outcome:
    left = RecoveryCode.select().where(RecoveryCode.user == user, RecoveryCode.used_at.is_null()).count()
    audit.record(user.login, "login.recovery_code", "staff_user", user.login, now, source=source, left=left)
    return Outcome(user)


def signed_in(user: StaffUser, source: str, now: datetime.datetime) -> None:
    for rule in _limits(user.login, source)[:1]:
        ratelimit.clear(rule)
    StaffUser.update(last_login_at=now).where(StaffUser.id == user.id).execute()
    audit.record(user.login, "login.success", "staff_user", user.login, now, source=source)


def password_problems(user: StaffUser, new: str, repeat: str) -> list[str]:
    """Codes for the messages catalogue; empty when the new password is acceptable."""
    problems = []
    if new != repeat:
        problems.append("password_mismatch")
    if len(new) < MIN_PASSWORD_LENGTH:
        problems.append("password_short")
    if len(new) > MAX_PASSWORD_LENGTH:
        problems.append("password_long")
    if user.login in new.lower():
        problems.append("password_contains_login")
    if len(set(new)) < 5:
        problems.append("password_simple")
    if users.verify_password(user, new):
        problems.append("password_unchanged")
    return problems


def change_password(user: StaffUser, new: str, source: str, now: datetime.datetime) -> None:
    """Set a new password (already checked by password_problems)."""
    (StaffUser.update(password_hash=users.hash_password(new), must_change_password=False,
                      password_changed_at=now).where(StaffUser.id == user.id).execute())
    audit.record(user.login, "user.password", "staff_user", user.login, now, source=source)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def enrolment_qr_svg(user: StaffUser, secret: str) -> str:
    """The otpauth:// URI as an SVG QR code (drawn here; the secret never leaves the box)."""
    label = f"{runtime.settings().city_name} {user.login}"
    uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=5, title="認証アプリに読み取らせるQRコード")


def enrol_totp(user: StaffUser, secret: str, code: str, source: str, now: datetime.datetime) -> list[str] | None:
    """Confirm the authenticator with one code; saves the secret and returns fresh recovery codes
    (None when the code is wrong)."""
    code = _typed_code(code)
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP
    step = next((s for s in (current - 1, current, current + 1)
                 if len(code) == 6 and crypto.same_text(totp.at(s * TOTP_STEP), code)), None)
    if step is None:
        return None
    StaffUser.update(totp_secret=secret, totp_last_step=step).where(StaffUser.id == user.id).execute()
    user.totp_secret, user.totp_last_step = secret, step
    audit.record(user.login, "user.totp_enrol", "staff_user", user.login, now, source=source)
    return _replace_recovery_codes(user)


def _replace_recovery_codes(user: StaffUser) -> list[str]:
    RecoveryCode.delete().where(RecoveryCode.user == user).execute()
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.insert_many([{"user": user.id, "code_hash": _recovery_hash(c)} for c in codes]).execute()
    return codes


def new_recovery_codes(user: StaffUser, source: str, now: datetime.datetime) -> list[str]:
    codes = _replace_recovery_codes(user)
    audit.record(user.login, "user.recovery_codes", "staff_user", user.login, now, source=source)
    return codes


def recovery_codes_left(user: StaffUser) -> int:
    return RecoveryCode.select().where(RecoveryCode.user == user, RecoveryCode.used_at.is_null()).count()
