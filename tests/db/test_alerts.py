"""Alerts to the administrators go out as email through the outbox, once a day per kind and address,
with a Japanese subject naming the city; a full disk found by the worker raises one; without
alert_email nothing is queued (the log and the admin home still say it)."""

from __future__ import annotations

import datetime
from collections import namedtuple

import pytest

from appliance.notify import worker
from db import alerts
from db.models import Outbox
from tests.conftest import NOW
from tests.notify_servers import mail_server, senders, sms_gateway  # noqa: F401  (fixtures)


def test_an_alert_is_mailed_to_each_administrator_once_a_day(db, settings_override, senders, mail_server):  # noqa: F811
    settings_override(alert_email="kanri@city.example.lg.jp, joho@city.example.lg.jp", city_name="和泉市")
    assert alerts.raise_alert("backup_failed", "the backup folder /mnt/nas does not exist", NOW) == 2
    assert alerts.raise_alert("backup_failed", "again", NOW + datetime.timedelta(hours=1)) == 0
    assert alerts.raise_alert("backup_failed", "the next day", NOW + datetime.timedelta(days=1)) == 2
    worker.run_once(senders, NOW + datetime.timedelta(days=1))
    mails = mail_server.received
    assert len(mails) == 4 and {m["To"] for m in mails} == {"kanri@city.example.lg.jp", "joho@city.example.lg.jp"}
    assert mails[0]["Subject"] == "【和泉市 予約システム】夜間バックアップに失敗しました"
    assert "/mnt/nas does not exist" in mails[0].get_content()
    with pytest.raises(ValueError):
        alerts.raise_alert("coffee_empty", "", NOW)


def test_without_alert_email_nothing_is_queued(db, settings_override):
    settings_override(alert_email="")
    assert alerts.raise_alert("purge_failed", "boom", NOW) == 0 and Outbox.select().count() == 0


def test_the_worker_raises_an_alert_when_the_disk_runs_low(db, settings_override, monkeypatch):
    settings_override(alert_email="kanri@city.example.lg.jp")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(worker.shutil, "disk_usage", lambda path: usage(10 * 2**30, 10 * 2**30 - 2**29, 2**29))
    worker.prune(NOW)
    [mail] = Outbox.select().where(Outbox.event == "alert")
    assert "512 MB free" in mail.body and mail.body.startswith("【")
