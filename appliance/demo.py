"""`madoguchi demo`: the demo city from demo_city.toml. Running it again adds only what is missing."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass
from pathlib import Path

from db.bookings import Actor
from db.models import EligibilityQuestion, PhoneLine, Venue
from db.slots import WeeklyTemplate, generate_slots

DEMO_CITY = Path(__file__).with_name("demo_city.toml")


@dataclass
class DemoResult:
    venues: int
    questions: int
    slots: int
    phone_lines: int = 0


def load_demo_city() -> dict:
    return tomllib.loads(DEMO_CITY.read_text(encoding="utf-8"))


def create_demo_city(actor: Actor, now: datetime.datetime, weeks: int | None = None) -> DemoResult:
    city = load_demo_city()
    venues = 0
    for order, spec in enumerate(city["venue"], start=1):
        _, created = Venue.get_or_create(slug=spec["slug"], defaults={**spec, "sort_order": order})
        venues += created
    questions = 0
    if not EligibilityQuestion.select().exists():
        for order, spec in enumerate(city["question"], start=1):
            EligibilityQuestion.create(sort_order=order, **spec)
            questions += 1
    first = now.date() + datetime.timedelta(days=1)
    last = first + datetime.timedelta(weeks=weeks or city["weeks"]) - datetime.timedelta(days=1)
    slots = 0
    for spec in city["template"]:
        template = WeeklyTemplate.parse(spec["days"], spec["hours"], spec["capacity"],
                                        spec.get("phone_seats", 0), spec.get("staff_seats", 0))
        for slug in spec["venues"]:
            slots += len(generate_slots(Venue.get(Venue.slug == slug), first, last, template, actor, now).new)
    phone_lines = 0
    for spec in city.get("phone_line", []):
        phone_lines += PhoneLine.get_or_create(did=spec["did"], defaults=spec)[1]
    return DemoResult(venues, questions, slots, phone_lines)
