"""The citizens' site under hostile input: see tests/web/fuzz.py for what is sent and what must hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.web.conftest import Citizen
from tests.web.fuzz import FUZZ, fuzz_site, realistic_values


@pytest.fixture
def citizen_on_start(app, frozen_now):
    citizen = Citizen(app.test_client())
    citizen.get("/start")
    return citizen


@FUZZ
@given(data=st.data())
def test_public_site_answers_hostile_input_in_japanese_and_writes_nothing_when_refusing(
        data, app, citizen_on_start, city):
    """Every rule, method, URL variable, query parameter and form field of the public site."""
    fuzz_site(citizen_on_start, app, data.draw, realistic_values(*city))
