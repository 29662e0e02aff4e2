"""/metrics answers a Prometheus scraper holding key_dir/metrics.token with the box's counts (bookings,
calls, the queue, messages, the nightly jobs, the disk) and nobody else: no token file → 404, no or a
wrong bearer token → 401, a staff session is not enough."""

from __future__ import annotations

from db.models import JobRun
from tests.conftest import NOW
from web.admin.access import METRICS_TOKEN


def test_metrics_need_the_token_and_show_the_counts(admin_app, admin, dummy_slot, instance, db):
    from db.bookings import book
    from tests.conftest import make_applicant
    book(dummy_slot.id, make_applicant(), "web", NOW)
    JobRun.create(job="backup", day=NOW.date(), finished_at=NOW, result='{"ok": true, "name": "x"}')
    client = admin_app.test_client()
    token_file = instance.key_dir / METRICS_TOKEN
    token_file.unlink(missing_ok=True)
    assert client.get("/metrics").status_code == 404
    token_file.write_text("s3cret-token\n")
    try:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert admin.get("/metrics").status_code == 401  # a staff session is no token
        response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert response.status_code == 200 and response.content_type.startswith("text/plain")
        text = response.get_data(as_text=True)
        assert 'madoguchi_bookings{channel="web",status="confirmed"} 1.0' in text
        assert 'madoguchi_job_ok{job="backup"} 1.0' in text and "madoguchi_disk_free_bytes " in text
        assert "madoguchi_calls_live 0.0" in text
    finally:
        token_file.unlink()
