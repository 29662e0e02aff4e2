"""Register mode (sip_trunk_mode = "register"): the engine registers with the trunk's registrar (a SIPp
UAS that challenges with digest auth) through Kamailio, giving Kamailio's address as its contact; calls
from the registrar's address are answered, calls from anywhere else get 403."""

from __future__ import annotations

import re
import time

import pytest

from tests.sip.conftest import (
    engine_problems,
    free_port_block,
    run_sipp,
    start_engine,
    start_uas,
    stop_engine,
)

USER, PASSWORD = "city01", "s3cret-pw"


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    root = tmp_path_factory.mktemp("register")
    port = free_port_block(1, region=45000)
    uas = start_uas(root / "registrar", "registrar.xml", port, timeout_s=60)

    def store_password(cli):
        stored = cli("voice", "trunk-password", input=PASSWORD + "\n")
        assert stored.returncode == 0, stored.stderr

    engine = start_engine(root, prepare=store_password, sip_trunk_mode="register",
                          sip_registrar=f"127.0.0.1:{port}", sip_username=USER, voice_max_calls=4)
    try:
        out, err = uas.communicate(timeout=60)
        yield engine, uas.returncode, (root / "registrar" / "registrar.log").read_text(errors="replace"), out + err
    finally:
        if uas.poll() is None:
            uas.kill()
        stop_engine(engine)
    assert engine.process.returncode == 0, engine.log_text()[-3000:]
    assert not engine_problems(engine.log_text())


def test_registers_with_digest_auth_and_kamailios_contact(registered):
    """The registrar's digest challenge is answered with the stored password (SIPp verifies it and exits
    0 only then), and the contact is Kamailio's listening address, not a worker's."""
    engine, status, log, output = registered
    assert status == 0, output[-2000:]
    logged = re.search(r"contact=(\S+) authorized=(\S+)", log)
    assert logged and logged[1] == f"sip:{USER}@127.0.0.1:{engine.sip_port}" and logged[2] == "true", log
    deadline = time.monotonic() + 10
    while "registered with the trunk (200" not in engine.log_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "registered with the trunk (200" in engine.log_text()
    assert (engine.settings.key_dir / "sip_password").stat().st_mode & 0o077 == 0


def test_calls_only_from_the_registrar(registered):
    """The registrar's address may call in; another address gets 403 from Kamailio."""
    engine = registered[0]
    answered = run_sipp(engine, "basic.xml", extra=("-d", "1000"))
    assert answered.returncode == 0, answered.stdout[-1500:] + answered.stderr[-1500:]
    refused = run_sipp(engine, "refused_403.xml", local_ip="127.0.0.2")
    assert refused.returncode == 0, refused.stdout[-1500:] + refused.stderr[-1500:]
    engine.wait_idle()


def test_missing_password_stops_the_start(tmp_path):
    """Without the password file the engine does not start, and says which command stores it."""
    with pytest.raises(AssertionError, match="voice trunk-password"):
        start_engine(tmp_path, sip_trunk_mode="register", sip_registrar="127.0.0.1:5999", sip_username=USER,
                     voice_max_calls=4)


def test_a_wrong_password_is_refused_and_logged(tmp_path):
    """With the wrong password the registrar refuses (403: SIPp's digest check really checks) and the
    engine's log says the registration failed; the engine itself keeps running."""
    port = free_port_block(1, region=45000)
    uas = start_uas(tmp_path / "registrar", "registrar.xml", port, timeout_s=30)
    engine = start_engine(tmp_path / "box", prepare=lambda cli: cli("voice", "trunk-password", input="wrong\n"),
                          sip_trunk_mode="register", sip_registrar=f"127.0.0.1:{port}", sip_username=USER,
                          voice_max_calls=4)
    try:
        uas.communicate(timeout=60)
        assert uas.returncode != 0
        deadline = time.monotonic() + 10
        while "registration with the trunk failed: 403" not in engine.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "registration with the trunk failed: 403" in engine.log_text()
        assert engine.process.poll() is None
    finally:
        if uas.poll() is None:
            uas.kill()
        stop_engine(engine)
