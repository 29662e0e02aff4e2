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
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from db import normalize
from voice.call.events import Command, DigitsEntered, Listen
from voice.call.requests import (
    Booked,
    BookingFound,
    BookingInfo,
    BookSlot,
    CancelBooking,
    Changed,
    Choices,
    FindBooking,
    FindSlots,
    LoadChoices,
    MoveBooking,
    Question,
    Refused,
    SlotOffer,
    SlotsFound,
    VenueChoice,
)
from voice.flows.booking import speech
from voice.flows.booking.dialog import UNCLEAR, Answered, Ask, Dialog
from voice.nlu.answers import INTENTS, INTENTS_SAID, MANAGE, MANAGE_SAID, NEXT_SAID, asks_next, choice, decide
from voice.nlu.dates import (
    DateWish,
    birth_date_from_keys,
    date_from_keys,
    parse_birth_date,
    parse_date,
    spoken_digits,
)
from voice.nlu.names import name_reading
from voice.nlu.readings import canonical, closest
from voice.nlu.scores import Guess, agree, phrases_of, scored
from voice.nlu.times import TimeWish, closest_time, parse_time, said_times, spoken_time, written
from voice.nlu.venues import phrases, said

DAY_SLOTS = 20  # the most slots one day has (09:00-17:00 in half hours)
OFFERS = 3  # alternatives offered when a wish is full
VENUE_PAGE = 4  # venues read per page of the key menu (1-4, 9 for the next page)
ANOTHER_DAY = ("ほかの日", "他の日", "違う日", "別の日", "ほかの日にち")
FIX = {"slot": ("日にち", "時間", "日時", "会場"), "name": ("名前", "お名前"), "phone": ("電話番号", "電話"),
       "birth": ("生年月日", "誕生日")}
FIX_SAID = {key: (*phrases[:2], f"{number}番") for number, (key, phrases) in enumerate(FIX.items(), 1)}
NAMES_DENIED_BEFORE_COUNTER = 2  # a name read back wrong twice is asked at the counter instead
VENUES_DENIED_BEFORE_MENU = 2  # a venue read back wrong twice: the numbered menu is read instead
TIME_LIKENESS = 0.75  # a free time this alike to what was heard is read back for a yes (「ごちん」 is not 九時)
ENTRY = 30.0  # seconds to press an entry of several keys


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
    booking: BookingInfo | None = None  # looked up (change, cancel)
    number: str = ""
    fixing: bool = False  # back from the final read-back to mend one part


class BookingFlow(Dialog):
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

    # --- venue ----------------------------------------------------------------------------------------

    def _ask_venue(self, intro: str = "") -> list[Command]:
        self.draft.venue_page = -1  # asked anew: a menu starts from its first page
        return self.ask(Ask("venue", self.prompt("venue"), self._venue_heard, self._venue_chosen,
                            keys_prompt=self._venue_menu_text(), expected=phrases_of(said(self.draft.choices.venues)),
                            keys_expected=self._venue_menu_expected()), intro=intro)

    def _venue_heard(self, answer: Answered) -> object:
        venues = self.draft.choices.venues
        menu_read = self.asking.name == "venue_menu" or self.asking.misses >= 2
        if menu_read and self.draft.venue_page < 0:
            self.draft.venue_page = 0  # its first page was read as the question's keys prompt
        if isinstance(answer, DigitsEntered):
            if answer.digits == "9":
                return "page"
            page = self._venue_page()
            index = int(answer.digits) - 1 if answer.digits.isdigit() and answer.digits != "0" else -1
            return ("keys", page[index]) if 0 <= index < len(page) else UNCLEAR
        if menu_read and asks_next(answer.hypotheses):
            return "page"
        # after the menu was read, a name is one of its page's four: a smaller closed set, heard better
        pool = self._venue_page() if menu_read else venues
        table = said(pool, numbered=menu_read) | ({"page": NEXT_SAID} if menu_read else {})
        guess = agree(self._venue_matched(answer, pool), scored(answer.scores, table))
        if guess is None:
            return UNCLEAR
        if guess.key == "page":
            return "page"
        chosen = None if guess.key == "anywhere" else next(v for v in venues if str(v.id) == guess.key)
        return ("sure" if guess.sure else "unsure", chosen)

    def _venue_matched(self, answer: Answered, pool: tuple[VenueChoice, ...]) -> Guess | None:
        """The venue the transcripts sound like, or the menu number said (unsure: confirmed)."""
        key, score = closest(answer.hypotheses, phrases(pool), partial=True)
        if score >= 0.6:
            return Guess(key, score >= 0.8)
        # the menu's numbers are easier to hear than names
        number = choice(answer.hypotheses, len(self._venue_page()))
        return Guess(str(self._venue_page()[number - 1].id), False) if number else None

    def _venue_page(self) -> tuple[VenueChoice, ...]:
        page = max(0, self.draft.venue_page)
        return self.draft.choices.venues[page * VENUE_PAGE:(page + 1) * VENUE_PAGE]

    def _venue_menu_expected(self) -> tuple[str, ...]:
        """A menu page's venues, their numbers and 「次の会場」."""
        return (*phrases_of(said(self._venue_page(), numbered=True)), *NEXT_SAID)

    def _venue_menu_text(self) -> str:
        page = self._venue_page()
        options = "、".join(f"{number}番、{venue.name}" for number, venue in enumerate(page, 1))
        return self.prompt("venue_keys", options=options)

    def _venue_chosen(self, value) -> list[Command]:
        if value == "page":
            pages = -(-len(self.draft.choices.venues) // VENUE_PAGE)
            self.draft.venue_page = (self.draft.venue_page + 1) % pages
            text = self._venue_menu_text()
            return self.ask(Ask("venue_menu", text, self._venue_heard, self._venue_chosen, keys_prompt=text,
                                expected=self._venue_menu_expected()))
        how, venue = value
        if venue is None:
            self.draft.venue = None
            return self._ask_date()
        if how == "unsure":
            return self.confirm("venue_confirm", self.prompt("venue_confirm", venue=venue.name),
                                lambda: self._venue_set(venue), self._venue_denied)
        return self._venue_set(venue)

    def _venue_denied(self) -> list[Command]:
        if self.denials["venue_confirm"] >= VENUES_DENIED_BEFORE_MENU:
            self.draft.venue_page = -1
            return self._venue_chosen("page")  # the menu from its first page: numbers are heard better
        return self._ask_venue()

    def _venue_set(self, venue: VenueChoice) -> list[Command]:
        self.draft.venue = venue
        return self._ask_date()

    # --- date and time --------------------------------------------------------------------------------

    def _ask_date(self, intro: str = "") -> list[Command]:
        return self.ask(Ask("date", self.prompt("date"), self._date_heard, self._date_chosen,
                            listen=Listen(timeout_s=ENTRY, max_digits=4, terminator="#", inter_digit_timeout_s=5),
                            keys_prompt=self.prompt("date_keys"), zero_answers=True), intro=intro)

    def _date_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            if answer.digits == "0":
                return DateWish(earliest=True)
            return date_from_keys(answer.digits, self.today) or UNCLEAR
        wish = parse_date(answer.hypotheses, self.today)
        return wish if wish is not None and (wish.day or wish.earliest or wish.month) else UNCLEAR

    def _date_chosen(self, wish: DateWish) -> list[Command]:
        venue_id = self.draft.venue.id if self.draft.venue else None
        if wish.earliest or wish.month:
            first = datetime.date(*wish.month, 1) if wish.month else self.today
            return [self.request(FindSlots, self._offered, venue_id=venue_id, first_day=max(first, self.today),
                                 limit=OFFERS)]
        self.draft.day = wish.day
        return [self.request(FindSlots, self._day_found, venue_id=venue_id, first_day=wish.day, last_day=wish.day,
                             limit=DAY_SLOTS)]

    def _venue_words(self) -> str:
        return self.draft.venue.name if self.draft.venue else "どの会場"

    def _day_found(self, result: object) -> list[Command]:
        if not isinstance(result, SlotsFound):
            return self._cannot(result)
        day = speech.day(self.draft.day)
        if result.slots:
            self.draft.day_slots = result.slots
            return self._ask_time()
        if result.opens_at is not None:
            opens = f"{speech.day(result.opens_at.date())}、{spoken_time(result.opens_at.time())}"
            return self._ask_date(intro=self.prompt("not_open", day=day, opens=opens))
        venue_id = self.draft.venue.id if self.draft.venue else None
        intro = self.prompt("no_slots", day=day, venue=self._venue_words())
        return [self.request(FindSlots, lambda r: self._offered(r, intro), venue_id=venue_id,
                             first_day=self.draft.day, limit=OFFERS)]

    def _offered(self, result: object, intro: str = "") -> list[Command]:
        if not isinstance(result, SlotsFound):
            return self._cannot(result)
        if not result.slots:
            return self._ask_venue(intro=intro + self.prompt("none_found", venue=self._venue_words()))
        self.draft.offers = offers = result.slots
        # what all the options share is said once, so the numbers and times stand out
        one_day, one_venue = len({s.day for s in offers}) == 1, len({s.venue_id for s in offers}) == 1
        options = "、".join(f"{n}番、" + "、".join(filter(None, (
            "" if one_day else speech.day(s.day), f"{spoken_time(s.start)}から", "" if one_venue else s.venue_name)))
            for n, s in enumerate(offers, 1))
        shared = "、".join(filter(None, (speech.day(offers[0].day) if one_day else "",
                                         offers[0].venue_name if one_venue else "")))
        text = self.prompt("offers", options=(f"{shared}の、" if shared else "") + options)
        return self.ask(Ask("offers", text, self._offer_heard, self._slot_picked, keys_prompt=text,
                            expected=phrases_of(self._offer_phrases())), intro=intro)

    def _offer_phrases(self) -> dict[str, tuple[str, ...]]:
        """An offer by its number (「2番」) or its time, or another day."""
        return {**{str(n): (f"{n}番", *written(slot.start)) for n, slot in enumerate(self.draft.offers, 1)},
                "another_day": ANOTHER_DAY[:2]}

    def _offer_heard(self, answer: Answered) -> object:
        offers = self.draft.offers
        if isinstance(answer, DigitsEntered):
            if answer.digits == "9":
                return "another_day"
            index = int(answer.digits) - 1 if answer.digits.isdigit() and answer.digits != "0" else -1
            return offers[index] if 0 <= index < len(offers) else UNCLEAR
        guess = agree(self._offer_matched(answer), scored(answer.scores, self._offer_phrases()))
        if guess is None:
            return UNCLEAR
        return "another_day" if guess.key == "another_day" else offers[int(guess.key) - 1]

    def _offer_matched(self, answer: Answered) -> Guess | None:
        if closest(answer.hypotheses, {"another_day": ANOTHER_DAY})[1] >= 0.8:
            return Guess("another_day", True)
        number = choice(answer.hypotheses, len(self.draft.offers))
        wish = parse_time(answer.hypotheses)
        number = number or next((n for n, slot in enumerate(self.draft.offers, 1)
                                 if wish and wish.at and slot.start == wish.at), None)
        return Guess(str(number), True) if number else None

    def _slot_picked(self, value) -> list[Command]:
        if value == "another_day":
            return self._ask_date()
        return self._confirm_slot(value)

    def _ask_time(self, intro: str = "") -> list[Command]:
        slots = self.draft.day_slots
        text = self.prompt("time", day=speech.day(self.draft.day), first=spoken_time(slots[0].start),
                      last=spoken_time(slots[-1].start))
        return self.ask(Ask("time", text, self._time_heard, self._time_chosen,
                            listen=Listen(timeout_s=ENTRY, max_digits=4, inter_digit_timeout_s=5),
                            keys_prompt=self.prompt("time_keys"),
                            expected=phrases_of(said_times([slot.start for slot in slots]))), intro=intro)

    def _time_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            if answer.digits == "1":
                return TimeWish(first_free=True)
            digits = answer.digits
            hour, minute = normalize.integer(digits[:-2], 0, 23), normalize.integer(digits[-2:], 0, 59)
            if len(digits) in (3, 4) and hour is not None and minute is not None:
                return TimeWish(at=datetime.time(hour, minute))
            return UNCLEAR
        free = [slot.start for slot in self.draft.day_slots]
        wish = parse_time(answer.hypotheses)
        if wish is not None and (wish.at is None or wish.at not in free):
            return wish  # a span, the first free time, or a time not free (its nearest are offered)
        if wish is None:
            # not heard as a time: the closest of the day's free times, which the slot's read-back confirms
            at, likeness = closest_time(answer.hypotheses, free)
            wish = TimeWish(at=at) if likeness >= TIME_LIKENESS else None
        matched = Guess(wish.at.isoformat(), False) if wish else None
        # the time the scores speak for wins over a time the transcripts only sound like
        guess = agree(matched, scored(answer.scores, said_times(free))) or matched
        return TimeWish(at=datetime.time.fromisoformat(guess.key)) if guess else UNCLEAR

    def _time_chosen(self, wish: TimeWish) -> list[Command]:
        slots = self.draft.day_slots
        chosen = next((slot for slot in slots if wish.first_free or wish.allows(slot.start)), None)
        if chosen is not None:
            return self._confirm_slot(chosen)
        near = sorted(slots, key=lambda s: abs(_minutes(s.start) - _minutes(wish.at or wish.earliest)))[:OFFERS]
        intro = self.prompt("time_taken", at=spoken_time(wish.at)) if wish.at else ""
        return self._offered(SlotsFound(tuple(sorted(near, key=lambda s: s.start))), intro)

    def _confirm_slot(self, slot: SlotOffer) -> list[Command]:
        return self.confirm("slot_confirm", self.prompt("slot_confirm", when=speech.when(slot), venue=slot.venue_name),
                            lambda: self._slot_set(slot), lambda: self._slot_denied(slot))

    def _slot_denied(self, slot: SlotOffer) -> list[Command]:
        """Not that slot: most often the time was misheard, so the free times nearest it that day are
        offered by number (and 「ほかの日」 or 9 for another day)."""
        others = [s for s in self.draft.day_slots or () if s.day == slot.day and s.slot_id != slot.slot_id]
        if not others:
            return self._ask_date()
        near = sorted(others, key=lambda s: abs(_minutes(s.start) - _minutes(slot.start)))[:OFFERS]
        return self._offered(SlotsFound(tuple(sorted(near, key=lambda s: s.start))), self.prompt("slot_denied"))

    def _slot_set(self, slot: SlotOffer) -> list[Command]:
        self.draft.slot = slot
        if self.draft.booking is not None:
            return self._confirm_move()
        return self._final() if self.draft.fixing else self._ask_name()

    # --- who: name, phone, birth date, SMS --------------------------------------------------------------

    def _ask_name(self, intro: str = "") -> list[Command]:
        return self.ask(Ask("name", self.prompt("name"), self._name_heard, self._name_said,
                            keys_prompt=self.prompt("name_again") + self.prompt("name_keys")), intro=intro)

    def _name_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            # a name cannot be keyed: a caller who cannot say it books without, after hearing how
            return "" if answer.digits == "1" and (self.asking.misses >= 2 or self.keys_only) else UNCLEAR
        return name_reading(answer.hypotheses) or UNCLEAR

    def _name_said(self, kana: str) -> list[Command]:
        if not kana:
            return self._name_set("")
        return self.confirm("name_confirm", self.prompt("name_confirm", name=kana), lambda: self._name_set(kana),
                            self._name_denied)

    def _name_denied(self) -> list[Command]:
        if self.denials["name_confirm"] >= NAMES_DENIED_BEFORE_COUNTER:
            return self._name_set("", intro=self.prompt("name_skipped"))
        return self._ask_name(intro=self.prompt("name_again"))

    def _name_set(self, kana: str, intro: str = "") -> list[Command]:
        self.draft.kana = kana
        return self._final() if self.draft.fixing else self._ask_phone(intro)

    def _name_and_kana(self) -> tuple[str, str]:
        if self.draft.kana:
            return self.draft.kana, self.draft.kana
        return self.prompt("unnamed_name"), self.prompt("unnamed_kana")

    def _ask_phone(self, intro: str = "") -> list[Command]:
        own = normalize.phone(self.context.caller)
        if own and not self.draft.phone:
            return self.confirm("phone_offer", intro + self.prompt("phone_offer", number=speech.phone(own)),
                                lambda: self._phone_set(own), lambda: self._ask_phone_keys())
        return self._ask_phone_keys(intro)

    def _ask_phone_keys(self, intro: str = "") -> list[Command]:
        self.draft.phone = self.draft.phone or "-"  # asked once: not offered again
        return self.ask(Ask("phone", self.prompt("phone"), self._phone_heard, self._phone_said,
                            listen=Listen(timeout_s=ENTRY, max_digits=11, inter_digit_timeout_s=6),
                            keys_prompt=self.prompt("phone"), zero_answers=True), intro=intro)

    def _phone_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            return normalize.phone(answer.digits) or UNCLEAR
        for text in answer.hypotheses:
            number = normalize.phone(text) or normalize.phone(spoken_digits(canonical(text)) or "")
            if number:
                return number
        return UNCLEAR

    def _phone_said(self, number: str) -> list[Command]:
        return self.confirm("phone_confirm", self.prompt("phone_confirm", number=speech.phone(number)),
                            lambda: self._phone_set(number), self._ask_phone_keys)

    def _phone_set(self, number: str) -> list[Command]:
        self.draft.phone = number
        return self._final() if self.draft.fixing else self._ask_birth()

    def _ask_birth(self, after=None) -> list[Command]:
        return self.ask(Ask("birth", self.prompt("birth"), self._birth_heard, after or self._birth_said,
                            listen=Listen(timeout_s=ENTRY, max_digits=8, inter_digit_timeout_s=6),
                            keys_prompt=self.prompt("birth_keys"), zero_answers=True))

    def _birth_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            return birth_date_from_keys(answer.digits, self.today) or UNCLEAR
        return parse_birth_date(answer.hypotheses, self.today) or UNCLEAR

    def _birth_said(self, born: datetime.date) -> list[Command]:
        return self.confirm("birth_confirm", self.prompt("birth_confirm", birth=speech.birth_date(born)),
                            lambda: self._birth_set(born), self._ask_birth)

    def _birth_set(self, born: datetime.date) -> list[Command]:
        self.draft.born = born
        if self.draft.fixing or not normalize.is_mobile(self.draft.phone):
            return self._final()
        return self.confirm("sms", self.prompt("sms"), lambda: self._sms_set(True), lambda: self._sms_set(False))

    def _sms_set(self, sms: bool) -> list[Command]:
        self.draft.sms = sms
        return self._final()

    # --- the final read-back and the booking -----------------------------------------------------------

    def _final(self) -> list[Command]:
        draft = self.draft
        self.draft.fixing = False
        text = self.prompt("final", when=speech.when(draft.slot), venue=draft.slot.venue_name,
                      name=f"{draft.kana}様" if draft.kana else self.prompt("unnamed_read_back"),
                      phone=speech.phone(draft.phone), birth=speech.birth_date(draft.born))
        return self.confirm("final", text, self._book, self._ask_fix, firm="yes")

    def _ask_fix(self) -> list[Command]:
        return self.ask(Ask("fix", self.prompt("fix"), self._fix_heard, self._fix, expected=phrases_of(FIX_SAID)))

    def _fix_heard(self, answer: Answered) -> object:
        parts = tuple(FIX)
        if isinstance(answer, DigitsEntered):
            return parts[int(answer.digits) - 1] if answer.digits in ("1", "2", "3", "4") else UNCLEAR
        key, score = closest(answer.hypotheses, FIX)
        number = choice(answer.hypotheses, len(parts))
        matched = Guess(key, True) if score >= 0.8 else (Guess(parts[number - 1], True) if number else None)
        guess = agree(matched, scored(answer.scores, FIX_SAID))
        return guess.key if guess else UNCLEAR

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

    # --- looking up a booking: change, cancel -----------------------------------------------------------

    def _ask_number(self, intro: str = "") -> list[Command]:
        return self.ask(Ask("number", self.prompt("number"), self._number_heard, self._number_given,
                            listen=Listen(timeout_s=ENTRY, max_digits=8, inter_digit_timeout_s=6),
                            keys_prompt=self.prompt("number"), zero_answers=True), intro=intro)

    def _number_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            return normalize.reservation_number(answer.digits) or UNCLEAR
        for text in answer.hypotheses:
            number = normalize.reservation_number(text) or normalize.reservation_number(
                spoken_digits(canonical(text)) or "")
            if number:
                return number
        return UNCLEAR

    def _number_given(self, number: str) -> list[Command]:
        self.draft.number = number
        return self._ask_birth(after=self._look_up)

    def _look_up(self, born: datetime.date) -> list[Command]:
        return [self.request(FindBooking, self._found, number=self.draft.number, birth_date=born)]

    def _found(self, result: object) -> list[Command]:
        if isinstance(result, Refused) and result.code == "not_found":
            return self._ask_number(intro=self.prompt("not_found"))
        if not isinstance(result, BookingFound):
            return self._cannot(result)
        booking = result.booking
        self.draft.booking = booking
        self.draft.venue = VenueChoice(booking.slot.venue_id, booking.slot.venue_name, booking.slot.venue_kana)
        if booking.status != "confirmed":
            status = {"cancelled": "取り消し済み", "attended": "来庁済み", "no_show": "来庁なし"}.get(booking.status, "")
            return self.end(self.prompt("found_done", status=status) + self.prompt("goodbye"), "looked_up")
        text = self.prompt("found", when=speech.when(booking.slot), venue=booking.slot.venue_name)
        return self.ask(Ask("found", text, self._manage_heard, self._manage, expected=MANAGE_SAID))

    def _manage_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            return {"1": "change", "2": "cancel", "3": "keep"}.get(answer.digits, UNCLEAR)
        decision = decide(answer.hypotheses, answer.confidence, MANAGE, answer.scores)
        if decision.action != "retry":
            return decision.key
        return {1: "change", 2: "cancel", 3: "keep"}.get(choice(answer.hypotheses, 3), UNCLEAR)

    def _manage(self, what: str) -> list[Command]:
        booking = self.draft.booking
        if what == "keep":
            return self.end(self.prompt("kept") + self.prompt("goodbye"), "looked_up")
        if what == "change":
            self.log.path.append("change")
            return self._ask_date()
        return self.confirm("cancel_confirm", self.prompt("cancel_confirm", when=speech.when(booking.slot),
                                                     venue=booking.slot.venue_name),
                            lambda: [self.request(CancelBooking, self._cancelled, number=booking.number,
                                                  version=booking.version)],
                            lambda: self.end(self.prompt("kept") + self.prompt("goodbye"), "looked_up"), firm="yes")

    def _cancelled(self, result: object) -> list[Command]:
        if isinstance(result, Changed):
            self.log.path.append("cancelled")
            return self.end(self.prompt("cancelled") + self.prompt("goodbye"), "cancelled")
        return self._cannot(result)

    def _confirm_move(self) -> list[Command]:
        slot, booking = self.draft.slot, self.draft.booking
        return self.confirm("move_confirm", self.prompt("move_confirm", when=speech.when(slot), venue=slot.venue_name),
                            lambda: [self.request(MoveBooking, self._moved, number=booking.number,
                                                  slot_id=slot.slot_id, version=booking.version)],
                            self._ask_date, firm="yes")

    def _moved(self, result: object) -> list[Command]:
        if isinstance(result, Changed):
            self.log.path.append("moved")
            slot = result.booking.slot
            return self.end(self.prompt("moved", when=speech.when(slot), venue=slot.venue_name) + self.prompt("goodbye"),
                            "changed")
        if isinstance(result, Refused) and result.code == "slot_full":
            return self._ask_date(intro=self.prompt("slot_taken"))
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


def _minutes(at: datetime.time | None) -> int:
    return at.hour * 60 + at.minute if at else 0

