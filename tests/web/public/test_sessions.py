"""What a shared browser (a library or city-hall PC) and a guessing crowd get: the done page shows a
booking's details once, personal data leaves the session when the citizen goes on or starts again
(under a new token), 終了する clears everything, visitors who only read write no session row, and a
reservation number is locked after repeated failed look-ups from any number of addresses."""

from __future__ import annotations

import datetime

from db.bookings import book
from db.models import AuditLog, Booking, WebSession
from tests.conftest import NOW, make_applicant
from tests.web.conftest import BIRTH, Citizen
from tests.web.public.test_flow import book_through_the_site


def number_shown(page_text: str, number: str) -> bool:
    return f"{number[:4]}-{number[4:]}" in page_text


def cookie(citizen: Citizen) -> str | None:
    found = citizen.client.get_cookie("madoguchi_session")
    return found.value if found else None


def test_done_page_shows_the_booking_once(citizen, questions, dummy_slot):
    """The first view has the number, venue and name and a 終了する button; a reload (or whoever opens
    it from the history next) sees only that a booking was made."""
    book_through_the_site(citizen, questions, dummy_slot)
    booking = Booking.get()
    first = citizen.get("/book/done").text
    assert number_shown(first, booking.number) and booking.name in first and "終了する" in first
    again = citizen.get("/book/done").text
    assert "予約は完了しています" in again
    assert not number_shown(again, booking.number) and booking.name not in again
    assert dummy_slot.venue.name not in again


def test_leaving_the_done_page_ends_the_bookings_session_data(citizen, questions, dummy_slot):
    """Going on to any other page drops the booking from the session under a new token: the done page
    and the calendar file are gone for whoever comes next."""
    book_through_the_site(citizen, questions, dummy_slot)
    citizen.get("/book/done")
    assert citizen.get("/booking.ics").status_code == 200  # the done page's own download still works
    before = cookie(citizen)
    citizen.get("/")
    assert cookie(citizen) != before
    assert citizen.get("/book/done").headers["Location"].endswith("/")
    assert citizen.get("/booking.ics").status_code == 404


def test_finish_clears_everything_this_browser_held(citizen, questions, dummy_slot):
    book_through_the_site(citizen, questions, dummy_slot)
    citizen.get("/book/done")
    ended = citizen.post("/finish")
    assert ended.headers["Location"].endswith("/finished")
    assert "ご利用ありがとうございました" in citizen.get("/finished").text
    assert WebSession.select().count() == 0 and cookie(citizen) is None
    assert citizen.get("/book/done").headers["Location"].endswith("/")


def test_personal_data_entering_the_session_gets_a_new_token(citizen, questions, dummy_slot):
    """A cookie copied before the details were typed opens nothing of them."""
    from tests.web.conftest import DETAILS
    from tests.web.public.test_flow import eligible
    eligible(citizen, questions)
    citizen.post("/book/slot", data={"slot_id": dummy_slot.id})
    before = cookie(citizen)
    citizen.get("/book/details")
    assert citizen.post("/book/details", data=DETAILS).status_code == 302
    assert cookie(citizen) not in (None, before)
    stranger = citizen.client.application.test_client()
    stranger.set_cookie("madoguchi_session", before)
    assert stranger.get("/book/confirm").status_code == 302  # back to the start: no details behind it


def test_starting_again_forgets_the_last_citizens_look_up(citizen, questions, dummy_slot):
    booking = book(dummy_slot.id, make_applicant(phone="090-1234-5678", birth_date=BIRTH), "web", NOW)
    citizen.get("/lookup")
    citizen.post("/lookup", data={"number": booking.number, "birth_year": "1950", "birth_month": "3",
                                  "birth_day": "4", "phone_last4": "5678"})
    assert "予約済み" in citizen.get("/mybooking").text and "終了する" in citizen.get("/mybooking").text
    citizen.get("/start")
    assert citizen.get("/mybooking").headers["Location"].endswith("/lookup")


def test_visitors_who_only_read_write_no_session_row(app, frozen_now, questions, dummy_slot):
    """A crawler's cookie-less page views (every GET page, a form page among them) write nothing."""
    crawler = app.test_client(use_cookies=False)
    for url in ["/", "/start", "/lookup", "/book/venues", f"/venues/{dummy_slot.venue.slug}", "/book/done",
                "/mybooking", "/finished", "/healthz", "/nothing-here"] * 20:
        assert crawler.get(url).status_code < 500
    assert WebSession.select().count() == 0


def lookup_form(number: str, day: str = "4") -> dict:
    return {"number": number, "birth_year": "1950", "birth_month": "3", "birth_day": day, "phone_last4": "5678"}


def test_a_reservation_number_locks_after_failures_from_many_addresses(app, frozen_now, settings_override,
                                                                        dummy_slot):
    """Five wrong guesses, each from another address, lock the number for the rest of the hour: the
    right details are refused too, with a Japanese message, and one audit row says so. An unknown
    number locks the same way (so the answers never tell which numbers exist). The next hour it opens."""
    settings_override(lookup_failures_per_number=5)
    booking = book(dummy_slot.id, make_applicant(phone="090-1234-5678", birth_date=BIRTH), "web", NOW)
    unknown = "12345674"
    assert not Booking.select().where(Booking.number == unknown).exists()

    def attempt(number, day, address):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        guesser = Citizen(client)
        guesser.get("/lookup")
        return guesser.post("/lookup", data=lookup_form(number, day))

    for number in (booking.number, unknown):
        answers = [attempt(number, "5", f"10.0.0.{i}") for i in range(1, 6)]
        assert [a.status_code for a in answers] == [404, 404, 404, 404, 429]
        assert "しばらく（最長1時間）確認できません" in answers[-1].text
        assert attempt(number, "4", "10.0.1.1").status_code == 429
    assert [r.object_id for r in AuditLog.select().where(AuditLog.action == "lookup.locked")] == \
        [booking.number, unknown]
    frozen_now["now"] = NOW.replace(minute=0) + datetime.timedelta(hours=1)
    assert attempt(booking.number, "4", "10.0.2.1").headers["Location"].endswith("/mybooking")


def test_a_successful_look_up_forgets_earlier_failures(app, citizen, settings_override, dummy_slot):
    settings_override(lookup_failures_per_number=3)
    booking = book(dummy_slot.id, make_applicant(phone="090-1234-5678", birth_date=BIRTH), "web", NOW)
    citizen.get("/lookup")
    for _ in range(2):
        assert citizen.post("/lookup", data=lookup_form(booking.number, "5")).status_code == 404
    assert citizen.post("/lookup", data=lookup_form(booking.number)).status_code == 302
    citizen.get("/lookup")
    for _ in range(2):
        assert citizen.post("/lookup", data=lookup_form(booking.number, "5")).status_code == 404
    assert AuditLog.select().where(AuditLog.action == "lookup.locked").count() == 0
