"""The SMS and email texts citizens receive, per event and channel: defaults from db/texts.toml, staff
edits in the message_text table. Placeholders are str.format fields ({name}); only bare names that the
event allows are accepted, and filling never evaluates attribute access, indexing, conversions or format
specs. Services here never commit: the caller owns the transaction."""

from __future__ import annotations

import datetime
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import runtime
from appliance.messages import catalogue
from db import audit
from db.models import MessageText

if TYPE_CHECKING:
    from db.bookings import Actor

EVENTS: tuple[str, ...] = ("booking_confirmed", "booking_changed", "booking_cancelled", "reminder",
                           "slot_closed")
CHANNELS = ("sms", "email")
SMS_MAX_CHARS = 660  # the carrier limit for long SMS (full-width characters)
BODY_MAX_CHARS = 5000  # message_text.body CHECK
SUBJECT_MAX_CHARS = 200  # message_text.subject CHECK

_COMMON = ("name", "venue", "address", "date", "time", "number", "lookup_url", "help_phone", "city")
_ALLOWED: dict[str, tuple[str, ...]] = {event: _COMMON for event in EVENTS}
_ALLOWED["slot_closed"] = (*_COMMON, "reason", "alternatives")
_MULTILINE = frozenset({"alternatives"})  # never in a subject (a header holds one line)

_FORMATTER = string.Formatter()
_CATALOGUE_PATH = Path(__file__).with_name("texts.toml")


def _catalogue():
    return catalogue(_CATALOGUE_PATH)  # cached per path


def _msg(key: str, **values: object) -> str:
    return _catalogue()[f"problem.{key}"].format(**values)


class TextError(Exception):
    """A text that cannot be saved or filled; the message is Japanese, for staff."""

    def __init__(self, problems: str | Iterable[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Text:
    event: str
    channel: str
    subject: str
    body: str
    updated_at: datetime.datetime | None
    updated_by: str
    is_default: bool


@dataclass(frozen=True)
class SmsLength:
    chars: int  # septets (GSM-7) or UTF-16 units (UCS-2)
    segments: int
    encoding: str  # "GSM-7" or "UCS-2"


def _check(event: str, channel: str | None = None) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown message event {event!r}")
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown message channel {channel!r}")


def placeholders(event: str) -> dict[str, str]:
    """The placeholders this event allows: name -> Japanese description, for the editor's help."""
    _check(event)
    descriptions = _catalogue()["placeholders"]
    return {name: descriptions[name] for name in _ALLOWED[event]}


def default(event: str, channel: str) -> Text:
    _check(event, channel)
    node = _catalogue()[f"default.{event}.{channel}"]
    return Text(event, channel, node.get("subject", ""), node["body"], None, "", True)


def current(event: str, channel: str) -> Text:
    """The saved text, or the default from texts.toml."""
    _check(event, channel)
    row = MessageText.get_or_none(MessageText.event == event, MessageText.channel == channel)
    if row is None:
        return default(event, channel)
    return Text(event, channel, row.subject, row.body, row.updated_at, row.updated_by, False)


def _normalize(subject: str, body: str) -> tuple[str, str]:
    """What is stored: browser line breaks (CRLF) as LF, no trailing blank lines or spaces."""
    return subject.strip(), body.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def _written(field: str, spec: str | None, conversion: str | None) -> str:
    """The placeholder as staff wrote it (for messages)."""
    return "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"


def _field_problems(template: str, part: str, allowed: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    try:
        pieces = list(_FORMATTER.parse(template))
    except ValueError:
        return [_msg("broken_braces", part=_catalogue()[f"part.{part}"])]
    for _literal, field, spec, conversion in pieces:
        if field is None:
            continue
        base = re.split(r"[.\[]", field, maxsplit=1)[0]
        if base != field or spec or conversion:
            found.append(_msg("placeholder_form", placeholder=_written(field, spec, conversion)))
        if base not in allowed:
            found.append(_msg("unknown_placeholder", placeholder="{" + base + "}"))
        elif part == "subject" and base in _MULTILINE:
            found.append(_msg("multiline_in_subject", placeholder="{" + base + "}"))
    if "｛" in template or "｝" in template:
        found.append(_msg("fullwidth_braces", part=_catalogue()[f"part.{part}"]))
    return found


def _fill(template: str, values: Mapping[str, str], *, strict: bool, part: str = "body") -> str:
    """Fill bare {name} fields from values. strict: anything else is a TextError; lenient: left as written.
    Never evaluates attribute access, indexing, conversions or format specs."""
    try:
        pieces = list(_FORMATTER.parse(template))
    except ValueError:
        if strict:
            raise TextError(_msg("broken_braces", part=_catalogue()[f"part.{part}"])) from None
        return template
    out = []
    for literal, field, spec, conversion in pieces:
        out.append(literal)
        if field is None:
            continue
        if field in values and not spec and not conversion:
            out.append(str(values[field]))
        elif strict:
            raise TextError(_msg("missing_value", placeholder=_written(field, spec, conversion)))
        else:
            out.append(_written(field, spec, conversion))
    return "".join(out)


def _samples(event: str) -> dict[str, str]:
    """The catalogue's samples, with this city's own name, help line and site address (their real
    lengths count towards the SMS limit)."""
    settings = runtime.settings()
    sample = {**_catalogue()["sample"], "city": settings.city_name, "help_phone": settings.help_phone,
              "lookup_url": settings.public_url.rstrip("/") + "/lookup"}
    return {name: sample[name] for name in _ALLOWED[event]}


def problems(event: str, channel: str, subject: str, body: str) -> list[str]:
    """Everything that stops this text from being saved, one Japanese message per problem (none: [])."""
    _check(event, channel)
    subject, body = _normalize(subject, body)
    allowed = _ALLOWED[event]
    found: list[str] = []
    if channel == "sms" and subject:
        found.append(_msg("sms_subject"))
    if channel == "email":
        if not subject:
            found.append(_msg("email_subject_missing"))
        if "".join(subject.splitlines()) != subject:
            found.append(_msg("subject_line_break"))
        if len(subject) > SUBJECT_MAX_CHARS:
            found.append(_msg("subject_too_long", length=len(subject), limit=SUBJECT_MAX_CHARS))
        found += _field_problems(subject, "subject", allowed)
    if not body:
        found.append(_msg("empty_body"))
    if len(body) > BODY_MAX_CHARS:
        found.append(_msg("body_too_long", length=len(body), limit=BODY_MAX_CHARS))
    found += _field_problems(body, "body", allowed)
    if channel == "sms" and body:
        length = sms_length(_fill(body, _samples(event), strict=False))
        if length.chars > SMS_MAX_CHARS:
            found.append(_msg("sms_too_long", length=length.chars, limit=SMS_MAX_CHARS))
    return list(dict.fromkeys(found))  # one message per problem, in order


def save(event: str, channel: str, subject: str, body: str, actor: Actor, now: datetime.datetime) -> Text:
    """Store staff's text (TextError listing the problems if it cannot be), with one audit row."""
    found = problems(event, channel, subject, body)
    if found:
        raise TextError(found)
    subject, body = _normalize(subject, body)
    before = current(event, channel)
    row = MessageText.get_or_none(MessageText.event == event, MessageText.channel == channel)
    if row is None:
        MessageText.create(event=event, channel=channel, subject=subject, body=body, updated_at=now,
                           updated_by=actor.name)
    else:
        row.subject, row.body, row.updated_at, row.updated_by = subject, body, now, actor.name
        row.save()
    _audit("text.update", event, channel, before, subject, body, actor, now)
    return current(event, channel)


def reset(event: str, channel: str, actor: Actor, now: datetime.datetime) -> Text:
    """Back to the default from texts.toml (which then follows future updates of the defaults)."""
    before = current(event, channel)
    MessageText.delete().where(MessageText.event == event, MessageText.channel == channel).execute()
    after = default(event, channel)
    _audit("text.reset", event, channel, before, after.subject, after.body, actor, now)
    return after


def _audit(action: str, event: str, channel: str, before: Text, subject: str, body: str, actor: Actor,
           now: datetime.datetime) -> None:
    # These texts hold no personal data, so the old and new wording may be kept.
    details: dict[str, str] = {"before": before.body, "after": body}
    if channel == "email":
        details.update(subject_before=before.subject, subject_after=subject)
    audit.record(actor.name, action, "message_text", f"{event}/{channel}", now, source=actor.source, **details)


def render(text: Text, values: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) filled with values; a placeholder without a value is a TextError. A line break
    that a value brings into the subject becomes a space (a mail header holds one line)."""
    subject = " ".join(_fill(text.subject, values, strict=True, part="subject").splitlines())
    return subject, _fill(text.body, values, strict=True)


def preview(event: str, channel: str, subject: str, body: str) -> tuple[str, str]:
    """(subject, body) filled with the sample values, for the editor. Lenient: a placeholder the event
    does not allow, or text with broken braces, is shown as written (problems() names what is wrong)."""
    _check(event, channel)
    subject, body = _normalize(subject, body)
    samples = _samples(event)
    return _fill(subject, samples, strict=False), _fill(body, samples, strict=False)


# GSM 03.38: the basic character set (ESC excluded) and the extension table (escape + character).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def sms_length(text: str) -> SmsLength:
    """Length and parts of an SMS. GSM-7 if every character is in GSM 03.38 (extension characters take
    two septets): 160 in one message, 153 per part. Otherwise UCS-2 (UTF-16 units, so an emoji takes
    two): 70, or 67 per part. Parts never split an escape sequence or a surrogate pair."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        costs = [2 if c in _GSM_EXTENSION else 1 for c in text]
        encoding, single, per_part = "GSM-7", 160, 153
    else:
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        encoding, single, per_part = "UCS-2", 70, 67
    chars = sum(costs)
    if chars <= single:
        return SmsLength(chars, 1, encoding)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(chars, segments, encoding)
