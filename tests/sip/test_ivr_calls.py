"""Key-press IVR lines over real SIP (the demo's 和泉市-like numbers): a DTMF-only call walks three menu
levels to an SMS of the line's 433-character text to the caller's own mobile; at a closed hour the
caller hears the closed branch and has the SMS sent to a number keyed in; a transfer rings the target
(SIPp) and is recorded; speech on a key-press line never reaches the recogniser. No thread or descriptor
is left behind by the calls."""

from __future__ import annotations

import json
import time

import pytest

from db import crypto
from tests.conftest import process_globals_kept
from tests.sip.conftest import (
    call,
    engine_problems,
    free_port_block,
    leaks,
    run_sipp,
    speech_wav,
    start_engine,
    start_uas,
    stop_engine,
)

ALWAYS_OPEN = {"name": "和泉市役所", "weekly": {str(d): ["00:00-24:00"] for d in range(7)},
               "holidays_closed": False, "year_end_closed": False}
ZAMA_OPEN = {**ALWAYS_OPEN, "name": "座間市 デジタル推進課"}
NEVER_OPEN = {"name": "いつも閉庁", "weekly": {}}
MENU = {"wait_prompt": 60, "quiet": 1.5}  # the prompt (after an announcement) has been heard whole
EXTENSION: dict[str, str] = {}  # the password `madoguchi voice extension add 2101` printed
STAFF_PORT: dict[str, int] = {}
AGENT_PORT: dict[str, int] = {}
CLOSED_ANNOUNCEMENT = {"start": "hours", "fallback": "ただいまご案内できません。", "nodes": {
    "hours": {"kind": "schedule", "calendar": "いつも閉庁", "open": "main", "closed": "closed"},
    "main": {"kind": "menu", "text": "ご用件の番号を押してください。", "options": {"1": "closed"}, "failure": "closed"},
    "closed": {"kind": "hangup", "text": "本日の受付は終了しました。平日の午前八時四十五分から、おかけ直しください。"}}}
TO_QUEUE = [MENU, {"dtmf": "1"}, MENU, {"dtmf": "2"}]  # 座間: カードの申請と受け取り → 受け取りの予約: the queue


@pytest.fixture(scope="module")
def ivr(tmp_path_factory):
    root = tmp_path_factory.mktemp("ivr")
    staff_port = free_port_block(1, region=46000)
    agent_port = free_port_block(1, region=46500)

    def prepare(cli):
        for calendar in (ALWAYS_OPEN, NEVER_OPEN, ZAMA_OPEN):
            path = root / f"{calendar['name']}.json"
            path.write_text(json.dumps(calendar, ensure_ascii=False), encoding="utf-8")
            assert cli("voice", "calendar", "set", str(path)).returncode == 0
        assert cli("voice", "target", "set", "国保資格給付係", f"sip:staff@127.0.0.1:{staff_port}").returncode == 0
        added = cli("voice", "extension", "add", "2101", "--label", "国保の窓口")
        assert added.returncode == 0, added.stderr
        EXTENSION["password"] = added.stdout.split("password ")[1].split(",")[0]
        STAFF_PORT["port"] = staff_port
        # the 座間 line's queue waits for one phone: SIPp on agent_port
        assert cli("voice", "target", "set", "マイナンバー係 1", f"sip:agent@127.0.0.1:{agent_port}").returncode == 0
        assert cli("voice", "target", "set", "マイナンバー係 2", "sip:2202@127.0.0.1", "--group", "").returncode == 0
        AGENT_PORT["port"] = agent_port
        exported = cli("voice", "flow", "export", "0725998169").stdout
        graph = json.loads(exported)
        graph["nodes"]["hours"]["calendar"] = "いつも閉庁"
        (root / "closed.json").write_text(json.dumps(graph, ensure_ascii=False), encoding="utf-8")
        result = cli("voice", "flow", "import", "0725998169", str(root / "closed.json"), "--publish", "閉庁の試験")
        assert result.returncode == 0, result.stderr
        # 0725998129 at a closed hour: only an announcement, which early media plays before any answer
        (root / "announce.json").write_text(json.dumps(CLOSED_ANNOUNCEMENT, ensure_ascii=False), encoding="utf-8")
        result = cli("voice", "flow", "import", "0725998129", str(root / "announce.json"), "--publish", "時間外")
        assert result.returncode == 0, result.stderr

    # the trunk wants early media: each flow's welcome plays before the answer, its first menu is answered
    engine = start_engine(root, prepare, voice_max_calls=4, voice_ring_ms=0, transfer_timeout_s=6,
                          media_timeout_s=20, sip_early_media=True)
    assert run_sipp(engine, "basic.xml", service="0725998128").returncode == 0  # pools and sockets made
    engine.wait_idle()
    time.sleep(1.0)
    baseline = engine.resources()
    yield engine, staff_port
    deadline = time.monotonic() + 10
    while leaks(baseline, engine.resources()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leaks(baseline, engine.resources()) == []
    stop_engine(engine)
    assert engine.process.returncode == 0, engine.log_text()[-3000:]
    assert not engine_problems(engine.log_text())


def outbox(engine) -> list[tuple[str, str, str, str]]:
    rows = engine.query("SELECT event, did, recipient, body FROM outbox WHERE event = 'ivr_sms' ORDER BY id")
    with process_globals_kept():
        from appliance import runtime
        runtime.configure(engine.settings)
        cipher = crypto.cipher()
        return [(event, did, cipher.decrypt(bytes(recipient), "outbox.recipient"), body)
                for event, did, recipient, body in rows]


def test_three_levels_by_keys_to_an_sms_to_the_callers_mobile(ivr, tmp_path):
    engine, _ = ivr
    before = engine.last_call_id()
    report = call(engine, tmp_path, [MENU, {"dtmf": "1"}, MENU, {"dtmf": "1"}, MENU, {"dtmf": "1"}, MENU,
                                     {"dtmf": "1"}, {"wait_end": 40}],
                  uri=engine.uri_for("0725998128"), caller="09012345678")
    assert report["answered"] and report["steps"][-1] == {"ended_by_engine": True}, report
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["path"] == ["welcome", "hours", "main", "join", "join_how", "sms_choice", "sms_caller", "sent"], row
    assert row["outcome"] == "sms" and row["end_reason"] == "finished"
    assert engine.query("SELECT kind, flow_version FROM call_record WHERE id = ?", row["id"]) == [("ivr", 1)]
    (event, did, recipient, body), *_ = outbox(engine)
    assert (event, did, recipient) == ("ivr_sms", "0725998128", "09012345678") and len(body) >= 400


def test_a_closed_hour_hears_the_closed_branch_and_keys_in_a_mobile_number(ivr, tmp_path):
    engine, _ = ivr
    before = engine.last_call_id()
    sent = len(outbox(engine))
    report = call(engine, tmp_path, [MENU, {"dtmf": "1"}, MENU, {"dtmf": "2"}, MENU, {"dtmf": "08011112222#"},
                                     {"wait_end": 40}], uri=engine.uri_for("0725998169"), caller="0725991234")
    assert report["steps"][-1] == {"ended_by_engine": True}, report
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["path"] == ["welcome", "hours", "closed", "closed_menu", "sms_choice", "entry", "sms_entered",
                           "sent"], row
    assert outbox(engine)[sent][1:3] == ("0725998169", "08011112222")


def test_with_early_media_a_closed_hour_announcement_is_heard_and_the_call_never_answered(ivr, tmp_path):
    """The trunk wants early media: the closed-hours announcement comes on the 183's audio and the call
    ends with 480, never answered (the caller pays nothing); the call log has no answer time."""
    engine, _ = ivr
    before = engine.last_call_id()
    report = call(engine, tmp_path, [{"wait_end": 40}], uri=engine.uri_for("0725998129"))
    assert report["steps"][-1] == {"ended_by_engine": True} and report["status"] == 480, report
    assert not report["confirmed"] and report["heard_seconds"] > 3, report
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["path"] == ["hours", "closed"] and row["answered_at"] is None and not row["recording"], row


def test_a_transfer_rings_the_target_and_is_recorded(ivr, tmp_path):
    engine, staff_port = ivr
    staff = start_uas(tmp_path / "staff", "staff_answer.xml", staff_port, duration_ms=3000)
    before = engine.last_call_id()
    report = call(engine, tmp_path, [MENU, {"dtmf": "0"}, {"wait_end": 60}], uri=engine.uri_for("0725998128"),
                  caller="09012345678")
    out, err = staff.communicate(timeout=60)
    assert staff.returncode == 0, out[-2000:] + err[-2000:]
    assert report["steps"][-1] == {"ended_by_engine": True}, report
    engine.wait_idle()
    [row] = engine.calls(before)
    assert row["path"][-1] == "staff" and row["outcome"] == "transferred", row
    assert row["end_reason"] == "transfer_ended" and row["recording"] and row["recording_seconds"] > 3


def test_speech_on_a_key_press_line_never_reaches_the_recogniser(ivr, tmp_path):
    """A caller who talks at the menu of a dtmf_only line: the recognition service hears nothing (its log
    of recognised utterances does not grow) and the menu treats it as silence."""
    engine, _ = ivr
    words = speech_wav(tmp_path / "words.wav", "国民健康保険に加入したいのですが、どうすればいいですか")
    recognised = engine.log_text().count("recognised ")
    before = engine.last_call_id()
    call(engine, tmp_path, [MENU, {"say": str(words)}, {"say": str(words)}, {"wait_prompt": 30}, {"hangup": True}],
         uri=engine.uri_for("0725998128"), caller="09012345678")
    engine.wait_idle()
    [row] = engine.calls(before)
    turns = engine.query("SELECT result FROM call_turn t JOIN call_record c ON t.call_id = c.id WHERE c.id = ? "
                         "ORDER BY seq", row["id"])
    assert ("no_input",) in turns, turns
    assert engine.log_text().count("recognised ") == recognised


def test_the_live_view_sees_each_key_as_it_is_pressed(ivr, tmp_path):
    """While the call goes on, the call log's live columns (the admin site's いまの通話) hold the flow's
    step and every key pressed so far, within a second or two of the press; they are cleared at the end."""
    import subprocess
    import sys

    from tests.sip.conftest import REPO
    engine, _ = ivr
    before = engine.last_call_id()
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"uri": engine.uri_for("0725998128"), "codec": "PCMU/8000/1", "from": "09012345678",
                                  "heard": str(tmp_path / "heard.wav"),
                                  "steps": [MENU, {"dtmf": "1"}, {"sleep": 6}, {"dtmf": "2"}, {"sleep": 6},
                                            {"hangup": True}]}), encoding="utf-8")
    caller = subprocess.Popen([sys.executable, "-m", "tests.sip.caller", str(script)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    deadline = time.monotonic() + 90
    with process_globals_kept():
        from appliance import runtime
        runtime.configure(engine.settings)
        cipher = crypto.cipher()
        while caller.poll() is None and time.monotonic() < deadline:
            for step, keys, state in engine.query("SELECT live_step, live_keys, live_state FROM call_record "
                                                  "WHERE id > ?", before):
                seen.add((step, cipher.decrypt(bytes(keys), "call_record.live_keys") if keys else "", state))
            time.sleep(0.3)
    caller.communicate(timeout=30)
    engine.wait_idle()
    assert ("main", "", "flow") in seen, seen  # at the first menu, nothing pressed yet
    assert ("join", "1", "flow") in seen, seen  # 1 pressed: at the second level
    assert ("join_how", "12", "flow") in seen, seen  # then 2: the third
    [row] = engine.calls(before)
    keys = [k for (k,) in engine.query("SELECT keys FROM call_turn WHERE call_id = ? ORDER BY seq", row["id"]) if k]
    assert len(keys) >= 2  # both presses are turns of the call log
    assert engine.query("SELECT live_step, live_keys, live_state FROM call_record WHERE id = ?", row["id"]) == [
        ("", None, "")]


def test_a_transfer_rings_a_staff_phone_registered_as_an_extension_and_is_recorded(ivr, tmp_path):
    """Extension 2101 (madoguchi voice extension add) registers with its digest password; the 国保 line's
    0 transfers to the target sip:2101@<the box>, which Kamailio finds where the phone registered: it
    rings, is answered, and the call is recorded; being put through opened the call's record in the
    inquiry book for the operator (the line, the phone, the call). A wrong password is not registered."""
    engine, _ = ivr
    phone_port = free_port_block(1, region=48000)
    from tests.sip.conftest import SCENARIOS
    template = (SCENARIOS / "extension_register.xml").read_text(encoding="utf-8")

    def register(password: str, timeout_s: float = 60):
        scenario = tmp_path / f"register-{password[:4]}.xml"
        scenario.write_text(template.replace("EXTENSION", "2101").replace("PASSWORD", password)
                            .replace("CONTACT_PORT", str(phone_port)), encoding="utf-8")
        return run_sipp(engine, str(scenario), service="", timeout_s=timeout_s)

    assert register("not-the-password", timeout_s=10).returncode != 0  # challenged again, never 200
    registered = register(EXTENSION["password"])
    assert registered.returncode == 0, registered.stderr[-2000:]
    moved = engine.cli("voice", "target", "set", "国保資格給付係", f"sip:2101@127.0.0.1:{engine.sip_port}")
    assert moved.returncode == 0, moved.stderr
    try:
        phone = start_uas(tmp_path / "phone", "staff_answer.xml", phone_port, duration_ms=3000)
        before = engine.last_call_id()
        report = call(engine, tmp_path, [MENU, {"dtmf": "0"}, {"wait_end": 60}], uri=engine.uri_for("0725998128"),
                      caller="09012345678")
        out, err = phone.communicate(timeout=60)
        assert phone.returncode == 0, out[-2000:] + err[-2000:]
        assert report["steps"][-1] == {"ended_by_engine": True}, report
        engine.wait_idle()
        [row] = engine.calls(before)
        assert row["outcome"] == "transferred" and row["recording"] and row["recording_seconds"] > 3, row
        records = engine.query("SELECT i.channel, i.did, i.target, i.status, i.answered_at IS NOT NULL FROM inquiry i "
                               "JOIN call_record c ON c.id = i.call_id WHERE c.id > ?", before)
        assert records == [("phone", "0725998128", "国保資格給付係", "open", 1)], records
    finally:
        engine.cli("voice", "target", "set", "国保資格給付係", f"sip:staff@127.0.0.1:{STAFF_PORT['port']}")


def start_caller(engine, tmp_path, name: str, steps: list[dict], caller: str):
    import subprocess
    import sys

    from tests.sip.conftest import REPO
    folder = tmp_path / name
    folder.mkdir()
    script = folder / "script.json"
    script.write_text(json.dumps({"uri": engine.uri_for("0462000001"), "codec": "PCMU/8000/1", "from": caller,
                                  "heard": str(folder / "heard.wav"), "steps": steps}), encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "tests.sip.caller", str(script)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def queue_rows(engine, before: int) -> list[tuple]:
    return engine.query("SELECT q.state, q.target, q.wait_s FROM queue_entry q JOIN call_record c "
                        "ON c.sip_call_id = q.sip_call_id WHERE c.id > ? ORDER BY c.id", before)


def test_a_caller_waits_in_the_queue_while_the_phone_is_busy_then_gets_it(ivr, tmp_path):
    """Two callers for a group of one phone (SIPp answering each call for 12 s): the first is put through,
    the second waits in the queue, hearing its place, and is put through when the phone is free again.
    Both waits are recorded as connected, the second one's about as long as the first call."""
    engine, _ = ivr
    agent = start_uas(tmp_path / "agent", "staff_answer.xml", AGENT_PORT["port"], duration_ms=12000, calls=2,
                      timeout_s=150)
    before = engine.last_call_id()
    first = start_caller(engine, tmp_path, "first", [*TO_QUEUE, {"wait_end": 120}], "09011110001")
    time.sleep(2)
    second = start_caller(engine, tmp_path, "second", [*TO_QUEUE, {"wait_end": 120}], "09011110002")
    for caller in (first, second):
        out, err = caller.communicate(timeout=150)
        assert caller.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1])["steps"][-1] == {"ended_by_engine": True}
    out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, out[-2000:] + err[-2000:]
    engine.wait_idle()
    rows = engine.calls(before)
    assert [r["outcome"] for r in rows] == ["transferred", "transferred"], rows
    (first_state, first_target, first_wait), (second_state, second_target, second_wait) = queue_rows(engine, before)
    assert (first_state, second_state) == ("connected", "connected")
    assert first_target == second_target == "マイナンバー係 1"
    assert first_wait < 5 and second_wait > 8, (first_wait, second_wait)


def test_a_caller_who_hangs_up_in_the_queue_is_recorded_as_abandoned(ivr, tmp_path):
    engine, _ = ivr
    agent = start_uas(tmp_path / "agent", "staff_answer.xml", AGENT_PORT["port"], duration_ms=15000, timeout_s=90)
    before = engine.last_call_id()
    first = start_caller(engine, tmp_path, "first", [*TO_QUEUE, {"wait_end": 90}], "09011110003")
    time.sleep(2)
    second = start_caller(engine, tmp_path, "second", [*TO_QUEUE, {"sleep": 6}, {"hangup": True}], "09011110004")
    for caller in (first, second):
        caller.communicate(timeout=120)
    agent.communicate(timeout=60)
    engine.wait_idle()
    states = [(state, target) for state, target, _ in queue_rows(engine, before)]
    assert states == [("connected", "マイナンバー係 1"), ("abandoned", "")], states
    assert queue_rows(engine, before)[1][2] >= 3
