"""Fixtures for the SIP tests: the whole voice engine (`madoguchi voice`: Kamailio, the pjsua2 workers,
the overflow worker, the recognition service with the real Whisper model) on loopback ports, a pjsua2
test caller in its own process, and SIPp.

After every test the engine must be as it was: no live call in the call log, no worker thread that was not
there at the baseline, no more open file descriptors than then, no pjlib assertion or traceback in its log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from appliance.settings import voice_workers
from db.connection import open_database
from tests.conftest import make_instance, process_globals_kept

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).with_name("scenarios")
BOOKING_DID = "0586000001"  # the demo's booking line
ECHO_DID = "0586000009"  # the demo's diagnostics line: reads back what it heard


def free_port_block(size: int, region: int = 21000) -> int:
    """The first port of `size` consecutive free UDP+TCP loopback ports from region up (ports wanted
    before the engine binds its own come from another region, or the engine would be given them too)."""
    for base in range(region + (os.getpid() % 200) * 50, 65000, size + 7):
        try:
            sockets = []
            for port in range(base, base + size):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    sockets.append(s)
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


@dataclass(frozen=True)
class Resources:
    pid: int
    threads: frozenset[int]
    fds: int


def leaks(baseline: dict[int, Resources], now: dict[int, Resources]) -> list[str]:
    """What a worker holds now that it did not at the baseline: a thread that was not there, more file
    descriptors, or a new process (the worker died and was restarted). A start-up thread that ended
    since, or a descriptor closed since, is no leak."""
    found = []
    for index, before in sorted(baseline.items()):
        after = now.get(index)
        if after is None or after.pid != before.pid:
            found.append(f"worker {index} was restarted")
            continue
        if after.threads - before.threads:
            found.append(f"worker {index}: {len(after.threads - before.threads)} new thread(s)")
        if after.fds > before.fds:
            found.append(f"worker {index}: {after.fds - before.fds} more file descriptor(s)")
    return found


@dataclass
class Engine:
    settings: object
    config: Path
    process: subprocess.Popen
    log_path: Path
    sip_port: int

    @property
    def uri(self) -> str:
        return self.uri_for(ECHO_DID)

    def uri_for(self, did: str) -> str:
        return f"sip:{did}@127.0.0.1:{self.sip_port}"

    def workers(self) -> list[psutil.Process]:
        children = psutil.Process(self.process.pid).children()
        return [c for c in children if "worker" in c.cmdline()]

    def resources(self) -> dict[int, Resources]:
        """Per worker (by index): its pid, thread ids and number of open file descriptors."""
        found = {}
        for worker in self.workers():
            with contextlib.suppress(psutil.NoSuchProcess):  # a worker being restarted: the check names it
                index = int(worker.cmdline()[worker.cmdline().index("--index") + 1])
                found[index] = Resources(worker.pid, frozenset(t.id for t in worker.threads()), worker.num_fds())
        return found

    def query(self, sql: str, *params):
        with process_globals_kept():
            db = open_database(self.settings)
            try:
                return db.execute_sql(sql, params).fetchall()
            finally:
                db.close()

    def live_calls(self) -> int:
        return self.query("SELECT count(*) FROM call_record WHERE ended_at IS NULL")[0][0]

    def wait_idle(self, timeout_s: float = 40.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.live_calls() and time.monotonic() < deadline:
            time.sleep(0.3)
        if self.live_calls():  # say which calls, and what the engine logged, so a rare failure explains itself
            rows = self.query("SELECT id, sip_call_id, worker, started_at, answered_at FROM call_record "
                              "WHERE ended_at IS NULL")
            log_tail = "\n".join(self.log_text().splitlines()[-80:])
            raise AssertionError(f"calls still live in the call log after the test: {rows}\n{log_tail}")

    def calls(self, since_id: int = 0) -> list[dict]:
        from voice import calllog  # noqa: F401  (models registered)
        rows = self.query("SELECT id, did, started_at, answered_at, ended_at, outcome, end_reason, path, "
                          "recording, recording_seconds, transcript, duration_s FROM call_record WHERE id > ? "
                          "ORDER BY id", since_id)
        keys = ("id", "did", "started_at", "answered_at", "ended_at", "outcome", "end_reason", "path",
                "recording", "recording_seconds", "transcript", "duration_s")
        return [dict(zip(keys, row, strict=True)) | {"path": json.loads(row[7])} for row in rows]

    def last_call_id(self) -> int:
        return self.query("SELECT coalesce(max(id), 0) FROM call_record")[0][0]

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True,
                              env={**os.environ, "MADOGUCHI_CONFIG": str(self.config)}, timeout=120)


def start_engine(root: Path, prepare=None, **overrides) -> Engine:
    """The engine on free loopback ports; prepare(cli) runs after the instance is made, before the start."""
    workers = voice_workers(overrides.get("voice_max_calls", 12)) + 1
    base = free_port_block(max(12, workers + 3))  # Kamailio, its loopback listener, the workers
    span = max(200, workers * 10)
    rtp = free_port_block(span, region=31000)  # elsewhere: nothing is bound yet, so the same region would overlap
    settings = make_instance(root, sip_listen=f"127.0.0.1:{base}", voice_worker_base_port=base + 2,
                             rtp_ports=f"{rtp}-{rtp + span - 1}", **overrides)
    config = root / "madoguchi.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env["MADOGUCHI_CONFIG"] = str(config)
    for command in (["models", "setup"], ["demo", "--weeks", "1"]):
        subprocess.run([sys.executable, "-m", "appliance", *command], env=env, check=True, capture_output=True,
                       timeout=300)
    if prepare is not None:
        prepare(lambda *args, **kw: subprocess.run([sys.executable, "-m", "appliance", *args], env=env, text=True,
                                                   capture_output=True, timeout=120, **kw))
    log_path = root / "voice.log"
    with open(log_path, "wb") as log:
        # its own process group: whatever it leaves behind (a Kamailio of a killed engine) is ended with it
        process = subprocess.Popen([sys.executable, "-m", "appliance", "voice"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
    engine = Engine(settings, config, process, log_path, base)
    ready = settings.run_dir / "voice.ready"
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_engine(engine)
            raise AssertionError(f"the voice engine did not start:\n{engine.log_text()[-3000:]}")
        time.sleep(0.2)
    return engine


def stop_engine(engine: Engine) -> None:
    if engine.process.poll() is None:
        engine.process.terminate()
        try:
            engine.process.wait(40)
        except subprocess.TimeoutExpired:
            engine.process.kill()
            engine.process.wait()
    with contextlib.suppress(ProcessLookupError):  # nothing left: the engine stopped its children itself
        os.killpg(engine.process.pid, signal.SIGKILL)


def engine_problems(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if re.search(r"Assertion|Traceback|Segmentation|core dumped|exited with status", line)]


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    engine = start_engine(tmp_path_factory.mktemp("voice"), media_timeout_s=8, voice_ring_ms=300,
                          voice_max_calls=8)
    yield engine
    stop_engine(engine)
    assert engine.process.returncode == 0, engine.log_text()[-3000:]
    problems = engine_problems(engine.log_text())
    assert not problems, problems


@pytest.fixture(scope="session")
def baseline(engine):
    """Each worker's threads and descriptors once it has served a call (pools and sockets all made).
    Kamailio's children each keep their own round-robin position, so calls are placed until every
    worker has answered one."""
    workers = len(engine.workers()) - 1  # the overflow worker only answers when the others are full
    for _ in range(10):
        run_sipp(engine, "basic.xml", calls=4, rate=4, limit=2)
        engine.wait_idle()
        if len({row[0] for row in engine.query("SELECT DISTINCT worker FROM call_record")}) >= workers:
            break
    time.sleep(1.0)
    return engine.resources()


@pytest.fixture
def clean_engine(engine, baseline):
    """The engine, checked after the test: no live calls, no leaked threads or descriptors, a clean log."""
    log_start = len(engine.log_text())
    yield engine
    engine.wait_idle()
    deadline = time.monotonic() + 10
    while leaks(baseline, engine.resources()) and time.monotonic() < deadline:
        time.sleep(0.5)  # a call's media threads and sockets are released shortly after its BYE
    assert leaks(baseline, engine.resources()) == []
    problems = engine_problems(engine.log_text()[log_start:])
    assert not problems, problems


def run_sipp(engine: Engine, scenario: str, *, calls: int = 1, rate: float = 1, limit: int = 1,
             service: str = ECHO_DID, local_ip: str = "127.0.0.1", extra: tuple[str, ...] = (),
             timeout_s: float = 120) -> subprocess.CompletedProcess:
    """Run a SIPp scenario (a name in scenarios/ or a path) to completion (-m calls); the caller asserts on
    the exit status."""
    argv = ["sipp", f"127.0.0.1:{engine.sip_port}", "-sf", str(SCENARIOS / scenario), "-s", service,
            "-i", local_ip, "-p", "0", "-m", str(calls), "-r", str(rate), "-l", str(limit),
            "-mp", str(free_port_block(8)), "-nostdin", "-timeout", f"{int(timeout_s)}s",
            "-timeout_error", "-trace_err", "-error_file", str(engine.settings.data_dir / f"sipp-{Path(scenario).name}.err"),
            *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s + 30,
                          cwd=engine.settings.data_dir)


def start_uas(folder: Path, scenario: str, port: int, *, duration_ms: int = 0, timeout_s: int = 90,
              calls: int = 1) -> subprocess.Popen:
    """SIPp as the far end (a registrar, a transfer target) on 127.0.0.1:port, in the background; the
    test reads its exit status (0: every call went as the scenario says) and folder/<scenario>.log."""
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(scenario).stem
    return subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port), "-m", str(calls),
         "-d", str(duration_ms), "-mp", str(free_port_block(8, region=50000)), "-nostdin", "-timeout", f"{timeout_s}s",
         "-timeout_error", "-trace_logs", "-log_file", str(folder / f"{name}.log"), "-trace_msg", "-message_file",
         str(folder / f"{name}.messages"), "-trace_err", "-error_file",
         str(folder / f"{name}.err")],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def speech_wav(path: Path, text: str) -> Path:
    from voice.tts import synthesize
    samples = synthesize(text)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    return path


def call(engine: Engine, tmp_path: Path, steps: list[dict], *, codec: str = "PCMU/8000/1",
         uri: str | None = None, caller: str = "0901234567", timeout_s: float = 150) -> dict:
    """Place a call with the pjsua2 test caller (its own process) and return its report."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"uri": uri or engine.uri, "codec": codec, "steps": steps, "from": caller,
                                  "heard": str(tmp_path / "heard.wav")}), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tests.sip.caller", str(script)], capture_output=True,
                            text=True, timeout=timeout_s, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
