"""Transfer targets in the settings: the syntax, the numbers that need a trunk to dial through, and the
SIP URI a name resolves to; a failed leg's SIP status says busy or no answer."""

from __future__ import annotations

import json

import pytest

from appliance.settings import SettingsError, load_settings, parse_transfer_targets
from voice.call import transfer


def settings(tmp_path, **values):
    text = "".join(f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in values.items())
    path = tmp_path / "madoguchi.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


def test_targets_are_names_with_uris_or_numbers(tmp_path):
    s = settings(tmp_path, transfer_targets="staff=sip:2001@192.0.2.20, 市民課 = 0586-28-1111",
                 transfer_via="192.0.2.1:5060")
    assert parse_transfer_targets(s.transfer_targets) == {"staff": "sip:2001@192.0.2.20", "市民課": "0586-28-1111"}
    assert transfer.target_uri(s, "staff") == "sip:2001@192.0.2.20"
    assert transfer.target_uri(s, "市民課") == "sip:0586281111@192.0.2.1:5060"
    assert transfer.target_uri(s, "nobody") is None


def test_register_mode_dials_numbers_through_the_registrar(tmp_path):
    s = settings(tmp_path, transfer_targets="desk=201", sip_trunk_mode="register",
                 sip_registrar="pbx.example:5060", sip_username="city01")
    assert transfer.target_uri(s, "desk") == "sip:201@pbx.example:5060"


@pytest.mark.parametrize(("values", "message"), [
    ({"transfer_targets": "staff"}, "is not name=sip:user@host or name=number"),
    ({"transfer_targets": "staff=http://x"}, "is not name=sip:user@host or name=number"),
    ({"transfer_targets": "a=sip:1@h, a=sip:2@h"}, "'a' is named twice"),
    ({"transfer_targets": "desk=201"}, "need transfer_via"),
    ({"transfer_mode": "attended"}, "transfer_mode must be bridged or blind"),
    ({"transfer_timeout_s": 0}, "transfer_timeout_s must be 1-300"),
])
def test_bad_transfer_settings_are_refused_at_load(tmp_path, values, message):
    with pytest.raises(SettingsError, match=message):
        settings(tmp_path, **values)


@pytest.mark.parametrize(("status", "reason"), [(486, "busy"), (603, "busy"), (480, "no_answer"),
                                                 (487, "no_answer"), (404, "failed"), (503, "failed")])
def test_failure_reason(status, reason):
    assert transfer.failure_reason(status) == reason
