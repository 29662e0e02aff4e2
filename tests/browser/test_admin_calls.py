"""The phone pages in Chromium against the served admin site: a call's whole recording and one
answer of it load in the browser's own <audio> element (decrypted on the fly, a WAV Chromium reads to
the right length), each load is an audit row, and the pages have no serious axe finding."""

from __future__ import annotations

import datetime

import pyotp
from playwright.sync_api import expect

from appliance import clock
from db.models import AuditLog, CallTurn, StaffUser
from db.users import add_user
from tests.browser.conftest import site_database
from tests.browser.test_admin_site import SETUP, Clerk
from tests.calls import caller_audio, make_call, tone, turn

DURATION = """async (selector) => {
    const audio = document.querySelector(selector);
    audio.load();
    await new Promise((ok, fail) => {
        audio.addEventListener("loadedmetadata", ok, {once: true});
        audio.addEventListener("error", () => fail(new Error("media error " + (audio.error && audio.error.code))),
                               {once: true});
    });
    return audio.duration;
}"""


def test_a_call_plays_in_the_browser_and_each_playback_is_audited(open_page, admin_site):
    with site_database(admin_site.settings):
        user, password = add_user("kato", "staff", SETUP, clock.now(), display_name="加藤")
        secret = pyotp.random_base32()
        StaffUser.update(totp_secret=secret, must_change_password=False,
                         totp_last_step=int(clock.now().timestamp()) // 30 - 1).where(StaffUser.id == user.id).execute()
        audio = caller_audio(12.0, [(4.0, tone(1.0, 1000))])
        call = make_call(clock.now() - datetime.timedelta(minutes=5), seconds=12.0, audio=audio,
                         path=["intent", "name"], outcome="caller_hangup",
                         turns=[turn("name", heard="加藤一郎", offset_s=4.0, duration_s=1.0)])
        turn_id = CallTurn.get(CallTurn.call == call).id
    page = open_page(1280, 900, base_url=admin_site.url, bypass_csp=True)  # axe is injected as a script
    clerk = Clerk(page, {})
    page.goto("/login")
    page.get_by_label("ログインID").fill("kato")
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("確認コード").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="通話の記録").click()
    clerk.heading("通話の記録")
    clerk.check("calls")
    page.goto(f"/calls/{call.id}")
    clerk.heading(f"通話 {call.id}")
    expect(page.get_by_text("加藤一郎").first).to_be_visible()
    clerk.check("call")
    assert abs(page.evaluate(DURATION, "audio[aria-label='通話全体の録音']") - 12.0) < 0.05
    assert abs(page.evaluate(DURATION, "audio[aria-label='1番目の回答の録音']") - 1.8) < 0.05
    page.goto("/calls/statistics")
    clerk.heading("通話の統計")
    clerk.check("call-statistics")
    assert clerk.found == {}
    with site_database(admin_site.settings):
        actions = [(r.action, r.object_id) for r in AuditLog.select().where(AuditLog.actor == "kato")
                   if r.action.startswith("call.play")]
    assert ("call.play_recording", str(call.id)) in actions and ("call.play_turn", str(turn_id)) in actions
