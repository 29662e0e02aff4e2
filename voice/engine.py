"""`madoguchi voice`: the whole voice engine as one supervised process tree.

Children: the recognition service (the ASR model, loaded once), the voice workers (≤ 4 calls each)
and the overflow worker, and Kamailio in front of them. A child that dies is started again after a
pause (its calls are lost, the others' are not); SIGTERM stops them all, workers first so their calls
get a BYE. `run_dir/voice.ready` exists while everything is up (tests and `madoguchi check` read it).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from db import alerts
from voice import calllog, dispatcher

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 2.0
RESTARTS_ALERT, RESTARTS_WINDOW_S = 3, 600.0  # a child exiting this often keeps restarting: alert
READY_TIMEOUT_S = 120.0


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_file: Path | None = None
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    exits: list[float] = field(default_factory=list)  # when it last exited (monotonic), for the alert
    next_start: float = 0.0
    stop_order: int = 1
    after_others: bool = False  # started only once every other child is ready

    def start(self) -> None:
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)
        self.started_at = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.process.pid)

    @property
    def ready(self) -> bool:
        alive = self.process is not None and self.process.poll() is None
        return alive and (self.ready_file is None or self.ready_file.exists())


@dataclass
class Engine:
    settings: object
    children: list[Child] = field(default_factory=list)
    running: bool = True

    @classmethod
    def from_settings(cls, settings, extensions: dict[str, str] | None = None) -> Engine:
        """extensions: number → HA1 of the staff phones that may register (db/extensions.py)."""
        run_dir = settings.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        plan = dispatcher.Plan.from_settings(settings)
        me = [sys.executable, "-m", "appliance"]
        children = [Child("recognizer", [*me, "voice", "recognizer"], run_dir / "asr.ready", stop_order=2)]
        for index in range(plan.workers):
            children.append(Child(f"worker-{index}", [*me, "voice", "worker", "--index", str(index)],
                                  run_dir / f"worker-{index}.ready", stop_order=0))
        children.append(Child("overflow", [*me, "voice", "worker", "--index", str(plan.overflow_index), "--overflow"],
                              run_dir / f"worker-{plan.overflow_index}.ready", stop_order=0))
        config = dispatcher.write_config(settings, plan, run_dir, extensions)
        dispatcher.validate(config)
        if settings.sip_trunk_mode == "register":  # say so now, not in a worker restarting every 2 s
            dispatcher.trunk_password(settings)
            dispatcher.contact_address(settings)
        # Kamailio last: its dispatcher pings the workers from the start and would mark a worker that is
        # still loading as down, sending callers a 503 until the next ping
        children.append(Child("kamailio", dispatcher.command(config, run_dir), run_dir / "kamailio.pid",
                              stop_order=1, after_others=True))
        return cls(settings, children)

    @property
    def ready_file(self) -> Path:
        return self.settings.run_dir / "voice.ready"

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.ready_file.unlink(missing_ok=True)
        for child in self.children:
            if not child.after_others:
                child.start()
        was_ready = False
        while self.running:
            time.sleep(0.2)
            now = time.monotonic()
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    log.error("%s exited with status %s; starting it again in %.0f s", child.name,
                              child.process.returncode, RESTART_PAUSE_S)
                    child.process, child.next_start = None, now + RESTART_PAUSE_S
                    child.restarts += 1
                    child.exits = [t for t in child.exits if now - t < RESTARTS_WINDOW_S] + [now]
                    if len(child.exits) >= RESTARTS_ALERT:
                        self._alert(child)
                elif (child.process is None and now >= child.next_start and self.running
                      and not (child.after_others and not all(c.ready for c in self.children if c is not child))):
                    child.start()
            ready = all(child.ready for child in self.children)
            if ready != was_ready:
                if ready:
                    self.ready_file.touch()
                    log.info("voice engine ready: SIP on %s, %d workers", self.settings.sip_listen,
                             len(self.children) - 3)
                else:
                    self.ready_file.unlink(missing_ok=True)
                was_ready = ready
        self.shutdown()
        return 0

    def _alert(self, child: Child) -> None:
        """Mail the administrators (db/alerts.py: once a day); a database problem must not stop the engine."""
        try:
            alerts.raise_alert("process_restarting", f"{child.name}: {len(child.exits)} times in "
                               f"{RESTARTS_WINDOW_S // 60:.0f} minutes", calllog.now())
        except Exception:
            log.exception("the alert about %s could not be queued", child.name)

    def _stop(self, signum, frame) -> None:
        self.running = False

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.ready_file.unlink(missing_ok=True)
        for order in sorted({child.stop_order for child in self.children}):
            group = [c for c in self.children if c.stop_order == order and c.process is not None]
            for child in group:
                child.process.terminate()
            deadline = time.monotonic() + timeout_s
            for child in group:
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.error("%s did not stop in %.0f s: killed", child.name, timeout_s)
                    child.process.kill()
                    child.process.wait()
                child.process = None
