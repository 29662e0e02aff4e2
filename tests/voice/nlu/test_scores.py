"""Guesses from the recogniser's scores of expected answers, and how they agree with the transcripts'
guess: a clear lead is taken, a small one confirmed, none asked again; two sources that agree make a
guess sure, two that disagree never take a wrong answer without asking."""

from __future__ import annotations

import pytest

from voice.nlu.scores import Guess, agree, phrases_of, runner_up, scored

TABLE = {"1": ("本庁舎", "市民課"), "2": ("北支所",), "anywhere": ("どこでも",)}


def scores(**values: float) -> tuple[tuple[str, float], ...]:
    names = {"honcho": "本庁舎", "shimin": "市民課", "kita": "北支所", "doko": "どこでも"}
    return tuple((names[name], value) for name, value in values.items())


def test_every_phrase_is_sent_once_in_order():
    assert phrases_of({"a": ("x", "y"), "b": ("y", "z")}) == ("x", "y", "z")


@pytest.mark.parametrize(("given", "guess"), [
    (scores(honcho=9.0, shimin=2.0, kita=4.0, doko=-3.0), Guess("1", True)),  # high, and 5 ahead
    (scores(honcho=1.0, shimin=7.5, kita=4.0, doko=-3.0), Guess("1", True)),  # a key counts its best phrase
    (scores(honcho=4.0, shimin=2.0, kita=1.0, doko=-3.0), Guess("1", False)),  # 3 ahead but low: confirmed
    (scores(honcho=8.0, shimin=2.0, kita=6.0, doko=-3.0), Guess("1", False)),  # only 2 ahead: confirmed
    (scores(honcho=8.0, shimin=2.0, kita=7.0, doko=-3.0), None),  # 1 ahead: nothing clear
    (scores(honcho=1.4, shimin=-1.0, kita=-0.6, doko=-3.0), None),  # ahead, but all low: noise, not an answer
])
def test_a_lead_is_taken_confirmed_or_not_enough(given, guess):
    assert scored(given, TABLE) == guess


def test_the_lead_is_over_the_next_key_not_the_next_phrase():
    """Two phrases of one venue (本庁舎, 市民課) scoring alike do not make it unclear."""
    assert scored(scores(honcho=9.0, shimin=8.9, kita=2.0, doko=0.0), TABLE) == Guess("1", True)


def test_phrases_not_scored_are_left_out_and_no_scores_give_nothing():
    assert scored(scores(kita=9.0, doko=1.0), TABLE) == Guess("2", True)
    assert scored((), TABLE) is None
    assert scored((("会議室", 9.0),), TABLE) is None


@pytest.mark.parametrize(("heard", "from_scores", "together"), [
    (None, None, None),
    (Guess("1", False), None, Guess("1", False)),
    (None, Guess("2", True), Guess("2", True)),
    (Guess("1", False), Guess("1", False), Guess("1", True)),  # two unsure sources agreeing: sure
    (Guess("1", True), Guess("2", False), Guess("1", False)),  # they differ: the sure one, confirmed
    (Guess("1", False), Guess("2", True), Guess("2", False)),
    (Guess("1", True), Guess("2", True), None),  # equally sure and different: ask again
    (Guess("1", False), Guess("2", False), None),
])
def test_two_guesses_agree_or_not(heard, from_scores, together):
    assert agree(heard, from_scores) == together


def test_the_runner_up_is_the_next_key_the_audio_spoke_for_nearly_as_much():
    """After 本庁舎 (4.5) is denied, 北支所 (3.0) is worth asking about; one far behind or low is not."""
    assert runner_up(scores(shimin=4.5, kita=3.0, doko=-1.0), TABLE, "1") == "2"
    assert runner_up(scores(shimin=7.5, kita=3.0, doko=-1.0), TABLE, "1") == ""  # 4.5 behind
    assert runner_up(scores(shimin=3.0, kita=1.5, doko=-1.0), TABLE, "1") == ""  # too low
    assert runner_up((), TABLE, "1") == ""
