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


def _without_triggers(db) -> None:
    """What someone holding the key could do: drop the triggers (rolled back with the test)."""
    db.execute_sql("DROP TRIGGER audit_log_no_update")
    db.execute_sql("DROP TRIGGER audit_log_no_delete")


def _five(db) -> list[AuditLog]:
    return [audit.record("clerk", "booking.cancel", "booking", str(n), NOW, source="192.0.2.1", n=n) for n in range(5)]


@pytest.mark.parametrize("tamper", ["change", "delete", "insert"])
def test_a_changed_removed_or_slipped_in_row_breaks_the_chain_from_there(db, tamper):
    """The chain holds for rows as written; changing a row's details, deleting a row, or inserting one
    with a made-up link is found at that row (or the one after a deleted one)."""
    rows = _five(db)
    checked = audit.verify()
    assert checked.broken_at is None and checked.head_id == rows[-1].id and checked.head == rows[-1].chain
    _without_triggers(db)
    if tamper == "change":
        AuditLog.update(details='{"n": 99}').where(AuditLog.id == rows[2].id).execute()
        assert audit.verify().broken_at == rows[2].id
    elif tamper == "delete":
        AuditLog.delete().where(AuditLog.id == rows[2].id).execute()
        assert audit.verify().broken_at == rows[3].id
    else:
        AuditLog.update(chain="0" * 64).where(AuditLog.id == rows[4].id).execute()
        assert audit.verify().broken_at == rows[4].id


def test_rows_from_before_the_chain_are_covered_by_its_first_link(db):
    """Rows written before migration 0014 have no link; the first chained row links to a digest of
    them all, so changing one of them breaks the chain at that first chained row."""
    _without_triggers(db)
    db.execute_sql("DELETE FROM audit_log")  # a log that began before the chain (rolled back with the test)
    for n in range(3):
        db.execute_sql("INSERT INTO audit_log (at, actor, action, object_type, object_id, details, source, chain) "
                       "VALUES (?, 'old', 'user.add', 'staff_user', ?, '{}', 'cli', '')", (NOW.isoformat(), f"u{n}"))
    first = audit.record("clerk", "booking.cancel", "booking", "1", NOW)
    checked = audit.verify()
    assert checked.broken_at is None and checked.unchained == 3
    db.execute_sql("UPDATE audit_log SET actor = 'someone' WHERE object_id = 'u1'")
    assert audit.verify().broken_at == first.id


def test_the_head_a_backup_recorded_shows_rows_cut_off_the_end(db):
    rows = _five(db)
    recorded = audit.head()
    assert recorded == {"id": rows[-1].id, "chain": rows[-1].chain} and audit.holds(recorded)
    audit.record("clerk", "booking.cancel", "booking", "6", NOW)
    assert audit.holds(recorded)  # later rows are fine
    _without_triggers(db)
    AuditLog.delete().where(AuditLog.id >= rows[-1].id).execute()
    assert audit.verify().broken_at is None and not audit.holds(recorded)  # the chain alone cannot tell
