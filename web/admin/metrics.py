"""/metrics on the admin (intranet) side, for a city's Prometheus: bookings, calls, the queue, messages,
the nightly jobs and the disk, read from the database at each scrape (prometheus-client writes the
exposition format). Counts and states only, never personal data. Reached with the bearer token of
key_dir/metrics.token (`madoguchi metrics token`), not a staff session."""

from __future__ import annotations

import shutil

from flask import Response
from peewee import fn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from appliance import runtime
from db import jobs
from db.models import Booking, CallRecord, Outbox, QueueEntry


class BoxCollector:
    def collect(self):
        bookings = GaugeMetricFamily("madoguchi_bookings", "Bookings by status and channel", labels=["status", "channel"])
        for status, channel, count in (Booking.select(Booking.status, Booking.channel, fn.COUNT(Booking.id))
                                       .group_by(Booking.status, Booking.channel).tuples()):
            bookings.add_metric([status, channel], count)
        yield bookings
        calls = CounterMetricFamily("madoguchi_calls", "Calls ended, by kind and outcome", labels=["kind", "outcome"])
        for kind, outcome, count in (CallRecord.select(CallRecord.kind, CallRecord.outcome, fn.COUNT(CallRecord.id))
                                     .where(CallRecord.ended_at.is_null(False))
                                     .group_by(CallRecord.kind, CallRecord.outcome).tuples()):
            calls.add_metric([kind, outcome or "none"], count)
        yield calls
        yield GaugeMetricFamily("madoguchi_calls_live", "Calls in progress",
                                value=CallRecord.select().where(CallRecord.ended_at.is_null()).count())
        yield GaugeMetricFamily("madoguchi_queue_waiting", "Callers waiting in a queue for a phone",
                                value=QueueEntry.select().where(QueueEntry.state == "waiting").count())
        messages = GaugeMetricFamily("madoguchi_messages", "SMS and email by status", labels=["status", "channel"])
        for status, channel, count in (Outbox.select(Outbox.status, Outbox.channel, fn.COUNT(Outbox.id))
                                       .group_by(Outbox.status, Outbox.channel).tuples()):
            messages.add_metric([status, channel], count)
        yield messages
        ok = GaugeMetricFamily("madoguchi_job_ok", "1 when the job's last run succeeded", labels=["job"])
        when = GaugeMetricFamily("madoguchi_job_last_run_timestamp_seconds", "When the job last ran", labels=["job"])
        for job in ("backup", "backup_drill", "purge"):
            outcome = jobs.last(job)
            if outcome is not None:
                ok.add_metric([job], 1 if outcome.ok else 0)
                when.add_metric([job], outcome.finished_at.timestamp())
        yield ok
        yield when
        yield GaugeMetricFamily("madoguchi_disk_free_bytes", "Free space on the data folder's disk",
                                value=shutil.disk_usage(runtime.settings().data_dir).free)


def metrics():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BoxCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
