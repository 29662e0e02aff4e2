"""Fixtures for the browser tests: a real gunicorn (`madoguchi serve public`) on a free loopback port
serving a fresh demo city, Debian's chromium driven by Playwright's sync API, and a Citizen that walks
the booking flow the way a person does: by reading the pages, never by hard-coded dates.

The server runs on the real wall clock; slots start tomorrow, so the tests pick days and times from
what the calendar and the day page offer (〇 空きあり, 残りN).
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from appliance import clock, runtime
from appliance.demo import create_demo_city
from appliance.settings import Settings
from db import crypto
from db.bookings import Actor
from db.capacity import alternatives
from db.connection import database, open_database, write_transaction
from db.models import ReceptionWindow, Slot, Venue
from tests.conftest import make_instance

REPO = Path(__file__).resolve().parents[2]
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HELP_PHONE = "0586-00-0000"  # the help_phone setting's default, shown in every page's header
TEST_ACTOR = Actor("browser-test", role="admin", source="test")

# The h1 (and the start of the title) of each step.
H1 = {
    "index": "電子証明書更新のご予約",
    "start": "確認事項（1/5）",
    "venues": "会場を選ぶ（2/5）",
    "calendar": "日にちを選ぶ（2/5）",
    "day": "時間を選ぶ（2/5）",
    "details": "入力（3/5）",
    "confirm": "確認（4/5）",
    "done": "完了（5/5）",
    "lookup": "予約の確認・変更・取消",
    "mybooking": "ご予約の内容",
    "change": "変更の確認",
    "cancel": "予約の取消",
    "cancelled": "取消しました",
    "not_found": "ページが見つかりません",
}
FREE_DAY = re.compile("空きあり|残りわずか")


# --- the server and the database behind it ---------------------------------------------------------

@dataclass(frozen=True)
class Site:
    url: str
    settings: Settings
    log: Path


@contextlib.contextmanager
def site_database(settings: Settings):
    """One write transaction on the served instance from this (the test) process. The server's
    workers see what it commits. Puts back whatever database the process had installed before."""
    before = runtime._settings, database.obj, crypto._cipher
    runtime.configure(settings)
    db = open_database(settings)
    try:
        with write_transaction(db):
            yield db
    finally:
        db.close()
        runtime._settings = before[0]
        database.initialize(before[1])
        crypto.install(before[2])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path, deadline: float = 60.0) -> None:
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise RuntimeError(f"the public site exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the public site did not answer {url} within {deadline}s:\n{log.read_text()}")


@contextlib.contextmanager
def serving(which: str, root: Path, settings: Settings, check_path: str):
    """`madoguchi serve <which>` with two gunicorn workers on a free loopback port, until the block ends."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_CONFIG=str(root / "madoguchi.toml"), HF_HUB_OFFLINE="1")
    log = root / f"{which}-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", which, "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url + check_path, process, log)
        yield Site(url, settings, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """A fresh instance with the demo city (14 venues with kana, the eligibility questions, two weeks
    of slots from tomorrow), served by `madoguchi serve public` with two gunicorn workers."""
    root = tmp_path_factory.mktemp("browser-site")
    settings = make_instance(root)
    with site_database(settings):
        create_demo_city(TEST_ACTOR, clock.now(), weeks=2)
        # The tests run on the real clock: booking until the day starts (instead of 19:30 the day
        # before) keeps a run that crosses 19:30 JST from losing the day it picked.
        ReceptionWindow.update(closes_days_before=0, closes_time=datetime.time(0, 0)).where(
            ReceptionWindow.venue.is_null()).execute()
    with serving("public", root, settings, "/") as served:
        yield served


@pytest.fixture(scope="session")
def admin_site(site):
    """`madoguchi serve admin` on the same instance as the public site (the same demo city)."""
    with serving("admin", site.log.parent, site.settings, "/login") as served:
        yield served


@dataclass(frozen=True)
class FullDay:
    venue: str  # the venue's name as the pages show it
    slug: str
    date: datetime.date


def fill_slots(settings: Settings, *slot_ids: int) -> None:
    """Make slots full for every channel: capacity down to what is booked (as if the seats went)."""
    with site_database(settings):
        Slot.update(capacity=Slot.booked_web + Slot.booked_phone + Slot.booked_staff + Slot.booked_over,
                    phone_seats=0, staff_seats=0).where(Slot.id.in_(slot_ids)).execute()


def earliest_bookable_date(settings: Settings, slug: str) -> datetime.date:
    with site_database(settings):
        venue = Venue.get(Venue.slug == slug)
        found = alternatives(venue.id, clock.today(), "web", clock.now(),
                             release_days=settings.reserved_seats_release_days, limit=1)
        assert found and found[0].venue_id == venue.id, f"no bookable slot at {slug}"
        return found[0].date


@pytest.fixture(scope="session")
def full_day(site) -> FullDay:
    """西支所's earliest bookable day with every slot full (its calendar shows × 満席 there)."""
    date = earliest_bookable_date(site.settings, "nishi")
    with site_database(site.settings):
        venue = Venue.get(Venue.slug == "nishi")
        ids = [s.id for s in Slot.select().where(Slot.venue == venue, Slot.date == date)]
    fill_slots(site.settings, *ids)
    return FullDay(venue.name, venue.slug, date)


def slot_seats(settings: Settings, slot_id: int) -> dict:
    with site_database(settings):
        slot = Slot.get_by_id(slot_id)
        return {"capacity": slot.capacity, "booked": slot.booked}


# --- the browser -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, site):
    """open_page(width, height, **context options): a page in a fresh browser context (own cookies).
    JavaScript errors and refused resources (a CSP violation, a missing file) fail the test."""
    contexts, problems = [], []

    def opener(width: int = 390, height: int = 844, **options) -> Page:
        options.setdefault("base_url", site.url)
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="ja-JP",
                                       timezone_id="Asia/Tokyo", **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"JavaScript error on {page.url}: {error}"))
        page.on("console", lambda message: _console(message, problems))
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


def _console(message, problems: list[str]) -> None:
    if message.type != "error":
        return
    url = message.location.get("url", "")
    # A page answered with 404/409/422 is logged as "Failed to load resource"; that is the page itself.
    if message.text.startswith("Failed to load resource") and "/static/" not in url:
        return
    problems.append(f"console error ({url}): {message.text}")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# --- the citizen -------------------------------------------------------------------------------------

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
HALF_WIDTH = str.maketrans("０１２３４５６７８９－", "0123456789-")
_people = itertools.count(1)


@dataclass(frozen=True)
class Person:
    name: str
    kana: str  # typed in hiragana, as many do; the site converts it
    phone: str  # typed with full-width digits
    last4: str
    birth: datetime.date

    @property
    def phone_digits(self) -> str:
        return "".join(c for c in self.phone.translate(HALF_WIDTH) if c.isdigit())


def new_person() -> Person:
    """A different person each time (one active booking per phone number and birth date)."""
    n = next(_people)
    phone = f"090-{3000 + n:04d}-{5000 + n:04d}"
    return Person(name=f"市民 花子{n}", kana="しみん はなこ", phone=phone.translate(FULL_WIDTH),
                  last4=phone[-4:], birth=datetime.date(1940 + n % 40, 1 + n % 12, 1 + n % 28))


@dataclass
class Chosen:
    venue: str = ""
    day_url: str = ""
    slot_id: int = 0
    time: str = ""  # "09:30〜"
    seats: str = ""  # "残り2"


class Citizen:
    """Drives one page through the flow with clicks, checking each step's heading; on_step(page, name)
    runs on every step (screenshots, axe scans, layout checks)."""

    def __init__(self, page: Page, on_step=None):
        self.page = page
        self.on_step = on_step
        self.chosen = Chosen()

    def step(self, name: str) -> None:
        self.page.wait_for_load_state("load")  # styles applied, deferred scripts run
        if self.on_step:
            self.on_step(self.page, name)

    def at(self, step: str) -> None:
        expect(self.page.locator("h1")).to_have_text(H1[step])

    def press(self, name: str, role: str = "button") -> None:
        """Click the button (or link) of that name in the page's main part."""
        self.page.locator("main").get_by_role(role, name=name, exact=True).click()

    def open_index(self) -> None:
        self.page.goto("/")
        self.at("index")
        self.step("index")

    def start(self) -> None:
        self.press("予約する", "link")
        self.at("start")
        self.step("start")

    def tick_eligibility(self) -> None:
        for box in self.page.get_by_role("checkbox").all():
            box.check()
        self.press("次へ")

    def choose_venue(self, name: str) -> None:
        self.at("venues")
        self.page.locator("a.venue", has_text=name).click()
        self.at("calendar")
        self.chosen.venue = name

    def show_month_of(self, date: datetime.date) -> None:
        current = self.page.locator("nav.months a[aria-current]")
        if f"month={date:%Y-%m}" not in (current.get_attribute("href") or ""):
            self.page.locator(f'nav.months a[href*="month={date:%Y-%m}"]').click()
            expect(self.page.locator(".calendar caption")).to_have_text(f"{date.year}年{date.month}月")

    def open_day(self, date: datetime.date | None = None) -> None:
        """Click the given day, or the first day marked 空きあり (or 残りわずか), going on to later months."""
        page = self.page
        if date:
            self.show_month_of(date)
        for _ in range(4):
            link = (page.locator(f'.calendar a[href$="/{date.isoformat()}"]') if date
                    else page.locator(".calendar a", has_text=FREE_DAY))
            if link.count():
                link.first.click()
                self.at("day")
                self.chosen.day_url = page.url
                return
            later = page.locator("nav.months a[aria-current] ~ a")
            assert later.count(), "no bookable day in any month the calendar offers"
            later.first.click()
            self.at("calendar")
        raise AssertionError("no bookable day found")

    def choose_slot(self, *, avoid: int = 0, then: str = "details") -> None:
        """Click the first bookable time (other than slot `avoid`), remembering its 残りN."""
        button = self.page.locator(f"button.slot:not([disabled]):not([data-slot='{avoid}'])").first
        self.chosen.slot_id = int(button.get_attribute("data-slot"))
        self.chosen.time = button.locator(".slot-time").inner_text()
        self.chosen.seats = button.locator(".slot-seats").inner_text()
        button.click()
        self.at(then)

    def fill_details(self, person: Person) -> None:
        page = self.page
        page.get_by_label("お名前").fill(person.name)
        page.get_by_label("フリガナ").fill(person.kana)
        page.get_by_label("電話番号").fill(person.phone)
        self.fill_birth_date(person.birth)
        page.get_by_label("SMS（携帯電話のショートメッセージ）").check()

    def fill_birth_date(self, born: datetime.date) -> None:
        page = self.page
        page.get_by_label("生まれた年").select_option(str(born.year))
        page.get_by_label("生まれた月").select_option(str(born.month))
        page.get_by_label("生まれた日").select_option(str(born.day))

    def submit_details(self) -> None:
        self.press("入力内容を確認する")
        self.at("confirm")

    def confirm(self) -> str:
        """Book; returns the reservation number as the done page shows it (1234-5678)."""
        self.press("この内容で予約する")
        self.at("done")
        number = self.page.locator("dd.number").inner_text().strip()
        assert re.fullmatch(r"\d{4}-\d{4}", number), number
        return number

    def look_up(self, number: str, person: Person) -> None:
        page = self.page
        page.get_by_label("予約番号").fill(number)
        self.fill_birth_date(person.birth)
        page.get_by_label("電話番号の下4けた").fill(person.last4)
        self.press("予約を確認する")
        self.at("mybooking")

    def book(self, person: Person, venue: str) -> str:
        """The whole booking from the first page: eligibility, venue, first free day and time, details."""
        self.open_index()
        self.start()
        self.tick_eligibility()
        self.step("venues")
        self.choose_venue(venue)
        self.step("calendar")
        self.open_day()
        self.step("day")
        self.choose_slot()
        self.step("details")
        self.fill_details(person)
        self.submit_details()
        self.step("confirm")
        number = self.confirm()
        self.step("done")
        return number


def walk_every_step(citizen: Citizen, person: Person, full_day: FullDay) -> None:
    """Every page a citizen can meet, each passed to citizen.on_step: the start with and without the
    required ticks, venues, calendar, a full day with its alternatives, a day, details with errors,
    confirm, done, look-up with errors, the booking, a change, the cancel confirmation, the cancelled
    booking, and a page that does not exist."""
    page = citizen.page
    citizen.open_index()
    citizen.start()
    citizen.press("次へ")  # nothing ticked: what to do instead
    citizen.at("start")
    expect(page.locator(".guidance")).to_be_visible()
    citizen.step("start_guidance")
    citizen.tick_eligibility()
    citizen.step("venues")
    citizen.choose_venue(full_day.venue)
    citizen.step("calendar")
    citizen.open_day(full_day.date)
    expect(page.get_by_text("この日は満席です。")).to_be_visible()
    expect(page.locator("button.choice")).to_have_count(3)
    citizen.step("day_full")
    page.get_by_role("link", name="日にちを変える").click()
    citizen.at("calendar")
    citizen.open_day()
    citizen.step("day")
    citizen.choose_slot()
    citizen.step("details")
    page.get_by_label("お名前").fill(person.name)
    page.get_by_label("フリガナ").fill("Hanako")
    page.get_by_label("電話番号").fill("12-34")
    citizen.press("入力内容を確認する")
    citizen.at("details")
    expect(page.locator("#error-summary")).to_be_visible()
    citizen.step("details_errors")
    citizen.fill_details(person)
    citizen.submit_details()
    citizen.step("confirm")
    number = citizen.confirm()
    citizen.step("done")

    page.get_by_role("link", name="予約の確認・変更・取消").first.click()
    citizen.at("lookup")
    citizen.step("lookup")
    citizen.press("予約を確認する")
    citizen.at("lookup")
    expect(page.locator(".error").first).to_be_visible()
    citizen.step("lookup_errors")
    citizen.look_up(number, person)
    citizen.step("mybooking")
    booked_slot = citizen.chosen.slot_id
    citizen.press("日時・会場を変更する")
    citizen.at("calendar")
    citizen.step("change_calendar")
    citizen.open_day()
    citizen.step("change_day")
    citizen.choose_slot(avoid=booked_slot, then="change")
    citizen.step("change")
    citizen.press("この日時に変更する")
    citizen.at("mybooking")
    expect(page.get_by_text("予約の日時を変更しました。")).to_be_visible()
    citizen.step("mybooking_changed")
    citizen.press("予約を取り消す", "link")
    citizen.at("cancel")
    citizen.step("cancel")
    citizen.press("取り消す")
    citizen.at("cancelled")
    citizen.step("cancelled")
    page.goto("/venues/atlantis")
    citizen.at("not_found")
    citizen.step("not_found")
