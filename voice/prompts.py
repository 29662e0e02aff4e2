"""What the phone says: the catalogue db/prompts.toml overlaid with staff's edits (db/prompts.py), as
"section.key" → text. A call gets its prompts when it comes in (FlowContext.prompts) and keeps them to
its end: an edit saved during a call reaches the next one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType

from db import prompts

log = logging.getLogger(__name__)


def defaults() -> Mapping[str, str]:
    """The prompts as shipped, without staff's edits."""
    return MappingProxyType(prompts.defaults())


def for_call() -> Mapping[str, str]:
    """The prompts a call coming in now uses. When the edits cannot be read (the database is busy or
    damaged), the defaults: the call is answered anyway."""
    try:
        return MappingProxyType(prompts.for_call())
    except Exception:
        log.exception("staff's prompts could not be read; this call uses the defaults")
        return defaults()
