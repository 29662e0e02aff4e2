"""Phone prompts and lines on the admin site: the prompts listed by flow with their labels; an edit
saved, refused in Japanese (the old text kept) or reset; the audio preview (a real WAV from `madoguchi
voice say`, slower at a slower line); the phone lines' voice, speed and recording edited with audit;
all of it for administrators only, with CSRF on every POST."""

from __future__ import annotations

import html
import io
import json
import re
import wave

import pytest

from db import prompts
from db.models import AuditLog, PhoneLine, PromptText
from tests.conftest import reload


@pytest.fixture
def booking_line(db):
    return PhoneLine.create(did="0586000001", flow="booking", label="予約", tts_speed=1.0)


def audio_url(page) -> str:
    match = re.search(r'<audio controls preload="none" src="([^"]+)"', page.get_data(as_text=True))
    assert match, "no audio player on the page"
    return html.unescape(match.group(1))


def seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        return w.getnframes() / w.getframerate()


def test_the_list_groups_prompts_by_flow_with_labels_and_lines(admin, booking_line):
    page = admin.get("/prompts")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "予約の電話（自動音声での予約・確認・変更・取消）" in text and "試験用の電話" in text
    assert "予約番号の質問" in text and "/prompts/booking.number" in text
    assert text.index("予約の電話") < text.index("試験用の電話")
    assert f"/lines/{booking_line.id}" in text and "初期の文" in text


def test_an_edit_is_saved_and_audited_and_listed(admin):
    """Saving keeps the placeholder, flashes a Japanese confirmation, writes one audit row and the list
    shows who changed it."""
    admin.get("/prompts/booking.time_taken")
    saved = admin.post("/prompts/booking.time_taken", data={"text": "あいにく、{at}は埋まっています。", "line": "0",
                                                            "action": "save"})
    assert saved.status_code == 302
    assert prompts.current("booking.time_taken").text == "あいにく、{at}は埋まっています。"
    assert "電話の案内を保存しました" in admin.get("/prompts/booking.time_taken").get_data(as_text=True)
    (row,) = AuditLog.select().where(AuditLog.action == "prompt.update")
    assert row.object_id == "booking.time_taken" and json.loads(row.details)["after"] == "あいにく、{at}は埋まっています。"
    assert "あいにく、{at}は埋まっています。" in admin.get("/prompts").get_data(as_text=True)


@pytest.mark.parametrize(("text", "message"), [
    ("{birthday}は空いていません。", "{birthday} はこの文では使えない差し込み項目です。"),
    ("その時間は空いていません。", "{at} がありません。"),
    ("{at}は空いていません}", "波かっこ { } の組み合わせが正しくありません。"),
    ("", "入力してください。"),
])
def test_an_invalid_edit_shows_the_japanese_problem_and_keeps_the_old_text(admin, text, message):
    admin.get("/prompts/booking.time_taken")
    page = admin.post("/prompts/booking.time_taken", data={"text": text, "line": "0", "action": "save"})
    assert page.status_code == 422 and message in html.unescape(page.get_data(as_text=True))
    assert prompts.current("booking.time_taken").is_default
    assert not PromptText.select().exists()
    assert not AuditLog.select().where(AuditLog.action.startswith("prompt.")).exists()


def test_reset_goes_back_to_the_default(admin):
    admin.get("/prompts/echo.goodbye")
    admin.post("/prompts/echo.goodbye", data={"text": "さようなら。", "line": "0", "action": "save"})
    page = admin.get("/prompts/echo.goodbye")
    assert "元に戻す" in page.get_data(as_text=True)
    reset = admin.post("/prompts/echo.goodbye", data={"text": "さようなら。", "line": "0", "action": "reset"})
    assert reset.status_code == 302 and prompts.current("echo.goodbye").is_default
    assert AuditLog.select().where(AuditLog.action == "prompt.reset").count() == 1
    assert "元に戻す" not in admin.get("/prompts/echo.goodbye").get_data(as_text=True)


def test_unknown_prompt_is_404(admin):
    assert admin.get("/prompts/booking.nothing").status_code == 404
    assert admin.get("/prompts/booking.nothing/audio.wav").status_code == 404


def test_the_preview_is_the_edited_text_in_the_lines_voice_and_speed(admin, booking_line):
    """試聴 of an unsaved edit: the page shows it filled with the samples and an audio player whose
    source is a real 16 kHz WAV of it; nothing is saved. The same text at a line speaking at 0.6 lasts
    clearly longer than at 1.4."""
    admin.get("/prompts/booking.closed")
    page = admin.post("/prompts/booking.closed",
                      data={"text": "{day}でよろしいですか。", "line": str(booking_line.id), "action": "preview"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "12月10日、木曜日でよろしいですか。" in text
    url = audio_url(page)
    assert f"line={booking_line.id}" in url and "text=" in url
    assert not PromptText.select().exists()
    booking_line.tts_speed = 1.4
    booking_line.save()
    fast = admin.get(url)
    assert fast.status_code == 200 and fast.mimetype == "audio/wav" and fast.get_data().startswith(b"RIFF")
    booking_line.tts_speed = 0.6
    booking_line.save()
    slow = admin.get(url)
    assert seconds(slow.get_data()) > 1.6 * seconds(fast.get_data()) > 0.5


def test_a_preview_of_a_bad_text_or_a_voice_that_cannot_speak_is_refused(admin, booking_line):
    """A text with problems gets 422 (nothing is synthesised); a line on Kokoro, whose model is not
    installed here, gets 503 (the synthesiser's refusal, not a hang or a 500)."""
    assert admin.get("/prompts/booking.closed/audio.wav?text=%7Bdays%7D").status_code == 422
    assert admin.get("/prompts/booking.closed/audio.wav?speed=9").status_code == 422
    assert admin.get("/prompts/booking.closed/audio.wav?voice=espeak:x").status_code == 422
    assert admin.get("/prompts/booking.closed/audio.wav?line=99999").status_code == 404
    booking_line.tts_engine, booking_line.tts_voice = "kokoro", "jm_kumo"
    booking_line.save()
    assert admin.get(f"/prompts/booking.goodbye/audio.wav?line={booking_line.id}").status_code == 503


def test_a_lines_voice_speed_and_recording_are_edited_with_audit(admin, booking_line):
    """The list shows the line; 試聴 offers a player at the unsaved speed; saving changes the line
    (the next call uses it) with one audit row; a speed out of range is refused in Japanese."""
    assert "0586000001" in admin.get("/lines").get_data(as_text=True)
    form = {"label": "予約の電話", "flow": "booking", "voice": "openjtalk:", "speed": "0.85", "volume": "0.7",
            "record": "y", "sample": "booking.greeting"}
    admin.get(f"/lines/{booking_line.id}")
    preview = admin.post(f"/lines/{booking_line.id}", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "speed=0.85" in audio_url(preview)
    assert reload(booking_line).tts_speed == 1.0
    saved = admin.post(f"/lines/{booking_line.id}", data={**form, "speed": "０.８５", "action": "save"})
    assert saved.status_code == 302
    line = reload(booking_line)
    assert (line.tts_speed, line.label, line.record) == (0.85, "予約の電話", True)
    (row,) = AuditLog.select().where(AuditLog.action == "phone_line.update")
    assert json.loads(row.details) == {"label": ["予約", "予約の電話"], "tts_speed": [1.0, 0.85]}
    refused = admin.post(f"/lines/{booking_line.id}", data={**form, "speed": "3", "action": "save"})
    assert refused.status_code == 422 and "話す速さは0.5から2の数で入力してください" in refused.get_data(as_text=True)
    unknown = admin.post(f"/lines/{booking_line.id}", data={**form, "flow": "fax", "action": "save"})
    assert unknown.status_code == 422 and reload(booking_line).flow == "booking"
    assert AuditLog.select().where(AuditLog.action == "phone_line.update").count() == 1
    assert admin.get("/lines/99999").status_code == 404


def test_only_administrators_edit_and_hear_prompts_and_lines(clerk, viewer, admin, booking_line):
    """Staff and viewers get 403 on every page (as for the SMS/email texts) and change nothing; the nav
    shows the pages to administrators only; a POST without the CSRF token is refused."""
    urls = ["/prompts", "/prompts/booking.greeting", "/prompts/booking.greeting/audio.wav", "/lines",
            f"/lines/{booking_line.id}"]
    for client in (clerk, viewer):
        assert all(client.get(url).status_code == 403 for url in urls)
        assert client.post("/prompts/booking.greeting", data={"text": "x", "action": "save"}).status_code == 403
        assert client.post(f"/lines/{booking_line.id}", data={"speed": "0.5", "action": "save"}).status_code == 403
        assert "/prompts" not in client.get("/").get_data(as_text=True)
    assert "/prompts" in admin.get("/").get_data(as_text=True) and "/lines" in admin.get("/").get_data(as_text=True)
    forged = admin.client.post("/prompts/booking.greeting", data={"text": "{city}です。", "action": "save"})
    assert forged.status_code == 400
    assert not PromptText.select().exists() and reload(booking_line).tts_speed == 1.0
