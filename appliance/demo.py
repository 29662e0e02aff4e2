"""`madoguchi demo`: the demo city from demo_city.toml and its FAQ from demo_faq.toml (written for the
demo, not an official text). Running it again adds only what is missing."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass
from pathlib import Path

from db import calendars, faq, flows, targets
from db.bookings import Actor
from db.models import Calendar, EligibilityQuestion, FaqCategory, FaqEntry, PhoneLine, TransferTarget, Venue
from db.slots import WeeklyTemplate, generate_slots

DEMO_CITY = Path(__file__).with_name("demo_city.toml")
DEMO_FLOWS = Path(__file__).with_name("demo_flows")
DEMO_FAQ = Path(__file__).with_name("demo_faq.toml")


@dataclass
class DemoResult:
    venues: int
    questions: int
    slots: int
    phone_lines: int = 0
    faq_entries: int = 0


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
    for spec in city.get("calendar", []):
        if not Calendar.select().where(Calendar.name == spec["name"]).exists():
            calendars.save(spec, actor, now)
    for spec in city.get("transfer_target", []):
        if not TransferTarget.select().where(TransferTarget.name == spec["name"]).exists():
            targets.save(spec["name"], spec["address"], spec.get("label", ""), actor, now, group=spec.get("group"))
    phone_lines = 0
    for spec in city.get("phone_line", []):
        flow_file = spec.pop("flow_file", None)
        line, created = PhoneLine.get_or_create(did=spec["did"], defaults=spec)
        phone_lines += created
        if flow_file and not flows.versions(line.did):
            flows.save_draft(line.did, (DEMO_FLOWS / flow_file).read_text(encoding="utf-8"), actor, now)
            flows.publish(line.did, "デモの流れ", actor, now)
    return DemoResult(venues, questions, slots, phone_lines, create_demo_faq(actor, now))


def create_demo_faq(actor: Actor, now: datetime.datetime) -> int:
    """The demo FAQ's categories and entries, published; those already there (by name) are left alone."""
    demo = tomllib.loads(DEMO_FAQ.read_text(encoding="utf-8"))
    for order, spec in enumerate(demo["category"], start=1):
        if not FaqCategory.select().where(FaqCategory.key == spec["key"]).exists():
            faq.save_category(spec["key"], spec["name"], order, actor, now)
    added = 0
    for order, spec in enumerate(demo["entry"], start=1):
        if FaqEntry.select().where(FaqEntry.key == spec["key"]).exists():
            continue
        fields = faq.EntryFields(spec["key"], spec["category"], spec["question"], spec["answer"],
                                 tuple(spec.get("phrasings", ())), spec.get("bring", ""), spec.get("source", ""),
                                 spec.get("public", True))
        entry = faq.create(fields, actor, now, status="published", comment="デモ")
        FaqEntry.update(sort_order=order).where(FaqEntry.id == entry.id).execute()
        added += 1
    return added
