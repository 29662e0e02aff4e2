"""Closed sets by sound: yes and no (with what Whisper base hears for them), what the caller wants,
venues (alike ones told apart), names as readings, and the words that work at any question."""

from __future__ import annotations

import pytest

from voice.call.requests import VenueChoice
from voice.nlu.answers import INTENTS, MANAGE, YES_NO, asks_next, choice, command, decide
from voice.nlu.names import name_reading
from voice.nlu.readings import canonical, closest
from voice.nlu.venues import phrases

VENUES = (VenueChoice(1, "デモ市役所 本庁舎 市民課", "デモシヤクショ ホンチョウシャ シミンカ"),
          VenueChoice(2, "北支所", "キタシショ"), VenueChoice(3, "北部公民館", "ホクブコウミンカン"),
          VenueChoice(4, "駅前サービスセンター", "エキマエサービスセンター"))


def test_one_number_has_one_canonical_reading_however_it_is_written():
    assert canonical("十二月") == canonical("12月") == canonical("じゅうにがつ") == canonical("ジュウニガツ") == "ジュニガツ"


@pytest.mark.parametrize(("heard", "key"), [
    ("はい", "yes"), ("はい、そうです", "yes"), ("ええ、そうです", "yes"), ("お願いします", "yes"), ("そうです", "yes"),
    ("いいえ", "no"), ("違います", "no"), ("いいえ、違います", "no"),
    ("いいね", "no"), ("いいね、違います!", "no"), ("入れ、違います。", "no"),  # Whisper base's いいえ
])
def test_yes_and_no(heard, key):
    assert decide((heard,), 0.9, YES_NO).key == key


@pytest.mark.parametrize("heard", ["", "えーと", "スタッフのアイス", "本庁舎"])
def test_what_is_neither_is_asked_again(heard):
    assert decide((heard,), 0.9, YES_NO).action == "retry"


def test_an_unsure_recogniser_makes_a_match_confirmed_rather_than_taken():
    assert decide(("はい",), 0.9, YES_NO).action == "accept"
    assert decide(("はいる",), 0.1, YES_NO).action in ("confirm", "retry")


@pytest.mark.parametrize(("heard", "key"), [
    ("予約をお願いします", "book"), ("予約したいです", "book"), ("キャンセルしたいです", "manage"),
    ("予約の確認", "manage"), ("日にちを変えたい", "manage"), ("オペレーター", "person"), ("担当者と話したい", "person"),
])
def test_what_the_caller_wants(heard, key):
    assert decide((heard,), 0.9, INTENTS).key == key


@pytest.mark.parametrize(("heard", "key"), [("取り消したい", "cancel"), ("変更したいです", "change"),
                                            ("確認だけです", "keep")])
def test_what_to_do_with_a_booking(heard, key):
    assert decide((heard,), 0.9, MANAGE).key == key


@pytest.mark.parametrize(("heard", "key"), [
    ("本庁舎", "1"), ("市役所の本庁舎でお願いします", "1"), ("北支所", "2"), ("北部公民館", "3"),
    ("駅前サービスセンター", "4"), ("駅前", "4"), ("どこでもいいです", "anywhere"), ("一番近いところ", "anywhere"),
])
def test_venues_by_name_part_or_reading(heard, key):
    assert closest((heard,), phrases(VENUES))[0] == key


@pytest.mark.parametrize(("heard", "kana"), [
    ("山田花子", "ヤマダハナコ"), ("やまだはなこ", "ヤマダハナコ"), ("山田花子です", "ヤマダハナコ"),
    ("私の名前は山田花子です", "ヤマダハナコ"), ("山田と申します", "ヤマダ"), ("ヤマダ ハナコ", "ヤマダハナコ"),
])
def test_names_as_readings(heard, kana):
    assert name_reading((heard,)) == kana


@pytest.mark.parametrize("heard", ["", "あ", "、。"])
def test_what_is_no_name_is_none(heard):
    assert name_reading((heard,)) is None


def test_words_that_work_at_any_question():
    assert command(("もう一度お願いします",)) == "repeat"
    assert command(("ゆっくり話してください",)) == "slow"
    assert command(("オペレーター",)) == "person"
    assert command(("はい",)) == "" and command(("十二月三日",)) == ""


@pytest.mark.parametrize(("heard", "number"), [
    ("1番", 1), ("一番", 1), ("いちばん", 1), ("2番でお願いします", 2), ("にばんめ", 2), ("3です", 3), ("さん", 3),
    ("4番", 4), ("よんばん", 4), ("１番", 1),
    ("5番", None),  # only 4 options
    ("北支所", None), ("本庁舎でお願いします", None), ("はい", None), ("", None),  # no number: シ, ホ are not 4
])
def test_a_numbered_option_said(heard, number):
    assert choice((heard,), 4) == number


@pytest.mark.parametrize(("heard", "next_page"), [
    ("次", True), ("つぎ", True), ("次の会場", True), ("次でお願いします", True),
    ("月", True), ("すぎ", True), ("ツキ", True),  # how Whisper base hears the lone word
    ("1番", False), ("に", False), ("北支所", False), ("はい", False), ("いいえ", False), ("", False),
])
def test_next_page_said_at_a_menu(heard, next_page):
    assert asks_next((heard,)) is next_page


def test_scores_find_the_answer_a_garbled_transcript_hides():
    """「いいえ」 written as 「みな!」 matches nothing, but the audio speaks clearly for 「いいえ」: taken."""
    heard = ("みな!",)
    assert decide(heard, 0.4, YES_NO).action == "retry"
    decision = decide(heard, 0.4, YES_NO, (("はい", -2.0), ("いいえ", 6.5), ("違います", 1.0)))
    assert (decision.key, decision.action) == ("no", "accept")


def test_scores_and_transcript_that_disagree_are_never_taken_without_asking():
    """The transcript says yes, the scores lean to no: a yes/no answer is asked again rather than guessed."""
    assert decide(("はい",), 0.9, YES_NO, (("はい", 1.0), ("いいえ", 7.0))).action == "retry"
    assert decide(("いいね",), 0.5, YES_NO, (("はい", 2.0), ("いいえ", 2.5))).key == "no"  # no clear lead: as heard


@pytest.mark.parametrize("heard", ["予約の取決をおめがします", "予約の取り決しをおめがします", "予約の取り消しをお願いします"])
def test_a_cancellation_misheard_after_its_first_word_is_no_booking(heard):
    """「予約の取り消しをお願いします」 in noise, as Whisper base heard it on a CI call: 「予約」 is inside, but
    it is part of 「予約の取り消し」, which the rest sounds like: read as that (the call had become a booking)."""
    assert decide((heard,), 0.5, INTENTS).key == "manage"


def test_a_word_that_is_part_of_a_longer_answer_is_at_most_confirmed():
    """「予約の確認をしたい」 heard as 「予約の端に乗ったいです」: 「予約」 alone does not make a booking sure, and
    the audio's scores for 「予約の確認」 are confirmed instead of being outvoted into asking again."""
    heard = ("予約の端に乗ったいです",)
    assert decide(heard, 0.9, INTENTS).action == "confirm"
    scores = (("予約", 8.96), ("予約の確認", 16.53), ("予約の変更", 7.9), ("予約したい", 3.0))
    assert (decide(heard, 0.9, INTENTS, scores).key, decide(heard, 0.9, INTENTS, scores).action) == ("manage", "confirm")
    assert decide(("予約をお願いします",), 0.9, INTENTS).action == "accept"  # a whole answer is still taken


def test_a_numbered_option_is_scored_as_whisper_writes_it_either_way():
    """「一番です」 in noise scored 1.4 as 「1番」 against 0.9 for 「2番」 (no lead), but 4.5 as 「一番」: both
    forms are sent to the recogniser, and an option counts by its best."""
    from voice.nlu.answers import numbered
    from voice.nlu.scores import Guess, scored
    assert numbered(1) == ("1番", "一番") and numbered(4) == ("4番", "四番")
    table = {"1": numbered(1), "2": numbered(2)}
    assert scored((("1番", 1.4), ("一番", 4.5), ("2番", 0.9), ("二番", 1.5)), table) == Guess("1", False)
    assert scored((("1番", 1.4), ("2番", 0.9)), table) is None
