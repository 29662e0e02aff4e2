"""The operator's desk in Chromium against a served admin site of its own (the demo city with its FAQ
and an escalation group): two calls put through to the operator's phone appear on the desk; the
operator answers the first with a candidate from the FAQ and records it resolved at first contact,
escalates the second to 市民課 (the group is mailed), finds both in the record book, and the month's
report shows them; a viewer reads the book masked; axe finds nothing serious (screenshots:
test-artifacts/screenshots/admin-desk-*.png)."""

from __future__ import annotations

import datetime

import pyotp
import pytest
from playwright.sync_api import expect

from appliance import clock
from appliance.demo import create_demo_city
from db import inquiries
from db.models import CallRecord, Inquiry, Outbox, StaffUser
from db.users import add_user
from tests.browser.conftest import TEST_ACTOR, serving, site_database
from tests.browser.test_admin_flows import sign_in
from tests.browser.test_admin_site import SETUP, Clerk
from tests.conftest import make_instance


@pytest.fixture(scope="module")
def desk_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("desk-site")
    settings = make_instance(root, escalation_groups="市民課マイナンバー担当=mynumber@demo-city.example.lg.jp")
    with site_database(settings):
        create_demo_city(TEST_ACTOR, clock.now(), weeks=1)
    with serving("admin", root, settings, "/login") as served:
        yield served


def staff(site, login: str, role: str = "staff") -> tuple[str, str]:
    now = clock.now()
    with site_database(site.settings):
        user, password = add_user(login, role, SETUP, now, display_name=f"{login}さん")
        secret = pyotp.random_base32()
        StaffUser.update(totp_secret=secret, must_change_password=False,
                         totp_last_step=int(now.timestamp()) // 30 - 1).where(StaffUser.id == user.id).execute()
    return password, secret


def put_through(site, sip_call_id: str, minutes_ago: int) -> int:
    """A call on the demo's 座間 line waiting in its queue, now talking with the operator's phone (as the
    voice engine writes it) and its record opened."""
    now = clock.now()
    with site_database(site.settings):
        CallRecord.create(sip_call_id=sip_call_id, did="0462000001", worker=1, caller="09012345678",
                          started_at=now - datetime.timedelta(minutes=minutes_ago), live_step="queue", live_keys="12",
                          live_state="talking:コールセンター")
        return inquiries.open_for_call(sip_call_id, "コールセンター", now).id


def test_an_operator_answers_with_a_candidate_escalates_one_and_the_report_shows_them(open_page, desk_site):
    password, secret = staff(desk_site, "operator2")
    first = put_through(desk_site, "desk-call-1", 4)
    second = put_through(desk_site, "desk-call-2", 2)
    page = open_page(1280, 900, base_url=desk_site.url, bypass_csp=True)
    clerk = Clerk(page, {})
    sign_in(page, "operator2", password, secret)
    page.get_by_role("link", name="問い合わせ対応").click()
    clerk.heading("問い合わせ対応")
    page.get_by_label("コールセンター").check()
    page.get_by_role("button", name="選んだ電話にする").click()
    expect(page.get_by_text(f"No.{first}")).to_be_visible()
    expect(page.get_by_text(f"No.{second}")).to_be_visible()
    clerk.check("desk-desk")

    page.locator("tr", has_text=f"No.{first}").get_by_role("link", name="記録を開く").click()
    clerk.heading(f"問い合わせ No.{first}")
    expect(page.get_by_text("0462000001")).to_be_visible()
    page.get_by_label("問い合わせの内容（個人情報は書かない）").fill("暗証番号を忘れてしまった、どうすればいいか")
    page.get_by_role("button", name="この内容で回答候補を探す").click()
    candidate = page.locator("article.candidate").first
    expect(candidate.locator("mark").first).to_be_visible()
    question = candidate.locator("h3").inner_text()
    assert "暗証番号" in question, question
    clerk.check("desk-record")
    page.get_by_label(question).check()
    page.get_by_label("回答した内容（個人情報は書かない）").fill("本人確認書類とカードを持って窓口で再設定できると案内した。")
    page.get_by_label("分類", exact=True).select_option(label="暗証番号")
    page.get_by_label("対応", exact=True).select_option("resolved")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_text(f"問い合わせ No.{first} を記録しました（解決）。")).to_be_visible()

    page.locator("tr", has_text=f"No.{second}").get_by_role("link", name="記録を開く").click()
    page.get_by_label("問い合わせの内容（個人情報は書かない）").fill("施設に入っている父の電子証明書を代理で更新したい")
    page.get_by_role("button", name="保存する").click()
    page.get_by_label("引き継ぐ内容（何を確かめてほしいか）").fill("代理人による更新の手続きと、施設への出張の可否を確認してください。")
    page.get_by_role("button", name="引き継ぐ").click()
    expect(page.get_by_text(f"問い合わせ No.{second} を市民課マイナンバー担当に引き継ぎました")).to_be_visible()
    page.get_by_role("link", name="引き継ぎ").first.click()
    expect(page.locator("tr", has_text=f"No.{second}")).to_contain_text("回答待ち")
    clerk.check("desk-escalations")

    page.get_by_role("link", name="問い合わせ記録簿").first.click()
    expect(page.get_by_role("link", name=f"No.{first}")).to_be_visible()
    expect(page.get_by_role("link", name=f"No.{second}")).to_be_visible()
    clerk.check("desk-book")
    page.get_by_role("link", name="業務報告（KPI）").click()
    clerk.heading("コールセンター業務報告")
    kpis = page.locator("table").first
    expect(kpis.locator("tr", has_text="一次完了率")).to_contain_text("50.0%")
    expect(kpis.locator("tr", has_text="市民課への引き継ぎ")).to_contain_text("1")
    expect(page.locator("tr", has_text=question)).to_contain_text("1")
    clerk.check("desk-report")
    assert clerk.found == {}, clerk.found
    with site_database(desk_site.settings):
        assert [r.status for r in Inquiry.select().order_by(Inquiry.id)] == ["resolved", "escalated"]
        (mail,) = Outbox.select().where(Outbox.event == "alert")
        assert mail.recipient == "mynumber@demo-city.example.lg.jp" and "施設" not in mail.body


def test_a_viewer_reads_the_book_with_names_and_numbers_masked(open_page, desk_site):
    number = put_through(desk_site, "desk-call-3", 1)
    with site_database(desk_site.settings):
        inquiries.save(number, 1, inquiries.RecordFields(summary="鈴木一郎さん（090-9876-5432）から更新の相談"),
                       TEST_ACTOR, clock.now())
    password, secret = staff(desk_site, "viewer2", "viewer")
    page = open_page(1280, 900, base_url=desk_site.url, bypass_csp=True)
    sign_in(page, "viewer2", password, secret)
    page.goto(f"/inquiries/{number}")
    expect(page.get_by_text("から更新の相談")).to_be_visible()
    body = page.locator("main").inner_text()
    assert "鈴木" not in body and "9876" not in body, body
    Clerk(page, found := {}).check("desk-viewer")
    assert found == {}, found
