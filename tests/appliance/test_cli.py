"""The `madoguchi` command as an administrator uses it: real processes, exit statuses and messages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from db import migrations

MADOGUCHI = [sys.executable, "-m", "appliance"]


class Box:
    """An appliance folder with its own config; run() invokes the CLI against it."""

    def __init__(self, root: Path):
        self.root = root
        self.config = root / "madoguchi.toml"
        self.config.write_text(f'data_dir = "{root / "data"}"\nkey_dir = "{root / "keys"}"\n', encoding="utf-8")

    def run(self, *args, ok=True, env=None):
        result = subprocess.run([*MADOGUCHI, *args], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "MADOGUCHI_CONFIG": str(self.config), **(env or {})},
                                cwd=Path(__file__).parents[2])
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        else:
            assert result.returncode != 0, result.stdout
            assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    box = Box(tmp_path_factory.mktemp("box"))
    out = box.run("init").stdout
    assert "one-time password:" in out
    box.run("demo", "--weeks", "2")
    return box


def test_init_makes_private_keys_and_refuses_to_run_twice(box):
    for key in (box.root / "keys").iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((box.root / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((box.root / "data" / "madoguchi.db").stat().st_mode) & 0o077 == 0
    again = box.run("init", ok=False)
    assert "already exists" in again.stderr


def test_init_writes_a_missing_config_file_with_every_setting(tmp_path):
    """On a new machine `madoguchi init` creates the configuration file (0600) with every setting and
    its help, and the file it wrote loads back to the same settings."""
    config = tmp_path / "etc" / "madoguchi.toml"
    env = {"MADOGUCHI_CONFIG": str(config), "MADOGUCHI_DATA_DIR": str(tmp_path / "data"),
           "MADOGUCHI_KEY_DIR": str(tmp_path / "keys")}
    result = subprocess.run([*MADOGUCHI, "init"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env}, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    assert f"created {config}" in result.stdout and stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text(encoding="utf-8")
    assert "# Address:port of the staff admin site (gunicorn)." in text and 'admin_bind = "127.0.0.1:8081"' in text
    from appliance.settings import load_settings
    assert load_settings(config, environ={}).admin_bind == "127.0.0.1:8081"


def test_demo_city_has_14_venues(box):
    lines = box.run("venue", "list").stdout.splitlines()
    assert len(lines) == 14 and all("slots" in line for line in lines)
    again = box.run("demo", "--weeks", "2").stdout
    assert "demo city: 0 venue(s), 0 question(s), 0 slot(s), 0 phone line(s), 0 FAQ entries added" in again


def test_check_reports_ok(box):
    out = box.run("check").stdout
    for what in ("keys", "schema", "integrity", "page authentication", "pragmas", "disk", "versions"):
        assert f"ok   {what}" in out
    assert "WARN backup               none yet" in out  # warns, but the appliance still starts (exit 0)


def test_users(box):
    out = box.run("user", "add", "tanaka", "--role", "staff", "--name", "田中").stdout
    assert "one-time password:" in out
    assert "already exists" in box.run("user", "add", "tanaka", ok=False).stderr
    assert "role" in box.run("user", "add", "x1", "--role", "root", ok=False).stderr
    box.run("user", "disable", "tanaka")
    listing = box.run("user", "list").stdout
    assert "tanaka" in listing and "disabled" in listing
    assert "last active administrator" in box.run("user", "disable", "admin", ok=False).stderr
    assert "no user" in box.run("user", "disable", "nobody", ok=False).stderr


def test_a_staff_account_is_made_a_flow_editor_and_back(box):
    """`user add --flows` or `user flows LOGIN on|off`: staff who edit IVR flows; never a viewer."""
    assert "edits flows" in box.run("user", "add", "kokuho", "--flows").stdout
    assert "kokuho" in box.run("user", "list").stdout.split("edits flows")[0].splitlines()[-1]
    box.run("user", "flows", "kokuho", "off")
    assert "edits flows" not in box.run("user", "list").stdout
    box.run("user", "add", "etsuran", "--role", "viewer")
    assert "only a staff account" in box.run("user", "flows", "etsuran", "on", ok=False).stderr
    assert "only a staff account" in box.run("user", "add", "kanri", "--role", "admin", "--flows", ok=False).stderr


def test_user_reset_gives_a_new_one_time_password_and_can_remove_the_authenticator(box):
    """A forgotten password or a lost phone: `user reset [--mfa]` prints a new one-time password; with
    --mfa the next login enrols a new authenticator."""
    box.run("user", "add", "suzuki")
    first = box.run("user", "reset", "suzuki").stdout
    assert "one-time password:" in first and "authenticator" not in first
    second = box.run("user", "reset", "suzuki", "--mfa").stdout
    assert "authenticator was removed" in second
    assert first.split("one-time password: ")[1].strip() != second.split("one-time password: ")[1].split()[0]
    assert "no user" in box.run("user", "reset", "nobody", ok=False).stderr


def test_slots_generate_capacity_and_close(box):
    out = box.run("slots", "generate", "--venue", "kita", "--from", "2027-03-01", "--to", "2027-03-31",
                  "--days", "mon-fri", "--hours", "09:00-10:00", "--capacity", "3", "--dry-run").stdout
    assert "would create 44 slot(s)" in out and "春分の日" in out
    box.run("slots", "generate", "--venue", "kita", "--from", "2027-03-01", "--to", "2027-03-31",
            "--days", "mon-fri", "--hours", "09:00-10:00", "--capacity", "3")
    assert "changed on 2 slot(s)" in box.run("slots", "capacity", "--venue", "kita", "--date", "2027-03-01",
                                              "--add", "1").stdout
    out = box.run("slots", "close", "--venue", "kita", "--date", "2027-03-02", "--reason", "停電").stdout
    assert "0 confirmed booking(s) affected" in out


@pytest.mark.parametrize("args,message", [
    (("slots", "generate", "--venue", "atlantis", "--from", "2027-03-01", "--to", "2027-03-02", "--capacity", "2"),
     "no venue 'atlantis'"),
    (("slots", "generate", "--venue", "kita", "--from", "2027-03-05", "--to", "2027-03-01", "--capacity", "2"),
     "before it starts"),
    (("slots", "generate", "--venue", "kita", "--from", "2027-03-01", "--to", "2027-03-02", "--capacity", "2",
      "--hours", "9-17"), "not a time"),
    (("slots", "generate", "--venue", "kita", "--from", "2027-02-30", "--to", "2027-03-02", "--capacity", "2"),
     "2027-02-30"),
    (("slots", "close", "--date", "2027-03-01"), "--reason"),
    (("slots", "capacity", "--venue", "kita", "--date", "2027-03-01", "--add", "1", "--set", "2"), "not both"),
])
def test_bad_input_gets_one_clear_message_and_writes_nothing(box, args, message):
    before = box.run("venue", "list").stdout
    result = box.run(*args, ok=False)
    assert message in result.stderr
    assert box.run("venue", "list").stdout == before


def test_unknown_setting_is_refused(box):
    result = box.run("check", ok=False, env={"MADOGUCHI_BUSY_TIMEOUT": "1"})
    assert "unknown setting 'busy_timeout'" in result.stderr


def test_wrong_key_is_refused(box, tmp_path):
    other = Box(tmp_path)
    other.run("init")
    swapped = tmp_path / "swapped.toml"
    swapped.write_text(f'data_dir = "{box.root / "data"}"\nkey_dir = "{tmp_path / "keys"}"\n', encoding="utf-8")
    result = box.run("check", ok=False, env={"MADOGUCHI_CONFIG": str(swapped)})
    assert "FAIL database" in result.stdout and "does not match" in result.stdout
    result = box.run("db", "check", ok=False, env={"MADOGUCHI_CONFIG": str(swapped)})
    assert "cannot decrypt" in result.stderr


def test_migrate_and_rotate(box):
    assert f"schema at version {migrations.available()[-1].version}" in box.run("db", "migrate").stdout
    assert "new field key 2" in box.run("keys", "rotate").stdout
    assert "current key 2" in box.run("check").stdout


def test_db_prune_reports_what_it_deleted(box):
    """`madoguchi db prune` is the worker's ten-minute job by hand: it names what it deleted."""
    out = box.run("db", "prune").stdout
    assert "expired session(s)" in out and "rate-limit counter(s)" in out


def test_demo_ivr_lines_are_published_and_flows_go_through_the_cli(box, tmp_path):
    """`madoguchi demo` adds the key-press lines with their flows published (v1) and their calendars;
    an administrator exports a flow, imports a broken one (its problems listed, the draft kept, the
    published one untouched), publishes a fixed one and rolls back."""
    lines = box.run("voice", "line", "list").stdout
    for did in ("0725998128", "0725998129", "0725998169", "0462000001"):
        assert f"{did}\tivr/dtmf_only" in lines
        assert "\tpublished\t" in box.run("voice", "flow", "versions", did).stdout
    out = box.run("voice", "calendar", "show", "和泉市役所", "--at", "2026-12-29 18:00").stdout
    assert "2026-12-29 18:00: closed (年末年始（12/29〜1/3）)" in out
    exported = tmp_path / "flow.json"
    box.run("voice", "flow", "export", "0725998128", str(exported))
    graph = json.loads(exported.read_text(encoding="utf-8"))
    assert len(graph["nodes"]["sms_caller"]["text"]) >= 400
    graph["nodes"]["staff"]["target"] = "存在しない係"
    exported.write_text(json.dumps(graph, ensure_ascii=False), encoding="utf-8")
    out = box.run("voice", "flow", "import", "0725998128", str(exported)).stdout
    assert "draft v2 saved, 1 problem(s)" in out and "staff: 転送先「存在しない係」はありません。" in out
    refused = box.run("voice", "flow", "publish", "0725998128", ok=False)
    assert "存在しない係" in refused.stderr
    graph["nodes"]["staff"]["target"] = "国保資格給付係"
    exported.write_text(json.dumps(graph, ensure_ascii=False), encoding="utf-8")
    box.run("voice", "flow", "import", "0725998128", str(exported))
    assert "v2 published" in box.run("voice", "flow", "publish", "0725998128", "--comment", "転送先").stdout
    assert "v3 published (the graph of v1)" in box.run("voice", "flow", "rollback", "0725998128", "1").stdout
    assert "line 0725998128 has no version 9" in box.run("voice", "flow", "rollback", "0725998128", "9",
                                                         ok=False).stderr
