"""Transfers without SIP: the targets' syntax in the settings, the numbers that need a trunk to dial
through, the SIP URI a name resolves to, a failed leg's status as busy or no answer; and each step
of one transfer (bridged, its fallback to REFER, the timeout, the caller or the target hanging up)."""

from __future__ import annotations

import json

import pytest

from appliance.settings import SettingsError, load_settings, parse_transfer_targets
from voice.call import transfer
from voice.call.transfer import (
    CallTarget,
    CancelTarget,
    Connected,
    EndCaller,
    EndTarget,
    Failed,
    ReferCaller,
    TransferAttempt,
)


def settings(tmp_path, **values):
    text = "".join(f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in values.items())
    path = tmp_path / "madoguchi.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


def test_targets_are_names_with_uris_or_numbers(tmp_path, db):
    s = settings(tmp_path, transfer_targets="staff=sip:2001@192.0.2.20, 市民課 = 0586-28-1111",
                 transfer_via="192.0.2.1:5060")
    assert parse_transfer_targets(s.transfer_targets) == {"staff": "sip:2001@192.0.2.20", "市民課": "0586-28-1111"}
    assert transfer.target_uri(s, "staff") == "sip:2001@192.0.2.20"
    assert transfer.target_uri(s, "市民課") == "sip:0586281111@192.0.2.1:5060"
    assert transfer.target_uri(s, "nobody") is None


def test_a_target_kept_as_data_is_found_and_wins_over_the_setting(tmp_path, db):
    from db import targets
    from tests.conftest import ADMIN, NOW
    s = settings(tmp_path, transfer_targets="staff=sip:2001@192.0.2.20")
    targets.save("staff", "sip:2002@192.0.2.20", "窓口", ADMIN, NOW)
    targets.save("コールセンター", "sip:callcenter@192.0.2.30", "", ADMIN, NOW)
    assert transfer.target_uri(s, "staff") == "sip:2002@192.0.2.20"
    assert transfer.target_uri(s, "コールセンター") == "sip:callcenter@192.0.2.30"
    with pytest.raises(ValueError, match="neither a SIP URI"):
        targets.save("x", "http://x", "", ADMIN, NOW)


def test_register_mode_dials_numbers_through_the_registrar(tmp_path, db):
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


# --- one transfer, without SIP -----------------------------------------------------------------------


URI = "sip:staff@192.0.2.20"


def bridged(now=0.0, **kw):
    attempt = TransferAttempt(URI, "bridged", 20, now, place_free=kw.pop("place_free", True))
    return attempt, attempt.start()


def test_bridged_calls_the_target_and_connects_when_it_answers():
    attempt, start = bridged()
    assert start == [CallTarget(URI)]
    assert attempt.tick(19.9) == []
    assert attempt.target_answered() == [Connected()]
    assert attempt.tick(100) == []  # talking: no timeout
    assert attempt.target_ended(200) == [EndCaller("transfer_ended")]  # staff hung up: so does the caller


def test_bridged_without_a_free_call_place_falls_back_to_refer():
    attempt, start = bridged(place_free=False)
    assert start == [ReferCaller(URI)] and attempt.fell_back


def test_an_unanswered_target_is_cancelled_once_then_reported_no_answer():
    attempt, _ = bridged()
    assert attempt.tick(20.0) == [CancelTarget()]
    assert attempt.tick(21.0) == []
    assert attempt.target_ended(487) == [Failed("no_answer")]


@pytest.mark.parametrize(("status", "reason"), [(486, "busy"), (404, "failed"), (480, "no_answer")])
def test_a_target_that_refuses_reports_why(status, reason):
    attempt, _ = bridged()
    assert attempt.target_ended(status) == [Failed(reason)]


def test_placing_the_call_can_fail_and_an_unknown_target_fails_at_once():
    attempt, _ = bridged()
    assert attempt.could_not_place() == [Failed("failed")]
    unknown = TransferAttempt(None, "bridged", 20, 0.0, place_free=True)
    assert unknown.start() == [Failed("unknown_target")]


def test_a_caller_who_hangs_up_ends_the_call_to_the_target():
    attempt, _ = bridged()
    assert attempt.caller_ended() == [EndTarget()]
    assert attempt.target_ended(487) == []  # nobody left to tell


def test_blind_hands_over_on_a_final_2xx_and_otherwise_reports_why():
    attempt = TransferAttempt(URI, "blind", 20, 0.0, place_free=True)
    assert attempt.start() == [ReferCaller(URI)]
    assert attempt.refer_reported(180, final=False) == []
    assert attempt.refer_reported(200, final=True) == [Connected(), EndCaller("transferred")]
    busy = TransferAttempt(URI, "blind", 20, 0.0, place_free=True)
    busy.start()
    assert busy.refer_reported(486, final=True) == [Failed("busy")]
    silent = TransferAttempt(URI, "blind", 20, 0.0, place_free=True)
    silent.start()
    assert silent.tick(20.0) == [Failed("no_answer")] and silent.caller_ended() == []


def test_a_worker_admits_a_call_only_with_a_place_kept_for_each_promised_transfer_leg():
    """4 call places: calls that may be put through take two (theirs and the leg's), others one; a leg
    already placed counts as in use, not promised again."""
    assert transfer.admits(4, 0, 0, True) and transfer.admits(4, 1, 1, True)  # the second caller who may transfer
    assert not transfer.admits(4, 2, 2, True)  # a third would leave one of three transfers without a place
    assert transfer.admits(4, 2, 1, False)  # ...but a call that never transfers fits
    assert transfer.admits(4, 3, 0, False) and not transfer.admits(4, 3, 0, True)  # three plain calls: the fourth
    assert not transfer.admits(4, 3, 1, False)  # a caller talking to staff (2 in use) and one who may still transfer
