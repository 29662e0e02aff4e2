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
