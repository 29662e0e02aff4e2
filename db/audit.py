"""The append-only audit log (the database refuses UPDATE and DELETE on it)."""

from __future__ import annotations

import datetime
import json

from db.models import AuditLog


def record(actor: str, action: str, obj: str, object_id: object, now: datetime.datetime, *,
           source: str = "", **details: object) -> AuditLog:
    """One row per action. `details` must hold ids, counts and codes only, never personal data."""
    return AuditLog.create(at=now, actor=actor, action=action, object_type=obj, object_id=str(object_id),
                           details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
                           source=source)
