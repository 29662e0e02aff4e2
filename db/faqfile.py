"""The FAQ as a CSV file staff edit in Excel: exported with the columns of db/faq.toml (UTF-8 with a BOM
or Shift_JIS), imported whole or not at all. An import names every broken row (Japanese, with its row
number as Excel shows it) and changes nothing then; otherwise each row creates its entry or updates the
one of the same name (a new revision when its content changed), and categories named by an unknown key
are created from the カテゴリ名 column. Services never commit."""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.csvfile import table_csv
from db import audit, faq
from db.models import FaqCategory, FaqEntry

if TYPE_CHECKING:
    from db.bookings import Actor

MAX_ROWS = 2000
MAX_BYTES = 4 * 1024 * 1024
_FORMULA_GUARD = ("'=", "'+", "'-", "'@")  # the apostrophe table_csv puts before a formula-like cell


class ImportRefused(Exception):
    """The file was not taken; `problems` names each broken row."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    categories: int


def export(encoding: str) -> bytes:
    statuses = {s: faq.text(f"status.{s}") for s in faq.STATUSES}
    rows = [(e.key, e.category.key, e.category.name, e.question, e.answer, "\n".join(faq.phrasings(e)), e.bring,
             e.source_url, faq.text("csv.public") if e.public else faq.text("csv.internal"), statuses[e.status])
            for e in faq.entries()]
    return table_csv(faq.text("csv.header"), rows, encoding)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRefused([faq.text("csv.encoding")])


def _cell(value: str) -> str:
    return value[1:] if value.startswith(_FORMULA_GUARD) else value


def _parse(data: bytes) -> list[tuple[int, list[str]]]:
    if len(data) > MAX_BYTES:
        raise ImportRefused([faq.text("csv.too_many", limit=MAX_ROWS)])
    try:
        rows = list(csv.reader(io.StringIO(_decode(data), newline="")))
    except csv.Error as error:
        raise ImportRefused([faq.text("csv.encoding") + f" ({error})"]) from None
    header = faq.text("csv.header")
    numbered = [(n, [_cell(c) for c in row]) for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if not numbered or [c.strip() for c in numbered[0][1]] != header:
        raise ImportRefused([faq.text("csv.header_wrong", header="、".join(header))])
    body = numbered[1:]
    if not body:
        raise ImportRefused([faq.text("csv.empty")])
    if len(body) > MAX_ROWS:
        raise ImportRefused([faq.text("csv.too_many", limit=MAX_ROWS)])
    return body


def _row_fields(row: list[str], number: int, problems: list[str],
                new_categories: dict[str, str]) -> tuple[faq.EntryFields, str] | None:
    expected = len(faq.text("csv.header"))
    if len(row) != expected:
        problems.append(faq.text("csv.columns", row=number, count=len(row), expected=expected))
        return None
    key, category, category_name, question, answer, phrasings, bring, source, scope, status_label = row
    statuses = {faq.text(f"status.{s}"): s for s in faq.STATUSES}
    fields = faq.EntryFields(key, category, question, answer, tuple(phrasings.splitlines()), bring, source,
                             scope.strip() != faq.text("csv.internal")).cleaned()
    row_problems = []
    if scope.strip() not in (faq.text("csv.public"), faq.text("csv.internal")):
        row_problems.append(faq.text("problem.public"))
    status = statuses.get(status_label.strip())
    if status is None:
        row_problems.append(faq.text("problem.status"))
    known = FaqCategory.select().where(FaqCategory.key == fields.category).exists()
    if not known and faq.CATEGORY_KEY.fullmatch(fields.category) and category_name.strip():
        new_categories.setdefault(fields.category, category_name.strip()[:60])
    for problem in fields.problems():
        if problem.field == "category" and fields.category in new_categories:
            continue  # made from this file's カテゴリ名
        row_problems.append(str(problem))
    for problem in row_problems:
        problems.append(faq.text("csv.row", row=number, key=fields.key or "—", problem=problem))
    return None if row_problems else (fields, status)


def import_csv(data: bytes, actor: Actor, now: datetime.datetime) -> ImportResult:
    """Take the whole file or nothing (ImportRefused naming every broken row)."""
    problems: list[str] = []
    new_categories: dict[str, str] = {}
    parsed, first_row = [], {}
    for number, row in _parse(data):
        taken = _row_fields(row, number, problems, new_categories)
        if taken is None:
            continue
        fields, status = taken
        if fields.key in first_row:
            problems.append(faq.text("csv.duplicate", row=number, key=fields.key, first=first_row[fields.key]))
            continue
        first_row[fields.key] = number
        parsed.append((fields, status))
    if problems:
        raise ImportRefused(problems)
    order = max([c.sort_order for c in faq.categories()], default=0)
    for offset, (key, name) in enumerate(new_categories.items(), start=1):
        faq.save_category(key, name, order + offset, actor, now)
    created = updated = unchanged = 0
    for position, (fields, status) in enumerate(parsed):
        entry = FaqEntry.get_or_none(FaqEntry.key == fields.key)
        if entry is None:
            entry = faq.create(fields, actor, now, status=status, comment="CSV")
            entry.sort_order = position
            entry.save(only=[FaqEntry.sort_order])
            created += 1
            continue
        if faq.EntryFields.of(entry) != fields:
            entry = faq.update(entry.id, entry.revision, fields, actor, now, comment="CSV")
            updated += 1
        else:
            unchanged += 1
        if entry.status != status:
            faq.set_status(entry.id, entry.revision, status, actor, now)
    audit.record(actor.name, "faq.import", "faq_entry", None, now, source=actor.source, created=created,
                 updated=updated, categories=len(new_categories))
    return ImportResult(created, updated, unchanged, len(new_categories))
