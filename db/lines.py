"""The phone lines staff edit on the admin site: a line's name, flow, voice, speed of speech, volume
and whether its calls are recorded (the number and whether it is active stay with the CLI, `madoguchi
voice line set`). The web may not import voice, so the flows and voices a line may have are listed
here; tests/voice/test_prompts.py checks they are what voice.flows and voice.tts know. Services here
never commit: the caller owns the transaction."""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.messages import catalogue
from db import audit
from db.models import PhoneLine

if TYPE_CHECKING:
    from db.bookings import Actor

FLOWS: tuple[str, ...] = ("booking", "echo", "ivr")  # voice.flows.flow_names()
SPEED = (0.5, 2.0)  # phone_line.tts_speed CHECK, voice.tts.Voice.validate
VOLUME = (0.05, 1.0)  # phone_line.tts_volume CHECK
LABEL_MAX_CHARS = 100
FIELDS = ("label", "flow", "tts_engine", "tts_voice", "tts_speed", "tts_volume", "record")

_CATALOGUE_PATH = Path(__file__).with_name("lines.toml")


def _catalogue():
    return catalogue(_CATALOGUE_PATH)


def _msg(key: str, **values: object) -> str:
    return _catalogue()[f"problem.{key}"].format(**values)


def voices() -> dict[tuple[str, str], str]:
    """(engine, voice name) → label, every voice a line may speak with ("" is the engine's default)."""
    return {(engine, name): label for engine, names in _catalogue()["voice"].items() for name, label in names.items()}


class LineError(Exception):
    """A change to a phone line that cannot be saved; the messages are Japanese, for staff."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class LineChange:
    label: str
    flow: str
    tts_engine: str
    tts_voice: str
    tts_speed: float
    tts_volume: float
    record: bool


def problems(change: LineChange) -> list[str]:
    found: list[str] = []
    if len(change.label) > LABEL_MAX_CHARS:
        found.append(_msg("label_too_long", limit=LABEL_MAX_CHARS))
    if any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in change.label):
        found.append(_msg("label_control"))
    if change.flow not in FLOWS:
        found.append(_msg("flow"))
    if (change.tts_engine, change.tts_voice) not in voices():
        found.append(_msg("voice"))
    if not SPEED[0] <= change.tts_speed <= SPEED[1]:
        found.append(_msg("speed", low=SPEED[0], high=SPEED[1]))
    if not VOLUME[0] <= change.tts_volume <= VOLUME[1]:
        found.append(_msg("volume", low=VOLUME[0], high=VOLUME[1]))
    return found


def save(line_id: int, change: LineChange, actor: Actor, now: datetime.datetime) -> PhoneLine:
    """Apply staff's change to the line (LineError listing the problems if it cannot be), with one audit
    row naming what changed, before and after. The next call on the line uses it; calls in progress keep
    what they started with. PhoneLine.DoesNotExist for an unknown line."""
    line = PhoneLine.get_by_id(line_id)
    change = LineChange(change.label.strip(), change.flow, change.tts_engine, change.tts_voice,
                        round(float(change.tts_speed), 2), round(float(change.tts_volume), 2), bool(change.record))
    found = problems(change)
    if line.mode == "dtmf_only" and change.flow != "ivr":
        found.append(_msg("dtmf_only"))
    if found:
        raise LineError(found)
    changed = {name: [getattr(line, name), getattr(change, name)] for name in FIELDS
               if getattr(line, name) != getattr(change, name)}
    if not changed:
        return line
    for name, (_before, after) in changed.items():
        setattr(line, name, after)
    line.save()
    audit.record(actor.name, "phone_line.update", "phone_line", line.did, now, source=actor.source, **changed)
    return line
