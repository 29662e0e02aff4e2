"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli import main
from appliance.settings import SETTINGS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def _commands(group: click.Group, prefix: str = "madoguchi"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path


def test_every_cli_command_is_documented():
    missing = [c for c in _commands(main) if f"`{c}" not in README]
    assert not missing, f"CLI commands missing from README.md: {missing}"
