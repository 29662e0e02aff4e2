"""Hostile input against every URL rule of a site (tests/web/public/test_fuzz.py, tests/web/admin/
test_fuzz.py): Hypothesis walks `app.url_map` and generates values for every URL variable, query
parameter and form field (digits of other scripts, full-width digits, huge integers, empty, 100 KB, NUL,
lone surrogates, file parts, garbage), sent by a browser-like client with a valid CSRF token, so that
requests reach the parsers behind it. Never a 5xx or an exception, never an English page, and a
refused request (4xx) changes nothing that matters: no booking, slot, venue, account, text or audit
row.

CI runs FUZZ_EXAMPLES (default 150) examples per site with a fixed seed; a long run with random seeds:
FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/web/public/test_fuzz.py tests/web/admin/test_fuzz.py"""

from __future__ import annotations

import hashlib
import io
import os
import re
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from db.models import (
    AuditLog,
    Booking,
    CallRecord,
    CallTurn,
    EligibilityQuestion,
    MessageText,
    Outbox,
    PhoneLine,
    PromptText,
    ReceptionWindow,
    RecoveryCode,
    SiteNotice,
    Slot,
    StaffUser,
    Venue,
)
from tests.web.conftest import Citizen

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
                database=None, suppress_health_check=list(HealthCheck))

HOSTILE = ["", " ", "\x00", "a\x00b", "\x1b[31m", "0", "-1", "+1", "1.5", "1e3", "0x10", "99999999999999999999",
           "-99999999999999999999", "٣", "١٢٣٤٥٦٧٤", "፩፪", "²", "௧௨", "０９０－１２３４－５６７８",
           "٠٩٠١٢٣٤٥٦٧٨", "2026-٢-01", "2026-12-1٠", "9999-12-31", "10000-01-01", "0000-00-00", "2026-02-30",
           "2026-13", "99999-12", "2026-12-10T00:00", "25:00", "9:99", "../../etc/passwd", "<script>alert(1)</script>",
           "' OR 1=1 --", "%00", "\u202e", "\ufeff", "𠮷", "😀", "\ud800", "\udfff", "a@b", "@",
           "=1+1", "\r\nSet-Cookie: x=1"]
FIELDS = ["action", "active", "actor", "address", "back", "birth_date", "birth_day", "birth_month", "birth_year", "body",
          "booked", "capacity", "change", "closes_days_before", "closes_time", "code", "current", "date", "did",
          "display_name", "email", "expires", "first", "flow", "from_time", "guidance", "hours", "kana", "kind",
          "label", "last", "line", "login", "name", "new", "nonce", "notify", "number", "opens_days_before",
          "opens_time", "outcome", "override_reason", "party_size", "password", "phone", "phone_last4",
          "phone_seats", "reason", "record", "repeat", "required_check", "role", "sample", "set_to", "slot_id",
          "slug", "sort_order", "speed", "staff_seats", "status", "subject", "text", "to_time", "venue",
          "version", "voice", "volume", "weekdays", "q1", "q2", "q3"]  # q<id>: the eligibility questions
PARAMS = ["month", "venue", "date", "start", "slot", "page", "encoding", "next", "changed", "number", "kana",
          "phone", "status", "first", "last", "actor", "action", "did", "outcome", "booked", "kind", "line",
          "text", "voice", "speed", "volume"]
SKIPPED = {"admin.logout"}  # signing out would leave the rest of the run at the sign-in page
WATCHED = (Venue, Slot, ReceptionWindow, Booking, EligibilityQuestion, StaffUser, RecoveryCode, Outbox, SiteNotice,
           MessageText, PhoneLine, PromptText, CallRecord, CallTurn)
RECORDED_REFUSALS = ("login.", "lookup.locked")  # refused attempts are audited on purpose


def fingerprint() -> str:
    """Everything a refused request must leave as it was."""
    digest = hashlib.sha256()
    for model in WATCHED:
        for row in model.select().order_by(*model._meta.get_primary_keys()).tuples():
            digest.update(repr(row).encode())
    for row in AuditLog.select().order_by(AuditLog.id).tuples():
        if not row[2].startswith(RECORDED_REFUSALS):
            digest.update(repr(row).encode())
    return digest.hexdigest()


LONG = st.sampled_from([("9", 400), ("x", 5000), ("x", 100_000)]).map(lambda kind: kind[0] * kind[1])


def values(realistic: list[str]):
    return st.one_of(st.sampled_from(HOSTILE), LONG, st.sampled_from(realistic), st.text(max_size=40),
                     st.integers(-10**25, 10**25).map(str),
                     st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=12))


def encoded(value: str) -> str:
    """Percent-encoded UTF-8 (lone surrogates too, as a broken client would send them)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def form_body(fields: dict[str, str]) -> bytes:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in fields.items()).encode("ascii")


def path_for(rule, draw, realistic) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: encoded(draw(values(realistic))), rule.rule)


def assert_answered_well(response, before: str, what: str) -> None:
    assert response.status_code < 500, what
    body = response.get_data()
    assert b"Traceback" not in body, what
    if response.mimetype == "text/html" and not response.location:  # a redirect's body is never shown
        assert b'<html lang="ja"' in body, what  # our pages, never Werkzeug's or gunicorn's English ones
    if response.status_code >= 400:
        assert fingerprint() == before, f"a refused request wrote something: {what}"


def fuzz_site(client: Citizen, app, draw, realistic: list[str], after=None) -> None:
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static" and r.endpoint not in SKIPPED),
                   key=lambda r: r.rule)
    rule = draw(st.sampled_from(rules))
    method = draw(st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"})))
    query = draw(st.dictionaries(st.sampled_from(PARAMS), values(realistic), max_size=4))
    url = path_for(rule, draw, realistic) + ("?" + form_body(query).decode() if query else "")
    before = fingerprint()
    if method == "GET":
        response = client.get(url)
    else:
        fields = draw(st.dictionaries(st.sampled_from(FIELDS), values(realistic), max_size=8))
        fields.setdefault("csrf_token", client.token or "")
        if draw(st.booleans()) and len(fields) > 1:  # one text field arrives as a file part
            name = draw(st.sampled_from(sorted(k for k in fields if k != "csrf_token")))
            parts = {k: v.encode("utf-8", "replace").decode() for k, v in fields.items() if k != name}
            parts[name] = (io.BytesIO(b"\x00\xff" * 50), "x.txt")
            response = client.client.post(url, data=parts, content_type="multipart/form-data")
        else:
            response = client.client.post(url, data=form_body(fields),
                                          content_type="application/x-www-form-urlencoded")
        client._remember(response)
    assert_answered_well(response, before, f"{method} {url[:300]}")
    if after:
        after(response)


def realistic_values(slot, booking, *phone) -> list[str]:
    """Values that get a request past the first checks, so the hostile one next to it goes deeper (phone:
    what the phone pages need, ids of calls and turns, lines, prompt keys, voices)."""
    return [*phone, str(slot.id), str(slot.venue_id), slot.venue.slug, booking.number, booking.number[-4:], "2026-12-10",
            "2026-12", "10:00", "09:00-12:00", "utf-8", "shift_jis", "y", "1", "2", "sms", "email", "none", "1950",
            "3", "4", "admin", "staff", "preview", "save", "reset", "reopen", "disable", "attended", "no_show",
            "confirmed", "booking", "sms", "シヤク タロウ", "市役 太郎", "090-1234-5678", "taro@example.jp"]
