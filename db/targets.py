"""Transfer targets as data: a name staff pick in a flow's transfer node, and the address it rings (a
SIP URI, or a number dialled through transfer_via: an outside line or a PBX extension). Names in the
transfer_targets setting count too (the table wins on a name in both). Services never commit."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from appliance import runtime
from appliance.settings import SIP_URI, TRANSFER_NUMBER, SettingsError, parse_transfer_targets
from db import audit
from db.models import TransferTarget

if TYPE_CHECKING:
    from db.bookings import Actor

NAME_MAX_CHARS = 40


def all_targets() -> dict[str, str]:
    """name → address, the setting's and the table's."""
    found = parse_transfer_targets(runtime.settings().transfer_targets)
    found.update({row.name: row.address for row in TransferTarget.select()})
    return found


def address(name: str, configured: str) -> str | None:
    """Where the target of this name is: the table's, else the transfer_targets setting's (`configured`)."""
    row = TransferTarget.get_or_none(TransferTarget.name == name)
    return row.address if row is not None else parse_transfer_targets(configured).get(name)


def groups() -> dict[str, list[str]]:
    """group → its targets' names (the phones a queue node waits for)."""
    found: dict[str, list[str]] = {}
    for row in TransferTarget.select().where(TransferTarget.group_name != "").order_by(TransferTarget.name):
        found.setdefault(row.group_name, []).append(row.name)
    return found


def save(name: str, target: str, label: str, actor: Actor, now: datetime.datetime, group: str | None = None
         ) -> TransferTarget:
    """Create or change a target (ValueError for a name or address no call could use), audited."""
    name, target = name.strip(), target.strip()
    if not 1 <= len(name) <= NAME_MAX_CHARS or "=" in name or "," in name:
        raise ValueError(f"a target name is 1-{NAME_MAX_CHARS} characters without = or ,")
    if not (SIP_URI.fullmatch(target) or TRANSFER_NUMBER.fullmatch(target.replace("-", ""))):
        raise ValueError(f"{target!r} is neither a SIP URI (sip:2001@192.0.2.20) nor a number")
    if not SIP_URI.fullmatch(target) and not (runtime.settings().transfer_via or runtime.settings().sip_registrar):
        raise SettingsError("a number needs transfer_via (the trunk or PBX to dial it through)")
    if group is not None and (len(group.strip()) > NAME_MAX_CHARS or "," in group):
        raise ValueError(f"a group name is up to {NAME_MAX_CHARS} characters without ,")
    row = TransferTarget.get_or_none(TransferTarget.name == name)
    if row is None:
        row = TransferTarget.create(name=name, address=target, label=label.strip(), updated_at=now, updated_by=actor.name,
                                    group_name=(group or "").strip())
    else:
        row.address, row.label, row.updated_at, row.updated_by = target, label.strip(), now, actor.name
        row.group_name = row.group_name if group is None else group.strip()
        row.save()
    audit.record(actor.name, "transfer_target.save", "transfer_target", name, now, source=actor.source)
    return row
