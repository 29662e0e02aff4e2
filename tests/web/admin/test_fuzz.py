"""The staff site under hostile input, signed in as an administrator (every rule is open to them):
see tests/web/fuzz.py for what is sent and what must hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.web.fuzz import FUZZ, fuzz_site, realistic_values


@FUZZ
@given(data=st.data())
def test_admin_site_answers_hostile_input_in_japanese_and_writes_nothing_when_refusing(data, admin_app, admin, city):
    """Every rule, method, URL variable, query parameter and form field of the admin site."""
    def still_signed_in(_response):
        assert admin.client.get("/account").status_code == 200, "the administrator was signed out"
    fuzz_site(admin, admin_app, data.draw, realistic_values(*city), after=still_signed_in)
