"""Staff accounts: argon2id password hashes, roles, one-time passwords for first login."""

from __future__ import annotations

import datetime
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from db import audit
from db.bookings import Actor
from db.models import RecoveryCode, StaffUser

ROLES = ("admin", "staff", "viewer")
FLOWS_ONLY_FOR_STAFF = "only a staff account is made a flow editor (administrators edit flows anyway)"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Easily confused characters (0/O, 1/l/I) left out: the one-time password is read off a screen.
_OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


class UserError(Exception):
    """A refused user operation; the message names what to fix."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: StaffUser, password: str) -> bool:
    return verify_hash(user.password_hash, password)


def verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(16))


def add_user(login: str, role: str, actor: Actor, now: datetime.datetime, *, display_name: str = "",
             expires_at: datetime.datetime | None = None, edits_flows: bool = False) -> tuple[StaffUser, str]:
    """Create an account with a one-time password that must be changed at first login."""
    login = login.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,39}", login):
        raise UserError(f"login {login!r} must be 2-40 characters: a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if StaffUser.select().where(StaffUser.login == login).exists():
        raise UserError(f"user {login!r} already exists")
    if edits_flows and role != "staff":
        raise UserError(FLOWS_ONLY_FOR_STAFF)
    password = one_time_password()
    user = StaffUser.create(login=login, display_name=display_name or login, role=role,
                            password_hash=hash_password(password), must_change_password=True,
                            expires_at=expires_at, created_at=now, edits_flows=edits_flows)
    audit.record(actor.name, "user.add", "staff_user", login, now, source=actor.source, role=role,
                 edits_flows=edits_flows)
    return user, password


def get_user(login: str) -> StaffUser:
    user = StaffUser.get_or_none(StaffUser.login == login.strip().lower())
    if user is None:
        raise UserError(f"there is no user {login!r} (see `madoguchi user list`)")
    return user


def set_disabled(login: str, disabled: bool, actor: Actor, now: datetime.datetime) -> StaffUser:
    user = get_user(login)
    if disabled and user.role == "admin" and not user.disabled:
        active_admins = StaffUser.select().where(StaffUser.role == "admin", ~StaffUser.disabled).count()
        if active_admins <= 1:
            raise UserError("refusing to disable the last active administrator")
    user.disabled = disabled
    user.save(only=[StaffUser.disabled])
    audit.record(actor.name, "user.disable" if disabled else "user.enable", "staff_user", user.login, now,
                 source=actor.source)
    return user


def reset(login: str, actor: Actor, now: datetime.datetime, *, clear_mfa: bool = False) -> tuple[StaffUser, str]:
    """A forgotten password (and, with clear_mfa, a lost authenticator): a new one-time password that
    must be changed at the next login; clear_mfa also removes the TOTP secret and recovery codes, so
    the next login enrols a new authenticator."""
    user = get_user(login)
    password = one_time_password()
    changes = {StaffUser.password_hash: hash_password(password), StaffUser.must_change_password: True}
    if clear_mfa:
        changes.update({StaffUser.totp_secret: None, StaffUser.totp_last_step: 0})
        RecoveryCode.delete().where(RecoveryCode.user == user).execute()
    StaffUser.update(changes).where(StaffUser.id == user.id).execute()
    audit.record(actor.name, "user.reset", "staff_user", user.login, now, source=actor.source, mfa=clear_mfa)
    return user, password


def set_edits_flows(login: str, allowed: bool, actor: Actor, now: datetime.datetime) -> StaffUser:
    """Let a staff account edit and publish the phone lines' IVR flows, or stop it (administrators
    always may; viewers never)."""
    user = get_user(login)
    if allowed and user.role != "staff":
        raise UserError(FLOWS_ONLY_FOR_STAFF)
    StaffUser.update(edits_flows=allowed).where(StaffUser.id == user.id).execute()
    audit.record(actor.name, "user.flows", "staff_user", user.login, now, source=actor.source, allowed=allowed)
    return get_user(login)


def set_expiry(login: str, expires_at: datetime.datetime | None, actor: Actor, now: datetime.datetime) -> StaffUser:
    user = get_user(login)
    before = user.expires_at
    StaffUser.update(expires_at=expires_at).where(StaffUser.id == user.id).execute()
    audit.record(actor.name, "user.expiry", "staff_user", user.login, now, source=actor.source,
                 before=before, after=expires_at)
    return get_user(login)
