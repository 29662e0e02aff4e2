"""The staff site under hostile input, signed in as an administrator (every rule is open to them):
see tests/web/fuzz.py for what is sent and what must hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db import lines
from db.models import CallTurn, PhoneLine
from tests.calls import caller_audio, make_call, tone, turn
from tests.conftest import NOW
from tests.web.fuzz import FUZZ, fuzz_site, realistic_values


@pytest.fixture
def phone(db) -> list[str]:
    """A booking line with a recorded call and its turns, so the phone pages have something to show and edit."""
    line = PhoneLine.create(did="0586000001", label="予約ダイヤル", flow="booking")
    call = make_call(NOW, seconds=8.0, audio=caller_audio(8.0, [(2.0, tone(1.0))]), path=["intent", "venue"],
                     turns=[turn("intent", heard="予約したいです", offset_s=2.0, duration_s=1.0, understood="book"),
                            turn("venue", "noinput")])
    turns = [str(t.id) for t in CallTurn.select().where(CallTurn.call == call)]
    voices = [f"{engine}:{name}" for engine, name in lines.voices()]
    return [str(call.id), *turns, str(line.id), line.did, "booking", "echo", "booking.greeting", "booking.intent",
            *voices, "0.8", "1.0", "0.7", "on", "clear", "予約をお願いします", "{city}の窓口です"]


@FUZZ
@given(data=st.data())
def test_admin_site_answers_hostile_input_in_japanese_and_writes_nothing_when_refusing(data, admin_app, admin, city,
                                                                                     phone):
    """Every rule, method, URL variable, query parameter and form field of the admin site, the phone
    pages (calls, a call's turns and audio, prompts, lines) with a recorded call among them."""
    def still_signed_in(_response):
        assert admin.client.get("/account").status_code == 200, "the administrator was signed out"
    fuzz_site(admin, admin_app, data.draw, realistic_values(*city, *phone), after=still_signed_in)
