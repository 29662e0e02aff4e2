"""Looking up a booking (a part of the booking line, voice/flows/booking/flow.py): the reservation number
(8 keys) and the birth date, the booking read back, then a change (a new day and time, confirmed) or a
cancellation (confirmed), or nothing."""

from __future__ import annotations

import datetime

from db import normalize
from voice.call.events import Command, DigitsEntered, Listen
from voice.call.requests import (
    BookingFound,
    CancelBooking,
    Changed,
    FindBooking,
    MoveBooking,
    Refused,
    VenueChoice,
)
from voice.flows.booking import speech
from voice.flows.booking.dialog import ENTRY, UNCLEAR, Answered, Ask, number_answer
from voice.nlu.answers import MANAGE, MANAGE_SAID, choice, decide


class ManageBooking:
    """The look-up, change and cancel steps of BookingFlow."""

    # --- looking up a booking: change, cancel -----------------------------------------------------------

    def _ask_number(self, intro: str = "") -> list[Command]:
        return self.ask(Ask("number", self.prompt("number"), self._number_heard, self._number_given,
                            listen=Listen(timeout_s=ENTRY, max_digits=8, inter_digit_timeout_s=6),
                            keys_prompt=self.prompt("number"), zero_answers=True), intro=intro)

    def _number_heard(self, answer: Answered) -> object:
        return number_answer(answer, normalize.reservation_number)

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
