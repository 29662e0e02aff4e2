"""The public booking site in headless Chromium against a real gunicorn: booking as a new user would
(with screenshots of every step), remaining seats, full slots and their alternatives, look-up / change
/ cancel, keyboard-only and JavaScript-free booking, axe-core on every step, 320px and 200% zoom, and
the page structure every step shares."""

from __future__ import annotations

import datetime
import itertools
import json
import re

import pytest
from playwright.sync_api import Page, expect

from appliance import clock
from db.bookings import Applicant, book
from db.capacity import alternatives
from db.models import Booking, Venue
from tests.browser.conftest import (
    AXE,
    H1,
    HELP_PHONE,
    Citizen,
    fill_slots,
    new_person,
    screenshot,
    site_database,
    slot_seats,
    walk_every_step,
)

WEEKDAYS = "月火水木金土日"


def booked(site, number: str) -> tuple:
    """(slot id, status, kana, phone) of the booking with this number (as shown: 1234-5678)."""
    with site_database(site.settings):
        b = Booking.get(Booking.number == number.replace("-", ""))
        return b.slot_id, b.status, b.kana, b.phone


def when(day_url: str, time: str) -> str:
    """How the pages write a slot: 11月26日（木）9時30分から (from the day's URL and "09:30〜")."""
    day = datetime.date.fromisoformat(day_url.rstrip("/").rsplit("/", 1)[1])
    hour, minute = (int(part) for part in time.rstrip("〜").split(":"))
    return f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）{hour}時{f'{minute}分' if minute else ''}から"


def fewer_seats(seats: str) -> str:
    """What 「残りN」 becomes after one booking."""
    n = int(seats.removeprefix("残り"))
    return f"残り{n - 1}" if n > 1 else "満席"


# --- 1. booking as a new user would -------------------------------------------------------------------

@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_new_user_books_and_the_remaining_seats_go_down(open_page, site, width, height):
    """A first-time visitor on a phone and on a desktop ticks the eligibility questions, picks a venue,
    the first 空きあり day and a time, types furigana in hiragana and the phone number in full-width
    digits, confirms, and gets a reservation number with the chosen venue and time. Reloading that
    day shows one seat fewer. Every step is saved as a full-page screenshot."""
    page = open_page(width, height)
    numbering = itertools.count(1)

    def shoot(page: Page, name: str) -> None:
        screenshot(page, f"{width}x{height}-{next(numbering):02d}-{name}")

    citizen = Citizen(page, shoot)
    person = new_person()
    citizen.open_index()
    citizen.start()
    for box in page.get_by_role("checkbox").all():
        box.check()
    citizen.step("start_ticked")
    citizen.press("次へ")
    citizen.step("venues")
    citizen.choose_venue("デモ市役所 本庁舎 市民課")
    citizen.step("calendar")
    citizen.open_day()
    citizen.step("day")
    citizen.choose_slot()
    chosen = citizen.chosen
    assert chosen.seats.startswith("残り"), chosen.seats
    expect(page.locator(".venue-line")).to_contain_text(when(chosen.day_url, chosen.time))
    citizen.step("details")
    citizen.fill_details(person)
    citizen.step("details_filled")
    citizen.submit_details()
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text(person.name)
    expect(summary).to_contain_text(f"{person.birth.year}年{person.birth.month}月{person.birth.day}日")
    citizen.step("confirm")
    number = citizen.confirm()
    done = page.locator("dl.summary")
    expect(done).to_contain_text(chosen.venue)
    expect(done).to_contain_text(when(chosen.day_url, chosen.time))
    expect(done).to_contain_text("シミン　ハナコ")  # typed in hiragana, kept in katakana
    expect(page.get_by_role("status")).to_contain_text("予約が確定しました")
    citizen.step("done")

    # The finished booking cleared the flow: the day page asks for the ticks again, then shows one seat fewer.
    page.goto(chosen.day_url)
    citizen.at("start")
    citizen.tick_eligibility()
    citizen.at("venues")
    page.goto(chosen.day_url)
    citizen.at("day")
    expect(page.locator(f"button.slot[data-slot='{chosen.slot_id}'] .slot-seats")).to_have_text(
        fewer_seats(chosen.seats))
    citizen.step("day_after_booking")
    assert booked(site, number) == (chosen.slot_id, "confirmed", "シミン　ハナコ", person.phone_digits)


# --- 2. full slots and their alternatives ------------------------------------------------------------

def test_a_full_day_shows_full_and_three_alternatives_that_book(open_page, full_day):
    """A day whose slots are all taken is × 満席 in the calendar (mark and text); its page shows every
    time as 満席 (disabled), says the day is full and offers the engine's 3 earliest alternatives, none
    on that day; clicking the first one goes on to the details and books exactly that time."""
    page = open_page(390, 844)
    citizen = Citizen(page)
    citizen.open_index()
    citizen.start()
    citizen.tick_eligibility()
    citizen.choose_venue(full_day.venue)
    citizen.show_month_of(full_day.date)
    cell = page.locator(f'.calendar a[href$="/{full_day.date.isoformat()}"]')
    expect(cell.locator(".mark")).to_have_text("×")
    expect(cell.locator(".state")).to_have_text("満席")
    citizen.open_day(full_day.date)
    slots = page.locator("button.slot")
    assert slots.count() >= 5
    for slot in slots.all():
        expect(slot).to_be_disabled()
        expect(slot.locator(".slot-seats")).to_have_text("満席")
    expect(page.get_by_role("status").filter(has_text="この日は満席です。")).to_be_visible()
    choices = page.locator("section.alternatives button.choice")
    expect(choices).to_have_count(3)
    day_text = f"{full_day.date.month}月{full_day.date.day}日（"
    mains = [c.locator(".choice-main").inner_text() for c in choices.all()]
    assert not any(m.startswith(day_text) for m in mains), mains
    venue = choices.first.locator(".choice-sub").inner_text().split("　")[0]

    choices.first.click()
    citizen.at("details")
    expect(page.locator(".venue-line")).to_contain_text(f"{mains[0]}から")
    citizen.fill_details(new_person())
    citizen.submit_details()
    citizen.confirm()
    expect(page.locator("dl.summary")).to_contain_text(f"{mains[0]}から")
    expect(page.locator("dl.summary")).to_contain_text(venue)


def test_a_slot_filled_while_choosing_says_full_and_offers_alternatives(open_page, site):
    """The seat goes while the citizen looks at the day: pressing that time answers 満席 with a message
    instead of an error, marks the time 満席, and offers 3 other times that lead on to the details."""
    page = open_page(1280, 800)
    citizen = Citizen(page)
    citizen.open_index()
    citizen.start()
    citizen.tick_eligibility()
    citizen.choose_venue("東支所")
    citizen.open_day()
    button = page.locator("button.slot:not([disabled])").first
    slot_id = button.get_attribute("data-slot")
    fill_slots(site.settings, int(slot_id))
    button.click()
    citizen.at("day")
    expect(page.get_by_role("alert")).to_contain_text("この時間は満席になりました")
    expect(page.locator(f"button.slot[data-slot='{slot_id}'] .slot-seats")).to_have_text("満席")
    expect(page.locator(f"button.slot[data-slot='{slot_id}']")).to_be_disabled()
    offered = page.locator("section.alternatives input[name=slot_id]")
    expect(offered).to_have_count(3)
    assert slot_id not in [o.get_attribute("value") for o in offered.all()]
    first = page.locator("section.alternatives .choice-main").first.inner_text()
    page.locator("section.alternatives button.choice").first.click()
    citizen.at("details")
    expect(page.locator(".venue-line")).to_contain_text(f"{first}から")


# --- 3. look-up, change, cancel ----------------------------------------------------------------------

def test_look_up_change_and_cancel(open_page, site):
    """With the reservation number, birth date and last 4 phone digits a citizen finds the booking,
    moves it to another time (the seat moves in the database) and cancels it: the cancel link only
    shows a confirmation page, the POST behind 「取り消す」 cancels."""
    person = new_person()
    with site_database(site.settings):
        venue = Venue.get(Venue.slug == "kita")
        first = alternatives(venue.id, clock.today(), "web", clock.now(),
                             release_days=site.settings.reserved_seats_release_days, limit=1)[0]
        booking = book(first.slot_id, Applicant(person.name, "シミン ハナコ", person.phone, person.birth), "web",
                       clock.now())
        number, old_slot = booking.number, booking.slot_id
    old_seats = slot_seats(site.settings, old_slot)

    page = open_page(390, 844)
    citizen = Citizen(page)
    citizen.open_index()
    citizen.press("予約の確認・変更・取消", "link")
    citizen.at("lookup")
    citizen.look_up(f"{number[:4]}-{number[4:]}", person)
    expect(page.locator("dd.number")).to_have_text(f"{number[:4]}-{number[4:]}")
    expect(page.locator("dl.summary")).to_contain_text("予約済み")

    citizen.press("日時・会場を変更する")
    citizen.at("calendar")
    expect(page.locator(".venue-line")).to_contain_text(venue.name)
    citizen.open_day()
    citizen.choose_slot(avoid=old_slot, then="change")
    new_when = when(citizen.chosen.day_url, citizen.chosen.time)
    expect(page.locator("dl.summary")).to_contain_text(new_when)
    citizen.press("この日時に変更する")
    citizen.at("mybooking")
    expect(page.get_by_role("status")).to_have_text("予約の日時を変更しました。")
    expect(page.locator("dl.summary")).to_contain_text(new_when)
    with site_database(site.settings):
        moved = Booking.get(Booking.number == number)
        assert (moved.slot_id, moved.status) == (citizen.chosen.slot_id, "confirmed")
    assert slot_seats(site.settings, old_slot)["booked"] == old_seats["booked"] - 1
    new_seats = slot_seats(site.settings, citizen.chosen.slot_id)

    citizen.press("予約を取り消す", "link")
    citizen.at("cancel")
    with site_database(site.settings):
        assert Booking.get(Booking.number == number).status == "confirmed"  # the GET changed nothing
    citizen.press("取り消す")
    citizen.at("cancelled")
    expect(page.get_by_role("status")).to_have_text("予約を取り消しました。")
    expect(page.locator("dl.summary")).to_contain_text("取消済み")
    with site_database(site.settings):
        assert Booking.get(Booking.number == number).status == "cancelled"
    assert slot_seats(site.settings, citizen.chosen.slot_id)["booked"] == new_seats["booked"] - 1


# --- 4. keyboard only ------------------------------------------------------------------------------

FOCUSED = """([selector, text]) => {
  const el = document.activeElement;
  if (!el || !el.matches(selector) || (text && !el.textContent.includes(text))) return null;
  const style = getComputedStyle(el);
  return {outline: style.outlineStyle, width: parseFloat(style.outlineWidth), slot: el.dataset.slot || ""};
}"""


def tab_to(page: Page, selector: str, text: str = "", *, key: str = "Tab", limit: int = 250) -> dict:
    """Press Tab (or Shift+Tab) until the focused element matches; it must show a visible focus ring."""
    for _ in range(limit):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED, [selector, text])
        if focused:
            assert focused["outline"] != "none" and focused["width"] >= 2, f"no visible focus on {selector} {text}"
            return focused
    raise AssertionError(f"{selector} {text!r} cannot be reached with {key} on {page.url}")


def test_booking_with_the_keyboard_only(open_page, site):
    """Tab, Shift+Tab, Space, Enter and the arrow keys are enough to book: the skip link comes first,
    every control is reachable in order and shows a focus ring, selects change with ArrowDown."""
    page = open_page(1280, 800)
    citizen = Citizen(page)
    person = new_person()
    page.goto("/")
    citizen.at("index")
    tab_to(page, "a.skip", limit=1)
    tab_to(page, "main a.button", "予約する")
    page.keyboard.press("Enter")
    citizen.at("start")
    boxes = page.locator("input[type=checkbox]").count()
    for _ in range(boxes):
        tab_to(page, "input[type=checkbox]:not(:checked)")
        page.keyboard.press("Space")
    assert page.locator("input[type=checkbox]:checked").count() == boxes
    tab_to(page, "button", "次へ")
    page.keyboard.press("Enter")
    citizen.at("venues")
    tab_to(page, "a.venue", "南支所")
    page.keyboard.press("Enter")
    citizen.at("calendar")
    while not page.locator(".calendar a", has_text="空きあり").count():
        tab_to(page, "nav.months a[aria-current] ~ a")
        page.keyboard.press("Enter")
        citizen.at("calendar")
    tab_to(page, ".calendar a", "空きあり")
    page.keyboard.press("Enter")
    citizen.at("day")
    slot = tab_to(page, "button.slot:not([disabled])")["slot"]
    page.keyboard.press("Enter")
    citizen.at("details")

    tab_to(page, "#name")
    page.keyboard.type(person.name)
    tab_to(page, "#kana")
    page.keyboard.type(person.kana)
    tab_to(page, "#name", key="Shift+Tab", limit=1)  # back one field, then on again
    tab_to(page, "#kana", limit=1)
    tab_to(page, "#phone")
    page.keyboard.type(person.phone)
    this_year = clock.today().year
    for field, presses, value in (("#birth_year", this_year - person.birth.year + 1, person.birth.year),
                                  ("#birth_month", person.birth.month, person.birth.month),
                                  ("#birth_day", person.birth.day, person.birth.day)):
        tab_to(page, field, limit=1)
        for _ in range(presses):
            page.keyboard.press("ArrowDown")
        assert page.locator(field).input_value() == str(value), field
    tab_to(page, "input[type=radio]:checked", limit=1)  # the group's checked choice (SMS)
    tab_to(page, "button", "入力内容を確認する")
    page.keyboard.press("Enter")
    citizen.at("confirm")
    expect(page.locator("dl.summary")).to_contain_text(person.name)
    tab_to(page, "button", "この内容で予約する")
    page.keyboard.press("Enter")
    citizen.at("done")
    number = page.locator("dd.number")
    expect(number).to_have_text(re.compile(r"\d{4}-\d{4}"))
    assert booked(site, number.inner_text())[:2] == (int(slot), "confirmed")


# --- 5. no JavaScript --------------------------------------------------------------------------------

def test_booking_works_with_javascript_off(open_page, site):
    """Every step is plain HTML forms and links: with JavaScript disabled the whole booking goes
    through, and the print button (which needs JavaScript) is not shown."""
    page = open_page(390, 844, java_script_enabled=False)
    citizen = Citizen(page)
    number = citizen.book(new_person(), "北部公民館")
    assert booked(site, number)[:2] == (citizen.chosen.slot_id, "confirmed")
    expect(page.get_by_role("button", name="この画面を印刷する")).to_be_hidden()
    expect(page.get_by_role("link", name="カレンダーに登録する（.ics）")).to_be_visible()


# --- 6. axe-core on every step -------------------------------------------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: tags});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_axe_finds_nothing_serious_on_any_step(open_page, full_day, width, height):
    """axe-core (WCAG 2.0/2.1/2.2 A and AA rules and best practices) reports no serious or critical
    violation on any page of the flow, including errors, the full day with alternatives, look-up,
    change and cancel."""
    page = open_page(width, height, bypass_csp=True)  # axe is injected as an inline script
    page.set_content('<html><body><img src="data:,"><button></button></body></html>')
    page.add_script_tag(path=str(AXE))
    assert {"image-alt", "button-name", "html-has-lang"} <= {v["id"] for v in page.evaluate(AXE_RUN, AXE_TAGS)}, \
        "axe did not see the faults of a broken page"
    scanned, found = [], {}

    def scan(page: Page, name: str) -> None:
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(AXE_RUN, AXE_TAGS)
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        if serious:
            found[name] = serious
        scanned.append(name)

    walk_every_step(Citizen(page, scan), new_person(), full_day)
    assert len(scanned) >= 20, scanned
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


# --- 7. 320px, 200% zoom, larger text --------------------------------------------------------------

TARGETS = "main button, main a.button, main .slot, main .venue, main .choice, main .months a, main .calendar a"
LAYOUT = """(targets) => {
  const small = [...document.querySelectorAll(targets)]
    .filter(el => el.getClientRects().length)
    .map(el => { const r = el.getBoundingClientRect();
                 return {target: el.outerHTML.slice(0, 70), width: r.width, height: r.height}; })
    .filter(t => t.width < 44 || t.height < 44);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          fontSize: parseFloat(getComputedStyle(document.body).fontSize), small};
}"""


def layout_problems(page: Page, name: str, min_font: float = 18) -> list[str]:
    layout = page.evaluate(LAYOUT, TARGETS)
    problems = []
    if layout["scrollWidth"] > layout["innerWidth"]:
        problems.append(f"{name}: scrolls sideways ({layout['scrollWidth']} > {layout['innerWidth']})")
    if layout["fontSize"] < min_font:
        problems.append(f"{name}: base font {layout['fontSize']}px")
    problems += [f"{name}: target {t['width']:.0f}x{t['height']:.0f} {t['target']}" for t in layout["small"]]
    return problems


@pytest.mark.parametrize("width,height,scale", [(320, 640, 1), (640, 400, 2)], ids=["320px", "zoom200"])
def test_usable_at_320px_and_at_200_percent_zoom(open_page, full_day, width, height, scale):
    """On a 320px-wide phone and at 200% zoom of a 1280x800 window (640x400 CSS px), no step scrolls
    sideways, the base text is at least 18px and every button, venue, time, day and alternative is a
    target of at least 44x44 CSS px."""
    page = open_page(width, height, device_scale_factor=scale)
    problems, steps = [], []

    def check(page: Page, name: str) -> None:
        steps.append(name)
        problems.extend(layout_problems(page, name))
        screenshot(page, f"{width}x{height}@{scale}x-{len(steps):02d}-{name}")

    walk_every_step(Citizen(page, check), new_person(), full_day)
    assert len(steps) >= 20
    assert not problems, "\n".join(problems)


def test_text_size_switch_makes_text_larger_and_keeps_the_layout(open_page, full_day):
    """「大きく」 in the header makes the text larger on every page (a cookie remembers it); at 320px
    the larger text still fits without sideways scrolling and keeps its targets; 「標準」 goes back."""
    page = open_page(320, 640)
    page.goto("/")
    normal = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    page.get_by_role("link", name="大きく").click()
    expect(page.get_by_role("link", name="大きく")).to_have_attribute("aria-current", "true")
    large = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert large > normal >= 18

    problems = []
    walk_every_step(Citizen(page, lambda page, name: problems.extend(layout_problems(page, name, large))),
                    new_person(), full_day)
    assert not problems, "\n".join(problems)
    page.get_by_role("link", name="標準").click()
    expect(page.get_by_role("link", name="標準")).to_have_attribute("aria-current", "true")
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") == normal


# --- 8. structure every step shares ------------------------------------------------------------------

STRUCTURE = """() => {
  const phone = document.querySelector("header.site .help-phone a[href^='tel:']");
  const box = phone && phone.getBoundingClientRect();
  return {lang: document.documentElement.lang, titles: document.querySelectorAll("title").length,
          title: document.title, h1: [...document.querySelectorAll("h1")].map(h => h.textContent.trim()),
          phone: phone && phone.textContent.trim(), href: phone && phone.getAttribute("href"),
          at: box && [Math.round(box.x), Math.round(box.y)]};
}"""


def test_every_step_has_one_title_one_heading_lang_ja_and_the_help_phone(open_page, full_day):
    """Each step has exactly one <title> and one <h1>, the title starts with that heading (「入力（3/5）」),
    the page is lang="ja", and the help phone number is a tel: link in the header at the same place."""
    page = open_page(1280, 800)
    seen = {}

    def check(page: Page, name: str) -> None:
        seen[name] = page.evaluate(STRUCTURE)

    walk_every_step(Citizen(page, check), new_person(), full_day)
    assert {"start", "details", "confirm", "done", "lookup", "cancel"} <= set(seen)
    positions = set()
    for name, s in seen.items():
        assert s["lang"] == "ja", name
        assert s["titles"] == 1 and len(s["h1"]) == 1, (name, s)
        assert s["title"].startswith(f"{s['h1'][0]} | ") and s["title"].endswith("| デモ市"), (name, s["title"])
        assert s["h1"][0] in H1.values(), (name, s["h1"])
        assert (s["phone"], s["href"]) == (HELP_PHONE, "tel:" + HELP_PHONE.replace("-", "")), (name, s)
        positions.add(tuple(s["at"]))
    assert len(positions) == 1, positions
