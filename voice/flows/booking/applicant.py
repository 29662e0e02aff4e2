"""Who books (a part of the booking line, voice/flows/booking/flow.py): the name as its reading (read
back; skipped after misses or two wrong read-backs, and asked at the counter), the phone (the caller's
own number offered, else keys), the birth date (said with its era, or YYYYMMDD), SMS for a mobile."""

from __future__ import annotations

import datetime

from db import normalize
from voice.call.events import Command, DigitsEntered, Listen
from voice.flows.booking import speech
from voice.flows.booking.dialog import ENTRY, UNCLEAR, Answered, Ask, number_answer
from voice.nlu.dates import birth_date_from_keys, parse_birth_date
from voice.nlu.names import name_reading

NAMES_DENIED_BEFORE_COUNTER = 2  # a name read back wrong twice is asked at the counter instead


class ApplicantQuestions:
    """The name, phone, birth date and SMS questions of BookingFlow."""

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
        return number_answer(answer, normalize.phone)

    def _phone_said(self, number: str) -> list[Command]:
        return self.confirm("phone_confirm", self.prompt("phone_confirm", number=speech.phone(number)),
                            lambda: self._phone_set(number), self._ask_phone_keys)

    def _phone_set(self, number: str) -> list[Command]:
        self.draft.phone = number
        return self._final() if self.draft.fixing else self._ask_birth()

    def _ask_birth(self, after=None, again: bool = False) -> list[Command]:
        # a spoken birth date read back wrong is misheard alike the next time (「十月一日」 was 「10月2日」
        # three times): asked again, the keys come first
        question = self.prompt("birth_again") if again else self.prompt("birth")
        return self.ask(Ask("birth", question, self._birth_heard, after or self._birth_said,
                            listen=Listen(timeout_s=ENTRY, max_digits=8, inter_digit_timeout_s=6),
                            keys_prompt=self.prompt("birth_keys"), zero_answers=True))

    def _birth_heard(self, answer: Answered) -> object:
        if isinstance(answer, DigitsEntered):
            return birth_date_from_keys(answer.digits, self.today) or UNCLEAR
        return parse_birth_date(answer.hypotheses, self.today) or UNCLEAR

    def _birth_said(self, born: datetime.date) -> list[Command]:
        return self.confirm("birth_confirm", self.prompt("birth_confirm", birth=speech.birth_date(born)),
                            lambda: self._birth_set(born), lambda: self._ask_birth(again=True))

    def _birth_set(self, born: datetime.date) -> list[Command]:
        self.draft.born = born
        if self.draft.fixing or not normalize.is_mobile(self.draft.phone):
            return self._final()
        return self.confirm("sms", self.prompt("sms"), lambda: self._sms_set(True), lambda: self._sms_set(False))

    def _sms_set(self, sms: bool) -> list[Command]:
        self.draft.sms = sms
        return self._final()
