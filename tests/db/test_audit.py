"""The audit log is append-only: the database itself refuses UPDATE and DELETE."""

from __future__ import annotations

import peewee
import pytest

from db import audit
from db.models import AuditLog
from tests.conftest import NOW


def test_rows_cannot_be_changed_or_deleted(db):
    row = audit.record("clerk", "booking.cancel", "booking", "12345674", NOW, source="192.0.2.1", via="staff")
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        AuditLog.update(actor="someone else").where(AuditLog.id == row.id).execute()
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        AuditLog.delete().where(AuditLog.id == row.id).execute()
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        db.execute_sql("DELETE FROM audit_log")
    assert AuditLog.get_by_id(row.id).actor == "clerk"
