"""The administrators' home shows how the box is kept: the last backup and restore drill with their
outcome (a failure with its cause, an overdue one said so) and the free disk; clerks do not see it."""

from __future__ import annotations

import datetime

from db.models import JobRun
from tests.conftest import NOW


def page(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_last_backup_and_drill_and_the_disk_are_on_the_administrators_home(admin, clerk, db):
    text = page(admin.get("/"))
    assert "システムの状態" in text and "まだありません" in text and "ディスクの空き" in text
    JobRun.create(job="backup", day=NOW.date(), finished_at=NOW - datetime.timedelta(hours=2),
                  result='{"ok": true, "name": "madoguchi-20261207-023000", "size": 1000}')
    JobRun.create(job="backup_drill", day=NOW.date(), finished_at=NOW - datetime.timedelta(hours=1),
                  result='{"ok": false, "error": "the backup folder /mnt/nas does not exist"}')
    text = page(admin.get("/"))
    assert "成功（madoguchi-20261207-023000）" in text
    assert "<strong>失敗</strong>：the backup folder /mnt/nas does not exist" in text
    assert "システムの状態" not in page(clerk.get("/"))


def test_the_purge_reports_are_listed_for_administrators_and_download_as_signed_json(admin, clerk, db):
    from db.models import PurgeReport
    document = {"kind": "madoguchi purge report", "made_at": NOW.isoformat(), "dry_run": False,
                "periods": {"bookings_before": "2026-09-08", "recordings_before": "2026-09-08T03:00:00+09:00",
                            "caller_numbers_before": "2026-06-10T03:00:00+09:00",
                            "access_log_before": "2025-12-07T03:00:00+09:00"},
                "removed": {"booking_personal_fields": 12, "recordings": 3, "call_turn_texts": 7, "caller_numbers": 4,
                            "sms_recipients": 1, "access_log": 99, "sessions_and_counters": 0, "mail_store": 0},
                "signature": "00"}
    import json
    report = PurgeReport.create(made_at=NOW, document=json.dumps(document))
    text = page(admin.get("/purge-reports"))
    assert "予約日 2026-09-08" in text and '<td class="num">12</td>' in text
    download = admin.get(f"/purge-reports/{report.id}.json")
    assert download.headers["Content-Type"] == "application/json" and json.loads(download.data) == document
    assert clerk.get("/purge-reports").status_code == 403
