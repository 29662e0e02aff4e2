"""The bare-metal unit starts the same supervisor configuration as `make run` and the container, and
gives it every environment variable that configuration reads."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = (REPO / "systemd" / "madoguchi.service").read_text(encoding="utf-8")


def test_unit_provides_what_supervisord_conf_reads():
    wanted = set(re.findall(r"%\(ENV_(\w+)\)s", (REPO / "docker" / "supervisord.conf").read_text(encoding="utf-8")))
    given = set(re.findall(r"^Environment=(\w+)=", UNIT, re.MULTILINE))
    assert wanted and wanted <= given, wanted - given
    assert "supervisord -c /opt/madoguchi/docker/supervisord.conf" in UNIT
    assert "MADOGUCHI_CONFIG" in given


def test_unit_runs_unprivileged_with_only_the_port_capability():
    assert re.search(r"^User=madoguchi$", UNIT, re.MULTILINE)
    assert re.search(r"^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$", UNIT, re.MULTILINE)
    assert re.search(r"^ProtectSystem=strict$", UNIT, re.MULTILINE)
    state_dir = re.search(r"^StateDirectory=(\S+)$", UNIT, re.MULTILINE).group(1)
    assert f"/var/lib/{state_dir}" in UNIT  # data_dir's default, writable
