"""The IVR flow editor in Chromium against the served admin site: an administrator builds a 3-level
flow from nothing by the forms (nodes added, menus wired, the first node set), sees the problems go,
publishes it with the keyboard, and walks it in the simulator by pressing keys; axe finds nothing
serious on the editor or the simulator (screenshots: test-artifacts/screenshots/admin-flow-*.png)."""

from __future__ import annotations

import json

import pyotp
from playwright.sync_api import expect

from appliance import clock
from db import flows
from db.models import PhoneLine, StaffUser
from db.users import add_user
from tests.browser.conftest import site_database
from tests.browser.test_admin_site import SETUP, Clerk

DID = "0120000123"


def sign_in(page, login: str, password: str, secret: str) -> None:
    page.goto("/login")
    page.get_by_label("ログインID").fill(login)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("確認コード").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="ログイン").click()


def test_an_administrator_builds_publishes_and_simulates_a_three_level_flow(open_page, admin_site):
    with site_database(admin_site.settings):
        user, password = add_user("flowadmin", "admin", SETUP, clock.now(), display_name="流れ担当")
        secret = pyotp.random_base32()
        StaffUser.update(totp_secret=secret, must_change_password=False,
                         totp_last_step=int(clock.now().timestamp()) // 30 - 1).where(StaffUser.id == user.id).execute()
        line = PhoneLine.create(did=DID, flow="ivr", mode="dtmf_only", label="試験の番号")
    page = open_page(1280, 1000, base_url=admin_site.url, bypass_csp=True)
    clerk = Clerk(page, {})
    sign_in(page, "flowadmin", password, secret)
    page.get_by_role("link", name="電話番号と声").click()
    page.locator(f"a[href='/lines/{line.id}/flow']").click()
    clerk.heading(f"電話の流れ：{DID}")
    expect(page.get_by_text("まだ公開していません")).to_be_visible()

    for name in ("top", "second", "third"):
        page.get_by_label("場面の名前（英数字）").fill(name)
        page.get_by_label("種類").select_option("menu")
        page.get_by_role("button", name="増やす").click()
        expect(page.get_by_role("heading", name=f"場面「{name}」：ボタンで選ぶメニュー")).to_be_visible()
    for name, text, following in (("third", "三番目のメニューです。終わるには1を押してください。", "welcome"),
                                  ("second", "二番目のメニューです。1を押してください。", "third"),
                                  ("top", "最初のメニューです。1を押してください。", "second")):
        page.get_by_role("link", name=name, exact=True).first.click()
        page.get_by_label("話す文").fill(text)
        page.get_by_label("1", exact=True).select_option(following)
        page.get_by_label("やり直しが続いたときの行き先").select_option("welcome")
        page.get_by_role("button", name="この場面を保存する").click()
        expect(page.get_by_text("下書きに保存しました")).to_be_visible()
    expect(page.get_by_text("どこからも来ることがありません").first).to_be_visible()  # start is still welcome
    page.get_by_label("最初の場面", exact=True).select_option("top")
    page.locator("form[action$='/flow/settings'] button").click()
    expect(page.get_by_role("heading", name="問題はありません")).to_be_visible()
    clerk.check("flow-editor")

    comment = page.get_by_label("何を変えたか（履歴に残ります）")
    comment.fill("3段のメニュー")
    comment.press("Tab")  # to 「下書きを公開する」, by the keyboard
    page.keyboard.press("Enter")
    expect(page.get_by_text("第1版を公開しました")).to_be_visible()
    with site_database(admin_site.settings):
        program = flows.program(DID)
        assert (program.version, program.graph.start) == (1, "top")
        assert json.loads(flows.published(DID).graph)["nodes"]["second"]["options"] == {"1": "third"}

    page.get_by_role("link", name="試しに電話をかける（シミュレーター）").click()
    clerk.heading("シミュレーター")
    expect(page.get_by_text("最初のメニューです。")).to_be_visible()
    for _ in range(3):
        page.locator(".keypad").get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_text("三番目のメニューです。")).to_be_visible()
    expect(page.get_by_text("電話が終わりました")).to_be_visible()
    clerk.check("flow-simulator")
    assert clerk.found == {}, json.dumps(clerk.found, ensure_ascii=False, indent=1)
