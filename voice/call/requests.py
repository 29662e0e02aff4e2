"""Commands with an answer: a flow returns one, voice/services.py carries it out on the phone channel
(one transaction, off the call's thread) and the answer comes back as Replied(request_id, result),
where result is the request's own result or Refused. Plain values only: a flow never sees the
database's rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import ClassVar

# --- what the answers carry -------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueChoice:
    id: int
    name: str
    kana: str  # the reading callers say and the recogniser is matched against


@dataclass(frozen=True)
class Question:
    id: int
    text: str
    required: bool
    guidance: str  # what to do instead when the answer is no


@dataclass(frozen=True)
class SlotOffer:
    slot_id: int
    venue_id: int
    venue_name: str
    venue_kana: str
    day: datetime.date
    start: datetime.time
    remaining: int


@dataclass(frozen=True)
class BookingInfo:
    number: str
    version: int
    status: str  # "confirmed" / "cancelled" / "attended" / "no_show"
    slot: SlotOffer
    kana: str
    sms: bool


@dataclass(frozen=True)
class Refused:
    """Why a request could not be done: slot_full, slot_closed, not_open, closed, already_booked,
    not_found, locked, not_changeable, stale, invalid_<field> (kana, phone, birth_date...), busy (the
    database), failed (unexpected: in the log)."""

    code: str
    opens_at: datetime.datetime | None = None  # not_open: when booking that day opens


# --- requests and their results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    request_id: int
    writes: ClassVar[bool] = False  # takes the write lock: a booking, a change


@dataclass(frozen=True)
class LoadChoices(Request):
    """The venues callers may choose and the eligibility questions, as the web site shows them."""


@dataclass(frozen=True)
class Choices:
    venues: tuple[VenueChoice, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class FindSlots(Request):
    """Up to `limit` bookable slots on the phone channel, earliest first: at one venue (or any when
    venue_id is None), from first_day (to last_day), starting within [earliest, latest] when given."""

    venue_id: int | None
    first_day: datetime.date
    last_day: datetime.date | None = None
    earliest: datetime.time | None = None
    latest: datetime.time | None = None
    limit: int = 3
    exclude_slot_id: int | None = None


@dataclass(frozen=True)
class FindDays(Request):
    """Up to `limit` days with a bookable slot on the phone channel, earliest first, from first_day, at
    one venue (or any when venue_id is None): the days a menu reads out."""

    venue_id: int | None
    first_day: datetime.date
    limit: int = 3


@dataclass(frozen=True)
class DaysFound:
    days: tuple[datetime.date, ...]


@dataclass(frozen=True)
class SlotsFound:
    slots: tuple[SlotOffer, ...]
    opens_at: datetime.datetime | None = None  # none found because booking opens later (the first day's)


@dataclass(frozen=True)
class BookSlot(Request):
    """Book on the phone channel. key: the call's Call-ID and dialog step, so a repeated step makes one
    booking. The name is its reading (katakana) unless given apart; staff add the kanji later."""

    writes: ClassVar[bool] = True
    slot_id: int
    kana: str
    phone: str
    birth_date: datetime.date
    sms: bool
    key: str
    name: str = ""


@dataclass(frozen=True)
class Booked:
    booking: BookingInfo


@dataclass(frozen=True)
class FindBooking(Request):
    """A caller's booking by its number and the birth date (wrong details and unknown numbers look
    the same; repeated failures lock the number as on the web)."""

    writes: ClassVar[bool] = True  # failures are counted
    number: str
    birth_date: datetime.date


@dataclass(frozen=True)
class BookingFound:
    booking: BookingInfo


@dataclass(frozen=True)
class MoveBooking(Request):
    writes: ClassVar[bool] = True
    number: str
    slot_id: int
    version: int


@dataclass(frozen=True)
class CancelBooking(Request):
    writes: ClassVar[bool] = True
    number: str
    version: int


@dataclass(frozen=True)
class Changed:
    """A booking moved or cancelled: how it is now."""

    booking: BookingInfo


@dataclass(frozen=True)
class SendSms(Request):
    """Queue an IVR flow's text for a mobile number (the outbox sends it after commit, counted and
    billed as every SMS). key: the call's Call-ID and the flow's node, so a repeated step queues one."""

    writes: ClassVar[bool] = True
    to: str
    text: str
    key: str
    did: str  # the line whose flow sends it
    faq: str = ""  # the FAQ entry the text links to (its use is counted)


@dataclass(frozen=True)
class SmsQueued:
    segments: int  # the parts it will be billed as


@dataclass(frozen=True)
class JoinQueue(Request):
    """Wait for a free phone of `group` (db/queues.py): QueueTurn when one is free now and nobody waits
    ahead, else QueuePlace; Refused("full")."""

    writes: ClassVar[bool] = True
    call_id: str
    did: str
    group: str
    max_length: int


@dataclass(frozen=True)
class PollQueue(Request):
    """The caller's turn with a free phone (QueueTurn) or its place (QueuePlace)."""

    writes: ClassVar[bool] = True
    call_id: str


@dataclass(frozen=True)
class Requeue(Request):
    """The phone offered was busy or did not answer: wait again, keeping the place."""

    writes: ClassVar[bool] = True
    call_id: str


@dataclass(frozen=True)
class LeaveQueue(Request):
    writes: ClassVar[bool] = True
    call_id: str
    state: str  # "timeout" (waited too long; a hang-up or a connection is recorded at the call's end)


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1 = next
    waited_s: float


@dataclass(frozen=True)
class QueueTurn:
    target: str  # transfer to this phone now
