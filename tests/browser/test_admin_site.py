"""The staff admin site in headless Chromium against a real gunicorn (`madoguchi serve admin`): a clerk's
first sign-in (new password, authenticator enrolment with a TOTP code, recovery codes), generating
slots with a preview, booking on behalf of a caller from the week grid, printing the slot's list (the
PDF read with pdftotext and rendered to PNG), and checking a booking in on the day. Screenshots of
every page go to test-artifacts/screenshots/admin-*.png; axe-core finds nothing serious on them."""

from __future__ import annotations

import datetime
import json
import re
import subprocess

import pyotp
import pytest
from playwright.sync_api import Page, expect

from appliance import clock
from db import bookings
from db.bookings import Actor, Applicant
from db.models import Booking, Slot, StaffUser, Venue
from db.users import add_user
from tests.browser.conftest import AXE, SCREENSHOTS, screenshot, site_database
from tests.browser.test_public_site import AXE_RUN, AXE_TAGS

NEW_PASSWORD = "窓口の朝は早い 2026"
SETUP = Actor("browser-test", role="admin", source="test")


@pytest.fixture(scope="module")
def new_clerk(admin_site):
    """A clerk account as `madoguchi user add` makes it: a one-time password, no authenticator yet."""
    with site_database(admin_site.settings):
        user, password = add_user("suzuki", "staff", SETUP, clock.now(), display_name="鈴木")
    return user.login, password


def code_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


class Clerk:
    """Drives the admin pages with clicks; check(page, name) runs on every page (screenshot + axe)."""

    def __init__(self, page: Page, found: dict):
        self.page = page
        self.found = found
        self.secret = ""

    def check(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        screenshot(page, f"admin-{name}")
        page.add_script_tag(path=str(AXE))
        serious = [v for v in page.evaluate(AXE_RUN, AXE_TAGS) if v["impact"] in ("serious", "critical")]
        if serious:
            self.found[name] = serious

    def heading(self, text: str) -> None:
        expect(self.page.locator("h1")).to_contain_text(text)

    def first_sign_in(self, login: str, one_time_password: str) -> None:
        page = self.page
        page.goto("/")
        self.heading("ログイン")
        self.check("login")
        page.get_by_label("ログインID").fill(login)
        page.get_by_label("パスワード").fill(one_time_password)
        page.get_by_role("button", name="次へ").click()
        self.heading("新しいパスワードを決めてください")
        page.get_by_label("新しいパスワード（12文字以上）").fill("short")
        page.get_by_label("新しいパスワード（確認のためもう一度）").fill("short")
        page.get_by_role("button", name="パスワードを変更する").click()
        expect(page.get_by_text("12文字以上にしてください。")).to_be_visible()
        self.check("new_password_error")
        page.get_by_label("新しいパスワード（12文字以上）").fill(NEW_PASSWORD)
        page.get_by_label("新しいパスワード（確認のためもう一度）").fill(NEW_PASSWORD)
        page.get_by_role("button", name="パスワードを変更する").click()
        self.heading("認証アプリの設定")
        expect(page.locator(".qr svg")).to_be_visible()
        self.check("enrol")
        self.secret = page.locator("code.secret").inner_text().strip()
        page.get_by_label("認証アプリに表示された6けたの数字").fill(code_now(self.secret))
        page.get_by_role("button", name="設定する").click()
        self.heading("復旧コード")
        expect(page.locator("ol.codes li")).to_have_count(10)
        self.check("recovery_codes")
        page.get_by_role("button", name="控えました。使い始める").click()
        self.heading("今日の窓口")
        self.check("home")

    def sign_in(self, login: str, password: str, secret: str) -> None:
        page = self.page
        page.goto("/login")
        page.get_by_label("ログインID").fill(login)
        page.get_by_label("パスワード").fill(password)
        page.get_by_role("button", name="次へ").click()
        self.heading("確認コード")
        self.check("code")
        # The code just used for enrolling cannot be used again: wait for the next 30-second step.
        totp = pyotp.TOTP(secret)
        used = totp.now()
        page.get_by_label("確認コード").fill(used)
        page.get_by_role("button", name="ログイン").click()
        if page.locator("h1").inner_text().startswith("確認コード"):
            expect(page.get_by_text("すでに使われたコード")).to_be_visible()
            self.check("code_reused")
            page.wait_for_timeout(max(0, (30 - datetime.datetime.now().second % 30) * 1000 + 500))
            page.get_by_label("確認コード").fill(totp.now())
            page.get_by_role("button", name="ログイン").click()
        self.heading("今日の窓口")


def test_a_clerk_runs_a_counter_day(open_page, admin_site, new_clerk):
    """First sign-in with TOTP; generate a week of slots (preview first); take a phone booking from the
    week grid; print the slot's list (PDF text has the caller's name, page rendered to PNG); check a
    booking in on today's list. No serious axe finding on any page."""
    found: dict = {}
    page = open_page(1280, 900, base_url=admin_site.url, bypass_csp=True, accept_downloads=True)
    clerk = Clerk(page, found)
    login, one_time_password = new_clerk
    clerk.first_sign_in(login, one_time_password)

    # Generate slots for a week four weeks ahead at 西支所 (the demo only has two weeks).
    with site_database(admin_site.settings):
        venue = Venue.get(Venue.slug == "nishi")
    monday = clock.today() + datetime.timedelta(days=28 - clock.today().weekday())
    page.get_by_role("link", name="枠を作る").first.click()
    clerk.heading("枠を作る")
    page.get_by_label("会場").select_option(label=venue.name)
    page.get_by_label("開始日").fill(monday.isoformat())
    page.get_by_label("終了日").fill((monday + datetime.timedelta(days=4)).isoformat())
    page.get_by_label("受付時間").fill("09:00-12:00,13:00-16:00")
    page.get_by_label("1枠の定員").fill("3")
    page.get_by_role("button", name="確認する（まだ保存しません）").click()
    expect(page.locator("#preview-heading")).to_contain_text("枠")
    clerk.check("generate_preview")
    with site_database(admin_site.settings):
        assert not Slot.select().where(Slot.venue == venue, Slot.date == monday).exists()
    page.get_by_role("button", name=re.compile(r"この内容で\d+枠を作る")).click()
    clerk.heading(venue.name)
    expect(page.locator(".flash")).to_contain_text("枠を作りました")
    clerk.check("week")
    with site_database(admin_site.settings):
        made = Slot.select().where(Slot.venue == venue, Slot.date.between(monday, monday + datetime.timedelta(days=4)))
        assert made.count() > 0 and all(s.capacity == 3 for s in made)

    # A caller phones: book Monday 9:00 from the week grid.
    page.locator(f'a[aria-label^="{monday.month}/{monday.day}"][aria-label*="9:00〜9:30"][aria-label$="予約を入れる"]').click()
    clerk.heading("電話・窓口の予約")
    page.get_by_label("お名前").fill("電話 太郎")
    page.get_by_label("フリガナ").fill("でんわ たろう")
    page.get_by_label("電話番号").fill("090-7777-1234")
    page.get_by_label("生年月日").fill("1944-07-21")
    clerk.check("booking_new")
    page.get_by_role("button", name="予約する").click()
    expect(page.locator(".flash")).to_contain_text("予約しました。予約番号")
    clerk.check("booking")
    number = re.search(r"\d{4}-\d{4}", page.locator("h1").inner_text()).group(0)
    with site_database(admin_site.settings):
        booking = Booking.get(Booking.number == number.replace("-", ""))
        assert (booking.channel, booking.kana, booking.created_by) == ("staff", "デンワ　タロウ", login)

    # Print that slot's list.
    page.get_by_role("link", name="この日の一覧へ").click()
    clerk.heading("の一覧")
    clerk.check("day_list")
    with page.expect_download() as download:
        page.locator("section.slot-list").first.get_by_role("link", name="この枠だけ印刷").click()
    pdf = download.value.path()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    for expected in ("電話 太郎", "デンワ", number, venue.name, f"{monday.month}月{monday.day}日", "1234"):
        assert expected in text, (expected, text)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(SCREENSHOTS / "admin-slot-list-pdf")], check=True)

    # Today: a booking made earlier for a slot today is checked in from today's list.
    today = clock.today()
    with site_database(admin_site.settings):
        slot = Slot.create(venue=venue, date=today, start=datetime.time(23, 30), capacity=2)
        early = datetime.datetime.combine(today, datetime.time(0, 1), clock.TOKYO)
        visitor = bookings.book(slot.id, Applicant("来庁 花子", "ライチョウ ハナコ", "09055556666",
                                                   datetime.date(1950, 2, 3)), "staff", early, actor=SETUP)
    page.goto(f"/lists?venue={venue.id}&date={today.isoformat()}")
    row = page.locator("tr", has_text="来庁 花子")
    row.get_by_role("button", name="来庁 花子 来庁済みにする").click()
    expect(page.locator("tr", has_text="来庁 花子").locator(".state")).to_have_text("来庁済")
    clerk.check("day_list_checked_in")
    with site_database(admin_site.settings):
        assert Booking.get_by_id(visitor.id).status == "attended"

    page.goto("/statistics")
    clerk.heading("統計")
    clerk.check("statistics")
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_signing_in_again_refuses_the_code_just_used(open_page, admin_site):
    """The enrolment's code cannot sign in again (TOTP codes are single-use); the next one can."""
    with site_database(admin_site.settings):
        user, password = add_user("tanaka", "staff", SETUP, clock.now(), display_name="田中")
        secret = pyotp.random_base32()
        StaffUser.update(totp_secret=secret, must_change_password=False,
                         totp_last_step=int(clock.now().timestamp()) // 30).where(StaffUser.id == user.id).execute()
    page = open_page(1280, 900, base_url=admin_site.url, bypass_csp=True)
    clerk = Clerk(page, {})
    clerk.sign_in("tanaka", password, secret)
    assert clerk.found == {}


def test_outside_the_allowlist_gets_403(open_page, admin_site):
    """The served site refuses an address outside admin_allowlist (here through X-Forwarded-For is NOT
    trusted: proxy_hops is 0, so the real peer address decides and 127.0.0.1 is allowed)."""
    page = open_page(1280, 900, base_url=admin_site.url, extra_http_headers={"X-Forwarded-For": "10.9.9.9"})
    response = page.goto("/login")
    assert response.status == 200  # a forged header does not change who the peer is


def test_pages_keep_to_the_content_security_policy(open_page, admin_site):
    """With the CSP enforced (no bypass), the enrolment QR code, the week grid, the day's list, the
    statistics charts and the live text preview load without a refused resource or a script error
    (open_page fails the test on either)."""
    with site_database(admin_site.settings):
        user, password = add_user("sato", "admin", SETUP, clock.now(), display_name="佐藤")
        venue = Venue.get(Venue.slug == "honcho")
    page = open_page(1280, 900, base_url=admin_site.url)
    clerk = Clerk(page, {})
    page.goto("/login")
    page.get_by_label("ログインID").fill("sato")
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("新しいパスワード（12文字以上）").fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認のためもう一度）").fill(NEW_PASSWORD)
    page.get_by_role("button", name="パスワードを変更する").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("code.secret").inner_text().strip()
    page.get_by_label("認証アプリに表示された6けたの数字").fill(code_now(secret))
    page.get_by_role("button", name="設定する").click()
    page.get_by_role("button", name="控えました。使い始める").click()
    clerk.heading("今日の窓口")
    for url, heading in ((f"/venues/{venue.id}/week", venue.name), (f"/lists?venue={venue.id}", "の一覧"),
                         ("/statistics", "統計"), ("/logs/audit", "操作記録")):
        page.goto(url)
        clerk.heading(heading)
    page.goto("/texts/booking_confirmed/sms")
    page.get_by_label("本文").fill("予約番号 {number} です")
    expect(page.locator("pre.message")).to_have_text("予約番号 1234-5678 です")  # the live preview
    screenshot(page, "admin-text-edit")
