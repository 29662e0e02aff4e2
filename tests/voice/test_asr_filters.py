"""Recogniser output nobody said is dropped before a flow acts on it."""

import pytest

from voice.asr.filters import clean, is_hallucination, normalize


@pytest.mark.parametrize("text", ["ご視聴ありがとうございました", "ご視聴ありがとうございました。", "  ",
                                  "チャンネル登録よろしくお願いします", "はいはいはいはいはいはい",
                                  "Thank you for watching!", "字幕：田中"])
def test_hallucinations(text):
    assert is_hallucination(text)
    assert clean(text) == ""


@pytest.mark.parametrize("text,expected", [
    ("12月10日の10時でお願いします", "12月10日の10時でお願いします"),
    ("えーと、予約したいです", "予約したいです"),
    ("はい", "はい"),
    ("えー", ""),
])
def test_real_speech_is_kept_and_fillers_dropped(text, expected):
    assert clean(text) == expected


def test_normalize_for_matching():
    assert normalize("１２月　１０日、です。") == "12月10日です"
