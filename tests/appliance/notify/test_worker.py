"""The outbox worker against a real SMTP server and a real HTTP SMS gateway on loopback: messages
written with a booking go out after commit with the staff-edited text; failures retry with backoff,
then become dead letters staff can resend; skips carry a reason; the booking is never touched."""

from __future__ import annotations

import datetime

import pytest

from appliance.notify import reminders, sms, usage, worker
from appliance.notify.worker import Senders, backoff, claim, deliver, recover, resend, run_once
from db import bookings, slots, texts
from db.models import Booking, CallRecord, Outbox
from tests.conftest import ADMIN, CLERK, NOW, SLOT_DAY, make_applicant, reload


def book(slot, notify="sms", **kw):
    applicant = make_applicant(notify=notify, email="taro@example.jp" if notify == "email" else None, **kw)
    return bookings.book(slot.id, applicant, "web", NOW)


def send_all(senders, now=NOW) -> list[str]:
    return [deliver(message_id, senders, now) for message_id in claim(now)]


def test_confirmation_email_goes_out_in_japanese(dummy_slot, senders, mail_server):
    """The booking's confirmation arrives as UTF-8 mail with the venue, date, time and number."""
    booking = book(dummy_slot, notify="email", name="市役 太郎")
    assert send_all(senders) == ["sent"]
    [mail] = mail_server.received
    body = mail.get_content()
    assert mail["To"] == "taro@example.jp" and mail.get_content_charset() == "utf-8"
    for expected in (
        "本庁舎",
        "12月10日（木）",
        "10時",
        f"{booking.number[:4]}-{booking.number[4:]}",
        "市役 太郎",
    ):
        assert expected in body or expected in mail["Subject"], expected
    message = Outbox.get()
    assert (message.status, message.attempts) == ("sent", 1) and message.sent_at == NOW
    assert mail["Message-ID"] == f"<{message.reference}@city.example.lg.jp>"


def test_confirmation_sms_uses_the_staff_text_and_counts_parts(dummy_slot, senders, sms_gateway):
    texts.save("booking_confirmed", "sms", "", "{city}：予約番号 {number}、{date}{time}、{venue}", ADMIN, NOW)
    booking = book(dummy_slot, notify="sms")
    assert send_all(senders) == ["sent"]
    [request] = sms_gateway.received
    assert request["to"] == booking.phone
    assert (
        request["body"]
        == f"デモ市：予約番号 {booking.number[:4]}-{booking.number[4:]}、12月10日（木）10時、本庁舎"
    )
    message = Outbox.get()
    assert message.segments == 1 and message.gateway_id == "gw-1"


def test_landline_caller_gets_no_sms_and_staff_see_why(dummy_slot, senders, sms_gateway):
    book(dummy_slot, notify="sms", phone="0586-12-3456")
    assert send_all(senders) == ["skipped"]
    assert Outbox.get().last_error == "not_mobile" and not sms_gateway.received


def test_gateway_down_retries_with_backoff_then_dead_letter_then_resend(
    dummy_slot, senders, sms_gateway, settings_override
):
    settings_override(notify_max_attempts=3)
    booking = book(dummy_slot)
    sms_gateway.status = 503
    now = NOW
    for attempt in (1, 2):
        assert send_all(senders, now) == ["failed"]
        message = Outbox.get()
        assert message.next_attempt_at == now + backoff(attempt) and "503" in message.last_error
        assert claim(now) == []  # not due before its time
        now = message.next_attempt_at
    assert send_all(senders, now) == ["dead"]
    assert reload(booking).status == "confirmed"  # the booking never depends on its notice
    sms_gateway.status = 200
    resent = resend(Outbox.get().id, CLERK, now)
    assert (resent.status, resent.attempts, resent.resends) == ("pending", 0, 1)
    assert send_all(senders, now) == ["sent"]
    assert sms_gateway.received[0]["reference"] == Outbox.get().reference == f"madoguchi-{resent.id}-1"


def test_permanent_refusal_is_dead_at_once(dummy_slot, senders, sms_gateway):
    book(dummy_slot)
    sms_gateway.status = 400
    assert send_all(senders) == ["dead"]
    assert "400" in Outbox.get().last_error


def test_smtp_refusal_retries_and_unconfigured_email_is_skipped(dummy_slot, senders, mail_server):
    book(dummy_slot, notify="email")
    mail_server.answer = "451 4.3.0 try again later"
    assert send_all(senders) == ["failed"]
    mail_server.answer = "250 OK"
    assert send_all(senders, NOW + backoff(1)) == ["sent"]
    book(dummy_slot, notify="email")
    assert send_all(Senders(None, senders.sms), NOW + backoff(1)) == ["skipped"]
    assert Outbox.select().where(Outbox.last_error == "email_off").count() == 1


def test_interrupted_message_is_sent_again_under_the_same_reference(dummy_slot, senders, sms_gateway):
    """A crash after the hand-over but before 'sent' was recorded: the message is offered again with
    the same reference, and the gateway keeps one."""
    book(dummy_slot)
    [message_id] = claim(NOW)
    message = Outbox.get_by_id(message_id)
    sms.send(
        sms.Sms(reload(message).booking.phone, "本文", message.reference), senders.sms
    )  # ...then the crash
    assert recover(NOW + datetime.timedelta(minutes=6)) == 1
    assert send_all(senders, NOW + datetime.timedelta(minutes=6)) == ["sent"]
    assert len(sms_gateway.received) == 1 and sms_gateway.offered[message.reference] == 2


def test_reminders_go_out_once_the_day_before(create_slot, senders, sms_gateway, settings_override):
    """At reminder_time the day before: one reminder per confirmed booking that asked for notices;
    not before that time, not twice, none for a booking made within the last day or cancelled."""
    settings_override(reminder_time="12:30", reminder_days_before=1)
    slot = create_slot(date=SLOT_DAY, capacity=5)
    early = book(slot)
    cancelled = book(slot)
    bookings.cancel(cancelled.number, "web", NOW)
    book(slot, notify="none")
    day_before = datetime.datetime.combine(
        SLOT_DAY - datetime.timedelta(days=1), datetime.time(12, 29), NOW.tzinfo
    )
    late = bookings.book(
        slot.id, make_applicant(notify="sms"), "web", day_before - datetime.timedelta(hours=3)
    )
    assert reminders.run_if_due(day_before) is None
    assert reminders.run_if_due(day_before + datetime.timedelta(minutes=1)) == 1
    assert reminders.run_if_due(day_before + datetime.timedelta(hours=2)) is None
    reminder = Outbox.get(Outbox.event == "reminder")
    assert (
        reminder.booking_id == early.id
        and not Outbox.select().where(Outbox.event == "reminder", Outbox.booking == late.id).exists()
    )
    Outbox.update(status="sent").where(Outbox.event != "reminder").execute()
    assert send_all(senders, day_before + datetime.timedelta(minutes=2)) == ["sent"]
    assert "明日" in sms_gateway.received[-1]["body"] or "12月10日" in sms_gateway.received[-1]["body"]


def test_closure_notice_carries_three_alternatives(create_slot, senders, sms_gateway):
    closed = create_slot(start="10:00")
    for start in ("10:30", "11:00", "11:30", "13:00"):
        create_slot(start=start)
    booking = book(closed)
    Outbox.update(status="sent").execute()
    affected = slots.close_slots(
        closed.venue,
        SLOT_DAY,
        SLOT_DAY,
        "停電のため",
        ADMIN,
        NOW,
        times=(datetime.time(10), datetime.time(10, 30)),
    )
    assert [b.id for b in affected] == [booking.id]
    assert send_all(senders) == ["sent"]
    body = sms_gateway.received[-1]["body"]
    assert "停電のため" in body and body.count("・12月10日（木）") == 3 and "10時30分" in body


def test_worker_loop_sends_and_stops(dummy_slot, senders, sms_gateway):
    """run_once: due jobs, then a batch; the loop stops when asked."""
    book(dummy_slot)
    book(dummy_slot)
    assert run_once(senders, NOW) == 2
    assert len(sms_gateway.received) == 2 and run_once(senders, NOW) == 0


def test_worker_prunes_expired_sessions_as_it_runs(dummy_slot, senders):
    """The worker loop prunes at its start and every PRUNE_EVERY (as `madoguchi db prune` does)."""
    import threading

    from appliance.notify.nightly import Nightly
    from db.models import WebSession
    WebSession.create(token_hash="x" * 64, data="{}", expires_at=NOW - datetime.timedelta(days=2), updated_at=NOW)
    stop, calls = threading.Event(), []

    def clock():
        calls.append(1)
        if len(calls) > 4:
            stop.set()
        return NOW
    worker.run(stop, senders, now=clock, nightly=Nightly(command=("true",)))
    assert WebSession.select().count() == 0


def test_sms_receipt_is_recorded(dummy_slot, senders):
    book(dummy_slot)
    send_all(senders)
    message = Outbox.get()
    receipt = sms.parse_receipt(
        senders.sms, {"reference": message.reference, "id": message.gateway_id, "status": "delivered"}
    )
    assert worker.record_receipt(receipt, NOW) and reload(message).receipt == "delivered"


def test_usage_statement_totals_match_the_log(create_slot, senders, settings_override):
    """SMS parts, emails and call minutes by kind, priced from settings; the total is their sum."""
    settings_override(
        usage_flat_fee_yen="50000",
        usage_sms_yen="8.8",
        usage_email_yen="0.5",
        usage_call_ai_yen_per_minute="20",
        usage_call_ivr_yen_per_minute="10",
        usage_call_transfer_yen_per_minute="15",
    )
    slot = create_slot(capacity=10)
    texts.save("booking_confirmed", "sms", "", "予約番号 {number}" + "。" * 70, ADMIN, NOW)  # 80 characters: 2 parts
    for _ in range(3):
        book(slot, notify="sms")
    book(slot, notify="email")
    send_all(senders)
    calls = [(61, '["heard"]', "ai"), (30, '["digits"]', "ai"), (125, '["transferred"]', "ai"), (90, "[]", "ivr")]
    for n, (seconds, path, kind) in enumerate(calls):
        CallRecord.create(
            sip_call_id=f"c{n}",
            did="0586000001",
            kind=kind,
            worker=0,
            started_at=NOW,
            answered_at=NOW,
            ended_at=NOW + datetime.timedelta(seconds=seconds),
            duration_s=seconds,
            path=path,
        )
    statement = usage.statement(2026, 12)
    quantities = {line.key: line.quantity for line in statement.lines}
    assert quantities == {"flat_fee": 1, "sms": 6, "email": 1, "call_ai": 3, "call_ivr": 2, "call_transfer": 3}
    assert statement.sms_messages == 3 and statement.calls == {"ai": 2, "ivr": 1, "transfer": 1}
    # Each line rounded half up to whole yen: 52.8 -> 53, 0.5 -> 1.
    assert [int(line.amount) for line in statement.lines] == [50000, 53, 1, 60, 20, 45]
    assert statement.total == 50179
    assert usage.statement(2026, 11).total == 50000


@pytest.mark.parametrize("event", texts.EVENTS)
def test_every_default_text_renders_for_a_real_booking(dummy_slot, event):
    from appliance.notify.compose import values

    booking = book(dummy_slot)
    for channel in texts.CHANNELS:
        subject, body = texts.render(texts.current(event, channel), values(booking, NOW))
        assert booking.number[4:] in body or event == "slot_closed"


def test_nothing_happens_to_bookings_without_notice(dummy_slot, senders):
    book(dummy_slot, notify="none")
    assert claim(NOW) == [] and Booking.select().count() == 1


def test_an_unexpected_error_fails_the_message_not_the_worker(dummy_slot, senders, monkeypatch):
    """A bug while composing one message makes it wait and retry (then a dead letter), never a crash
    loop of the worker."""
    book(dummy_slot)

    def broken(message, now):
        raise RuntimeError("boom")
    monkeypatch.setattr(worker, "compose", broken)
    assert send_all(senders) == ["failed"]
    assert Outbox.get().last_error == "internal error (see the worker log)"


def test_an_ivr_sms_of_400_characters_reaches_the_gateway_whole(db, senders, sms_gateway):
    """A key-press line's long SMS goes out as staff wrote it, to the number the caller gave, and is
    counted in parts as every SMS."""
    from voice import services
    from voice.call.requests import SendSms

    text = "国民健康保険の手続きは、市役所本庁舎一階の国保年金課でお受けします。" * 13
    assert len(text) > 400
    services.perform(SendSms(1, to="09011112222", text=text, key="c:sms", did="0725998128"), "c", now=NOW)
    assert send_all(senders) == ["sent"]
    [request] = sms_gateway.received
    assert (request["to"], request["body"]) == ("09011112222", text)
    assert Outbox.get().segments == 7
