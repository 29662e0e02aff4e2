"""Transfer targets from the settings: names a flow may transfer to, each a SIP URI or a number.

    transfer_targets = "staff=sip:2001@192.0.2.20, 市民課=0586281111"

A number (an outside line or a PBX extension) is dialled through `transfer_via` (host[:port] of the
trunk or PBX; in register mode the registrar when empty). Pure parsing: voice/sip.py places the calls.
"""

from __future__ import annotations

import re

from appliance.settings import SettingsError

MODES = ("bridged", "blind")
NUMBER = re.compile(r"\+?[0-9*#]{2,32}")
SIP_URI = re.compile(r"sips?:[^\s,=<>\"]+")
# how a failed transfer leg ended, by its final SIP status
BUSY = frozenset({486, 600, 603})
NO_ANSWER = frozenset({408, 480, 487})


def parse_targets(text: str) -> dict[str, str]:
    """{name: target} from "name=target, ..."; a bad entry names itself in the error."""
    targets = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, target = (s.strip() for s in item.partition("="))
        if not sep or not name or not (SIP_URI.fullmatch(target) or NUMBER.fullmatch(target.replace("-", ""))):
            raise SettingsError(f"transfer_targets: {item!r} is not name=sip:user@host or name=number")
        if name in targets:
            raise SettingsError(f"transfer_targets: {name!r} is named twice")
        targets[name] = target
    return targets


def via_host(transfer_via: str, sip_trunk_mode: str, sip_registrar: str) -> str:
    return transfer_via or (sip_registrar if sip_trunk_mode == "register" else "")


def check(values: dict) -> None:
    """Refuse transfer settings a call would fail on later (run when the settings are loaded)."""
    if values["transfer_mode"] not in MODES:
        raise SettingsError(f"transfer_mode must be bridged or blind, got {values['transfer_mode']!r}")
    if not 1 <= values["transfer_timeout_s"] <= 300:
        raise SettingsError(f"transfer_timeout_s must be 1-300, got {values['transfer_timeout_s']}")
    targets = parse_targets(values["transfer_targets"])
    via = via_host(values["transfer_via"], values["sip_trunk_mode"], values["sip_registrar"])
    numbers = [name for name, target in targets.items() if not SIP_URI.fullmatch(target)]
    if numbers and not via:
        raise SettingsError(f"transfer_targets: {', '.join(numbers)} are numbers, which need transfer_via "
                            "(the trunk or PBX to dial them through)")


def target_uri(settings, name: str) -> str | None:
    """The SIP URI to call for a target name, or None when no such target is configured."""
    target = parse_targets(settings.transfer_targets).get(name)
    if target is None or SIP_URI.fullmatch(target):
        return target
    via = via_host(settings.transfer_via, settings.sip_trunk_mode, settings.sip_registrar)
    return f"sip:{target.replace('-', '')}@{via}"


def failure_reason(status: int) -> str:
    return "busy" if status in BUSY else "no_answer" if status in NO_ANSWER else "failed"
