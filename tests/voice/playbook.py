"""Flow tests as playbooks, as mitmproxy tests its layers: events go in with <<, the commands the flow
must answer with come out with >>, and `assert playbook` runs it. Every command the flow returns must
be expected, in order: a playbook that leaves one unexpected (or expects one that never came) fails.

    assert (Playbook(flow)
            << started()
            >> Answer() >> said("ご用件") >> Listen
            << heard("予約したい")
            >> said("予約", "ですね") >> asked(FindSlots)
            << reply(SlotsFound(()))
            ...)

Expectations: a command (equal), a command class (any of that kind), said(...) (a Say containing
each text), asked(RequestClass, **fields), or any callable taking the command. Events may refer to what
came before: finished() is PromptFinished of the last Say, reply(result) answers the last Request.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from voice.call.events import (
    CallStarted,
    DigitsEntered,
    NoInput,
    PromptFinished,
    Replied,
    Say,
    SpeechRecognized,
)
from voice.call.requests import Request
from voice.flows.base import FlowContext, Line

TOKYO = datetime.timezone(datetime.timedelta(hours=9))
STARTED_AT = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)  # tests.conftest.NOW


def context(flow: str = "echo", call_id: str = "call-1", caller: str = "09011112222", **settings) -> FlowContext:
    """A flow's context for a test: the demo line, the time of tests.conftest.NOW, default settings
    (with overrides)."""
    from appliance.settings import SETTINGS, Settings
    values = Settings({s.name: s.default for s in SETTINGS}).replace(**settings)
    return FlowContext(call_id, Line("0586000001", flow), caller, STARTED_AT, values)


def started(call_id: str = "call-1", dialled: str = "0586000001", caller: str = "09011112222",
            at: datetime.datetime = STARTED_AT) -> CallStarted:
    return CallStarted(call_id, dialled, caller, at)


def heard(text: str, confidence: float = 0.9, alternatives: tuple[str, ...] = (), **scores: float) -> SpeechRecognized:
    """What the recogniser made of an answer; scores: expected answers and how much the audio speaks
    for each (heard("…", 本庁舎=9.0, 北支所=1.0))."""
    return SpeechRecognized(text, confidence, alternatives, scores=tuple(scores.items()))


def keys(digits: str, ended_by: str = "terminator") -> DigitsEntered:
    return DigitsEntered(digits, ended_by)


def silence() -> NoInput:
    return NoInput()


@dataclass(frozen=True)
class finished:  # noqa: N801 - reads as an event in a playbook
    """PromptFinished of the last Say the flow returned."""

    interrupted: bool = False


@dataclass(frozen=True)
class reply:  # noqa: N801
    """Replied to the last Request the flow returned, with this result."""

    result: object


def said(*texts: str):
    def match(command) -> bool:
        return isinstance(command, Say) and all(text in command.text for text in texts)
    match.description = f"said{texts}"
    return match


def asked(kind: type[Request], **values):
    def match(command) -> bool:
        return isinstance(command, kind) and all(getattr(command, k) == v for k, v in values.items())
    match.description = f"asked({kind.__name__}, {values})"
    return match


@dataclass
class Playbook:
    flow: object
    steps: list[tuple[str, object]] = field(default_factory=list)

    def __lshift__(self, event) -> Playbook:
        self.steps.append(("in", event))
        return self

    def __rshift__(self, expected) -> Playbook:
        self.steps.append(("out", expected))
        return self

    def __bool__(self) -> bool:
        pending: list = []
        last_say: Say | None = None
        last_request: Request | None = None
        for number, (kind, item) in enumerate(self.steps, 1):
            if kind == "in":
                assert not pending, f"step {number}: {item!r} fed while unexpected commands wait: {pending}"
                event = item
                if isinstance(item, finished):
                    assert last_say is not None, f"step {number}: finished() before any Say"
                    event = PromptFinished(last_say.prompt_id, item.interrupted)
                elif isinstance(item, reply):
                    assert last_request is not None, f"step {number}: reply() before any request"
                    event = Replied(last_request.request_id, item.result)
                pending.extend(self.flow.handle(event))
                continue
            assert pending, f"step {number}: expected {_describe(item)}, but the flow returned nothing more"
            command = pending.pop(0)
            assert _matches(item, command), f"step {number}: expected {_describe(item)}, got {command!r}"
            if isinstance(command, Say):
                last_say = command
            if isinstance(command, Request):
                last_request = command
        assert not pending, f"the playbook ended with commands it did not expect: {pending}"
        return True


def _matches(expected, command) -> bool:
    if isinstance(expected, type):
        return isinstance(command, expected)
    if callable(expected) and not hasattr(expected, "__dataclass_fields__"):
        return bool(expected(command))
    return expected == command


def _describe(expected) -> str:
    return getattr(expected, "description", None) or getattr(expected, "__name__", None) or repr(expected)
