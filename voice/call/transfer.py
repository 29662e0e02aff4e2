"""Placing a transfer: a target name (transfer_targets, whose syntax appliance/settings.py checks at
load) becomes the SIP URI to call, and a failed leg's final status becomes the reason the flow hears.
Pure: voice/sip.py places the calls."""

from __future__ import annotations

from appliance.settings import SIP_URI, parse_transfer_targets, transfer_via_host

BUSY = frozenset({486, 600, 603})  # how a failed transfer leg ended, by its final SIP status
NO_ANSWER = frozenset({408, 480, 487})


def target_uri(settings, name: str) -> str | None:
    """The SIP URI to call for a target name, or None when no such target is configured."""
    target = parse_transfer_targets(settings.transfer_targets).get(name)
    if target is None or SIP_URI.fullmatch(target):
        return target
    via = transfer_via_host(settings.transfer_via, settings.sip_trunk_mode, settings.sip_registrar)
    return f"sip:{target.replace('-', '')}@{via}"


def failure_reason(status: int) -> str:
    return "busy" if status in BUSY else "no_answer" if status in NO_ANSWER else "failed"
