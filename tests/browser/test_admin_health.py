"""How the box is kept, in Chromium against the served admin site: an administrator's home shows the
last backup, drill and purge (a failure with its cause), the purge reports page lists a signed report
to download, and a staff account made a flow editor on 職員 sees 電話番号と声; axe finds nothing serious
(screenshots: test-artifacts/screenshots/admin-health-*.png)."""

from __future__ import annotations

import json

import pyotp
from playwright.sync_api import expect

from appliance import clock
from db.models import JobRun, PurgeReport, StaffUser
from db.users import add_user
from tests.browser.conftest import site_database
from tests.browser.test_admin_flows import sign_in
from tests.browser.test_admin_site import SETUP, Clerk


def test_an_administrator_sees_backups_drills_and_purges_and_makes_a_flow_editor(open_page, admin_site):
    now = clock.now()
    with site_database(admin_site.settings):
        user, password = add_user("kanri", "admin", SETUP, now, display_name="管理担当")
        add_user("kokuho", "staff", SETUP, now, display_name="国保係")
        secret = pyotp.random_base32()
        StaffUser.update(totp_secret=secret, must_change_password=False,
                         totp_last_step=int(now.timestamp()) // 30 - 1).where(StaffUser.id == user.id).execute()
        JobRun.delete().where(JobRun.job.in_(("backup", "backup_drill", "purge"))).execute()
        JobRun.create(job="backup", day=now.date(), finished_at=now, result='{"ok": true, "name": "madoguchi-nightly"}')
        JobRun.create(job="backup_drill", day=now.date(), finished_at=now,
                      result='{"ok": false, "error": "there is no complete backup in /mnt/nas"}')
        JobRun.create(job="purge", day=now.date(), finished_at=now, result='{"ok": true, "removed": 12}')
        PurgeReport.create(made_at=now, document=json.dumps({
            "kind": "madoguchi purge report", "made_at": now.isoformat(), "dry_run": False,
            "periods": {"bookings_before": "2026-09-08", "recordings_before": "2026-09-08T03:00:00+09:00",
                        "caller_numbers_before": "2026-06-10T03:00:00+09:00"},
            "removed": {"booking_personal_fields": 12, "recordings": 3, "call_turn_texts": 0, "caller_numbers": 3,
                        "sms_recipients": 0, "access_log": 0}, "signature": "00"}))
    page = open_page(1280, 900, base_url=admin_site.url, bypass_csp=True)
    clerk = Clerk(page, {})
    sign_in(page, "kanri", password, secret)
    expect(page.get_by_role("heading", name="システムの状態")).to_be_visible()
    expect(page.get_by_text("成功（madoguchi-nightly）")).to_be_visible()
    expect(page.get_by_text("there is no complete backup in /mnt/nas")).to_be_visible()
    clerk.check("health-home")
    page.get_by_role("link", name="削除の記録").first.click()
    clerk.heading("個人情報の削除の記録")
    expect(page.get_by_role("link", name="JSON")).to_be_visible()
    clerk.check("health-purge-reports")
    page.get_by_role("link", name="職員").click()
    page.get_by_role("button", name="kokuho 電話の流れを編集できるようにする").click()
    expect(page.get_by_text("kokuho が電話の流れ（ボタン操作の案内）を編集・公開できるようにしました。")).to_be_visible()
    clerk.check("health-users")
    assert clerk.found == {}, clerk.found
