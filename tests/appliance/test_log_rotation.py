"""The nightly log rotation loses no line: a process logs numbered lines as fast as it can while the
file is rotated again and again; every number is found exactly once across the current file, the
rotated ones and (an hour later) the gzipped ones; files past log_keep_days are deleted."""

from __future__ import annotations

import datetime
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

from appliance import runtime
from tests.conftest import make_instance, process_globals_kept

REPO = Path(__file__).resolve().parents[2]
LINES = 20000
CHILD = """
import logging, sys
from appliance import runtime
from appliance.settings import load_settings
settings = load_settings(sys.argv[1], environ={})
runtime.setup_logging(settings)
log = logging.getLogger("rotation-test")
print("READY", flush=True)
for n in range(int(sys.argv[2])):
    log.info("line %d", n)
"""


def test_rotating_while_a_process_logs_loses_no_line(tmp_path):
    with process_globals_kept():
        settings = make_instance(tmp_path, log_keep_days=3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "madoguchi.toml"), str(LINES)], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline() == "READY\n"
    night = datetime.datetime(2026, 12, 8, 2, 30, tzinfo=datetime.UTC)
    rotations = 0
    while child.poll() is None:
        rotations += bool([d for d in runtime.rotate_logs(settings, night) if d.startswith("rotated")])
        night += datetime.timedelta(seconds=1)
        time.sleep(0.02)
    assert child.wait() == 0 and rotations >= 3
    for path in settings.log_dir.glob("madoguchi-*.log"):
        os.utime(path, (time.time() - 7200, time.time() - 7200))  # an earlier night's
    assert any(d.startswith("compressed") for d in runtime.rotate_logs(settings, night))
    text = ""
    for path in settings.log_dir.iterdir():
        text += gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    numbers = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if "rotation-test line" in line]
    assert sorted(numbers) == list(range(LINES))
    old = settings.log_dir / "madoguchi-20200101-000000.log.gz"
    old.write_bytes(gzip.compress(b"old\n"))
    os.utime(old, (0, 0))
    assert "deleted madoguchi-20200101-000000.log.gz" in runtime.rotate_logs(settings, night)
