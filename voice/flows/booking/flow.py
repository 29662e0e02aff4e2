"""The booking line: a caller books, looks up, changes or cancels a booking, by speech alone or by keys
alone, on the same engine as the web (requests to voice/services.py on the phone channel).

Booking: what the caller wants → the eligibility questions (yes/no, with the web's guidance for a
no) → venue (by name or reading, 「どこでも」, or a numbered menu) → date (said, or MMDD) → time (said
among the day's free times, or the first) → the slot read back → name (its reading) → phone (the
caller's own number offered, else keys) → birth date (said with its era, or YYYYMMDD) → SMS for a
mobile number → everything read back once → booked → the reservation number read slowly, twice.
A slot taken meanwhile: 満席 and up to three alternatives by number. Nothing is booked before the
final yes, and a firm one: only 1 or a clear 「はい」. A required eligibility question takes only a
firm no (2 or a clear 「いいえ」) as one: a no misheard would turn the caller away.

Look-up: the reservation number (8 keys) and the birth date → read back → change (a new date and
time, confirmed) or cancel (confirmed) or leave it.

The questions live in parts of one class: where and when in slots.py, who in applicant.py, looking up
in manage.py; the machinery of asking (misses, read-backs, keys) in dialog.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from voice.call.events import Command, DigitsEntered
from voice.call.requests import (
    Booked,
    BookingInfo,
    BookSlot,
    Choices,
    FindSlots,
    LoadChoices,
    Question,
    Refused,
    SlotOffer,
    VenueChoice,
)
from voice.flows.booking import speech
from voice.flows.booking.applicant import ApplicantQuestions
from voice.flows.booking.dialog import UNCLEAR, Answered, Ask, Dialog, part_heard
from voice.flows.booking.manage import ManageBooking
from voice.flows.booking.slots import OFFERS, SlotQuestions
from voice.nlu.answers import INTENTS, INTENTS_SAID, choice, decide, numbered
from voice.nlu.scores import phrases_of

FIX = {"slot": ("日にち", "時間", "日時", "会場"), "name": ("名前", "お名前"), "phone": ("電話番号", "電話"),
       "birth": ("生年月日", "誕生日")}
FIX_SAID = {key: (*phrases[:2], *numbered(number)) for number, (key, phrases) in enumerate(FIX.items(), 1)}


@dataclass
class Draft:
    """What the caller has told so far."""

    choices: Choices | None = None
    question: int = 0  # the eligibility question being asked
    venue: VenueChoice | None = None  # None: anywhere
    day: datetime.date | None = None
    day_slots: tuple[SlotOffer, ...] = ()
    offers: tuple[SlotOffer, ...] = ()
    slot: SlotOffer | None = None
    kana: str = ""
    phone: str = ""
    born: datetime.date | None = None
    sms: bool = False
    venue_page: int = -1  # the page of the venue menu being read (-1: not read yet)
    venues_denied: set[int] = field(default_factory=set)  # venues read back and denied: not guessed again
    venue_runner_up: VenueChoice | None = None  # the one the audio spoke for next: asked about if denied
    menu_days: tuple[datetime.date, ...] = ()  # the free days the day menu is reading
    menu_times: tuple[SlotOffer, ...] = ()  # the free times the time menu is reading
    times_first: int = 0  # the place of its first among the day's free times
    booking: BookingInfo | None = None  # looked up (change, cancel)
    number: str = ""
    fixing: bool = False  # back from the final read-back to mend one part


class BookingFlow(ManageBooking, ApplicantQuestions, SlotQuestions, Dialog):
    """The whole dialog: its start, the eligibility questions and the final read-back are here; where and
    when (slots.py), who (applicant.py) and looking up (manage.py) are its other parts."""

    def __init__(self, context):
        super().__init__(context)
        self.draft = Draft()
        self.today = context.started_at.date()

    # --- the start: what the caller wants -----------------------------------------------------------

    def start(self) -> list[Command]:
        greeting = self.prompt("greeting", city=self.context.settings.city_name)
        return self.ask(Ask("intent", self.prompt("intent"), self._intent, self._intended,
                            keys_prompt=self.prompt("intent_keys"), expected=INTENTS_SAID), intro=greeting)

    def _intent(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            return {"1": "book", "2": "manage"}.get(answer.digits, UNCLEAR)
        decision = decide(answer.hypotheses, answer.confidence, INTENTS, answer.scores)
        if decision.action != "retry":
            return decision.key
        return {1: "book", 2: "manage"}.get(choice(answer.hypotheses, 2), UNCLEAR)

    def _intended(self, intent: str) -> list[Command]:
        if intent == "person":
            return self.transfer()
        if intent == "manage":
            self.log.path.append("manage")
            return self._ask_number()
        self.log.path.append("book")
        return [self.request(LoadChoices, self._loaded)]

    def _loaded(self, result: object) -> list[Command]:
        if not isinstance(result, Choices):
            return self._cannot(result)
        self.draft.choices = result
        return self._next_question()

    # --- eligibility ----------------------------------------------------------------------------------

    def _next_question(self) -> list[Command]:
        questions = self.draft.choices.questions
        if self.draft.question >= len(questions):
            return self._ask_venue()
        question = questions[self.draft.question]
        return self.confirm(f"question_{self.draft.question + 1}",
                            self.prompt("eligibility", question=question.text.rstrip("。")),
                            self._eligible, lambda: self._not_eligible(question), firm="no" if question.required else "")

    def _eligible(self) -> list[Command]:
        self.draft.question += 1
        return self._next_question()

    def _not_eligible(self, question: Question) -> list[Command]:
        if not question.required:
            return self._eligible()
        self.outcome = "not_eligible"
        guidance = question.guidance.rstrip("。") or self.prompt("help_line", help=self.help_line()).rstrip("。")
        return self.ask(Ask("not_eligible", self.prompt("not_eligible", guidance=guidance), lambda a: UNCLEAR,
                            lambda v: [], keys_prompt=self.prompt("not_eligible", guidance=guidance)))

    # --- the final read-back and the booking -----------------------------------------------------------

    def _final(self) -> list[Command]:
        draft = self.draft
        self.draft.fixing = False
        text = self.prompt("final", when=speech.when(draft.slot), venue=draft.slot.venue_name,
                      name=f"{draft.kana}様" if draft.kana else self.prompt("unnamed_read_back"),
                      phone=speech.phone(draft.phone), birth=speech.birth_date(draft.born))
        return self.confirm("final", text, self._book, self._ask_fix, firm="yes")

    def _ask_fix(self) -> list[Command]:
        return self.ask(Ask("fix", self.prompt("fix"), lambda answer: part_heard(answer, FIX, FIX_SAID), self._fix,
                            expected=phrases_of(FIX_SAID)))

    def _fix(self, part: str) -> list[Command]:
        self.draft.fixing = True
        return {"slot": self._ask_date, "name": self._ask_name, "phone": self._ask_phone_keys,
                "birth": self._ask_birth}[part]()

    def _book(self) -> list[Command]:
        draft = self.draft
        name, kana = self._name_and_kana()
        self.log.path.append("booking")
        return [self.say(self.prompt("booking")),
                self.request(BookSlot, self._booked, slot_id=draft.slot.slot_id, kana=kana, name=name,
                             phone=draft.phone, birth_date=draft.born, sms=draft.sms,
                             key=f"{self.context.call_id}:book")]

    def _booked(self, result: object) -> list[Command]:
        if isinstance(result, Booked):
            self.log.path.append("booked")
            number = speech.reservation_number(result.booking.number)
            text = self.prompt("booked", number=number) + (self.prompt("booked_sms") if result.booking.sms else "")
            return self.end(text + self.prompt("booked_end"), "booked")
        if isinstance(result, Refused) and result.code == "slot_full":
            venue_id = self.draft.venue.id if self.draft.venue else None
            return [self.request(FindSlots, lambda r: self._offered(r, self.prompt("slot_taken")), venue_id=venue_id,
                                 first_day=self.draft.slot.day, exclude_slot_id=self.draft.slot.slot_id, limit=OFFERS)]
        if isinstance(result, Refused) and result.code == "already_booked":
            self.outcome = "already_booked"
            return self.ask(Ask("already_booked", self.prompt("already_booked"), self._intent, self._intended,
                                keys_prompt=self.prompt("intent_keys"), expected=INTENTS_SAID))
        return self._cannot(result)

    # --- what cannot be done -----------------------------------------------------------------------------

    def _cannot(self, result: object) -> list[Command]:
        code = result.code if isinstance(result, Refused) else "failed"
        self.log.path.append(f"refused_{code}")
        if code == "locked":
            return self.end(self.prompt("locked") + self.prompt("help_line", help=self.help_line()) + self.prompt("goodbye"), code)
        if code == "stale":
            return self.end(self.prompt("stale") + self.prompt("goodbye"), code)
        if code in ("not_open", "closed", "slot_closed"):
            return self._ask_date(intro=self.prompt("closed", day=speech.day(self.draft.slot.day))
                                  if self.draft.slot else "")
        text = self.prompt("busy") if code == "busy" else self.prompt("failed") + self.prompt("help_line", help=self.help_line())
        return self.end(text + self.prompt("goodbye"), code)
