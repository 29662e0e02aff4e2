"""What a call on an IVR flow hears, without a call: the real flow (flow.py) fed a caller's keys, with
every prompt heard to its end, SMS queued and transfers answered as the staff member testing chose.
Staff use it (the admin site's simulator, `madoguchi voice flow simulate`) before they publish: "what
does a call on 12/29 at 18:00 hear?".

Inputs: one entry per question the flow asks: keys ("1", "09012345678#") or "" for silence."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from appliance import runtime
from db.flows import Program
from voice.call.events import (
    Answer,
    CallEnded,
    CallStarted,
    DigitsEntered,
    HangUp,
    Listen,
    NoInput,
    PromptFinished,
    RecordCall,
    Replied,
    Say,
    Transfer,
    TransferConnected,
    TransferFailed,
)
from voice.call.requests import (
    JoinQueue,
    LeaveQueue,
    PollQueue,
    QueuePlace,
    QueueTurn,
    Requeue,
    SendSms,
    SmsQueued,
)
from voice.flows.base import FlowContext, Line
from voice.flows.ivr.flow import IvrFlow

TRANSFER_OUTCOMES = ("connected", "busy", "no_answer")
MAX_COMMANDS = 2000


@dataclass(frozen=True)
class Moment:
    """One line of what happened: the flow said something, the caller pressed keys (or nothing), or
    the flow decided (the call log's turn: open/closed and why, a key chosen, an SMS queued)."""

    node: str
    kind: str  # "said" / "keys" / "turn" / "end"
    text: str  # what was said or pressed; a turn's result code; how the call ended
    detail: str = ""  # why a turn came out so (the calendar's rule)


@dataclass
class Simulation:
    lines: list[Moment] = field(default_factory=list)
    waiting: bool = False  # the flow asks a question the inputs did not answer yet
    ended: str = ""  # how the call ended ("" while waiting)
    path: list[str] = field(default_factory=list)


def simulate(program: Program, did: str, at: datetime.datetime, inputs: list[str], *, caller: str = "",
             transfer: str = "connected") -> Simulation:
    context = FlowContext("simulator", Line(did, "ivr", mode="dtmf_only"), caller, at, runtime.settings(),
                          program=program)
    flow = IvrFlow(context)
    result = Simulation()
    remaining = list(inputs)
    turns_seen = 0

    def node_id() -> str:
        return flow.node.id if flow.node is not None else ""

    def note_turns() -> None:
        nonlocal turns_seen
        for turn in flow.log.turns[turns_seen:]:
            result.lines.append(Moment(turn["step"], "turn", turn["result"], turn.get("understood", "")))
        turns_seen = len(flow.log.turns)

    pending = list(flow.handle(CallStarted("simulator", did, caller, at)))
    for _ in range(MAX_COMMANDS):
        note_turns()
        if not pending:
            break
        command = pending.pop(0)
        match command:
            case Answer() | RecordCall():
                pass
            case Say(text=text, prompt_id=prompt_id):
                result.lines.append(Moment(node_id(), "said", text))
                pending += flow.handle(PromptFinished(prompt_id))
            case Listen():
                if not remaining:
                    result.waiting = True
                    break
                keys = remaining.pop(0)
                result.lines.append(Moment(node_id(), "keys", keys))
                pending += flow.handle(DigitsEntered(keys, "terminator") if keys else NoInput())
            case SendSms(request_id=request_id):
                pending += flow.handle(Replied(request_id, SmsQueued(1)))
            case JoinQueue(request_id=request_id):
                pending += flow.handle(Replied(request_id, QueuePlace(1, 0.0)))
            case PollQueue(request_id=request_id):  # a phone of the group is free at once
                pending += flow.handle(Replied(request_id, QueueTurn(flow.node.group)))
            case Requeue(request_id=request_id):  # ... and none again after it failed: the wait runs out
                pending += flow.handle(Replied(request_id, QueuePlace(1, flow.node.max_wait_s)))
            case LeaveQueue():
                pass
            case Transfer(target=target) if transfer == "connected":
                flow.handle(TransferConnected(target))
                result.ended = f"transferred:{target}"
                break
            case Transfer(target=target):
                pending += flow.handle(TransferFailed(target, transfer))
            case HangUp(reason=reason):
                result.ended = reason
                break
    note_turns()
    if not result.waiting:
        flow.handle(CallEnded(result.ended or "simulator"))
        result.lines.append(Moment(node_id(), "end", result.ended or "-"))
    result.path = list(flow.log.path)
    return result
