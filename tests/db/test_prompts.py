"""The phone prompts staff edit (db/prompts.py): every default is valid and labelled, an edit keeps
exactly its default's placeholders (each kind of bad text refused with its Japanese message), save and
reset write one audit row each, and for_call() overlays the edits on the defaults."""

from __future__ import annotations

import json
import tomllib

import pytest

from db import prompts
from db.models import AuditLog, PromptText
from tests.conftest import ADMIN, NOW

ALL = list(prompts.defaults())


def audit_rows(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def test_the_catalogue_holds_the_flows_and_what_the_admin_site_shows():
    """Each flow section of prompts.toml is in SECTIONS (and nothing else is taken for prompts); each
    prompt has a label, each placeholder a description and a sample value."""
    data = tomllib.loads(prompts._CATALOGUE_PATH.read_text(encoding="utf-8"))
    assert set(data) - {"flow", "label", "placeholders", "sample", "sample_for", "problem"} == set(prompts.SECTIONS)
    assert len(ALL) == sum(len(data[section]) for section in prompts.SECTIONS) > 60
    for key in ALL:
        assert prompts.label(key)
        for name, description in prompts.placeholders(key).items():
            assert description and prompts.samples(key)[name], (key, name)
    assert prompts.flow_label("booking") and prompts.flow_label("echo")


@pytest.mark.parametrize("key", ALL)
def test_every_default_passes_validation(db, key):
    """Every default is a prompt staff could have saved; it is shown as the default (no row yet), and
    filling it with the samples leaves no brace."""
    prompt = prompts.current(key)
    assert prompt.is_default and prompt.updated_at is None and prompt.text == prompts.defaults()[key]
    assert prompts.problems(key, prompt.text) == []
    assert "{" not in prompts.fill(key, prompt.text)


def test_placeholders_are_those_of_the_default():
    assert prompts.placeholder_names("booking.final") == ("when", "venue", "name", "phone", "birth")
    assert prompts.placeholder_names("booking.booked") == ("number",)  # said twice, one placeholder
    assert prompts.placeholder_names("booking.goodbye") == ()
    assert prompts.placeholder_names("echo.heard") == ("text",)
    with pytest.raises(KeyError):
        prompts.placeholder_names("booking.nothing")


BAD = [
    # key, text, the message staff read
    ("booking.closed", "{days}ですね。", "{days} はこの文では使えない差し込み項目です。"),
    ("booking.closed", "日にちですね。", "{day} がありません。この文には必ず入れてください"),
    ("booking.closed", "{day}と{venue}ですね。", "{venue} はこの文では使えない差し込み項目です。"),
    ("booking.goodbye", "{city}、さようなら。", "{city} はこの文では使えない差し込み項目です。"),
    ("booking.closed", "{day.year}年ですね。", "{day.year} のような書き方はできません。"),
    ("booking.closed", "{day[0]}ですね。", "{day[0]} のような書き方はできません。"),
    ("booking.closed", "{day!r}ですね。", "{day!r} のような書き方はできません。"),
    ("booking.closed", "{day:>20}ですね。", "{day:>20} のような書き方はできません。"),
    ("booking.closed", "{0}ですね。{day}", "{0} のような書き方はできません。"),
    ("booking.closed", "{}ですね。{day}", "{} のような書き方はできません。"),
    ("booking.closed", "{day ですね。", "波かっこ { } の組み合わせが正しくありません。"),
    ("booking.closed", "{day}ですね}。", "波かっこ { } の組み合わせが正しくありません。"),
    ("booking.closed", "{{day}}ですね。{day}", "差し込み項目のほかに波かっこ { } を書けません。"),
    ("booking.closed", "｛day｝ですね。", "全角の波かっこ ｛ ｝ があります。"),
    ("booking.goodbye", "", "文を入力してください。"),
    ("booking.goodbye", "  \n ", "文を入力してください。"),
    ("booking.goodbye", "あ" * 401, "文が長すぎます（401文字）。400文字以内にしてください。"),
    ("booking.goodbye", "ありがとう\nございました。", "改行は入れられません。"),
    ("booking.goodbye", "ありがとう\r\nございました。", "改行は入れられません。"),
    ("booking.goodbye", "ありがとう\x00ございました。", "使えない文字（制御文字など）が含まれています。"),
    ("booking.goodbye", "ありがとう\u202eございました。", "使えない文字（制御文字など）が含まれています。"),
    ("booking.goodbye", "ありがとう\tございました。", "使えない文字（制御文字など）が含まれています。"),
    ("booking.unnamed_kana", "未確認", "フリガナはカタカナで入力してください。"),
    ("booking.unnamed_name", "あ" * 61, "一覧に出るお名前・フリガナは60文字以内にしてください。"),
]


@pytest.mark.parametrize(("key", "text", "message"), BAD, ids=[f"{k}:{t[:12]!r}" for k, t, _ in BAD])
def test_a_bad_prompt_is_refused_with_a_japanese_message(db, key, text, message):
    """problems() names the problem, save() refuses with it, and nothing is stored or audited."""
    found = prompts.problems(key, text)
    assert any(message in problem for problem in found), found
    with pytest.raises(prompts.PromptError) as refused:
        prompts.save(key, text, ADMIN, NOW)
    assert refused.value.problems == found
    assert not PromptText.select().exists() and not audit_rows("prompt.update")


def test_an_edit_may_move_and_repeat_placeholders_and_change_the_wording(db):
    assert prompts.problems("booking.slot_confirm", "会場は{venue}、日時は{when}です。{when}でよろしいですか。") == []
    assert prompts.problems("booking.goodbye", "  失礼いたします。  ") == []  # spaces around are dropped


def test_save_then_reset_with_one_audit_row_each(db):
    """Saving stores the text (trimmed) with who and when and audits before/after; saving again updates
    the one row; 「元に戻す」 deletes it, so the default (and its future updates) applies again."""
    default = prompts.defaults()["booking.greeting"]
    saved = prompts.save("booking.greeting", " {city}の予約窓口です。ご用件をどうぞ。 ", ADMIN, NOW)
    assert saved.text == "{city}の予約窓口です。ご用件をどうぞ。" and not saved.is_default
    assert saved.updated_by == ADMIN.name and saved.updated_at == NOW
    prompts.save("booking.greeting", "{city}の窓口です。", ADMIN, NOW)
    assert PromptText.select().count() == 1 and prompts.current("booking.greeting").text == "{city}の窓口です。"
    first, second = audit_rows("prompt.update")
    assert first.object_type == "prompt_text" and first.object_id == "booking.greeting" and first.actor == ADMIN.name
    assert json.loads(first.details) == {"before": default, "after": "{city}の予約窓口です。ご用件をどうぞ。"}
    assert json.loads(second.details)["before"] == "{city}の予約窓口です。ご用件をどうぞ。"
    after = prompts.reset("booking.greeting", ADMIN, NOW)
    assert after.is_default and after.text == default and prompts.current("booking.greeting").is_default
    assert not PromptText.select().exists()
    (reset,) = audit_rows("prompt.reset")
    assert json.loads(reset.details) == {"before": "{city}の窓口です。", "after": default}


def test_the_unnamed_kana_is_stored_in_katakana(db):
    """The kana a booking without a name gets is typed in hiragana and stored in katakana (as
    db.bookings wants it)."""
    assert prompts.save("booking.unnamed_kana", "みかくにん", ADMIN, NOW).text == "ミカクニン"


def test_for_call_overlays_the_edits_on_the_defaults(db):
    """for_call(): every default key, the edited ones with staff's text; one that no longer fits its
    default (as after an update that changed the placeholders) falls back to the default, and a row of
    a prompt this version does not have is ignored."""
    assert prompts.for_call() == prompts.defaults()
    prompts.save("echo.heard", "「{text}」ですね。", ADMIN, NOW)
    PromptText.create(key="booking.time_taken", text="{time}は空いていません。", updated_at=NOW)  # stale
    PromptText.create(key="booking.retired", text="もう使わない文です。", updated_at=NOW)
    texts = prompts.for_call()
    assert texts.keys() == prompts.defaults().keys()
    assert texts["echo.heard"] == "「{text}」ですね。"
    assert texts["booking.time_taken"] == prompts.defaults()["booking.time_taken"]
    assert {k: v for k, v in texts.items() if v != prompts.defaults()[k]} == {"echo.heard": "「{text}」ですね。"}


def test_listing_groups_prompts_by_flow_in_catalogue_order(db):
    prompts.save("echo.goodbye", "さようなら。", ADMIN, NOW)
    listing = prompts.listing()
    assert list(listing) == ["booking", "echo"]
    assert [p.key for p in listing["echo"]] == prompts.all_keys("echo")
    assert listing["booking"][0].key == "booking.greeting"
    goodbye = next(p for p in listing["echo"] if p.key == "echo.goodbye")
    assert goodbye.text == "さようなら。" and not goodbye.is_default and goodbye.label == "終わりのあいさつ"


def test_the_schema_refuses_an_empty_or_overlong_prompt(db):
    import peewee
    with pytest.raises(peewee.IntegrityError):
        PromptText.create(key="booking.goodbye", text="", updated_at=NOW)
    with pytest.raises(peewee.IntegrityError):
        PromptText.create(key="booking.goodbye", text="あ" * 401, updated_at=NOW)
