"""The .ics file offered after booking, so the appointment lands in the citizen's calendar."""

from __future__ import annotations

import datetime

import icalendar
from flask import Response, render_template

from appliance.clock import TOKYO
from db.models import Booking

SLOT_LENGTH = datetime.timedelta(minutes=30)


def response(booking: Booking, settings) -> Response:
    slot, venue = booking.slot, booking.slot.venue
    start = slot.starts_at(TOKYO)
    event = icalendar.Event()
    event.add("uid", f"{booking.number}@madoguchi")
    event.add("dtstamp", booking.updated_at)
    event.add("dtstart", start)
    event.add("dtend", start + SLOT_LENGTH)
    event.add("summary", render_template("public/ics_summary.txt", booking=booking, settings=settings).strip())
    event.add("location", f"{venue.name} {venue.address}")
    event.add("description", render_template("public/ics_description.txt", booking=booking,
                                             settings=settings).strip())
    if booking.status == "cancelled":
        event.add("status", "CANCELLED")
    cal = icalendar.Calendar()
    cal.add("prodid", "-//madoguchi//JA")
    cal.add("version", "2.0")
    cal.add_component(event)
    return Response(cal.to_ical(), mimetype="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="yoyaku-{booking.number}.ics"'})
