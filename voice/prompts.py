"""What the phone says: the catalogue voice/prompts.toml, as "section.key" → text. A call gets its
prompts when it comes in (FlowContext.prompts) and keeps them to its end."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("prompts.toml")


@cache
def defaults() -> Mapping[str, str]:
    texts = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {f"{section}.{key}": text for section, entries in texts.items() for key, text in entries.items()}


def for_call() -> Mapping[str, str]:
    """The prompts a call coming in now uses."""
    return defaults()
