"""The FAQ in Chromium against the served sites with the demo city's FAQ: a citizen on a phone finds the
answer from the home page by a question in their own words and says it helped, with no sideways
scrolling at 320px; an operator types a caller's words and the candidates appear as they type (the
page's script), then records the one used; axe finds nothing serious on any of these pages
(screenshots: test-artifacts/screenshots/faq-*.png and admin-faq-*.png)."""

from __future__ import annotations

import json

import pyotp
from playwright.sync_api import Page, expect

from appliance import clock
from db.models import FaqEntry, FaqUse, StaffUser
from db.users import add_user
from tests.browser.conftest import AXE, screenshot, site_database
from tests.browser.test_admin_flows import sign_in
from tests.browser.test_admin_site import SETUP, Clerk
from tests.browser.test_public_site import AXE_RUN, AXE_TAGS, layout_problems


def scan(page: Page, name: str, found: dict) -> None:
    page.wait_for_load_state("load")
    screenshot(page, f"faq-{name}")
    page.add_script_tag(path=str(AXE))
    serious = [v for v in page.evaluate(AXE_RUN, AXE_TAGS) if v["impact"] in ("serious", "critical")]
    if serious:
        found[name] = serious


def test_a_citizen_finds_an_answer_by_a_question_in_their_own_words(open_page, site):
    page = open_page(390, 844, bypass_csp=True)  # axe is injected as an inline script
    found: dict = {}
    page.goto("/")
    page.get_by_role("link", name="よくある質問を見る").click()
    expect(page.locator("h1")).to_have_text("よくある質問（マイナンバーカード）")
    expect(page.get_by_role("heading", name="暗証番号")).to_be_visible()
    scan(page, "index", found)
    page.get_by_label("質問やことばで探す").fill("あんしょうばんごうを わすれてしまった")
    page.get_by_role("button", name="探す").click()
    expect(page.locator("h1")).to_have_text("よくある質問を探す")
    scan(page, "search", found)
    first = page.locator("ol.faq-results li a").first
    question = first.inner_text()
    assert "暗証番号" in question, question
    first.click()
    expect(page.locator("h1")).to_have_text(question)
    scan(page, "entry", found)
    page.get_by_role("button", name="分かった").click()
    expect(page.get_by_role("alert")).to_contain_text("お役に立ててよかったです")
    page.get_by_label("質問やことばで探す").fill("犬の登録 ０９０１２３４５６７８")
    page.get_by_role("button", name="探す").click()
    scan(page, "nothing-found", found)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
    with site_database(site.settings):
        assert FaqUse.select().join(FaqEntry).where(FaqUse.channel == "citizen",
                                                    FaqEntry.question == question).exists()
    narrow = open_page(320, 640)
    problems = []
    for path in ("/faq", "/faq/search?q=暗証番号", "/faq/pin-forgot"):
        narrow.goto(path)
        problems += layout_problems(narrow, path)
    assert not problems, problems


def test_an_operator_sees_candidates_as_they_type_and_records_the_one_used(open_page, admin_site):
    now = clock.now()
    with site_database(admin_site.settings):
        user, password = add_user("operator1", "staff", SETUP, now, display_name="受付担当")
        secret = pyotp.random_base32()
        StaffUser.update(totp_secret=secret, must_change_password=False,
                         totp_last_step=int(now.timestamp()) // 30 - 1).where(StaffUser.id == user.id).execute()
    page = open_page(1280, 900, base_url=admin_site.url, bypass_csp=True)
    clerk = Clerk(page, {})
    sign_in(page, "operator1", password, secret)
    page.get_by_role("link", name="FAQ・回答候補").click()
    clerk.heading("FAQと回答候補")
    # typed as a caller says it, no button pressed: the page's script fetches the candidates
    page.get_by_label("お問い合わせの内容").press_sequentially("でんししょうめいしょの こうしん いつから", delay=20)
    first = page.locator("#candidates ol.candidates li").first
    expect(first.locator("mark").first).to_be_visible()
    expect(first).to_contain_text("更新")
    clerk.check("faq-candidates")
    first.get_by_role("button", name="この回答を使った").click()
    expect(page.get_by_text("回答に使ったことを記録しました")).to_be_visible()
    clerk.check("faq-used")
    page.locator("table.grid a").first.click()
    expect(page.get_by_role("heading", name="これまでの版")).to_be_visible()
    clerk.check("faq-entry")
    assert clerk.found == {}, clerk.found
    with site_database(admin_site.settings):
        (use,) = FaqUse.select().where(FaqUse.channel == "operator", FaqUse.used_by == "operator1")
        assert use.rank == 1
