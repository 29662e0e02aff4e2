"""What the phone says, per line flow: defaults from db/prompts.toml ("section.key" → text, one section
per flow), staff edits in the prompt_text table. An edited prompt keeps exactly the placeholders of its
default (the flow fills those with str.format and no others), written as bare {name}: no attribute
access, indexing, conversions, format specs or literal braces. Both the admin site (editing) and the
voice engine (voice/prompts.py, when a call comes in) read it here. Services never commit: the caller
owns the transaction."""

from __future__ import annotations

import datetime
import logging
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import runtime
from appliance.messages import catalogue
from db import audit, normalize
from db.models import PromptText

if TYPE_CHECKING:
    from db.bookings import Actor

log = logging.getLogger(__name__)

SECTIONS: tuple[str, ...] = ("booking", "echo")  # the flows with prompts, as the admin site lists them
MAX_CHARS = 400  # prompt_text.text CHECK
WRITTEN_MAX_CHARS = 60  # a booking's name and kana (db.bookings): the prompts that become them
KATAKANA_KEYS = frozenset({"booking.unnamed_kana"})  # stored as a booking's kana
WRITTEN_KEYS = frozenset({"booking.unnamed_name", "booking.unnamed_kana"})  # shown in lists, never said

_FORMATTER = string.Formatter()
_CATALOGUE_PATH = Path(__file__).with_name("prompts.toml")
_NOT_TEXT = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _catalogue():
    return catalogue(_CATALOGUE_PATH)  # cached per path


def _msg(key: str, **values: object) -> str:
    return _catalogue()[f"problem.{key}"].format(**values)


class PromptError(Exception):
    """A prompt that cannot be saved; the message is Japanese, for staff."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Prompt:
    key: str  # "section.key"
    text: str
    label: str
    updated_at: datetime.datetime | None
    updated_by: str
    is_default: bool

    @property
    def section(self) -> str:
        return self.key.partition(".")[0]


def defaults() -> dict[str, str]:
    """Every prompt's default text, "section.key" → text, sections in SECTIONS order."""
    return {f"{section}.{name}": text for section in SECTIONS for name, text in _catalogue()[section].items()}


def all_keys(section: str | None = None) -> list[str]:
    return [key for key in defaults() if section is None or key.startswith(section + ".")]


def check_key(key: str) -> None:
    if key not in defaults():
        raise KeyError(f"unknown prompt {key!r}")


def flow_label(section: str) -> str:
    return _catalogue()[f"flow.{section}"]


def label(key: str) -> str:
    section, _, name = key.partition(".")
    return _catalogue()["label"][section][name]


def _fields(text: str) -> list[tuple[str, str | None, str | None]]:
    """(field, spec, conversion) of each replacement field; ValueError for unbalanced braces."""
    return [(field, spec, conversion) for _literal, field, spec, conversion in _FORMATTER.parse(text)
            if field is not None]


def placeholder_names(key: str) -> tuple[str, ...]:
    """What the flow fills in this prompt: the placeholders of its default text, in order."""
    check_key(key)
    return tuple(dict.fromkeys(field for field, _spec, _conversion in _fields(defaults()[key])))


def placeholders(key: str) -> dict[str, str]:
    """This prompt's placeholders: name -> Japanese description, for the editor's help."""
    descriptions = _catalogue()["placeholders"]
    return {name: descriptions[name] for name in placeholder_names(key)}


def samples(key: str) -> dict[str, str]:
    """The values the audio preview fills in (this city's own name for {city})."""
    values = {**_catalogue()["sample"], **(_catalogue().get("sample_for") or {}).get(key, {}),
              "city": runtime.settings().city_name}
    return {name: values[name] for name in placeholder_names(key)}


def normalize_text(text: str) -> str:
    """What is stored: no spaces or line breaks around it (a browser's CRLF inside stays a problem)."""
    return text.strip()


def _written(field: str, spec: str | None, conversion: str | None) -> str:
    return "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"


def problems(key: str, text: str) -> list[str]:
    """Everything that stops this prompt from being saved, one Japanese message per problem (none: [])."""
    check_key(key)
    text = normalize_text(text)
    allowed = placeholder_names(key)
    found: list[str] = []
    if not text:
        found.append(_msg("empty"))
    if len(text) > MAX_CHARS:
        found.append(_msg("too_long", length=len(text), limit=MAX_CHARS))
    if "\n" in text or "\r" in text:
        found.append(_msg("line_break"))
    if any(unicodedata.category(ch) in _NOT_TEXT and ch not in "\r\n" for ch in text):
        found.append(_msg("control"))
    if "｛" in text or "｝" in text:
        found.append(_msg("fullwidth_braces"))
    try:
        pieces = list(_FORMATTER.parse(text))
    except ValueError:
        found.append(_msg("broken_braces"))
        pieces = []
    used: set[str] = set()
    for literal, field, spec, conversion in pieces:
        if "{" in literal or "}" in literal:  # {{ or }}, which str.format turns into a brace
            found.append(_msg("literal_braces"))
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            found.append(_msg("placeholder_form", placeholder=_written(field, spec, conversion)))
        elif field not in allowed:
            found.append(_msg("unknown_placeholder", placeholder="{" + field + "}"))
        else:
            used.add(field)
    if pieces:  # (unbalanced braces: said above; what is missing would only confuse)
        found += [_msg("missing_placeholder", placeholder="{" + name + "}") for name in allowed if name not in used]
    if key in WRITTEN_KEYS and len(text) > WRITTEN_MAX_CHARS:
        found.append(_msg("name_too_long", limit=WRITTEN_MAX_CHARS))
    if key in KATAKANA_KEYS and text and not normalize.is_katakana(normalize.katakana(text)):
        found.append(_msg("not_katakana"))
    return list(dict.fromkeys(found))  # one message per problem, in order


def _stored(key: str, text: str) -> str:
    text = normalize_text(text)
    return normalize.katakana(text) if key in KATAKANA_KEYS else text


def default(key: str) -> Prompt:
    check_key(key)
    return Prompt(key, defaults()[key], label(key), None, "", True)


def current(key: str) -> Prompt:
    """The saved prompt, or the default from prompts.toml."""
    check_key(key)
    row = PromptText.get_or_none(PromptText.key == key)
    if row is None:
        return default(key)
    return Prompt(key, row.text, label(key), row.updated_at, row.updated_by, False)


def listing() -> dict[str, list[Prompt]]:
    """Every prompt as the phone says it now, per section (flow), for the admin site's list."""
    rows = {row.key: row for row in PromptText.select()}
    out: dict[str, list[Prompt]] = {section: [] for section in SECTIONS}
    for key, text in defaults().items():
        row = rows.get(key)
        prompt = (Prompt(key, text, label(key), None, "", True) if row is None
                  else Prompt(key, row.text, label(key), row.updated_at, row.updated_by, False))
        out[prompt.section].append(prompt)
    return out


def for_call() -> dict[str, str]:
    """The prompts a call coming in now uses: the defaults overlaid with staff's edits. An edit that no
    longer fits its default (an update changed the placeholders the flow fills) is left out, so a call
    never fails on it; it is logged (by key, never the text)."""
    prompts = defaults()
    for row in PromptText.select(PromptText.key, PromptText.text):
        if row.key not in prompts:
            continue  # a prompt this version no longer has
        if problems(row.key, row.text):
            log.warning("prompt %s: the saved text no longer fits this version; the default is said", row.key)
            continue
        prompts[row.key] = row.text
    return prompts


def save(key: str, text: str, actor: Actor, now: datetime.datetime) -> Prompt:
    """Store staff's prompt (PromptError listing the problems if it cannot be), with one audit row."""
    found = problems(key, text)
    if found:
        raise PromptError(found)
    text = _stored(key, text)
    before = current(key)
    row = PromptText.get_or_none(PromptText.key == key)
    if row is None:
        PromptText.create(key=key, text=text, updated_at=now, updated_by=actor.name)
    else:
        row.text, row.updated_at, row.updated_by = text, now, actor.name
        row.save()
    _audit("prompt.update", key, before.text, text, actor, now)
    return current(key)


def reset(key: str, actor: Actor, now: datetime.datetime) -> Prompt:
    """Back to the default from prompts.toml (which then follows future updates of the defaults)."""
    before = current(key)
    PromptText.delete().where(PromptText.key == key).execute()
    after = default(key)
    _audit("prompt.reset", key, before.text, after.text, actor, now)
    return after


def _audit(action: str, key: str, before: str, after: str, actor: Actor, now: datetime.datetime) -> None:
    # Prompts hold no personal data, so the old and new wording may be kept.
    audit.record(actor.name, action, "prompt_text", key, now, source=actor.source, before=before, after=after)


def fill(key: str, text: str, values: Mapping[str, str] | None = None) -> str:
    """The text with its placeholders filled (the samples by default), as the flow would say it. Only
    for a text without problems(): a bad one raises PromptError."""
    found = problems(key, text)
    if found:
        raise PromptError(found)
    values = samples(key) if values is None else values
    return "".join(literal + (str(values[field]) if field is not None else "")
                   for literal, field, _spec, _conversion in _FORMATTER.parse(normalize_text(text)))
