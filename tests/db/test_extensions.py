"""Extensions (db/extensions.py): a staff phone's password is made strong, shown once and kept only as
its SIP digest HA1; a new password replaces the old; numbers are 2-6 digits; every change is audited."""

import hashlib

import pytest

from db import extensions
from db.models import AuditLog, Extension
from tests.conftest import ADMIN, NOW


def test_a_password_is_kept_only_as_its_digest_and_can_be_replaced(db):
    password = extensions.save("2101", "国保の窓口", ADMIN, NOW)
    assert len(password) == 16 and not set(password) & set("0O1lI")
    row = Extension.get(Extension.number == "2101")
    assert row.ha1 == hashlib.md5(f"2101:madoguchi:{password}".encode()).hexdigest() and password not in row.ha1
    again = extensions.save("2101", "", ADMIN, NOW)
    assert again != password and extensions.credentials() == {"2101": extensions.ha1("2101", again)}
    assert Extension.get(Extension.number == "2101").label == "国保の窓口"
    assert extensions.remove("2101", ADMIN, NOW) and not extensions.remove("2101", ADMIN, NOW)
    assert [r.action for r in AuditLog.select().order_by(AuditLog.id)] == [
        "extension.save", "extension.save", "extension.remove"]


@pytest.mark.parametrize("number", ["1", "1234567", "２１０１", "21a", ""])
def test_an_extension_number_is_2_to_6_ascii_digits(db, number):
    with pytest.raises(ValueError):
        extensions.save(number, "", ADMIN, NOW)
