"""The FAQ knowledge base: categories and entries (question, answer, other phrasings, what to bring, the
official source, public or operators only), draft → published → withdrawn, every save kept as a
revision. A save names the revision it edited, so of two staff editing one entry the second is told
(EditConflict) rather than silently overwriting. An entry that was used in an answer cannot be deleted,
only withdrawn: the records and SMS that name it keep a target. Uses and the public site's unanswered
searches are counted here; the answer candidates come from db/faqsearch.py over the published
entries, one index per process rebuilt when the FAQ changes. Services never commit."""

from __future__ import annotations

import datetime
import json
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import peewee

from appliance.messages import catalogue
from db import audit, faqsearch
from db.connection import database
from db.models import FaqCategory, FaqEntry, FaqRevision, FaqSearchMiss, FaqUse, FlowVersion

if TYPE_CHECKING:
    from db.bookings import Actor

STATUSES = ("draft", "published", "withdrawn")
CHANNELS = ("operator", "citizen", "sms")
KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
CATEGORY_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
URL = re.compile(r"https?://[^\s<>\"']{1,490}")
LIMITS = {"question": 200, "answer": 4000, "phrasing": 200, "phrasings": 20, "bring": 500}
MISS_MAX_CHARS = 200
PROPOSALS_MAX_ROWS = 2000
MISSES_PER_DAY = 1000
_DIGITS = re.compile(r"\d{3,}")
_CATALOGUE_PATH = Path(__file__).with_name("faq.toml")


def text(name: str, /, **values: object):
    """A text of db/faq.toml (a list for csv.header), filled with values."""
    found = catalogue(_CATALOGUE_PATH)[name]
    return found.format(**values) if values else found


class FaqProblem(Exception):
    """What cannot be saved, in Japanese for staff; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class FaqProblems(FaqProblem):
    """Several problems at once (a form shows each at its field)."""

    def __init__(self, problems: list[FaqProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class EditConflict(Exception):
    """Somebody saved the entry since this editor opened it; `entry` is what is there now."""

    def __init__(self, entry: FaqEntry):
        super().__init__(text("problem.conflict", revision=entry.revision))
        self.entry = entry


@dataclass(frozen=True)
class EntryFields:
    """An entry's content as staff write it (a form, a CSV row, the demo file)."""

    key: str
    category: str  # the category's key
    question: str
    answer: str
    phrasings: tuple[str, ...] = ()
    bring: str = ""
    source_url: str = ""
    public: bool = True

    def cleaned(self) -> EntryFields:
        def tidy(value: str) -> str:
            return unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").strip()
        phrasings = tuple(p for p in (tidy(p) for p in self.phrasings) if p)
        return replace(self, key=tidy(self.key).lower(), category=tidy(self.category).lower(),
                       question=" ".join(tidy(self.question).split()), answer=tidy(self.answer),
                       phrasings=phrasings, bring=tidy(self.bring), source_url=tidy(self.source_url))

    def problems(self) -> list[FaqProblem]:
        """Everything wrong with these fields (cleaned first), each naming its field."""
        found = []
        if not KEY.fullmatch(self.key):
            found.append(FaqProblem(text("problem.key"), "key"))
        if not self.category:
            found.append(FaqProblem(text("problem.category"), "category"))
        elif not FaqCategory.select().where(FaqCategory.key == self.category).exists():
            found.append(FaqProblem(text("problem.category_unknown", key=self.category), "category"))
        if not 1 <= len(self.question) <= LIMITS["question"]:
            found.append(FaqProblem(text("problem.question"), "question"))
        if not 1 <= len(self.answer) <= LIMITS["answer"]:
            found.append(FaqProblem(text("problem.answer"), "answer"))
        if len(self.phrasings) > LIMITS["phrasings"] or any(len(p) > LIMITS["phrasing"] for p in self.phrasings):
            found.append(FaqProblem(text("problem.phrasings"), "phrasings"))
        if len(self.bring) > LIMITS["bring"]:
            found.append(FaqProblem(text("problem.bring"), "bring"))
        if self.source_url and not URL.fullmatch(self.source_url):
            found.append(FaqProblem(text("problem.source_url"), "source_url"))
        return found

    @classmethod
    def of(cls, entry: FaqEntry) -> EntryFields:
        return cls(entry.key, entry.category.key, entry.question, entry.answer, tuple(phrasings(entry)),
                   entry.bring, entry.source_url, entry.public)


def phrasings(entry: FaqEntry) -> list[str]:
    return [line for line in entry.phrasings.split("\n") if line]


def _check(fields: EntryFields, entry_id: int | None = None) -> EntryFields:
    fields = fields.cleaned()
    problems = fields.problems()
    taken = FaqEntry.select().where(FaqEntry.key == fields.key)
    if entry_id is not None:
        taken = taken.where(FaqEntry.id != entry_id)
    if KEY.fullmatch(fields.key) and taken.exists():
        problems.append(FaqProblem(text("problem.key_taken", key=fields.key), "key"))
    if problems:
        raise problems[0] if len(problems) == 1 else FaqProblems(problems)
    return fields


def _content(fields: EntryFields) -> dict:
    return {**asdict(fields), "phrasings": list(fields.phrasings)}


def _values(fields: EntryFields) -> dict:
    return {"key": fields.key, "category": FaqCategory.get(FaqCategory.key == fields.category),
            "question": fields.question, "answer": fields.answer, "phrasings": "\n".join(fields.phrasings),
            "bring": fields.bring, "source_url": fields.source_url, "public": fields.public}


def _revise(entry: FaqEntry, actor: Actor, now: datetime.datetime, comment: str) -> None:
    FaqRevision.create(entry=entry, revision=entry.revision, content=json.dumps(_content(EntryFields.of(entry)),
                                                                               ensure_ascii=False),
                       status=entry.status, saved_at=now, saved_by=actor.name, comment=comment[:200])


def create(fields: EntryFields, actor: Actor, now: datetime.datetime, status: str = "draft",
           comment: str = "") -> FaqEntry:
    fields = _check(fields)
    if status not in STATUSES:
        raise FaqProblem(text("problem.status"), "status")
    entry = FaqEntry.create(**_values(fields), status=status, revision=1, updated_at=now, updated_by=actor.name)
    _revise(entry, actor, now, comment)
    audit.record(actor.name, "faq.create", "faq_entry", entry.id, now, source=actor.source, status=status)
    return entry


def _advance(entry_id: int, seen_revision: int, values: dict, actor: Actor, now: datetime.datetime) -> FaqEntry:
    """Write values as the next revision if nobody saved since seen_revision, else EditConflict."""
    changed = (FaqEntry.update(**values, revision=FaqEntry.revision + 1, updated_at=now, updated_by=actor.name)
               .where(FaqEntry.id == entry_id, FaqEntry.revision == seen_revision).execute())
    entry = FaqEntry.get_by_id(entry_id)
    if not changed:
        raise EditConflict(entry)
    return entry


def update(entry_id: int, seen_revision: int, fields: EntryFields, actor: Actor, now: datetime.datetime,
           comment: str = "") -> FaqEntry:
    fields = _check(fields, entry_id)
    entry = _advance(entry_id, seen_revision, _values(fields), actor, now)
    _revise(entry, actor, now, comment)
    audit.record(actor.name, "faq.update", "faq_entry", entry.id, now, source=actor.source, revision=entry.revision)
    return entry


def set_status(entry_id: int, seen_revision: int, status: str, actor: Actor, now: datetime.datetime) -> FaqEntry:
    if status not in STATUSES:
        raise FaqProblem(text("problem.status"), "status")
    entry = _advance(entry_id, seen_revision, {"status": status}, actor, now)
    _revise(entry, actor, now, text(f"status.{status}"))
    audit.record(actor.name, f"faq.{status}", "faq_entry", entry.id, now, source=actor.source)
    return entry


def restore(entry_id: int, seen_revision: int, revision: int, actor: Actor, now: datetime.datetime) -> FaqEntry:
    """Make an earlier revision's content the entry's again, as a new revision (the status stays)."""
    old = FaqRevision.get_or_none(FaqRevision.entry == entry_id, FaqRevision.revision == revision)
    if old is None:
        raise FaqProblem(text("problem.no_revision"))
    content = json.loads(old.content)
    fields = EntryFields(**{**content, "phrasings": tuple(content["phrasings"])})
    return update(entry_id, seen_revision, fields, actor, now, comment=f"第{revision}版に戻す")


def flow_links(key: str) -> list[str]:
    """The phone lines whose draft or published IVR flow sends an SMS linking to entry `key`."""
    lines = set()
    for version in FlowVersion.select().where(FlowVersion.status.in_(("draft", "published"))):
        nodes = json.loads(version.graph).get("nodes", {})
        if any(isinstance(n, dict) and n.get("kind") == "sms" and n.get("faq") == key for n in nodes.values()):
            lines.add(version.did)
    return sorted(lines)


def delete(entry_id: int, actor: Actor, now: datetime.datetime) -> None:
    """Remove an entry never used in an answer nor linked from a phone line's SMS; else FaqProblem
    (withdraw it instead, or change the flow first)."""
    uses = FaqUse.select().where(FaqUse.entry == entry_id).count()
    if uses:
        raise FaqProblem(text("problem.used", uses=uses))
    entry = FaqEntry.get_by_id(entry_id)
    linked = flow_links(entry.key)
    if linked:
        raise FaqProblem(text("problem.linked", lines="、".join(linked)))
    FaqEntry.delete_by_id(entry_id)
    audit.record(actor.name, "faq.delete", "faq_entry", entry_id, now, source=actor.source)


def save_category(key: str, name: str, sort_order: int, actor: Actor, now: datetime.datetime,
                  category_id: int | None = None) -> FaqCategory:
    key, name = key.strip().lower(), " ".join(unicodedata.normalize("NFC", name).split())
    if not CATEGORY_KEY.fullmatch(key):
        raise FaqProblem(text("problem.category_key"), "key")
    if not 1 <= len(name) <= 60:
        raise FaqProblem(text("problem.category_name"), "name")
    taken = FaqCategory.select().where(FaqCategory.key == key)
    if category_id is not None:
        taken = taken.where(FaqCategory.id != category_id)
    if taken.exists():
        raise FaqProblem(text("problem.category_taken", key=key), "key")
    if category_id is None:
        category = FaqCategory.create(key=key, name=name, sort_order=sort_order)
    else:
        FaqCategory.update(key=key, name=name, sort_order=sort_order).where(FaqCategory.id == category_id).execute()
        category = FaqCategory.get_by_id(category_id)
    audit.record(actor.name, "faq.category", "faq_category", category.id, now, source=actor.source)
    return category


def delete_category(category_id: int, actor: Actor, now: datetime.datetime) -> None:
    count = FaqEntry.select().where(FaqEntry.category == category_id).count()
    if count:
        raise FaqProblem(text("problem.category_in_use", count=count))
    FaqCategory.delete_by_id(category_id)
    audit.record(actor.name, "faq.category_delete", "faq_category", category_id, now, source=actor.source)


def categories() -> list[FaqCategory]:
    return list(FaqCategory.select().order_by(FaqCategory.sort_order, FaqCategory.id))


def entries(category: FaqCategory | None = None, status: str | None = None,
            public_only: bool = False) -> list[FaqEntry]:
    query = (FaqEntry.select(FaqEntry, FaqCategory).join(FaqCategory)
             .order_by(FaqCategory.sort_order, FaqCategory.id, FaqEntry.sort_order, FaqEntry.id))
    if category is not None:
        query = query.where(FaqEntry.category == category)
    if status is not None:
        query = query.where(FaqEntry.status == status)
    if public_only:
        query = query.where(FaqEntry.public == True)  # noqa: E712 (peewee expression)
    return list(query)


def entry_by_key(key: str) -> FaqEntry | None:
    return FaqEntry.select(FaqEntry, FaqCategory).join(FaqCategory).where(FaqEntry.key == key).first()


def revisions(entry: FaqEntry) -> list[FaqRevision]:
    """Newest first, each with the question it had (`.question`)."""
    rows = list(entry.revisions.order_by(FaqRevision.revision.desc()))
    for row in rows:
        row.question = json.loads(row.content)["question"]
    return rows


def record_use(entry_id: int, channel: str, now: datetime.datetime, rank: int | None = None,
               by: str = "") -> FaqUse:
    if channel not in CHANNELS:
        raise ValueError(f"unknown FAQ use channel {channel!r}")
    return FaqUse.create(entry=entry_id, used_at=now, channel=channel, rank=rank, used_by=by)


def masked(query: str) -> str:
    """A citizen's search as kept: blanks tidied, three or more digits in a row masked (a phone
    number or My Number typed into the box is not kept), at most MISS_MAX_CHARS."""
    return _DIGITS.sub(lambda m: "＊" * len(m.group()), faqsearch.clean(query))[:MISS_MAX_CHARS]


def record_miss(query: str, found: int, now: datetime.datetime) -> FaqSearchMiss | None:
    """Keep a citizen's unanswered search (masked); none beyond MISSES_PER_DAY in a day, so a robot
    searching the public site cannot fill the store."""
    kept = masked(query)
    if not kept:
        return None
    if FaqSearchMiss.select().where(FaqSearchMiss.asked_at > now - datetime.timedelta(days=1)).count() >= MISSES_PER_DAY:
        return None
    return FaqSearchMiss.create(asked_at=now, query=kept, found=found)


@dataclass(frozen=True)
class Proposal:
    """Citizens' searches with the same words that found nothing useful: a new entry, or phrasings."""

    query: str
    count: int
    last: datetime.datetime
    found: int  # candidates the last of them was shown
    ids: tuple[int, ...]


def proposals() -> list[Proposal]:
    """The unreviewed unanswered searches, the same words together, the most asked first."""
    grouped: dict[str, list[FaqSearchMiss]] = {}
    for row in (FaqSearchMiss.select().where(FaqSearchMiss.reviewed == False)  # noqa: E712 (peewee expression)
                .order_by(FaqSearchMiss.asked_at.desc()).limit(PROPOSALS_MAX_ROWS)):
        grouped.setdefault(row.query, []).append(row)
    found = [Proposal(query, len(rows), rows[0].asked_at, rows[0].found, tuple(r.id for r in rows))
             for query, rows in grouped.items()]
    return sorted(found, key=lambda p: (p.count, p.last), reverse=True)


def mark_reviewed(ids: list[int]) -> int:
    return FaqSearchMiss.update(reviewed=True).where(FaqSearchMiss.id.in_(ids)).execute() if ids else 0


def uses_by_entry(start: datetime.datetime, end: datetime.datetime, channel: str | None = None) -> dict[int, int]:
    """Uses per entry id in [start, end)."""
    query = (FaqUse.select(FaqUse.entry, peewee.fn.COUNT(FaqUse.id).alias("n"))
             .where(FaqUse.used_at >= start, FaqUse.used_at < end).group_by(FaqUse.entry))
    if channel is not None:
        query = query.where(FaqUse.channel == channel)
    return {row.entry_id: row.n for row in query}


# -- the answer candidates ------------------------------------------------------------------------

_index_lock = threading.Lock()
_index: tuple[str, faqsearch.FaqIndex] | None = None


def _generation() -> str:
    """Changes whenever a published entry or a category name could have changed (SQLite's group_concat)."""
    row = database.execute_sql(
        "SELECT (SELECT count(*) || '/' || ifnull(max(updated_at), '') || '/' || total(revision) FROM faq_entry)"
        " || '|' || (SELECT ifnull(group_concat(id || ':' || name, ','), '') FROM faq_category)").fetchone()
    return f"{database.database}|{row[0]}"


def documents() -> list[faqsearch.FaqDocument]:
    return [faqsearch.FaqDocument(e.id, e.key, e.question, e.answer, tuple(phrasings(e)), e.category.name,
                                  e.bring, e.public)
            for e in entries(status="published")]


def index() -> faqsearch.FaqIndex:
    """The candidates' index of the published entries, rebuilt when the FAQ has changed."""
    global _index
    generation = _generation()
    current = _index
    if current is not None and current[0] == generation:
        return current[1]
    with _index_lock:
        if _index is None or _index[0] != generation:
            _index = (generation, faqsearch.FaqIndex(documents()))
        return _index[1]


def search(query: str, limit: int = 5, public_only: bool = False) -> list[faqsearch.Candidate]:
    return index().search(query, limit, public_only)
