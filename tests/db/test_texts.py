"""The SMS and email texts staff edit: validation, save/reset with audit, filling, SMS length."""

from __future__ import annotations

import datetime
import json

import pytest

from db import texts
from db.models import AuditLog, MessageText
from tests.conftest import ADMIN, NOW

ALL = [(event, channel) for event in texts.EVENTS for channel in texts.CHANNELS]
SAMPLE_CONFIRMED_SMS = "【{city}】ご予約を受け付けました。予約番号 {number}\n{date}{time}から {venue}"


def audit_rows(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


@pytest.mark.parametrize(("event", "channel"), ALL)
def test_every_default_passes_validation(db, event, channel):
    """Every default text in texts.toml is one staff could have saved: problems() finds nothing, and
    it is shown as the default (no row yet)."""
    text = texts.current(event, channel)
    assert text.is_default and text.updated_at is None
    assert text.body
    assert texts.problems(event, channel, text.subject, text.body) == []
    assert bool(text.subject) == (channel == "email")


def test_every_allowed_placeholder_has_a_description_and_a_sample():
    """placeholders() describes each allowed name in Japanese, and preview fills every one of them
    (so the SMS length check never measures an unfilled placeholder)."""
    for event in texts.EVENTS:
        names = texts.placeholders(event)
        assert {"name", "venue", "address", "date", "time", "number", "lookup_url", "help_phone",
                "city"} <= names.keys()
        assert all(description for description in names.values())
        body = "".join("{" + name + "}" for name in names)
        _subject, filled = texts.preview(event, "email", "件名", body)
        assert "{" not in filled
    assert {"reason", "alternatives"} <= texts.placeholders("slot_closed").keys()
    assert "reason" not in texts.placeholders("booking_confirmed")


def test_confirmed_sms_default_is_short():
    """The default confirmation SMS, filled with the (long-ish) samples, fits in 3 UCS-2 parts and
    carries the number, venue, date, time, look-up URL and help phone."""
    text = texts.current("booking_confirmed", "sms")
    _subject, body = texts.preview("booking_confirmed", "sms", text.subject, text.body)
    length = texts.sms_length(body)
    assert length.encoding == "UCS-2" and length.segments <= 3
    for name in ("number", "venue", "date", "time", "lookup_url", "help_phone"):
        assert "{" + name + "}" in text.body


def test_unknown_placeholder_is_named():
    """A placeholder the event does not allow is refused, and the message names it; a slot_closed-only
    placeholder is unknown for other events."""
    found = texts.problems("booking_confirmed", "sms", "", "{name} 様 {nmae} の {reason}")
    assert "{nmae} は使えない差し込み項目です。" in found
    assert "{reason} は使えない差し込み項目です。" in found
    assert not any("{name}" in message and "使えない" in message for message in found)
    assert texts.problems("slot_closed", "sms", "", "理由：{reason}") == []


@pytest.mark.parametrize("body", ["予約番号 {number", "予約番号 number}", "{{number}", "a}{b", "{na{me}"])
def test_broken_braces_are_refused(body):
    """A lone { or } is refused with one message saying how to write braces; doubled braces are text."""
    found = texts.problems("booking_confirmed", "sms", "", body)
    assert len(found) == 1 and "波かっこ" in found[0] and "本文" in found[0]
    assert texts.problems("booking_confirmed", "sms", "", "{{注意}} {number}") == []


@pytest.mark.parametrize("placeholder", ["{name.upper}", "{name[0]}", "{name!r}", "{name:>20}", "{name.__class__}",
                                         "{number:{time}}"])
def test_attribute_index_conversion_and_format_spec_are_refused(placeholder):
    """Only bare names are placeholders: attribute or index access, conversions and format specs are
    refused, naming what was written, and render never evaluates them."""
    found = texts.problems("booking_confirmed", "email", "件名", f"こんにちは {placeholder}")
    assert f"{placeholder} のような書き方はできません。差し込み項目は {{name}} のように、名前だけを半角の波かっこで囲んでください。" \
        in found
    text = texts.Text("booking_confirmed", "sms", "", placeholder, None, "", False)
    with pytest.raises(texts.TextError):
        texts.render(text, {"name": "窓口", "number": "1", "time": "9時"})


def test_sms_over_the_limit_after_filling_is_refused():
    """The SMS limit is measured after filling with the sample values: a body short as typed but long
    once filled is refused, and one just under the limit passes."""
    body = "{lookup_url}\n" * 25  # 325 characters as typed, about 800 filled (public_url + /lookup)
    assert len(body) < texts.SMS_MAX_CHARS
    found = texts.problems("booking_confirmed", "sms", "", body)
    assert len(found) == 1 and str(texts.SMS_MAX_CHARS) in found[0]
    assert texts.problems("booking_confirmed", "sms", "", "あ" * texts.SMS_MAX_CHARS) == []
    assert texts.problems("booking_confirmed", "sms", "", "あ" * (texts.SMS_MAX_CHARS + 1)) != []
    # Email has no such limit.
    assert texts.problems("booking_confirmed", "email", "件名", body) == []


def test_subject_rules():
    """SMS has no subject; email needs one, on one line, within the column's 200 characters, and
    without the multi-line placeholder. An empty or oversized body is refused."""
    assert texts.problems("reminder", "sms", "件名", "本文") == ["SMSには件名を付けられません。件名を空にしてください。"]
    assert texts.problems("reminder", "email", "  ", "本文") == ["メールの件名を入力してください。"]
    assert texts.problems("reminder", "email", "一行目\n二行目", "本文") == ["件名に改行は入れられません。1行で入力してください。"]
    assert len(texts.problems("reminder", "email", "あ" * 201, "本文")) == 1
    assert texts.problems("reminder", "email", "あ" * 200, "本文") == []
    assert len(texts.problems("slot_closed", "email", "{alternatives}", "本文")) == 1
    assert texts.problems("reminder", "sms", "", " \n ") == ["本文を入力してください。"]
    assert len(texts.problems("reminder", "email", "件名", "あ" * 5001)) == 1


def test_save_writes_one_audit_row_and_current_returns_it(db):
    """save() stores the text (CRLF from the browser as LF), writes exactly one audit row with the old
    and new body, and current() then returns the saved text, no longer the default."""
    default = texts.current("booking_confirmed", "sms")
    saved = texts.save("booking_confirmed", "sms", "", SAMPLE_CONFIRMED_SMS.replace("\n", "\r\n"), ADMIN, NOW)
    assert saved == texts.current("booking_confirmed", "sms")
    assert saved.body == SAMPLE_CONFIRMED_SMS and not saved.is_default
    assert saved.updated_by == ADMIN.name and saved.updated_at == NOW
    [row] = audit_rows("text.update")
    assert (row.actor, row.object_type, row.object_id, row.source) == (
        ADMIN.name, "message_text", "booking_confirmed/sms", ADMIN.source)
    details = json.loads(row.details)
    assert details["before"] == default.body and details["after"] == SAMPLE_CONFIRMED_SMS

    later = NOW + datetime.timedelta(minutes=5)
    texts.save("booking_confirmed", "sms", "", "予約番号 {number}", ADMIN, later)
    assert MessageText.select().where(MessageText.event == "booking_confirmed").count() == 1
    assert texts.current("booking_confirmed", "sms").body == "予約番号 {number}"
    assert json.loads(audit_rows("text.update")[1].details)["before"] == SAMPLE_CONFIRMED_SMS
    # The other channel is untouched.
    assert texts.current("booking_confirmed", "email").is_default


def test_save_refuses_problems_and_writes_nothing(db):
    """A text with problems raises TextError listing them (in Japanese) and changes nothing."""
    with pytest.raises(texts.TextError) as caught:
        texts.save("reminder", "email", "", "{foo}", ADMIN, NOW)
    assert "{foo} は使えない差し込み項目です。" in caught.value.problems
    assert "メールの件名を入力してください。" in str(caught.value)
    assert texts.current("reminder", "email").is_default
    assert audit_rows("text.update") == []


@pytest.mark.parametrize(("event", "channel"), ALL)
def test_every_event_and_channel_can_be_saved(db, event, channel):
    """EVENTS and CHANNELS agree with the message_text CHECK constraints: each default saves."""
    default = texts.current(event, channel)
    saved = texts.save(event, channel, default.subject, default.body, ADMIN, NOW)
    assert (saved.subject, saved.body, saved.is_default) == (default.subject, default.body, False)


def test_reset_returns_the_default(db):
    """reset() removes staff's text, so current() is the default again, with one text.reset audit row."""
    default = texts.current("slot_closed", "email")
    texts.save("slot_closed", "email", "【{city}】お知らせ", "{name} 様\n{alternatives}", ADMIN, NOW)
    reset = texts.reset("slot_closed", "email", ADMIN, NOW)
    assert reset == default == texts.current("slot_closed", "email")
    assert reset.is_default
    [row] = audit_rows("text.reset")
    details = json.loads(row.details)
    assert details["before"] == "{name} 様\n{alternatives}" and details["after"] == default.body
    assert details["subject_before"] == "【{city}】お知らせ" and details["subject_after"] == default.subject


def test_render_fills_values_and_refuses_a_missing_one():
    """render() fills subject and body from the values (extra values are ignored, braces written
    doubled come out single, a line break in a subject value becomes a space); a placeholder without
    a value is a TextError naming it."""
    text = texts.Text("slot_closed", "email", "【{city}】{number}", "{name} 様 {{受付}}\n{alternatives}", None, "",
                      False)
    values = {"city": "デモ市", "number": "1234-5678", "name": "窓口 花子", "alternatives": "・A\n・B",
              "unused": "x"}
    assert texts.render(text, values) == ("【デモ市】1234-5678", "窓口 花子 様 {受付}\n・A\n・B")
    assert texts.render(text, {**values, "number": "1\n2"})[0] == "【デモ市】1 2"
    del values["alternatives"]
    with pytest.raises(texts.TextError, match=r"\{alternatives\}"):
        texts.render(text, values)


@pytest.mark.parametrize(("text", "expected"), [
    ("", texts.SmsLength(0, 1, "GSM-7")),
    ("a" * 160, texts.SmsLength(160, 1, "GSM-7")),
    ("a" * 161, texts.SmsLength(161, 2, "GSM-7")),
    ("a" * 306, texts.SmsLength(306, 2, "GSM-7")),
    ("a" * 307, texts.SmsLength(307, 3, "GSM-7")),
    ("Cost: 5€ [a]", texts.SmsLength(15, 1, "GSM-7")),  # €, [ and ] take two septets each
    ("{" * 80, texts.SmsLength(160, 1, "GSM-7")),
    ("{" * 81, texts.SmsLength(162, 2, "GSM-7")),
    ("a" * 152 + "^" + "a" * 152, texts.SmsLength(306, 3, "GSM-7")),  # an escape pair is not split
    ("あ" * 70, texts.SmsLength(70, 1, "UCS-2")),
    ("あ" * 71, texts.SmsLength(71, 2, "UCS-2")),
    ("あ" * 134, texts.SmsLength(134, 2, "UCS-2")),
    ("あ" * 135, texts.SmsLength(135, 3, "UCS-2")),
    ("a" * 159 + "あ", texts.SmsLength(160, 3, "UCS-2")),  # one Japanese character makes it all UCS-2
    ("😀", texts.SmsLength(2, 1, "UCS-2")),
    ("あ" * 69 + "😀", texts.SmsLength(71, 2, "UCS-2")),
    ("あ" * 66 + "😀" + "あ" * 66, texts.SmsLength(134, 3, "UCS-2")),  # a surrogate pair is not split
])
def test_sms_length(text, expected):
    """GSM-7 for GSM 03.38 text (160 / 153 per part, extension characters count twice), UCS-2 otherwise
    (70 / 67 per part, characters outside the BMP count twice); parts never split a pair."""
    assert texts.sms_length(text) == expected


def test_preview_fills_sample_values():
    """preview() fills the sample values from texts.toml and shows what the event does not allow as
    written, so staff see it."""
    subject, body = texts.preview("booking_confirmed", "email", "【{city}】確認", "{name} 様 {number} {reason}")
    assert subject == "【デモ市】確認"
    assert body == "窓口 花子 様 1234-5678 {reason}"
    _subject, closed = texts.preview("slot_closed", "sms", "", "理由：{reason}\n{alternatives}")
    assert "{" not in closed and closed.count("\n") >= 2
    assert texts.preview("reminder", "sms", "", "a { b") == ("", "a { b")


def test_preview_uses_this_citys_name_help_line_and_site(settings_override):
    """The preview (and the SMS length check) fill in the city's own settings, not made-up samples."""
    settings_override(city_name="一宮市", help_phone="0586-28-9999", public_url="https://yoyaku.example.lg.jp/")
    _, body = texts.preview("booking_confirmed", "sms", "", "{city} {help_phone} {lookup_url}")
    assert body == "一宮市 0586-28-9999 https://yoyaku.example.lg.jp/lookup"
