"""Running a counter day through the admin site's forms: slots generated with a preview, a phone
booking taken on behalf of a caller, edits with a version check, check-in and walk-ins from the day's
list, the list as CSV (both encodings) and PDF, and exactly one audit row per action."""

from __future__ import annotations

import csv
import datetime
import io
import re
import subprocess

import pytest

from appliance.clock import TOKYO
from db import bookings
from db.models import AuditLog, Booking, Slot
from tests.conftest import CLERK, NOW, SLOT_DAY, make_applicant, reload

ON_THE_DAY = datetime.datetime.combine(SLOT_DAY, datetime.time(9, 0), TOKYO)
CALLER = {"name": "電話 花子", "kana": "でんわ はなこ", "phone": "090-2222-3333", "birth_date": "1948-05-06",
          "party_size": "1", "notify": "sms", "email": "", "override_reason": ""}


def staff_actions() -> int:
    """Audit rows other than sign-in and exports (those are counted by their own tests)."""
    return AuditLog.select().where(~AuditLog.action.startswith("login."), ~AuditLog.action.startswith("export.")).count()


def nonce(page) -> str:
    return re.search(r'name="nonce" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def book_for_caller(client, slot, **changes):
    page = client.get(f"/bookings/new?slot={slot.id}")
    return client.post(f"/bookings/new?slot={slot.id}", data={**CALLER, "nonce": nonce(page), **changes})


def test_generate_slots_previews_then_saves(clerk, dummy_venue):
    """The preview lists what would be made (holidays skipped) and writes nothing; saving makes them."""
    form = {"venue": dummy_venue.id, "first": "2026-12-28", "last": "2027-01-08", "weekdays": ["0", "1", "2", "3", "4"],
            "hours": "０９:００〜１０:００", "capacity": "2", "phone_seats": "0", "staff_seats": "0"}
    clerk.get("/slots/generate")
    preview = clerk.post("/slots/generate", data={**form, "action": "preview"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "作られる枠：12枠" in text and "年末年始" in text
    assert not Slot.select().where(Slot.venue == dummy_venue).exists()
    before = staff_actions()
    saved = clerk.post("/slots/generate", data={**form, "action": "save"})
    assert saved.status_code == 302
    assert Slot.select().where(Slot.venue == dummy_venue).count() == 12
    assert staff_actions() == before + 1


@pytest.mark.parametrize("field,value,message", [
    ("last", "2026-11-01", "終わりの日が始まりの日より前です。"),
    ("hours", "9時から5時", "受付時間を 09:00-12:00 の形で"),
    ("hours", "09:15-10:00", "受付時間を 09:00-12:00 の形で"),
    ("capacity", "0", "定員は1から500"),
    ("staff_seats", "5", "電話枠・窓口枠は0以上で"),
])
def test_generate_form_names_the_wrong_field(clerk, dummy_venue, field, value, message):
    form = {"venue": dummy_venue.id, "first": "2026-12-07", "last": "2026-12-11", "weekdays": ["0"],
            "hours": "09:00-10:00", "capacity": "2", "phone_seats": "0", "staff_seats": "0", "action": "save"}
    clerk.get("/slots/generate")
    page = clerk.post("/slots/generate", data={**form, field: value})
    assert page.status_code == 422 and message in page.get_data(as_text=True)
    assert not Slot.select().where(Slot.venue == dummy_venue).exists()


def test_capacity_below_booked_is_refused_with_the_count(clerk, create_slot):
    """Lowering capacity under the booked seats is refused as a whole and names the slots."""
    slot = create_slot(capacity=2)
    bookings.book(slot.id, make_applicant(), "staff", NOW, actor=CLERK, party_size=2)
    clerk.get("/slots/capacity")
    page = clerk.post("/slots/capacity", data={"venue": slot.venue_id, "first": str(SLOT_DAY), "last": str(SLOT_DAY),
                                               "change": "-1"})
    assert page.status_code == 422 and "1枠で、定員が予約済みの人数を下回ります" in page.get_data(as_text=True)
    assert reload(slot).capacity == 2
    ok = clerk.post("/slots/capacity", data={"venue": slot.venue_id, "first": str(SLOT_DAY), "last": str(SLOT_DAY),
                                             "change": "＋３"})
    assert ok.status_code == 302 and reload(slot).capacity == 5


def test_closing_a_day_lists_the_bookings_to_contact(clerk, dummy_slot):
    booking = bookings.book(dummy_slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    clerk.get("/slots/close")
    form = {"venue": dummy_slot.venue_id, "first": str(SLOT_DAY), "last": str(SLOT_DAY), "action": "close"}
    assert "理由を入力してください" in clerk.post("/slots/close", data={**form, "reason": ""}).get_data(as_text=True)
    page = clerk.post("/slots/close", data={**form, "reason": "停電のため"})
    text = page.get_data(as_text=True)
    assert "残っている予約：1件" in text and f"{booking.number[:4]}-{booking.number[4:]}" in text
    assert reload(dummy_slot).closed
    clerk.post("/slots/close", data={**form, "action": "reopen"})
    assert not reload(dummy_slot).closed


def test_phone_booking_on_behalf_of_a_caller(clerk, dummy_slot):
    """Channel staff, made by the clerk, one audit row; a double click makes one booking."""
    before = staff_actions()
    page = clerk.get(f"/bookings/new?slot={dummy_slot.id}")
    form = {**CALLER, "nonce": nonce(page)}
    first = clerk.post(f"/bookings/new?slot={dummy_slot.id}", data=form)
    again = clerk.post(f"/bookings/new?slot={dummy_slot.id}", data=form)
    assert first.status_code == again.status_code == 302 and first.headers["Location"] == again.headers["Location"]
    booking = Booking.get()
    audit = AuditLog.select().where(AuditLog.action == "booking.create").get()
    assert (booking.channel, booking.kana, booking.created_by) == ("staff", "デンワ　ハナコ", audit.actor)
    assert audit.actor.startswith("staff") and audit.source == "127.0.0.1"
    assert staff_actions() == before + 1
    assert "予約しました。予約番号" in clerk.get(first.headers["Location"]).get_data(as_text=True)


def test_on_behalf_form_errors_are_japanese_and_book_nothing(clerk, dummy_slot):
    page = book_for_caller(clerk, dummy_slot, phone="12-34", kana="Hanako", birth_date="1948-02-30")
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    for message in ("電話番号を確かめてください", "フリガナをカタカナで", "生年月日を"):
        assert message in text
    assert not Booking.select().exists()


def test_over_capacity_is_for_administrators_with_a_reason(clerk, admin, create_slot):
    """A full slot refuses the clerk; an administrator (recently signed in) books over it with a reason."""
    slot = create_slot(capacity=1)
    bookings.book(slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    refused = book_for_caller(clerk, slot)
    assert refused.status_code == 422 and "この枠は満席です" in refused.get_data(as_text=True)
    refused = book_for_caller(clerk, slot, override_reason="市長の指示")
    assert "権限がありません" in refused.get_data(as_text=True)
    booked = book_for_caller(admin, slot, override_reason="遠方から来庁のため")
    assert booked.status_code == 302
    assert Booking.select().where(Booking.counted_as == "over").count() == 1


def test_edit_with_a_stale_version_loses_nothing_silently(clerk, dummy_slot):
    """Two clerks open the same booking; the second save is refused with a message and the first stays."""
    booking = bookings.book(dummy_slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    clerk.get(f"/bookings/{booking.number}")
    form = {"name": "修正 一", "kana": "シュウセイ", "party_size": "1", "version": str(booking.version)}
    assert clerk.post(f"/bookings/{booking.number}/edit", data=form).status_code == 302
    stale = clerk.post(f"/bookings/{booking.number}/edit", data={**form, "name": "修正 二"})
    assert stale.status_code == 409 and "別の画面で変更されています" in stale.get_data(as_text=True)
    assert reload(booking).name == "修正 一"


def test_check_in_and_walk_in_from_the_days_list(clerk_client, create_user, frozen_now, dummy_slot):
    """On the day the list has check-in buttons; pressing one records attended and returns to the list;
    a walk-in is registered in its slot."""
    booking = bookings.book(dummy_slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    frozen_now["now"] = ON_THE_DAY
    clerk = clerk_client(create_user("staff"))
    list_url = f"/lists?venue={dummy_slot.venue_id}&date={SLOT_DAY}"
    page = clerk.get(list_url).get_data(as_text=True)
    assert "来庁済みにする" in page and booking.name in page
    back = clerk.post(f"/bookings/{booking.number}/attendance",
                      data={"status": "attended", "version": str(booking.version), "back": list_url})
    assert back.headers["Location"] == list_url and reload(booking).status == "attended"
    walk = clerk.post(f"/slots/{dummy_slot.id}/walk-in", data={"name": "当日 三郎", "kana": "トウジツ", "party_size": "1"})
    assert walk.headers["Location"] == list_url
    assert "当日の来庁を登録しました" in clerk.get(list_url).get_data(as_text=True)
    assert Booking.select().where(Booking.walk_in).count() == 1


def test_move_and_cancel(clerk, create_slot):
    first = create_slot(start="10:00")
    second = create_slot(start="10:30")
    booking = bookings.book(first.id, make_applicant(), "staff", NOW, actor=CLERK)
    clerk.get(f"/bookings/{booking.number}/move")
    moved = clerk.post(f"/bookings/{booking.number}/move", data={"slot_id": second.id, "version": "1"})
    assert moved.status_code == 302 and reload(booking).slot_id == second.id
    assert (reload(first).booked, reload(second).booked) == (0, 1)
    clerk.get(f"/bookings/{booking.number}")
    cancelled = clerk.post(f"/bookings/{booking.number}/cancel", data={"version": "2"})
    assert cancelled.status_code == 302 and reload(booking).status == "cancelled" and reload(second).booked == 0


@pytest.mark.parametrize("action", ["book", "edit", "attend", "walk_in", "move", "cancel", "capacity", "close",
                                    "slot", "notice", "text"])
def test_each_action_writes_exactly_one_audit_row(clerk_client, create_user, frozen_now, create_slot, action):
    slot = create_slot(start="10:00")
    other = create_slot(start="11:00")
    booking = bookings.book(slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    if action in ("attend", "walk_in"):
        frozen_now["now"] = ON_THE_DAY
    clerk, admin = clerk_client(create_user("staff")), clerk_client(create_user("admin"))
    before = staff_actions()
    day = {"venue": slot.venue_id, "first": str(SLOT_DAY), "last": str(SLOT_DAY)}
    response = {
        "book": lambda: book_for_caller(clerk, slot),
        "edit": lambda: clerk.post(f"/bookings/{booking.number}/edit", data={"name": "別 名", "kana": "ベツ", "party_size": "1", "version": "1"}),
        "attend": lambda: clerk.post(f"/bookings/{booking.number}/attendance", data={"status": "attended", "version": "1"}),
        "walk_in": lambda: clerk.post(f"/slots/{slot.id}/walk-in", data={"name": "来 庁", "kana": "ライ", "party_size": "1"}),
        "move": lambda: clerk.post(f"/bookings/{booking.number}/move", data={"slot_id": other.id, "version": "1"}),
        "cancel": lambda: clerk.post(f"/bookings/{booking.number}/cancel", data={"version": "1"}),
        "capacity": lambda: clerk.post("/slots/capacity", data={**day, "change": "+1"}),
        "close": lambda: clerk.post("/slots/close", data={**day, "reason": "点検", "action": "close"}),
        "slot": lambda: clerk.post(f"/slots/{slot.id}", data={"capacity": "4", "phone_seats": "1", "staff_seats": "1"}),
        "notice": lambda: admin.post("/settings/notice", data={"text": "年末年始はお休みです"}),
        "text": lambda: admin.post("/texts/booking_confirmed/sms", data={"body": "{number} {venue}", "action": "save"}),
    }[action]()
    assert response.status_code in (200, 302), response.get_data(as_text=True)
    assert staff_actions() == before + 1


def test_audit_rows_cannot_be_changed_or_deleted(clerk, dummy_slot):
    book_for_caller(clerk, dummy_slot)
    row = AuditLog.select().order_by(AuditLog.id.desc()).get()
    with pytest.raises(Exception, match="append-only"):
        AuditLog.update(actor="someone-else").where(AuditLog.id == row.id).execute()
    with pytest.raises(Exception, match="append-only"):
        AuditLog.delete().where(AuditLog.id == row.id).execute()


@pytest.mark.parametrize("encoding,codec", [("utf-8", "utf-8-sig"), ("shift_jis", "cp932")])
def test_day_list_csv_decodes_in_both_encodings(clerk, dummy_slot, encoding, codec):
    """The exported CSV opens in Excel: UTF-8 starts with a BOM, Shift_JIS decodes as cp932; the names,
    furigana and numbers come back as entered; the export itself is audited."""
    booking = bookings.book(dummy_slot.id, make_applicant(name="髙橋 𠮷子" if encoding == "utf-8" else "高橋 花子"),
                            "staff", NOW, actor=CLERK)
    response = clerk.get(f"/lists/export.csv?venue={dummy_slot.venue_id}&date={SLOT_DAY}&encoding={encoding}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == f"text/csv; charset={encoding}"  # one charset, the right one
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8")
    rows = list(csv.reader(io.StringIO(data.decode(codec))))
    assert rows[0][:5] == ["日付", "時間", "予約番号", "お名前", "フリガナ"]
    assert rows[1][2] == f"{booking.number[:4]}-{booking.number[4:]}" and rows[1][3] == booking.name
    assert rows[1][4] == booking.kana
    assert AuditLog.select().where(AuditLog.action == "export.day_list_csv").count() == 1
    assert clerk.get(f"/lists/export.csv?venue={dummy_slot.venue_id}&date={SLOT_DAY}&encoding=latin-1").status_code == 400


def test_day_list_names_what_the_print_and_shift_jis_would_lose(clerk, dummy_slot):
    """A name with 𠮷 prints (IPAmj) but Shift_JIS lacks it: the page says so next to the CSV buttons;
    a character no font has is named as unprintable; plain names get no warning."""
    url = f"/lists?venue={dummy_slot.venue_id}&date={SLOT_DAY}"
    bookings.book(dummy_slot.id, make_applicant(name="高橋 花子"), "staff", NOW, actor=CLERK)
    assert "〓" not in clerk.get(url).get_data(as_text=True)
    bookings.book(dummy_slot.id, make_applicant(name="𠮷田 𓀀子"), "staff", NOW, actor=CLERK)
    page = clerk.get(url).get_data(as_text=True)
    assert "印刷できない文字（𓀀）" in page
    assert "表せない文字（𠮷、𓀀）" in page


def test_printed_slot_list_has_the_japanese_names(clerk, create_slot):
    """The PDF of one 30-minute slot, read back with pdftotext, has the venue, date, times and names."""
    slot = create_slot(start="13:30", capacity=3)
    bookings.book(slot.id, make_applicant(name="印刷 確子", kana="インサツ カクコ"), "staff", NOW, actor=CLERK)
    response = clerk.get(f"/lists/print.pdf?venue={slot.venue_id}&date={SLOT_DAY}&start=13:30")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=response.get_data(), capture_output=True,
                          check=True).stdout.decode()
    for expected in ("印刷 確子", "インサツ", "本庁舎", "2026年12月10日（木）", "13:30"):
        assert expected in text, expected
    assert clerk.get(f"/lists/print.pdf?venue={slot.venue_id}&date={SLOT_DAY}&start=07:00").status_code == 404


def test_unknown_placeholder_in_a_text_is_refused_by_name(admin):
    """Saving names the unknown placeholder and keeps the old text; the preview fills the sample values
    and counts the SMS length."""
    admin.get("/texts/booking_confirmed/sms")
    page = admin.post("/texts/booking_confirmed/sms", data={"body": "{number} {birthday}", "action": "save"})
    assert page.status_code == 422 and "{birthday} は使えない差し込み項目です。" in page.get_data(as_text=True)
    assert not AuditLog.select().where(AuditLog.action == "text.update").exists()
    preview = admin.post("/texts/booking_confirmed/sms", data={"body": "予約番号 {number}", "action": "preview"})
    text = preview.get_data(as_text=True)
    assert "予約番号 1234-5678" in text and "14文字（上限 660文字）・SMS 1通分" in text


def test_over_capacity_after_the_reauth_window_asks_for_password_and_code(clerk_client, create_user, frozen_now,
                                                                         create_slot):
    """An administrator signed in long ago is sent to confirm with password and code before overbooking."""
    slot = create_slot(capacity=1)
    bookings.book(slot.id, make_applicant(), "staff", NOW, actor=CLERK)
    admin = clerk_client(create_user("admin"))
    frozen_now["now"] += datetime.timedelta(minutes=15)
    page = book_for_caller(admin, slot, override_reason="遠方から来庁のため")
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "もう一度パスワードと確認コード" in text and "/reauth?next=" in text
    assert Booking.select().count() == 1


def test_a_venue_gets_its_own_reception_window_and_returns_to_the_default(admin, dummy_venue):
    """The default window applies to every venue; one venue can open earlier, then go back."""
    from db.models import ReceptionWindow
    admin.get(f"/settings/window?venue={dummy_venue.id}")
    saved = admin.post(f"/settings/window?venue={dummy_venue.id}",
                       data={"opens_days_before": "60", "opens_time": "09:00", "closes_days_before": "1",
                             "closes_time": "17:00"})
    assert saved.status_code == 302
    own = ReceptionWindow.get(ReceptionWindow.venue == dummy_venue)
    assert own.opens_days_before == 60
    wrong = admin.post(f"/settings/window?venue={dummy_venue.id}",
                       data={"opens_days_before": "1", "opens_time": "25:00", "closes_days_before": "3",
                             "closes_time": "17:00"})
    assert wrong.status_code == 422 and "時刻を 09:00 の形で" in wrong.get_data(as_text=True)
    reversed_days = admin.post(f"/settings/window?venue={dummy_venue.id}",
                               data={"opens_days_before": "1", "opens_time": "09:00", "closes_days_before": "3",
                                     "closes_time": "17:00"})
    assert reversed_days.status_code == 422 and "受付の終わりは、受付の始まりより後の日に" in reversed_days.get_data(as_text=True)
    assert ReceptionWindow.get(ReceptionWindow.venue == dummy_venue).opens_days_before == 60
    admin.post(f"/settings/window?venue={dummy_venue.id}", data={"action": "remove"})
    assert not ReceptionWindow.select().where(ReceptionWindow.venue == dummy_venue).exists()
