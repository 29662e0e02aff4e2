"""The machinery of a spoken dialog by questions (after VoiceXML's form interpretation): one question
at a time, answered by speech or keys; what was heard is understood or counted as a miss, with a
no-match and no-input count per question: the first miss asks again, the second says how to answer by
keys (or reads a numbered menu of the answers), the third offers a person (0), the fourth hands the
caller over (or, with nobody to take the call, gives the city's number and says goodbye). A read-back
the caller denies three times (the venue, the slot, the phone number …), or a question asked anew a
fifth time, hands the caller over the same way: the line cannot hear it right.

At any question: 「もう一度」 or * says it again, 「ゆっくり」 or # alone slows speech for the rest of the
call, 「オペレーター」 (or 0 at a one-key question) asks for a person. Requests go out with a handler
for their answer; nothing is decided before it comes back.
"""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

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
    Replied,
    Say,
    SpeakSlower,
    SpeechRecognized,
    Transfer,
    TransferConnected,
    TransferFailed,
)
from voice.call.requests import SlotOffer, VenueChoice
from voice.flows.base import FlowContext
from voice.flows.booking import speech
from voice.nlu.answers import YES_NO, YES_NO_SAID, choice, command, decide
from voice.nlu.dates import spoken_digits
from voice.nlu.readings import canonical, closest
from voice.nlu.scores import Guess, agree, scored

STAFF = "staff"  # the transfer target (transfer_targets) that takes callers the line cannot help
MISSES_BEFORE_KEYS, MISSES_BEFORE_PERSON, MISSES_BEFORE_HANDOVER = 2, 3, 4
DENIALS_BEFORE_HANDOVER = 3  # a read-back denied this often: heard wrong again and again
ENTRY = 30.0  # seconds to press an entry of several keys
ASKED_BEFORE_HANDOVER = 5  # a question asked anew this often in one call: the dialog is going round
MENU = Listen(timeout_s=7.0, max_digits=1)


class Unclear:
    """What an answer was when it could not be understood."""


UNCLEAR = Unclear()
Answered = SpeechRecognized | DigitsEntered


@dataclass
class Ask:
    name: str  # the step: in the call log's path (with _nomatch, _noinput), and how staff find it
    prompt: str
    understand: Callable[[Answered], object]  # a value, or UNCLEAR
    then: Callable[[object], list[Command]]
    listen: Listen = MENU
    keys_prompt: str = ""  # said after MISSES_BEFORE_KEYS misses: how to answer by keys
    zero_answers: bool = False  # 0 is an answer here (a digit of a date), not "a person, please"
    expected: tuple[str, ...] = ()  # what callers say to a closed question: scored against the audio
    keys_expected: tuple[str, ...] = ()  # what they say once the keys prompt was read (a menu's numbers)
    # asked instead of the keys prompt after MISSES_BEFORE_KEYS misses: a numbered menu of the answers
    # (given what to say first: the apology for the miss)
    menu: Callable[[str], list[Command]] | None = None
    misses: int = field(default=0, init=False)


class Dialog:
    kind = "ai"
    can_transfer = True  # to staff, when the caller asks or the dialog gives up

    def __init__(self, context: FlowContext):
        self.context = context
        self.log = CallLog()
        self._prompts = itertools.count(1)
        self._requests = itertools.count(1)
        self.asking: Ask | None = None
        self.waiting: dict[int, Callable[[object], list[Command]]] = {}
        self.last_said: list[Command] = []
        self.ending = False  # hang up once the prompt now playing has finished
        self.outcome = ""
        self.keys_only = False  # the recogniser failed: every question from now on is asked for keys
        self.denials: Counter[str] = Counter()  # per read-back (a confirm's name): how often the caller said no

    # --- what a step returns ----------------------------------------------------------------------

    def say(self, text: str) -> Say:
        return Say(text, next(self._prompts))

    def ask(self, ask: Ask, intro: str = "") -> list[Command]:
        if self.log.path.count(ask.name) >= ASKED_BEFORE_HANDOVER:
            # answers understood each time, yet back at the same question (a venue, a day misheard the
            # same way that has no slots): a person, rather than round and round
            self.log.path.append(f"{ask.name}_again")
            self.outcome = "not_understood"
            return self.transfer()
        self.asking = ask
        self.log.path.append(ask.name)
        self.last_said = [self.say(intro + self._question(ask)), self._listen(ask)]
        return list(self.last_said)

    def confirm(self, name: str, text: str, yes: Callable[[], list[Command]], no: Callable[[], list[Command]],
                *, firm: str = "") -> list[Command]:
        """A yes/no question. firm: "yes" when speech must be a clear yes to count (the last step before
        booking), "no" when it must be a clear no (a no that turns the caller away)."""
        def denied() -> list[Command]:
            self.denials[name] += 1
            if self.denials[name] < DENIALS_BEFORE_HANDOVER:
                return no()
            self.log.path.append(f"{name}_denied")
            self.outcome = "not_understood"
            return self.transfer()
        return self.ask(Ask(name, text, lambda answer: yes_or_no(answer, firm=firm),
                            lambda value: yes() if value else denied(), keys_prompt=self.prompt("yes_no_keys"),
                            expected=YES_NO_SAID))

    def request(self, kind, then: Callable[[object], list[Command]], **fields):
        request_id = next(self._requests)
        self.waiting[request_id] = then
        return kind(request_id, **fields)

    def end(self, text: str, outcome: str) -> list[Command]:
        self.asking, self.ending = None, True
        self.outcome = self.outcome or outcome
        return [self.say(text)]

    def transfer(self) -> list[Command]:
        self.asking = None
        self.log.path.append("transfer")
        return [self.say(self.prompt("transfer")), Transfer(STAFF)]

    def prompt(self, key: str, **values) -> str:
        return self.context.prompts[f"booking.{key}"].format(**values)

    def help_line(self) -> str:
        return speech.help_phone(self.context.settings.help_phone)

    # --- events (a dialog has start(): what it says first) ----------------------------------------

    def handle(self, event: Event) -> list[Command]:
        match event:
            case CallStarted():
                return [Answer(), *self.start()]
            case SpeechRecognized() | DigitsEntered():
                return self._answered(event)
            case NoInput():
                return self._missed("noinput") if self.asking else []
            case Replied(request_id=request_id, result=result):
                then = self.waiting.pop(request_id, None)
                return then(result) if then else []
            case PromptFinished() if self.ending:
                return [HangUp(self.outcome)]
            case TransferConnected():
                self.log.path.append("transferred")
                self.log.outcome = "transferred"
                return []
            case TransferFailed(reason=reason):
                self.log.path.append(f"transfer_{reason}")
                return self.end(self.prompt("no_transfer", help=self.help_line()) + self.prompt("goodbye"), "transfer_failed")
            case CallEnded(reason=reason):
                self.log.outcome = self.outcome or self.log.outcome or reason
        return []

    def _answered(self, event: Answered) -> list[Command]:
        ask = self.asking
        if ask is None:
            return []
        return self._answer(ask, event)

    def _question(self, ask: Ask) -> str:
        return (ask.keys_prompt or ask.prompt) if self.keys_only else ask.prompt

    def _listen(self, ask: Ask) -> Listen:
        expected = ask.keys_expected if ask.keys_expected and ask.misses >= MISSES_BEFORE_KEYS else ask.expected
        return ask.listen if self.keys_only or not expected else replace(ask.listen, expected=expected)

    def _answer(self, ask: Ask, event: Answered) -> list[Command]:
        if isinstance(event, SpeechRecognized) and event.failed:
            # not the caller's miss: apologise once, and go on by keys for the rest of the call
            self._turn(ask, event, "unavailable")
            self.log.path.append("recognition_unavailable")
            intro = "" if self.keys_only else self.prompt("recognition_unavailable")
            self.keys_only = True
            self.last_said = [self.say(intro + self._question(ask)), self._listen(ask)]
            return list(self.last_said)
        if isinstance(event, SpeechRecognized):
            wanted = command(event.hypotheses)
        else:
            wanted = {"*": "repeat", "": "slow"}.get(event.digits, "")
            if event.digits == "0" and ask.listen.max_digits == 1 and not ask.zero_answers:
                wanted = "person"
        if wanted:
            self._turn(ask, event, wanted)
        if wanted == "repeat":
            return list(self.last_said)
        if wanted == "slow":
            self.last_said = [self.say(self.prompt("slower") + self._question(ask)), self._listen(ask)]
            return [SpeakSlower(), *self.last_said]
        if wanted == "person":
            return self.transfer()
        value = ask.understand(event)
        if value is UNCLEAR:
            return self._missed("nomatch", event)
        self._turn(ask, event, "understood", value)
        self.asking = None
        return ask.then(value)

    def _turn(self, ask: Ask, event: Answered | None, result: str, value: object = None) -> None:
        """One turn for staff review: what was asked, what came back, what the dialog made of it."""
        said = next((c.text for c in self.last_said if isinstance(c, Say)), ask.prompt)
        turn = {"step": ask.name, "prompt": said, "result": result, "understood": readable(value),
                "offset_s": None, "duration_s": None, "heard": "", "alternatives": [], "confidence": None,
                "keys": "", "scores": []}
        if isinstance(event, SpeechRecognized):
            turn.update(heard=event.text, alternatives=list(event.alternatives), confidence=event.confidence,
                        offset_s=event.offset_s, duration_s=event.duration_s, scores=list(event.scores))
        elif isinstance(event, DigitsEntered):
            turn.update(keys=event.digits, offset_s=event.offset_s)
        self.log.turns.append(turn)

    def _missed(self, kind: str, event: Answered | None = None) -> list[Command]:
        ask = self.asking
        self._turn(ask, event, kind)
        ask.misses += 1
        self.log.path.append(f"{ask.name}_{kind}")
        sorry = self.prompt(kind)
        if ask.misses >= MISSES_BEFORE_HANDOVER:
            self.outcome = "not_understood"
            return self.transfer()
        if ask.menu is not None and ask.misses == MISSES_BEFORE_KEYS and not self.keys_only:
            self.asking = None
            return ask.menu(sorry)
        text = ask.keys_prompt or ask.prompt if ask.misses >= MISSES_BEFORE_KEYS else self._question(ask)
        if ask.misses >= MISSES_BEFORE_PERSON:
            text = self.prompt("offer_person") + text
        self.last_said = [self.say(sorry + text), self._listen(ask)]
        return list(self.last_said)


def readable(value: object) -> str:
    """What the dialog understood, as staff read it in a call's turns."""
    match value:
        case None | Unclear():
            return ""
        case bool():
            return "はい" if value else "いいえ"
        case datetime.date() | datetime.time():
            return value.isoformat()
        case SlotOffer():
            return f"{value.day.isoformat()} {value.start:%H:%M} {value.venue_name}"
        case VenueChoice():
            return value.name
        case tuple():
            return " ".join(filter(None, (readable(v) for v in value)))
        case str():
            return value
    fields = getattr(value, "__dataclass_fields__", None)
    if fields:
        return " ".join(f"{name}={readable(getattr(value, name)) or getattr(value, name)}" for name in fields
                        if getattr(value, name) not in (None, False, ()))
    return str(value)


def number_answer(answer: Answered, parse: Callable[[str], str | None]) -> object:
    """A number pressed, or said as digits or as their readings (「ゼロキューゼロ…」), as `parse` reads it
    (a phone number, a reservation number), or UNCLEAR."""
    if isinstance(answer, DigitsEntered):
        return parse(answer.digits) or UNCLEAR
    for text in answer.hypotheses:
        number = parse(text) or parse(spoken_digits(canonical(text)) or "")
        if number:
            return number
    return UNCLEAR


def yes_or_no(answer: Answered, *, firm: str = "") -> bool | Unclear:
    """1 or 「はい」 is yes, 2 or 「いいえ」 no. firm ("yes" or "no"): speech must give that answer clearly
    to count (a wrong yes before booking would book what the caller did not want; a wrong no to an
    eligibility question would turn away a caller who may book): an unsure one is asked again."""
    if isinstance(answer, DigitsEntered):
        return {"1": True, "2": False}.get(answer.digits, UNCLEAR)
    decision = decide(answer.hypotheses, answer.confidence, YES_NO, answer.scores)
    if decision.action == "retry" or (decision.key == firm and decision.action != "accept"):
        return UNCLEAR
    return decision.key == "yes"


def keyed(digits: str, options: tuple) -> object:
    """The option a key names (1 the first), else UNCLEAR."""
    index = int(digits) - 1 if digits.isdigit() and digits != "0" else -1
    return options[index] if 0 <= index < len(options) else UNCLEAR


def part_heard(answer: Answered, parts: dict[str, tuple[str, ...]], said: dict[str, tuple[str, ...]]) -> object:
    """Which of a read-back's numbered parts the caller names (「会場が違います」, 「一番」, or its key);
    said: each part's phrases the recogniser scored."""
    keys = tuple(parts)
    if isinstance(answer, DigitsEntered):
        return keyed(answer.digits, keys)
    key, likeness = closest(answer.hypotheses, parts)
    number = choice(answer.hypotheses, len(keys))
    matched = Guess(key, True) if likeness >= 0.8 else (Guess(keys[number - 1], True) if number else None)
    guess = agree(matched, scored(answer.scores, said))
    return guess.key if guess else UNCLEAR
