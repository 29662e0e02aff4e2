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


@pytest.mark.parametrize("text", ["はい", "いいえ", "ええ", "うん", "ええ、そうです", "はい、そうです", "いいえ、違います",
                                  "お願いします", "一番", "二番", "はいはい", "いいね", "いえ", "そうです", "違います"])
def test_short_answers_are_kept(text):
    """Yes, no and a number, the dialog's most frequent answers, are never taken for filler or a loop."""
    assert not is_hallucination(text)
    assert clean(text) == text


@pytest.mark.parametrize("text", ["ご視聴ありがとうございました", "ご視聴ありがとうございます。", "最後までご視聴いただき",
                                  "チャンネル登録お願いします", "高評価お願いします", "字幕は自動生成です",
                                  "おやすみなさい", "ありがとうございました。ありがとうございました。",
                                  "Thanks for watching.", "んんんんん", "行行行行行行", "... ... ... ...", "ににににに"])
def test_classic_hallucinations_on_silence_and_noise_are_refused(text):
    """What Whisper says on silence and noise (subtitle credits, loops, dots) never reaches a flow."""
    assert clean(text) == ""


def test_thinking_is_filler_but_yes_is_not():
    assert clean("うーん") == "" and clean("うーん、はい") == "はい" and clean("うん") == "うん"
