"""The citizen's booking flow through the Flask app: eligibility, choose, details, confirm, done;
then look-up, change and cancel. Bad input gets a Japanese message on the same page."""

from __future__ import annotations

import datetime
import re

from db.bookings import book
from db.models import Booking, Outbox
from tests.conftest import NOW, SLOT_DAY, make_applicant, reload
from tests.web.conftest import BIRTH, DETAILS


def eligible(citizen, questions):
    citizen.get("/start")
    return citizen.post("/start", data={f"q{questions[0].id}": "y"})


def book_through_the_site(citizen, questions, slot, details=DETAILS):
    eligible(citizen, questions)
    assert citizen.post("/book/slot", data={"slot_id": slot.id}).status_code == 302
    citizen.get("/book/details")
    assert citizen.post("/book/details", data=details).status_code == 302
    page = citizen.get("/book/confirm")
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page.text).group(1)
    return citizen.post("/book/confirm", data={"nonce": nonce}), nonce


def test_required_eligibility_question_gates_the_slot_screens(citizen, questions, dummy_venue):
    """Without the required tick the citizen sees what to do instead and cannot reach the calendar."""
    assert citizen.get("/book/venues").headers["Location"].endswith("/start")
    citizen.get("/start")
    page = citizen.post("/start", data={f"q{questions[1].id}": "y"})
    assert page.status_code == 200 and "カードの更新は別の手続きです" in page.text
    assert citizen.get("/book/venues").status_code == 302
    assert eligible(citizen, questions).headers["Location"].endswith("/book/venues")
    assert dummy_venue.name in citizen.get("/book/venues").text


def test_booking_end_to_end(citizen, questions, create_slot):
    slot = create_slot(capacity=2)
    done, _ = book_through_the_site(citizen, questions, slot)
    assert done.headers["Location"].endswith("/book/done")
    page = citizen.get("/book/done")
    booking = Booking.get()
    assert f"{booking.number[:4]}-{booking.number[4:]}" in page.text
    assert "12月10日（木）10時から" in page.text and "マイナンバーカード" in page.text
    assert (booking.name, booking.kana, booking.phone) == ("市役 太郎", "シヤク　タロウ", "09012345678")
    assert booking.channel == "web" and reload(slot).booked_web == 1
    assert Outbox.get().event == "booking_confirmed"
    ics = citizen.get("/booking.ics")
    assert ics.mimetype == "text/calendar" and b"DTSTART;TZID=Asia/Tokyo:20261210T100000" in ics.data


def test_double_submitted_confirm_books_once(citizen, questions, create_slot):
    """The form nonce is the idempotency key: a second POST of the same form lands on the same done page."""
    slot = create_slot(capacity=5)
    _, nonce = book_through_the_site(citizen, questions, slot)
    again = citizen.post("/book/confirm", data={"nonce": nonce})
    assert again.status_code == 302 and again.headers["Location"].endswith("/book/done")
    number = Booking.get().number
    assert f"{number[:4]}-{number[4:]}" in citizen.get("/book/done").text  # the details, not "already shown"
    assert Booking.select().count() == 1 and reload(slot).booked == 1


def test_remaining_seats_and_full_slot_offers_alternatives(citizen, questions, create_slot):
    full = create_slot(start="10:00", capacity=1)
    free = create_slot(start="10:30", capacity=3)
    book(full.id, make_applicant(), "web", NOW)
    eligible(citizen, questions)
    day = citizen.get(f"/book/venues/dummy/{SLOT_DAY.isoformat()}")
    assert "満席" in day.text and "残り3" in day.text
    refused = citizen.post("/book/slot", data={"slot_id": full.id})
    assert refused.status_code == 409 and "満席になりました" in refused.text
    assert f'name="slot_id" value="{free.id}"' in refused.text.split('id="alt-heading"')[1]


def test_slot_filled_between_choice_and_confirm(citizen, questions, create_slot):
    """If the last seat goes while the citizen types, confirm says so and offers alternatives."""
    slot = create_slot(start="10:00", capacity=1)
    other = create_slot(start="11:00", capacity=1)
    eligible(citizen, questions)
    citizen.post("/book/slot", data={"slot_id": slot.id})
    citizen.get("/book/details")
    citizen.post("/book/details", data=DETAILS)
    page = citizen.get("/book/confirm")
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page.text).group(1)
    book(slot.id, make_applicant(), "web", NOW)
    refused = citizen.post("/book/confirm", data={"nonce": nonce})
    assert refused.status_code == 409 and "満席" in refused.text
    assert f'value="{other.id}"' in refused.text
    assert citizen.post("/book/slot", data={"slot_id": other.id}).headers["Location"].endswith("/book/confirm")


def test_details_errors_are_shown_beside_the_fields(citizen, questions, dummy_slot):
    eligible(citizen, questions)
    citizen.post("/book/slot", data={"slot_id": dummy_slot.id})
    citizen.get("/book/details")
    bad = {**DETAILS, "kana": "Taro", "phone": "12-34", "birth_month": "2", "birth_day": "30", "notify": "email"}
    page = citizen.post("/book/details", data=bad)
    assert page.status_code == 422
    for text in ("カタカナで入力してください", "電話番号を確かめてください", "生年月日を確かめてください",
                 "メールアドレスを入力してください", 'aria-invalid="true"'):
        assert text in page.text
    assert 'value="市役 太郎"' in page.text  # what was typed stays
    assert Booking.select().count() == 0


def test_lookup_change_and_cancel(citizen, questions, create_slot):
    a, b = create_slot(start="10:00"), create_slot(start="11:00")
    booking = book(a.id, make_applicant(phone="090-1234-5678", birth_date=BIRTH), "web", NOW)
    citizen.get("/lookup")
    wrong = citizen.post("/lookup", data={"number": booking.number, "birth_year": "1950", "birth_month": "3",
                                         "birth_day": "5", "phone_last4": "5678"})
    assert wrong.status_code == 404 and "予約が見つかりませんでした" in wrong.text
    found = citizen.post("/lookup", data={"number": f"{booking.number[:4]}-{booking.number[4:]}",
                                         "birth_year": "1950", "birth_month": "3", "birth_day": "4",
                                         "phone_last4": "５６７８"})
    assert found.headers["Location"].endswith("/mybooking")
    assert "予約済み" in citizen.get("/mybooking").text

    citizen.post("/mybooking/change", data={"version": booking.version})
    assert citizen.post("/book/slot", data={"slot_id": b.id}).headers["Location"].endswith("/mybooking/change/confirm")
    citizen.get("/mybooking/change/confirm")
    moved = citizen.post("/mybooking/change/confirm", data={"version": booking.version})
    assert moved.headers["Location"].endswith("/mybooking?changed=1")
    assert reload(booking).slot_id == b.id and reload(a).booked == 0 and reload(b).booked == 1

    confirm_page = citizen.get("/mybooking/cancel")
    assert "取り消す" in confirm_page.text and reload(booking).status == "confirmed"  # GET changes nothing
    done = citizen.post("/mybooking/cancel", data={"version": reload(booking).version})
    assert "予約を取り消しました" in done.text
    assert reload(booking).status == "cancelled" and reload(b).booked == 0


def test_stale_cancel_form_is_refused(citizen, questions, dummy_slot):
    booking = book(dummy_slot.id, make_applicant(phone="090-1234-5678", birth_date=BIRTH), "web", NOW)
    citizen.get("/lookup")
    citizen.post("/lookup", data={"number": booking.number, "birth_year": "1950", "birth_month": "3",
                                  "birth_day": "4", "phone_last4": "5678"})
    citizen.get("/mybooking/cancel")
    page = citizen.post("/mybooking/cancel", data={"version": booking.version + 5})
    assert "別の画面で変更されています" in page.text and reload(booking).status == "confirmed"


def test_unknown_dates_venues_and_months_get_clear_pages(citizen, questions, dummy_venue):
    eligible(citizen, questions)
    assert citizen.get("/book/venues/atlantis").status_code == 404
    missing = citizen.get("/book/venues/dummy/2026-02-30")
    assert missing.status_code == 404 and "見つかりませんでした" in missing.text
    assert "予約できる月を表示" in citizen.get("/book/venues/dummy?month=1999-01").text
    assert "予約できる月を表示" in citizen.get("/book/venues/dummy?month=garbage").text
    assert citizen.post("/book/slot", data={"slot_id": "abc"}).status_code == 404


def test_reception_window_message(citizen, questions, create_slot, frozen_now):
    create_slot(date=datetime.date(2027, 2, 5), start="09:00")
    eligible(citizen, questions)
    page = citizen.get("/book/venues/dummy/2027-02-05")
    assert "受付開始前です。12月7日 9:00から受付します" in page.text


def test_calendar_marks_with_text(citizen, questions, create_slot):
    create_slot(date=SLOT_DAY, capacity=4)
    full = create_slot(date=SLOT_DAY + datetime.timedelta(days=1), capacity=1)
    book(full.id, make_applicant(), "web", NOW)
    eligible(citizen, questions)
    page = citizen.get("/book/venues/dummy?month=2026-12").text
    assert "〇" in page and "空きあり" in page and "×" in page and "満席" in page


def test_venue_deep_link_goes_to_its_calendar_after_eligibility(citizen, questions, dummy_venue):
    start = citizen.get("/venues/dummy").headers["Location"]
    assert start.endswith("/start?venue=dummy")
    assert 'name="venue" type="hidden" value="dummy"' in citizen.get(start).text
    chosen = citizen.post("/start", data={f"q{questions[0].id}": "y", "venue": "dummy"})
    assert chosen.headers["Location"].endswith("/book/venues/dummy")
    assert citizen.get("/venues/nowhere").status_code == 404


def test_notice_banner_set_by_staff_shows_on_the_top_page(citizen, db):
    from db.models import SiteNotice
    assert "お知らせ" not in citizen.get("/").text
    SiteNotice.update(text="12月28日は停電のため北支所の受付を休止します").where(SiteNotice.id == 1).execute()
    assert "12月28日は停電のため北支所の受付を休止します" in citizen.get("/").text


def test_calendar_day_states(citizen, questions, create_slot):
    """A day whose seats were all taken away is 満席, a day whose slots are all closed has no counter."""
    create_slot(date=SLOT_DAY, capacity=0)
    create_slot(date=SLOT_DAY + datetime.timedelta(days=1), closed=True, closed_reason="休館")
    eligible(citizen, questions)
    page = citizen.get("/book/venues/dummy?month=2026-12").text
    cells = re.findall(r'<td class="day (\w+)">', page)
    assert cells[9] == "full" and cells[10] == "none"
