"""Extensions: staff phones (softphones or desk phones) that register to the appliance's Kamailio with
digest authentication, so a flow's transfer can ring them (a target sip:<number>@<the box>). Only the
HA1 of each password is kept (MD5 of number:realm:password, what Kamailio checks); the password is
shown once, when it is made. Kamailio reads the extensions when the voice engine starts. Services never
commit: the caller owns the transaction."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from typing import TYPE_CHECKING

from db import audit
from db.models import Extension

if TYPE_CHECKING:
    from db.bookings import Actor

REALM = "madoguchi"
NUMBER = re.compile(r"[0-9]{2,6}")
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I to misread


def ha1(number: str, password: str) -> str:
    return hashlib.md5(f"{number}:{REALM}:{password}".encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))


def save(number: str, label: str, actor: Actor, now: datetime.datetime) -> str:
    """Create the extension, or give an existing one a new password; returns the password (shown once)."""
    if not NUMBER.fullmatch(number):
        raise ValueError("an extension number is 2-6 digits")
    password = new_password()
    row = Extension.get_or_none(Extension.number == number)
    if row is None:
        Extension.create(number=number, label=label.strip(), ha1=ha1(number, password), updated_at=now,
                         updated_by=actor.name)
    else:
        row.ha1, row.updated_at, row.updated_by = ha1(number, password), now, actor.name
        row.label = label.strip() or row.label
        row.save()
    audit.record(actor.name, "extension.save", "extension", number, now, source=actor.source, created=row is None)
    return password


def remove(number: str, actor: Actor, now: datetime.datetime) -> bool:
    removed = Extension.delete().where(Extension.number == number).execute()
    if removed:
        audit.record(actor.name, "extension.remove", "extension", number, now, source=actor.source)
    return bool(removed)


def credentials() -> dict[str, str]:
    """number → HA1, for Kamailio's configuration."""
    return {row.number: row.ha1 for row in Extension.select().order_by(Extension.number)}
