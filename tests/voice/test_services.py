"""What calls ask for, carried out on the phone channel through the one engine: the choices, bookable
slots (the phone's held seats included, the reception window kept), a booking with its reading as
the name, look-ups guarded like the web's, moves and cancellations; every failure an answer."""

from __future__ import annotations

import datetime

import pytest

from db.models import AuditLog, Booking, EligibilityQuestion, Outbox
from tests.conftest import NOW, SLOT_DAY, reload
from voice import services
from voice.call.requests import (
    Booked,
    BookingFound,
    BookSlot,
    CancelBooking,
    Changed,
    Choices,
    DaysFound,
    FindBooking,
    FindDays,
    FindSlots,
    LoadChoices,
    MoveBooking,
    Refused,
    SlotsFound,
)

BIRTH = datetime.date(1948, 5, 6)


def ask(request, now=NOW):
    return services.perform(request, "call-id-1@192.0.2.1", now)


def booking_request(slot, key="k1", **kw):
    values = {"slot_id": slot.id, "kana": "ヤマダ　ハナコ", "phone": "090-1111-2222", "birth_date": BIRTH,
              "sms": True, "key": key}
    values.update(kw)
    return BookSlot(1, **values)


def test_choices_are_the_active_venues_and_questions(db, create_venue, dummy_venue):
    create_venue(slug="closed", name="閉鎖した会場", kana="ヘイサ", active=False)
    EligibilityQuestion.create(sort_order=1, text="更新ですか", required=True, guidance="窓口へ")
    choices = ask(LoadChoices(1))
    assert isinstance(choices, Choices)
    assert [(v.name, v.kana) for v in choices.venues] == [("本庁舎", "ホンチョウシャ")]
    assert [(q.text, q.required, q.guidance) for q in choices.questions] == [("更新ですか", True, "窓口へ")]


def test_slots_are_found_earliest_first_within_the_times_asked(db, create_slot):
    for start in ("09:00", "10:30", "14:00"):
        create_slot(start=start)
    found = ask(FindSlots(2, venue_id=None, first_day=SLOT_DAY, earliest=datetime.time(10), limit=5))
    assert isinstance(found, SlotsFound) and [s.start for s in found.slots] == [datetime.time(10, 30),
                                                                              datetime.time(14)]
    assert found.slots[0].venue_name == "本庁舎" and found.slots[0].venue_kana == "ホンチョウシャ"
    morning = ask(FindSlots(3, venue_id=found.slots[0].venue_id, first_day=SLOT_DAY, latest=datetime.time(11, 59)))
    assert [s.start for s in morning.slots] == [datetime.time(9), datetime.time(10, 30)]


def test_days_with_a_free_slot_are_found_earliest_first_each_once(db, create_slot):
    """A day menu's days: each day with a bookable slot once, earliest first, from the day asked; a full
    day is not one of them."""
    day = datetime.timedelta(days=1)
    for offset, start in ((0, "09:00"), (0, "10:00"), (2, "09:00"), (3, "11:00"), (5, "09:00")):
        create_slot(date=SLOT_DAY + offset * day, start=start)
    create_slot(date=SLOT_DAY + day, start="09:00", capacity=1, booked_web=1)  # full
    found = ask(FindDays(6, venue_id=None, first_day=SLOT_DAY, limit=3))
    assert found == DaysFound((SLOT_DAY, SLOT_DAY + 2 * day, SLOT_DAY + 3 * day))
    assert ask(FindDays(7, venue_id=None, first_day=SLOT_DAY + 4 * day)).days == (SLOT_DAY + 5 * day,)
    assert ask(FindDays(8, venue_id=None, first_day=SLOT_DAY + 6 * day)).days == ()


def test_the_phones_held_seats_are_offered_to_callers(db, create_slot):
    slot = create_slot(capacity=2, phone_seats=1, booked_web=1)
    [offer] = ask(FindSlots(4, venue_id=None, first_day=SLOT_DAY)).slots
    assert offer.slot_id == slot.id and offer.remaining == 1


def test_a_day_whose_booking_has_not_opened_says_when_it_opens(db, create_slot):
    far = NOW.date() + datetime.timedelta(days=90)
    create_slot(date=far)
    found = ask(FindSlots(5, venue_id=None, first_day=far, last_day=far))
    assert found.slots == () and found.opens_at is not None and found.opens_at.date() < far


def test_a_booking_by_phone_is_made_once_with_the_reading_as_the_name(db, dummy_slot):
    first = ask(booking_request(dummy_slot))
    again = ask(booking_request(dummy_slot))  # the same dialog step sent twice
    assert isinstance(first, Booked) and again == first
    booking = Booking.get()
    assert (booking.channel, booking.name, booking.kana, booking.phone, booking.notify) == \
        ("phone", "ヤマダ ハナコ", "ヤマダ　ハナコ", "09011112222", "sms")
    assert reload(dummy_slot).booked_phone == 1 and Outbox.get().channel == "sms"
    assert AuditLog.get(AuditLog.action == "booking.create").actor == "phone"


@pytest.mark.parametrize(("change", "code"), [
    ({"kana": "yamada"}, "invalid_kana"),
    ({"phone": "12-34"}, "invalid_phone"),
    ({"birth_date": datetime.date(1800, 1, 1)}, "invalid_birth_date"),
])
def test_bad_details_are_refused_by_field(db, dummy_slot, change, code):
    assert ask(booking_request(dummy_slot, **change)) == Refused(code)
    assert Booking.select().count() == 0


def test_a_full_slot_and_a_second_booking_of_one_person_are_refused(db, create_slot):
    slot = create_slot(capacity=1)
    assert isinstance(ask(booking_request(slot, key="a")), Booked)
    assert ask(booking_request(slot, key="b", phone="090-3333-4444")) == Refused("slot_full")
    other = create_slot(start="11:00")
    assert ask(booking_request(other, key="c")) == Refused("already_booked")


def test_look_up_move_and_cancel(db, create_slot):
    a, b = create_slot(start="10:00"), create_slot(start="11:00")
    booked = ask(booking_request(a)).booking
    found = ask(FindBooking(6, number=booked.number, birth_date=BIRTH))
    assert isinstance(found, BookingFound) and found.booking.slot.slot_id == a.id
    moved = ask(MoveBooking(7, number=booked.number, slot_id=b.id, version=found.booking.version))
    assert isinstance(moved, Changed) and moved.booking.slot.slot_id == b.id
    assert ask(CancelBooking(8, number=booked.number, version=found.booking.version)) == Refused("stale")
    cancelled = ask(CancelBooking(9, number=booked.number, version=moved.booking.version))
    assert cancelled.booking.status == "cancelled" and reload(b).booked == 0


def test_a_wrong_birth_date_looks_like_an_unknown_number_and_repeated_failures_lock(db, dummy_slot,
                                                                                       settings_override):
    settings_override(lookup_failures_per_number=3)
    booking = ask(booking_request(dummy_slot)).booking
    wrong = FindBooking(10, number=booking.number, birth_date=BIRTH + datetime.timedelta(days=1))
    assert [ask(wrong) for _ in range(3)] == [Refused("not_found"), Refused("not_found"), Refused("locked")]
    assert ask(FindBooking(11, number=booking.number, birth_date=BIRTH)) == Refused("locked")
    assert ask(FindBooking(12, number="12345674", birth_date=BIRTH)) == Refused("not_found")


def test_a_busy_database_and_a_bug_are_answers_too(db, dummy_slot, monkeypatch, caplog):
    from db.connection import Busy

    def busy(*args, **kw):
        raise Busy("locked")
    monkeypatch.setitem(services.HANDLERS, BookSlot, busy)
    assert ask(booking_request(dummy_slot)) == Refused("busy")

    def bug(*args, **kw):
        raise KeyError("oops")
    monkeypatch.setitem(services.HANDLERS, BookSlot, bug)
    assert ask(booking_request(dummy_slot)) == Refused("failed")
    assert "BookSlot failed" in caplog.text


def test_an_ivr_sms_is_queued_once_for_a_mobile_number_and_refused_for_a_landline(db):
    """The flow's text for the number the caller keyed (full-width, hyphens): one outbox row with the
    number encrypted, however often the step is repeated; a landline is refused and queues nothing."""
    from voice.call.requests import SendSms, SmsQueued

    text = "国民健康保険のご案内です。" * 33  # 429 characters: 7 parts of 67
    request = SendSms(1, to="０９０-１１１１-２２２２", text=text, key="call-9:sms", did="0725998128")
    assert services.perform(request, "call-9") == SmsQueued(7)
    assert services.perform(request, "call-9") == SmsQueued(7)
    (row,) = Outbox.select()
    assert (row.event, row.channel, row.recipient, row.body, row.did) == ("ivr_sms", "sms", "09011112222", text,
                                                                           "0725998128")
    from db.connection import database
    (raw,) = database.execute_sql("SELECT recipient FROM outbox").fetchone()
    assert b"09011112222" not in bytes(raw)
    assert services.perform(SendSms(2, to="0725991234", text=text, key="call-9:x", did="0725998128"),
                            "call-9") == Refused("not_mobile")
    assert Outbox.select().count() == 1


def test_a_caller_joining_a_queue_with_a_phone_free_gets_it_at_once(db):
    """No hold message for the first caller when a phone of the group is free: the join answers with
    the phone; the next caller waits (the phone is offered), and a full queue refuses."""
    from db import targets
    from tests.conftest import ADMIN
    from voice.call.requests import JoinQueue, PollQueue, QueuePlace, QueueTurn
    targets.save("窓口A", "sip:2101@127.0.0.1", "", ADMIN, NOW, group="国保")
    assert services.perform(JoinQueue(1, "c1", "d", "国保", 1), "c1", now=NOW) == QueueTurn("窓口A")
    assert services.perform(JoinQueue(1, "c2", "d", "国保", 1), "c2", now=NOW) == QueuePlace(1, 0.0)
    assert services.perform(JoinQueue(1, "c3", "d", "国保", 1), "c3", now=NOW) == Refused("full")
    assert services.perform(PollQueue(2, "c9"), "c9", now=NOW) == Refused("not_queued")


def test_an_ivr_sms_linking_a_faq_entry_counts_one_use_however_often_the_step_repeats(db):
    from db import faq
    from db.models import FaqUse
    from tests.conftest import ADMIN, NOW
    from voice.call.requests import SendSms, SmsQueued

    faq.save_category("pin", "暗証番号", 1, ADMIN, NOW)
    entry = faq.create(faq.EntryFields("pin-forgot", "pin", "暗証番号を忘れました", "窓口で設定し直せます。"), ADMIN, NOW,
                       status="published")
    request = SendSms(1, to="09011112222", text="ご案内です。\nhttp://x/faq/pin-forgot", key="call-7:pin",
                      did="0725998128", faq="pin-forgot")
    assert services.perform(request, "call-7") == SmsQueued(1)
    assert services.perform(request, "call-7") == SmsQueued(1)
    (use,) = FaqUse.select()
    assert (use.entry_id, use.channel, use.used_by) == (entry.id, "sms", "0725998128")
