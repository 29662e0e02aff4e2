"""The flow editor's simulator: what a call on an IVR flow hears, from `madoguchi voice flow simulate
--stdin --json` in a child process (the sites may not import voice; the CLI walks the real flow), with
this process's settings, and a time limit below gunicorn's request timeout."""

from __future__ import annotations

import datetime
import json
import logging
import subprocess
import sys

from db import calendars
from db.models import FlowVersion

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0


class SimulationFailed(Exception):
    pass


def simulate(version: FlowVersion, at: datetime.datetime, keys: list[str], caller: str, transfer: str) -> dict:
    """{"lines": [{"node", "kind", "text"}], "waiting", "ended", "path"} of a call on this version, with
    today's calendars (handed over on standard input: the child reads no database)."""
    flow = {"version": version.version, "graph": json.loads(version.graph),
            "calendars": [schedule.to_json() for schedule in calendars.all_schedules().values()]}
    argv = [sys.executable, "-m", "appliance", "voice", "flow", "simulate", version.did, "--stdin",
            "--at", at.strftime("%Y-%m-%d %H:%M"), "--keys", ",".join(keys), "--transfer", transfer, "--json"]
    if caller:
        argv += ["--caller", caller]
    try:
        done = subprocess.run(argv, input=json.dumps(flow, ensure_ascii=False).encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise SimulationFailed("timeout") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        log.warning("flow simulation failed: %s", reason[0][:300])
        raise SimulationFailed(reason[0])
    return json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
