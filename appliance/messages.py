"""Message catalogues: texts citizens, callers and staff read or hear live in TOML files beside the code
that uses them (web/public/messages.toml; db/prompts.toml, the phone's, which staff edit), never in Python."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path


class Catalogue:
    def __init__(self, path: Path):
        self._texts = tomllib.loads(path.read_text(encoding="utf-8"))

    def __getitem__(self, key: str) -> str:
        node = self._texts
        for part in key.split("."):
            node = node[part]
        return node

    def get(self, key: str, default: str | None = None) -> str | None:
        try:
            return self[key]
        except KeyError:
            return default


@cache
def catalogue(path: Path) -> Catalogue:
    return Catalogue(path)
