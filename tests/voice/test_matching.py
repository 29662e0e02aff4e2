"""Matching what Whisper heard against the answers a question expects, by how they sound (katakana
readings), so mishearings into homophones still find the intended answer."""

from __future__ import annotations

import re

import pytest

from voice.asr.matching import rank_expected, reading, similarity

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


def test_misheard_request_ranks_the_intended_answer_first():
    """「日々を変更したい」 is taken for 「日にちを変更」, not for 「キャンセル」."""
    ranked = rank_expected("日々を変更したい", ["キャンセル", "日にちを変更"])
    assert ranked == ("日にちを変更",)


def test_answer_inside_a_longer_sentence_matches():
    """「はい、そうです」 answers a yes/no question with はい, and not with いいえ."""
    assert similarity("はい、そうです", "はい") == 1.0
    assert rank_expected("はい、そうです", ["いいえ", "はい"]) == ("はい",)


def test_closer_answers_come_first():
    """Of several plausible answers the closest by sound is first."""
    ranked = rank_expected("予約の変更", ["予約の確認", "予約の変更"])
    assert ranked[0] == "予約の変更"


def test_empty_heard_matches_nothing():
    """Nothing heard gives no answers, however many were expected."""
    assert rank_expected("", ["はい", "いいえ"]) == ()
    assert rank_expected("はい", []) == ()


def test_duplicates_in_expected_are_not_repeated():
    """An answer listed twice appears once."""
    assert rank_expected("はい", ["はい", "いいえ", "はい"]) == ("はい",)


def test_unrelated_answers_are_not_returned():
    """Answers that sound nothing like what was heard are left out altogether."""
    assert rank_expected("予約したいです", ["キャンセル", "いいえ"]) == ()
    assert rank_expected("天気はどうですか", ["予約", "キャンセル", "日にちを変更"]) == ()
