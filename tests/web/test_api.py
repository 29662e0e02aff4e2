"""The SMS gateway's delivery receipts reach the outbox through the secret receipt URL."""

from __future__ import annotations

from db import bookings
from db.models import Outbox
from tests.conftest import NOW, make_applicant, reload
from web.api.views import receipt_token


def test_receipt_marks_the_message_delivered(app, frozen_now, dummy_slot, settings_override):
    settings_override(sms_gateway="http-json", sms_url="http://127.0.0.1:9/send")
    bookings.book(dummy_slot.id, make_applicant(notify="sms"), "web", NOW)
    message = Outbox.get()
    Outbox.update(status="sent", gateway_id="gw-7").where(Outbox.id == message.id).execute()
    client = app.test_client()
    url = f"/api/sms/receipts/{receipt_token()}"
    answer = client.post(url, json={"reference": message.reference, "id": "gw-7", "status": "delivered"})
    assert answer.status_code == 200 and answer.json == {"recorded": True}
    assert reload(message).receipt == "delivered"
    assert client.post(url, json={"status": "sent", "reference": message.reference}).json == {"recorded": False}
    assert client.post(url, data="garbage", content_type="application/json").status_code == 200
    assert client.post("/api/sms/receipts/" + "f" * 32, json={}).status_code == 404
    for wrong in ("%C3%A9" * 16, "%D9%A3" * 32, "%00"):  # non-ASCII and NUL: 404, not a crash comparing them
        assert client.post(f"/api/sms/receipts/{wrong}", json={}).status_code == 404
