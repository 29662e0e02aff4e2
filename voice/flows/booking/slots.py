"""Where and when (a part of the booking line, voice/flows/booking/flow.py): the venue (by name, 「どこでも」,
or a numbered menu read four at a time), the day (said, MMDD, or from the free days read three at a time),
the time among the day's free ones (said, HHMM, the first, or from them read four at a time), offers by
number when a wish is full or a slot read back was wrong, and the slot read back for a yes."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from db import normalize
from voice.call.events import Command, DigitsEntered, Listen
from voice.call.requests import DaysFound, FindDays, FindSlots, SlotOffer, SlotsFound, VenueChoice
from voice.flows.booking import speech
from voice.flows.booking.dialog import ENTRY, UNCLEAR, Answered, Ask, keyed, part_heard, yes_or_no
from voice.nlu.answers import NEXT_SAID, YES_NO_SAID, asks_next, choice, numbered
from voice.nlu.dates import DateWish, date_from_keys, parse_date
from voice.nlu.readings import closest
from voice.nlu.scores import Guess, agree, phrases_of, runner_up, scored
from voice.nlu.times import TimeWish, closest_time, parse_time, said_times, spoken_time, written
from voice.nlu.venues import phrases, said

DAY_SLOTS = 20  # the most slots one day has (09:00-17:00 in half hours)
OFFERS = 3  # alternatives offered when a wish is full
DAYS_PER_PAGE = 3  # free days read per page of the day menu
TIMES_PER_PAGE = 4  # free times read per page of the time menu
NEAR_DAYS = 183  # a day said further ahead than this is more likely misheard than meant
VENUE_PAGE = 4  # venues read per page of the key menu (1-4, 9 for the next page)
ANOTHER_DAY = ("ほかの日", "他の日", "違う日", "別の日", "ほかの日にち")
VENUES_DENIED_BEFORE_MENU = 2  # a venue read back wrong twice: the numbered menu is read instead
TIME_LIKENESS = 0.75  # a free time this alike to what was heard is read back for a yes (「ごちん」 is not 九時)
SLOT_DENIALS_BEFORE_ASKING_WHAT = 2  # a slot read back wrong twice: which part is wrong is asked
SLOT_PARTS = {"venue": ("会場", "場所"), "day": ("日にち", "日付"), "time": ("時間",)}
SLOT_PARTS_SAID = {key: (phrases[0], *numbered(n)) for n, (key, phrases) in enumerate(SLOT_PARTS.items(), 1)}


class SlotQuestions:
    """The venue, day and time questions of BookingFlow (which holds the draft and the other steps)."""

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
            venue = keyed(answer.digits, page)
            return UNCLEAR if venue is UNCLEAR else ("keys", venue)
        if menu_read and asks_next(answer.hypotheses):
            return "page"
        # after the menu was read, a name is one of its page's four: a smaller closed set, heard better;
        # a venue the caller said no to is not guessed again from the name said, but from a menu page the
        # caller chooses (a caller who misheard a right read-back and denied it named it there four times)
        page = self._venue_page() if menu_read else venues
        denied = set() if menu_read else self.draft.venues_denied
        table = {key: phrases for key, phrases in said(page, numbered=menu_read).items()
                 if key not in {str(v) for v in denied}} | ({"page": NEXT_SAID} if menu_read else {})
        pool = tuple(v for v in page if v.id not in denied)
        guess = agree(self._venue_matched(answer, pool), scored(answer.scores, table))
        if guess is None:
            return UNCLEAR
        if guess.key == "page":
            return "page"
        next_best = runner_up(answer.scores, table, guess.key)
        self.draft.venue_runner_up = next((v for v in venues if str(v.id) == next_best), None)
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
            return self._confirm_venue(venue)
        return self._venue_set(venue)

    def _confirm_venue(self, venue: VenueChoice) -> list[Command]:
        return self.confirm("venue_confirm", self.prompt("venue_confirm", venue=venue.name),
                            lambda: self._venue_set(venue), lambda: self._venue_denied(venue))

    def _venue_denied(self, venue: VenueChoice) -> list[Command]:
        """Not that venue: the one the audio spoke for next is asked about, as a clerk would (「では、
        北支所ですか」); without one, the question again, or the menu after two wrong guesses."""
        self.draft.venues_denied.add(venue.id)
        next_best, self.draft.venue_runner_up = self.draft.venue_runner_up, None
        if next_best is not None and next_best.id not in self.draft.venues_denied:
            return self._confirm_venue(next_best)
        if self.denials["venue_confirm"] >= VENUES_DENIED_BEFORE_MENU:
            self.draft.venue_page = -1
            return self._venue_chosen("page")  # the menu from its first page: numbers are heard better
        return self._ask_venue()

    def _venue_set(self, venue: VenueChoice) -> list[Command]:
        self.draft.venue = venue
        return self._ask_date()

    # --- date and time --------------------------------------------------------------------------------

    def _ask_date(self, intro: str = "", by_keys: bool = False) -> list[Command]:
        question = self.prompt("date_keys") if by_keys else self.prompt("date")
        return self.ask(Ask("date", question, self._date_heard, self._date_chosen,
                            listen=Listen(timeout_s=ENTRY, max_digits=4, terminator="#", inter_digit_timeout_s=5),
                            keys_prompt=self.prompt("date_keys"), zero_answers=True,
                            menu=None if by_keys else self._days_menu), intro=intro)

    # a date not understood twice: the free days read out a few at a time, chosen by number (Whisper base
    # hears 「十二月八日」 as 「海が降ろうか」, but 「二番」 among three scored well)

    def _days_menu(self, intro: str = "", first_day: datetime.date | None = None, each: bool = False) -> list[Command]:
        venue_id = self.draft.venue.id if self.draft.venue else None
        return [self.request(FindDays, lambda result: self._days_offered(result, intro, first_day is not None, each),
                             venue_id=venue_id, first_day=first_day or self.today, limit=DAYS_PER_PAGE)]

    def _days_offered(self, result: object, intro: str, paged: bool, each: bool) -> list[Command]:
        if not isinstance(result, DaysFound):
            return self._cannot(result)
        if not result.days:
            if paged:  # past the last free day: from the first again
                return self._days_menu(intro + self.prompt("days_end"), each=each)
            return self._ask_venue(intro=intro + self.prompt("none_found", venue=self._venue_words()))
        self.draft.menu_days = result.days
        if each:
            return self._days_each(intro)
        options = "、".join(f"{number}番、{speech.day(day)}" for number, day in enumerate(result.days, 1))
        text = self.prompt("days", options=options)
        return self.ask(Ask("date_menu", text, self._menu_day_heard, self._menu_day_chosen, keys_prompt=text,
                            zero_answers=True, expected=phrases_of(self._menu_day_phrases()),
                            menu=lambda sorry: self._days_each(sorry + self.prompt("each_start"))), intro=intro)

    # a menu's numbers not understood twice: its options read one at a time for a yes (「一番です」 came
    # back as 「2時間です」 every time in noise; yes and no are what Whisper base hears best)
    def _days_each(self, intro: str = "", index: int = 0) -> list[Command]:
        days = self.draft.menu_days
        if index >= len(days):
            return self._days_menu(intro, first_day=days[-1] + datetime.timedelta(days=1), each=True)
        day = days[index]
        return self._each("date_each", self.prompt("day_each", day=speech.day(day)),
                          lambda: self._date_chosen(DateWish(day=day)), lambda: self._days_each(index=index + 1), intro)

    def _each(self, step: str, text: str, yes: Callable[[], list[Command]], no: Callable[[], list[Command]],
              intro: str) -> list[Command]:
        return self.ask(Ask(step, text, yes_or_no, lambda value: yes() if value else no(),
                            keys_prompt=self.prompt("yes_no_keys"), expected=YES_NO_SAID), intro=intro)

    def _menu_day_phrases(self) -> dict[str, tuple[str, ...]]:
        return {**{day.isoformat(): (*numbered(number), f"{day.month}月{day.day}日")
                   for number, day in enumerate(self.draft.menu_days, 1)}, "next": NEXT_SAID}

    def _menu_day_heard(self, answer: Answered) -> object:
        days = self.draft.menu_days
        if isinstance(answer, DigitsEntered):
            return _menu_key(answer.digits, days)
        matched = None
        if asks_next(answer.hypotheses):
            matched = Guess("next", True)
        elif number := choice(answer.hypotheses, len(days)):
            matched = Guess(days[number - 1].isoformat(), True)
        elif (wish := parse_date(answer.hypotheses, self.today)) is not None and wish.day in days:
            matched = Guess(wish.day.isoformat(), False)
        guess = agree(matched, scored(answer.scores, self._menu_day_phrases()))
        if guess is None:
            return UNCLEAR
        return guess.key if guess.key == "next" else datetime.date.fromisoformat(guess.key)

    def _menu_day_chosen(self, value) -> list[Command]:
        if value == "keys":
            return self._ask_date(by_keys=True)
        if value == "next":
            return self._days_menu(first_day=self.draft.menu_days[-1] + datetime.timedelta(days=1))
        return self._date_chosen(DateWish(day=value))

    def _date_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            if answer.digits == "0":
                return DateWish(earliest=True)
            return date_from_keys(answer.digits, self.today) or UNCLEAR
        # the first hypothesis that is a date, unless a later one is a date near enough to book and it
        # is not: 「十二月八日」 came back as 「12月4日」 (next year's, on 7 December) before 「12月8日」
        wishes = [wish for text in answer.hypotheses if (wish := parse_date((text,), self.today)) is not None
                  and (wish.day or wish.earliest or wish.month)]
        near = self.today + datetime.timedelta(days=NEAR_DAYS)
        return next((wish for wish in wishes if wish.day is None or wish.day <= near), wishes[0] if wishes else UNCLEAR)

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
        return [self.request(FindSlots, lambda r: self._offered_after(r, intro), venue_id=venue_id,
                             first_day=self.draft.day, limit=OFFERS)]

    def _offered_after(self, result: object, intro: str) -> list[Command]:
        """The free slots after a day without any; none after it (a day past the reception window, as
        「12月4日」 heard on 7 December is next year's): the earliest from today."""
        if isinstance(result, SlotsFound) and not result.slots and self.draft.day > self.today:
            venue_id = self.draft.venue.id if self.draft.venue else None
            return [self.request(FindSlots, lambda r: self._offered(r, intro), venue_id=venue_id,
                                 first_day=self.today, limit=OFFERS)]
        return self._offered(result, intro)

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
        return {**{str(n): (*numbered(n), *written(slot.start)) for n, slot in enumerate(self.draft.offers, 1)},
                "another_day": ANOTHER_DAY[:2]}

    def _offer_heard(self, answer: Answered) -> object:
        offers = self.draft.offers
        if isinstance(answer, DigitsEntered):
            if answer.digits == "9":
                return "another_day"
            return keyed(answer.digits, offers)
        if (elsewhere := self._free_time_said(answer, offers)) is not None:
            return elsewhere
        guess = agree(self._offer_matched(answer), scored(answer.scores, self._offer_phrases()))
        if guess is None:
            return UNCLEAR
        return "another_day" if guess.key == "another_day" else offers[int(guess.key) - 1]

    def _free_time_said(self, answer: Answered, shown: tuple[SlotOffer, ...]) -> SlotOffer | None:
        """A free time of the day said at a list of that day's slots that does not hold it (「午後三時半」
        after the three nearest a misheard one were offered): that slot, read back for a yes like any."""
        wish = parse_time(answer.hypotheses)
        if wish is None or wish.at is None or choice(answer.hypotheses, len(shown)):
            return None
        if any(slot.start == wish.at for slot in shown) or len({slot.day for slot in shown}) != 1:
            return None
        return next((slot for slot in self.draft.day_slots or ()
                     if slot.day == shown[0].day and slot.start == wish.at), None)

    def _offer_matched(self, answer: Answered) -> Guess | None:
        if closest(answer.hypotheses, {"another_day": ANOTHER_DAY})[1] >= 0.8:
            return Guess("another_day", True)
        return _numbered_slot(answer, self.draft.offers)

    def _slot_picked(self, value) -> list[Command]:
        if value == "another_day":
            return self._ask_date()
        return self._confirm_slot(value)

    def _ask_time(self, intro: str = "", by_keys: bool = False) -> list[Command]:
        slots = self.draft.day_slots
        text = self.prompt("time_keys") if by_keys else self.prompt(
            "time", day=speech.day(self.draft.day), first=spoken_time(slots[0].start), last=spoken_time(slots[-1].start))
        return self.ask(Ask("time", text, self._time_heard, self._time_chosen,
                            listen=Listen(timeout_s=ENTRY, max_digits=4, inter_digit_timeout_s=5),
                            keys_prompt=self.prompt("time_keys"),
                            expected=phrases_of(said_times([slot.start for slot in slots])),
                            menu=None if by_keys else self._times_menu), intro=intro)

    # a time not understood twice: the day's free times read out a few at a time, chosen by number (a
    # voice-only caller has no other way: 「九時半でお願いします」 in noise came back as 「おじさんて…」 four times)
    def _times_menu(self, intro: str = "", first: int = 0) -> list[Command]:
        slots = self.draft.day_slots
        if first >= len(slots):  # past the last free time: from the first again
            intro, first = intro + self.prompt("times_end"), 0
        self.draft.times_first = first
        self.draft.menu_times = page = slots[first:first + TIMES_PER_PAGE]
        options = "、".join(f"{number}番、{spoken_time(slot.start)}" for number, slot in enumerate(page, 1))
        text = self.prompt("times", day=speech.day(self.draft.day), options=options)
        return self.ask(Ask("time_menu", text, self._menu_time_heard, self._menu_time_chosen, keys_prompt=text,
                            zero_answers=True, expected=phrases_of(self._menu_time_phrases()),
                            menu=lambda sorry: self._times_each(sorry + self.prompt("each_start"), first)),
                        intro=intro)

    def _times_each(self, intro: str, index: int) -> list[Command]:
        slots = self.draft.day_slots
        if index >= len(slots):  # past the last free time: from the first again
            intro, index = intro + self.prompt("times_end"), 0
        slot = slots[index]
        return self._each("time_each", self.prompt("time_each", at=spoken_time(slot.start)),
                          lambda: self._confirm_slot(slot), lambda: self._times_each("", index + 1), intro)

    def _menu_time_phrases(self) -> dict[str, tuple[str, ...]]:
        return {**{str(n): (*numbered(n), *written(slot.start)) for n, slot in enumerate(self.draft.menu_times, 1)},
                "next": NEXT_SAID}

    def _menu_time_heard(self, answer: Answered) -> object:
        page = self.draft.menu_times
        if isinstance(answer, DigitsEntered):
            return _menu_key(answer.digits, page)
        if (elsewhere := self._free_time_said(answer, page)) is not None:
            return elsewhere
        matched = Guess("next", True) if asks_next(answer.hypotheses) else _numbered_slot(answer, page)
        guess = agree(matched, scored(answer.scores, self._menu_time_phrases()))
        if guess is None:
            return UNCLEAR
        return guess.key if guess.key == "next" else page[int(guess.key) - 1]

    def _menu_time_chosen(self, value) -> list[Command]:
        if value == "keys":
            return self._ask_time(by_keys=True)
        if value == "next":
            return self._times_menu(first=self.draft.times_first + TIMES_PER_PAGE)
        return self._confirm_slot(value)

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
        if chosen is not None and wish.at is None and not (wish.first_free or wish.whichever):
            # 「午後」 alone: the caller has a time in mind (「午後三時半」 heard in part), so the free
            # times from the span's first are read to choose from, not the first taken
            return self._times_menu(first=slots.index(chosen))
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
        offered by number (and 「ほかの日」 or 9 for another day); the second time, the caller is asked
        which part is wrong (a venue taken wrongly, said yes to too soon, is not mended by other times)."""
        if self.denials["slot_confirm"] >= SLOT_DENIALS_BEFORE_ASKING_WHAT:
            return self.ask(Ask("slot_fix", self.prompt("slot_fix"), lambda answer: part_heard(answer, SLOT_PARTS, SLOT_PARTS_SAID),
                                lambda part: self._slot_part_wrong(part, slot), expected=phrases_of(SLOT_PARTS_SAID)))
        return self._times_near(slot)

    def _slot_part_wrong(self, part: str, slot: SlotOffer) -> list[Command]:
        if part == "venue":
            self.draft.venues_denied.add(slot.venue_id)
            return self._ask_venue()
        return self._ask_date() if part == "day" else self._times_near(slot)

    def _times_near(self, slot: SlotOffer) -> list[Command]:
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


def _minutes(at: datetime.time | None) -> int:
    return at.hour * 60 + at.minute if at else 0


def _numbered_slot(answer: Answered, slots: tuple[SlotOffer, ...]) -> Guess | None:
    """One of slots read out by number, said by its number (sure) or its time (sure: it is read back)."""
    number = choice(answer.hypotheses, len(slots))
    wish = parse_time(answer.hypotheses)
    number = number or next((n for n, slot in enumerate(slots, 1) if wish and wish.at and slot.start == wish.at), None)
    return Guess(str(number), True) if number else None


def _menu_key(digits: str, options: tuple) -> object:
    """A key at the day or time menu: 0 for the question by keys, 9 for the next options, N the Nth."""
    if digits in ("0", "9"):
        return {"0": "keys", "9": "next"}[digits]
    return keyed(digits, options)
