"""Guesses at a closed question's answer, and how two of them agree.

Two ways to a guess: the transcripts' readings matched against the expected answers (voice/nlu/
readings.py), and the recogniser's scores of the expected answers against the audio itself
(voice.asr.Transcript.scores: the decoder forced through each answer, less the same under silence).
Whisper base on a noisy phone line writes 「本庁舎でお願いします」 as 「ホントローカーでお願いいたします」, so
the transcripts often miss what the scores still find: bench/bench_closed_answers.py measures both.

The thresholds come from that benchmark: a score of 5 or more that leads the next answer by 3 or more
was right 124 times in 125 on the demo's venues, and a lead of 1.5 gave a guess worth confirming; a
caller who answered something else (「もう一度」「予約をお願いします」 at the venue question) never reached
the first and reached the second in 18 of 45. Noise with nobody speaking (babble, a bump) scores every
answer low, below 1.5, yet one may lead: a guess worth confirming needs a score of 2 as well.
"""

from __future__ import annotations

from dataclasses import dataclass

SURE_SCORE, SURE_LEAD = 5.0, 3.0
LIKELY_SCORE, LIKELY_LEAD = 2.0, 1.5
RUNNER_UP_GAP = 3.0  # a second answer this close to a denied first is asked about next


@dataclass(frozen=True)
class Guess:
    key: str
    sure: bool  # take it without asking; otherwise ask the caller to confirm it


def phrases_of(table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every phrase of a table once, in order: what a question sends the recogniser to score."""
    return tuple(dict.fromkeys(phrase for phrases in table.values() for phrase in phrases))


def ranked(scores: tuple[tuple[str, float], ...], table: dict[str, tuple[str, ...]]) -> list[tuple[str, float]]:
    """The table's keys by how much the audio speaks for them (a key's best phrase), best first; keys
    none of whose phrases were scored are left out."""
    by_phrase = dict(scores)
    per_key = {key: max(by_phrase[p] for p in phrases if p in by_phrase)
               for key, phrases in table.items() if any(p in by_phrase for p in phrases)}
    return sorted(per_key.items(), key=lambda item: -item[1])


def scored(scores: tuple[tuple[str, float], ...], table: dict[str, tuple[str, ...]]) -> Guess | None:
    """The key whose phrases the audio speaks for most, when it clearly leads the others (phrases the
    recogniser did not score are left out; None without scores or without a clear lead)."""
    keys = ranked(scores, table)
    if not keys:
        return None
    (best, top), lead = keys[0], keys[0][1] - keys[1][1] if len(keys) > 1 else keys[0][1]
    if top >= SURE_SCORE and lead >= SURE_LEAD:
        return Guess(best, True)
    return Guess(best, False) if top >= LIKELY_SCORE and lead >= LIKELY_LEAD else None


def runner_up(scores: tuple[tuple[str, float], ...], table: dict[str, tuple[str, ...]], guess: str) -> str:
    """The key to ask about next when the caller says the guess was wrong: the best other key, if the
    audio spoke for it nearly as much (within RUNNER_UP_GAP, and at least LIKELY_SCORE); else ""."""
    keys = dict(ranked(scores, table))
    top = keys.pop(guess, None)
    best = max(keys, key=keys.get, default="")
    if not best or top is None or keys[best] < LIKELY_SCORE or top - keys[best] > RUNNER_UP_GAP:
        return ""
    return best


def agree(heard: Guess | None, scored: Guess | None) -> Guess | None:
    """The transcripts' guess and the scores' together: the same key from both is sure; one alone
    stands as it is; two that differ leave the sure one to be confirmed, or nothing when both are
    equally sure (ask again)."""
    if heard is None or scored is None:
        return heard or scored
    if heard.key == scored.key:
        return Guess(heard.key, True)
    if heard.sure != scored.sure:
        return Guess((heard if heard.sure else scored).key, False)
    return None
