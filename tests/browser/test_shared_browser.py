"""A library or city-hall PC shares one browser between citizens. In headless Chromium against a real
gunicorn: after a booking (or a look-up) the next person at the same browser, going back, reloading,
opening the history's pages or the calendar file, sees nothing of the last citizen: not the number,
the name or the venue."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import H1, Citizen, new_person, screenshot

VENUE = "本庁舎"


def shows_nothing_of(page, number: str, name: str) -> None:
    text = page.locator("body").inner_text()
    assert number not in text and number.replace("-", "") not in text, page.url
    assert name not in text, page.url


def test_the_next_person_sees_nothing_after_the_citizen_walks_away(open_page, site):
    """The citizen books, then opens the top page and leaves. The next person presses back (the done
    page again), opens /book/done from the history, and asks for the calendar file: nothing."""
    page = open_page(1280, 800)
    person = new_person()
    number = Citizen(page).book(person, VENUE)
    expect(page.locator("main")).to_contain_text(person.name)
    expect(page.get_by_role("button", name="終了する")).to_be_visible()
    screenshot(page, "shared-pc-done")
    page.goto("/")  # the citizen goes on to the top page and walks away
    expect(page.locator("h1")).to_have_text(H1["index"])
    page.go_back()
    shows_nothing_of(page, number, person.name)
    page.goto("/book/done")
    shows_nothing_of(page, number, person.name)
    assert page.request.get("/booking.ics").status == 404


def test_a_reload_of_the_done_page_no_longer_shows_the_booking(open_page, site):
    """The details are shown once: a reload says the booking is made and where to look it up."""
    page = open_page()
    person = new_person()
    number = Citizen(page).book(person, VENUE)
    page.reload()
    expect(page.locator("h1")).to_have_text("予約は完了しています")
    shows_nothing_of(page, number, person.name)
    screenshot(page, "shared-pc-done-again")


def test_finish_ends_it_for_the_next_person(open_page, site):
    """終了する after a booking, and after a look-up: the finished page, then back and history show
    nothing, and the session cookie is gone."""
    page = open_page()
    person = new_person()
    citizen = Citizen(page)
    number = citizen.book(person, VENUE)
    page.get_by_role("button", name="終了する").click()
    expect(page.locator("h1")).to_have_text("終了しました")
    screenshot(page, "shared-pc-finished")
    assert not [c for c in page.context.cookies() if c["name"] == "madoguchi_session"]
    page.go_back()
    shows_nothing_of(page, number, person.name)

    page.goto("/lookup")
    citizen.look_up(number, person)
    expect(page.locator("main")).to_contain_text(person.name)
    page.get_by_role("button", name="終了する").click()
    expect(page.locator("h1")).to_have_text("終了しました")
    page.go_back()
    shows_nothing_of(page, number, person.name)
    page.goto("/mybooking")
    shows_nothing_of(page, number, person.name)
