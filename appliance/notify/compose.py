"""What one outbox message says and to whom: the booking's values for the staff-edited texts, the
alternatives for a closure, and the reasons a message is not sent at all."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from appliance import runtime
from appliance.clock import TOKYO
from appliance.messages import catalogue
from db import texts
from db.capacity import alternatives
from db.models import Booking, Outbox

WEEKDAYS = "月火水木金土日"
LABELS = catalogue(Path(__file__).with_name("notify.toml"))


class Skip(Exception):
    """This message is not to be sent; the reason code is shown to staff (notify.toml [reason])."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Composed:
    channel: str
    to: str
    subject: str
    body: str


def japanese_date(day: datetime.date) -> str:
    return f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


def japanese_time(start: datetime.time) -> str:
    return f"{start.hour}時{start.minute}分" if start.minute else f"{start.hour}時"


def _alternatives(booking: Booking, now: datetime.datetime) -> str:
    slot = booking.slot
    found = alternatives(slot.venue_id, slot.date, "web", now,
                         release_days=runtime.settings().reserved_seats_release_days, exclude_slot_id=slot.id, limit=3)
    if not found:
        return LABELS["text.no_alternatives"]
    return "\n".join(f"・{japanese_date(a.date)}{japanese_time(a.start)}　{a.venue_name}" for a in found)


def values(booking: Booking, now: datetime.datetime) -> dict[str, str]:
    settings = runtime.settings()
    slot, venue = booking.slot, booking.slot.venue
    found = {
        "name": booking.name or "", "venue": venue.name, "address": venue.address,
        "date": japanese_date(slot.date), "time": japanese_time(slot.start),
        "number": f"{booking.number[:4]}-{booking.number[4:]}",
        "lookup_url": settings.public_url.rstrip("/") + "/lookup",
        "help_phone": settings.help_phone, "city": settings.city_name,
        "reason": slot.closed_reason, "alternatives": "",
    }
    if booking.status == "confirmed" and slot.closed:
        found["alternatives"] = _alternatives(booking, now)
    return found


def compose(message: Outbox, now: datetime.datetime) -> Composed:
    """The filled text and the address; Skip when there is nothing (left) to send."""
    if message.event == "alert":  # to an administrator: the subject, then the text
        if not message.recipient:
            raise Skip("purged")
        subject, _, body = message.body.partition("\n")
        return Composed("email", message.recipient, subject, body)
    if message.event == "ivr_sms":  # a phone line's text, as staff wrote it, to the number the caller gave
        if not message.recipient:
            raise Skip("purged")
        return Composed("sms", message.recipient, "", message.body)
    booking = message.booking
    if booking is None or booking.name is None:
        raise Skip("purged")
    if message.event == "reminder" and (booking.status != "confirmed"
                                        or booking.slot.starts_at(TOKYO) <= now):
        raise Skip("not_current")
    if message.event == "slot_closed" and (booking.status != "confirmed" or not booking.slot.closed):
        raise Skip("not_current")
    to = booking.email if message.channel == "email" else booking.phone
    if not to:
        raise Skip("no_address")
    text = texts.current(message.event, message.channel)
    try:
        subject, body = texts.render(text, values(booking, now))
    except texts.TextError:
        raise Skip("template") from None
    return Composed(message.channel, to, subject, body)
