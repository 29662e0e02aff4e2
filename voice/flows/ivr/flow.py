"""A call walking the published flow graph of its line (db/flows.py Program, taken when the call came
in and kept to its end), by keys only:

- announcement: said whole (keys do not cut it short), then the next node;
- menu: the prompt (a key cuts it short and answers), key → its node; the repeat key says it again,
  the back key goes to the menu before, the top key to the first; a wrong key or silence says so and
  asks again, up to max_failures, then the failure node (as FreeSWITCH's ivr menus);
- schedule: open or closed by the calendar at the time the call came in (db/calendars.py);
- entry: digits ended by # or the longest length (a mobile number for an SMS), checked, kept;
- sms: the staff text to the caller's own number or the one keyed, if it is a mobile number;
- transfer: to a named target (recorded from then on when the node says so); busy or unanswered → that
  branch;
- message: the caller leaves a message on the call's recording, ended by #, silence or the time;
- queue: wait for a free phone of a group (db/queues.py: the longest waiting caller gets the next free
  one), told the place every every_s; transferred when the turn comes, back in the queue (keeping the
  place) when that phone is busy or does not answer; full or waited too long → the overflow node;
- ai: the AI booking dialog takes the call over (AI lines only);
- hangup: a last word, then the call ends.

A node that cannot work at run time (a calendar or target deleted since publishing) plays the line's
fallback announcement, is logged, and the call ends: never dead air. Each step is a turn of the call
log (node, what happened, keys), so staff see the caller's path and keys.
"""

from __future__ import annotations

import itertools
import logging

from appliance.notify.sms import mobile_number
from db.flowgraph import Node, default_text
from db.flows import Program
from voice.call.events import (
    Answer,
    CallEnded,
    CallLog,
    CallStarted,
    Command,
    DigitsEntered,
    Event,
    HangUp,
    Listen,
    NoInput,
    PromptFinished,
    RecordCall,
    Replied,
    Say,
    SpeechRecognized,
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
    Refused,
    Requeue,
    SendSms,
)
from voice.flows.base import Flow, FlowContext

log = logging.getLogger(__name__)

ENTRY_INTER_DIGIT_S = 5.0  # a caller reading a number off a card pauses between the digits
MESSAGE_SILENCE_S = 5.0  # on an AI line, a message ends after this long without speech
MAX_STEPS = 500  # a caller looping for ever through a menu is cut off here (the log keeps the path)
QUEUE_POLL_S = 2.0  # a waiting caller asks for a free phone this often (silence in between)
WAITING_KINDS = ("menu", "entry", "message", "queue")


class IvrFlow:
    def __init__(self, context: FlowContext):
        if context.program is None:
            raise ValueError(f"phone line {context.line.did} has no published flow")
        self.context = context
        self.program: Program = context.program
        self.graph = self.program.graph
        # a transfer or queue node puts callers through; the AI dialog may too
        self.can_transfer = any(node.kind in ("transfer", "queue", "ai") for node in self.graph.nodes.values())
        self.log = CallLog()
        self.kind = "ivr"  # "ai" once the booking dialog has taken the call over (billed apart)
        self._ids = itertools.count(1)
        self._requests = itertools.count(1)
        self.node: Node | None = None
        self.failures = 0
        self.menus: list[str] = []  # the menus passed through, for the back and top keys
        self.entered = ""  # the number keyed at the last entry node
        self.announcing: int | None = None  # the announcement playing: its end leads to the next node
        self.waiting_request: int | None = None  # the SMS being queued, or the queue's answer awaited
        self.announced_s: float | None = None  # queue: when the place was last said (seconds waited then)
        self.steps = 0
        self.inner: Flow | None = None  # the AI dialog, once handed over

    # --- events ---------------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        if self.inner is not None:
            commands = self.inner.handle(event)
            if isinstance(event, CallEnded):
                self._merge_inner_log()
            return commands
        match event:
            case CallStarted():
                return [Answer(), *self._enter(self.graph.start)]
            case PromptFinished(prompt_id=prompt_id) if prompt_id == self.announcing:
                self.announcing = None
                return self._enter(self.node.next)
            case DigitsEntered() | NoInput() | SpeechRecognized() if self.node is not None and self.node.kind == "queue":
                return self._ask_queue(PollQueue, call_id=self.context.call_id)
            case DigitsEntered() if self.node is not None and self.node.kind in WAITING_KINDS:
                return self._keys(event)
            case NoInput() if self.node is not None and self.node.kind in WAITING_KINDS:
                return self._silence()
            case SpeechRecognized() if self.node is not None and self.node.kind == "message":
                return [Listen(timeout_s=MESSAGE_SILENCE_S, max_digits=1, terminator="#")]  # still talking
            case SpeechRecognized() if self.node is not None and self.node.kind in ("menu", "entry"):
                return self._silence()  # a key-press question: speech answers it no more than silence
            case Replied(request_id=request_id, result=result) if request_id == self.waiting_request:
                self.waiting_request = None
                return self._queue_answer(result) if self.node.kind == "queue" else self._sms_done(result)
            case TransferConnected():
                self._turn("connected")  # a queue's entry is closed as connected with the call log
                self.log.outcome = "transferred"
                return []
            case TransferFailed(reason=reason):
                return self._transfer_failed(reason)
            case CallEnded(reason=reason):
                self.log.outcome = self.log.outcome or reason
                return []
        return []

    # --- walking the graph ----------------------------------------------------------------------------

    def _enter(self, node_id: str) -> list[Command]:
        node = self.graph.nodes.get(node_id)
        self.steps += 1
        if node is None or self.steps > MAX_STEPS:
            return self._broken(node_id, "no such node" if node is None else "too many steps")
        self.node, self.failures = node, 0
        self.log.path.append(node.id)
        match node.kind:
            case "announcement":
                say = self._say(node.text, barge_in=False, audio=node.audio)
                self.announcing = say.prompt_id
                return [say]
            case "menu":
                if node.id in self.menus:  # back at a menu passed before: what came after it is forgotten
                    del self.menus[self.menus.index(node.id) + 1:]
                else:
                    self.menus.append(node.id)
                return self._ask()
            case "schedule":
                schedule = self.program.schedules.get(node.calendar)
                if schedule is None:
                    return self._broken(node.id, f"calendar {node.calendar!r} is gone")
                verdict = schedule.at(self.context.started_at)
                self._turn("open" if verdict.open else "closed", understood=verdict.rule)
                return self._enter(node.open if verdict.open else node.closed)
            case "entry":
                return self._ask()
            case "sms":
                return self._send_sms(node)
            case "transfer":
                recording = [RecordCall()] if node.record else []
                said = [self._say(node.text, barge_in=False, audio=node.audio)] if node.text or node.audio else []
                return [*said, *recording, Transfer(node.target)]
            case "message":
                self.log.outcome = "message"
                return [self._say(node.text or default_text("message_beep"), barge_in=False, audio=node.audio),
                        Listen(timeout_s=node.max_s, max_digits=1, terminator="#")]
            case "queue":
                self.announced_s = None
                return self._ask_queue(JoinQueue, call_id=self.context.call_id, did=self.context.line.did,
                                       group=node.group, max_length=node.max_length)
            case "ai":
                return self._hand_over()
            case "hangup":
                self.log.outcome = self.log.outcome or "finished"
                said = [self._say(node.text, barge_in=False, audio=node.audio)] if node.text or node.audio else []
                return [*said, HangUp("finished")]
        return self._broken(node.id, f"unknown kind {node.kind!r}")

    def _say(self, text: str, *, barge_in: bool = True, audio: str = "") -> Say:
        return Say(text or self.graph.fallback, next(self._ids), barge_in=barge_in, audio=audio)

    def _ask(self, before: str = "") -> list[Command]:
        """Say the node's question (after `before`: why it is asked again) and wait for keys."""
        node = self.node
        commands = [self._say(before)] if before else []
        commands.append(self._say(node.text, audio=node.audio))
        if node.kind == "menu":
            return [*commands, Listen(timeout_s=node.timeout_s, max_digits=1, terminator="")]
        return [*commands, Listen(timeout_s=node.timeout_s, max_digits=node.max_digits, terminator="#",
                                  inter_digit_timeout_s=ENTRY_INTER_DIGIT_S)]

    def _keys(self, event: DigitsEntered) -> list[Command]:
        node, digits = self.node, event.digits
        if node.kind == "message":
            self._turn("message_ended", keys=digits, offset_s=event.offset_s)
            return self._enter(node.next)
        if node.kind == "entry":
            return self._entry(node, event)
        if digits in node.options:
            self._turn("chosen", keys=digits, offset_s=event.offset_s)
            return self._enter(node.options[digits])
        if digits and digits == node.repeat_key:
            self._turn("repeat", keys=digits, offset_s=event.offset_s)
            return self._ask()
        if digits and digits == node.back_key and len(self.menus) > 1:
            self._turn("back", keys=digits, offset_s=event.offset_s)
            return self._enter(self.menus[-2])
        if digits and digits == node.top_key:
            self._turn("top", keys=digits, offset_s=event.offset_s)
            return self._enter(self.menus[0])
        self._turn("wrong_key", keys=digits, offset_s=event.offset_s)
        return self._failed(node.wrong_key or default_text("wrong_key"))

    def _entry(self, node: Node, event: DigitsEntered) -> list[Command]:
        digits = event.digits.rstrip("#")
        valid = digits.isdigit() and node.min_digits <= len(digits) <= node.max_digits
        if valid and node.check == "mobile":
            valid = mobile_number(digits) is not None
        if not valid:
            self._turn("invalid", keys=event.digits, offset_s=event.offset_s)
            return self._failed(node.invalid or default_text("invalid_entry"))
        self.entered = digits
        self._turn("entered", keys=digits, offset_s=event.offset_s)
        return self._enter(node.next)

    def _silence(self) -> list[Command]:
        if self.node.kind == "message":
            self._turn("message_ended")
            return self._enter(self.node.next)
        self._turn("no_input")
        return self._failed(self.node.no_input or default_text("no_input"))

    def _failed(self, why: str) -> list[Command]:
        self.failures += 1
        if self.failures >= self.node.max_failures:
            self._turn("too_many_failures")
            return self._enter(self.node.failure)
        return self._ask(before=why)

    def _send_sms(self, node: Node) -> list[Command]:
        number = self.context.caller if node.to == "caller" else self.entered
        if mobile_number(number or "") is None:
            self._turn("not_mobile")
            return self._enter(node.failed)
        self.waiting_request = next(self._requests)
        text = node.text
        if node.faq:  # the entry's page on the public site, on a line of its own
            text += f"\n{self.context.settings.public_url.rstrip('/')}/faq/{node.faq}"
        return [SendSms(self.waiting_request, to=number, text=text, key=f"{self.context.call_id}:{node.id}",
                        did=self.context.line.did, faq=node.faq)]

    def _sms_done(self, result: object) -> list[Command]:
        if isinstance(result, Refused):
            self._turn("sms_refused", understood=result.code)
            return self._enter(self.node.failed)
        self._turn("sms_queued")
        self.log.outcome = "sms"
        return self._enter(self.node.sent)

    def _ask_queue(self, kind, **fields) -> list[Command]:
        self.waiting_request = next(self._requests)
        return [kind(self.waiting_request, **fields)]

    def _queue_answer(self, result: object) -> list[Command]:
        node = self.node
        match result:
            case QueueTurn(target=target):
                self._turn("offered", understood=target)
                return [*([RecordCall()] if node.record else []), Transfer(target)]
            case QueuePlace(position=position, waited_s=waited) if waited >= node.max_wait_s:
                self._turn("queue_timeout", understood=f"{waited:.0f}s")
                leave = LeaveQueue(next(self._requests), call_id=self.context.call_id, state="timeout")
                return [leave, *self._enter(node.overflow)]
            case QueuePlace(position=position, waited_s=waited):
                commands: list[Command] = []
                if self.announced_s is None or waited - self.announced_s >= node.every_s:
                    first = self.announced_s is None
                    self.announced_s = waited
                    if first and node.audio:  # recorded hold message or music first
                        commands.append(self._say(node.text or default_text("queue_hold"), barge_in=False,
                                                  audio=node.audio))
                    hold = (node.text or default_text("queue_hold")) if first and not node.audio else ""
                    commands.append(self._say(hold + default_text("queue_position").format(position=position),
                                              barge_in=False))
                return [*commands, Listen(timeout_s=QUEUE_POLL_S, max_digits=1, terminator="")]
            case Refused(code=code):
                self._turn("queue_full" if code == "full" else "queue_lost")
                return self._enter(node.overflow)
        return self._enter(node.overflow)

    def _transfer_failed(self, reason: str) -> list[Command]:
        node = self.node
        if node is not None and node.kind == "queue":  # that phone is taken after all: wait again
            self._turn(f"transfer_{reason}")
            return self._ask_queue(Requeue, call_id=self.context.call_id)
        if node is None or node.kind != "transfer":
            return []
        self._turn(f"transfer_{reason}")
        if reason == "unknown_target":  # deleted since the flow was published
            return self._broken(node.id, f"transfer target {node.target!r} is not configured")
        return self._enter(node.no_answer if reason == "no_answer" and node.no_answer else node.busy)

    def _hand_over(self) -> list[Command]:
        from voice.flows import create_flow  # the registry imports this module

        self.kind = "ai"
        self.inner = create_flow("booking", self.context)
        context = self.context
        return self.inner.handle(CallStarted(context.call_id, context.line.did, context.caller, context.started_at))

    def _merge_inner_log(self) -> None:
        inner = self.inner.log
        self.log.path += inner.path
        self.log.turns += inner.turns
        self.log.outcome = inner.outcome or self.log.outcome

    def _broken(self, node_id: str, why: str) -> list[Command]:
        """A node that cannot work now: the fallback announcement, never dead air; then the call ends."""
        log.error("call %s: line %s flow version %s: node %s: %s", self.context.call_id, self.context.line.did,
                  self.program.version, node_id, why)
        self.log.path.append(f"broken:{node_id}")
        self.log.outcome = "broken"
        return [self._say(self.graph.fallback, barge_in=False), HangUp("broken_flow")]

    def _turn(self, result: str, **values) -> None:
        self.log.turns.append({"step": self.node.id if self.node else "-", "result": result, **values})
