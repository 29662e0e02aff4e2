"""Comparing what Whisper heard with what a question expects, by how they sound (katakana readings),
so mishearings into homophones still find the intended answer."""

from __future__ import annotations

import re

import pytest

from voice.nlu.readings import closest, reading, similarity

KATAKANA = re.compile(r"[\u30a1-\u30fcー]+")


@pytest.mark.parametrize(("text", "kana"), [("日にち", "ヒニチ"), ("はい", "ハイ"), ("キャンセル", "キャンセル")])
def test_reading_is_katakana(text, kana):
    """Kanji, hiragana and katakana all come out as the katakana reading."""
    assert reading(text) == kana


def test_reading_drops_punctuation_and_spaces():
    """Punctuation, spaces and full-width forms do not end up in the reading."""
    value = reading("はい、そうです。　")
    assert KATAKANA.fullmatch(value) and value.startswith("ハイ")
    assert reading("ＡＢＣ") == reading("ABC")


@pytest.mark.parametrize("text", ["", "   ", "、。！"])
def test_nothing_readable_reads_as_empty(text):
    """Text with nothing to pronounce has an empty reading (and so matches nothing)."""
    assert reading(text) == ""
    assert similarity(text, "はい") == 0.0


def test_homophone_mishearing_is_close_but_not_equal():
    """日々 (ヒビ) is not 日にち (ヒニチ) but shares sounds with it; identical readings score 1, so
    spelling differences alone (kanji or kana) cost nothing."""
    assert 0.0 < similarity("日々", "日にち") < 1.0
    assert similarity("日々", "日にち") < similarity("日々を変更したい", "日にちを変更")
    assert similarity("日にち", "ひにち") == 1.0


def rank(heard: str, answers: list[str]) -> tuple[str, ...]:
    """The answers that sound like what was heard (similarity 0.5 or more), closest first."""
    scored = sorted(((similarity(heard, a), a) for a in dict.fromkeys(answers)), key=lambda s: -s[0])
    return tuple(a for score, a in scored if score >= 0.5)


def test_misheard_request_is_closest_to_the_intended_answer():
    """「日々を変更したい」 is taken for 「日にちを変更」, not for 「キャンセル」."""
    assert rank("日々を変更したい", ["キャンセル", "日にちを変更"]) == ("日にちを変更",)
    assert closest(("日々を変更したい",), {"change": ("日にちを変更",), "cancel": ("キャンセル",)})[0] == "change"


def test_answer_inside_a_longer_sentence_matches():
    """「はい、そうです」 answers a yes/no question with はい, and not with いいえ."""
    assert similarity("はい、そうです", "はい") == 1.0
    assert rank("はい、そうです", ["いいえ", "はい"]) == ("はい",)


def test_closer_answers_come_first():
    assert rank("予約の変更", ["予約の確認", "予約の変更"])[0] == "予約の変更"


def test_nothing_heard_matches_nothing():
    assert closest((), {"yes": ("はい",)}) == ("", 0.0)
    assert closest(("",), {"yes": ("はい",)}) == ("", 0.0)


def test_a_later_hypothesis_counts_a_little_less():
    """The recogniser's best hypothesis outweighs an equally good match in its fifth."""
    table = {"yes": ("はい",), "no": ("いいえ",)}
    assert closest(("はい", "x", "x", "x", "いいえ"), table)[0] == "yes"
    assert closest(("ねえ", "いいよ", "いえ"), table)[0] == "no"


def test_unrelated_answers_are_not_close():
    assert rank("予約したいです", ["キャンセル", "いいえ"]) == ()
    assert rank("天気はどうですか", ["予約", "キャンセル", "日にちを変更"]) == ()
