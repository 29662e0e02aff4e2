"""Closed sets of answers: yes and no, what the caller wants (book, check or change, a person), and the
words that work at any question (repeat, slower, a person). Each set lists what callers say and
what Whisper base is known to hear instead (「いいえ」 comes back as 「いいね」 or 「いえ」), matched by
sound (voice/nlu/readings.py) over the recogniser's hypotheses.

decide() turns a match, and the recogniser's scores of what callers say (the *_SAID phrases, scored
against the audio: voice/nlu/scores.py), into what the dialog does: accept it, confirm it, or ask again.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice.nlu.numbers import runs, value
from voice.nlu.readings import canonical, closest, similarity
from voice.nlu.scores import Guess, agree, scored

YES_NO = {
    "yes": ("はい", "はい、そうです", "はい、お願いします", "そうです", "ええ、そうです", "お願いします", "それでいいです",
            "それでお願いします", "大丈夫です", "合っています", "あっています", "間違いありません", "よろしいです",
            "はいはい", "うん", "オーケー", "いいです", "結構です、お願いします", "ええ、はい"),
    "no": ("いいえ", "いいえ、違います", "違います", "ちがいます", "違う", "いや", "いや、違います", "だめです", "ダメ",
           "間違っています", "いいね", "いえ", "いいえ違います", "いえ、違います", "いいね、違います", "違いますね"),
}
INTENTS = {
    "book": ("予約", "予約したい", "予約をお願いします", "予約したいです", "申し込み", "新しく予約", "予約を取りたい",
             "電子証明書の更新"),
    "manage": ("予約の確認", "確認", "変更", "予約の変更", "日にちを変えたい", "キャンセル", "取り消し", "取消",
               "予約の取り消し", "予約のキャンセル", "キャンセルしたい", "変えたい"),
    "person": ("オペレーター", "担当者", "担当の人", "係の人", "人と話したい", "職員", "人間", "オペレーターをお願いします"),
}
MANAGE = {
    "change": ("変更", "変更したい", "日にちを変えたい", "時間を変えたい", "変えたい", "別の日"),
    "cancel": ("キャンセル", "キャンセルしたい", "取り消し", "取り消したい", "取消", "やめたい"),
    "keep": ("確認だけ", "確認", "そのまま", "何もしない", "大丈夫です"),
}
# what callers say, scored against the audio (each phrase costs the recogniser about 8 ms; 「ええ」 is
# left out: the end of 「いいえ」 speaks for it)
YES_NO_SAID = ("はい", "そうです", "お願いします", "いいえ", "違います")
INTENTS_SAID = ("予約", "予約したい", "新しく予約", "予約の確認", "予約の変更", "予約の取り消し", "予約のキャンセル",
                "確認", "変更", "キャンセル", "取り消し", "オペレーター", "担当者")
MANAGE_SAID = ("変更", "日にちを変えたい", "キャンセル", "取り消し", "確認だけ", "そのまま")
COMMANDS = {
    "repeat": ("もう一度", "もう一回", "もう一度お願いします", "繰り返して", "え、何ですか", "もう一度言ってください"),
    "slow": ("ゆっくり", "ゆっくりお願いします", "ゆっくり話して", "ゆっくり言ってください"),
    "person": INTENTS["person"],
}

ACCEPT, CONFIRM = 0.8, 0.6  # combined score: take it; take it once the caller says yes


@dataclass(frozen=True)
class Decision:
    key: str  # the matched answer ("" when nothing matched)
    action: str  # "accept" / "confirm" / "retry"
    score: float


def decide(heard: tuple[str, ...], confidence: float, answers: dict[str, tuple[str, ...]],
           scores: tuple[tuple[str, float], ...] = ()) -> Decision:
    """Match what was heard against a closed set and decide: a close match with a sure recogniser is
    taken, a fair one is confirmed, the rest asked again; the recogniser's scores of the answers (when
    it gave any) agree with that or not (voice/nlu/scores.py agree())."""
    key, similarity = closest(heard, answers)
    score = similarity * (0.6 + 0.4 * min(1.0, max(0.0, confidence)))
    matched = Guess(key, score >= ACCEPT) if key and score >= CONFIRM else None
    guess = agree(matched, scored(scores, answers))
    if guess is None:
        return Decision("", "retry", score)
    return Decision(guess.key, "accept" if guess.sure else "confirm", score)


def command(heard: tuple[str, ...]) -> str:
    """"repeat", "slow" or "person" when that is what the caller said at any question, else ""."""
    key, similarity = closest(heard, COMMANDS)
    return key if similarity >= 0.85 else ""


POLITE_TAILS = ("オネガイシマス", "オネガイ", "デス", "デ", "ネ", "ヲ", "ガ")


def choice(hypotheses: tuple[str, ...], count: int) -> int | None:
    """A numbered option said (1..count): 「1番」「にばんめ」, or a number said alone (「さん」「3です」),
    from the first hypothesis that holds one; a number inside other words (シ in シショ) is none."""
    for text in hypotheses:
        said = canonical(text)
        for numerals, counter in runs(said):
            number = value(numerals)
            if counter is not None and counter.text in ("バン", "メ") and number and 1 <= number <= count:
                return number
        core = said
        while (shorter := next((core.removesuffix(t) for t in POLITE_TAILS if core.endswith(t)), core)) != core:
            core = shorter
        alone = runs(core)
        if len(alone) == 1 and "".join(t.text for t in alone[0][0]) == core:
            number = value(alone[0][0])
            if number and 1 <= number <= count:
                return number
    return None


def numbered(number: int) -> tuple[str, ...]:
    """A numbered option as callers' 「…番」 is written, for scoring: 「1番」 and 「一番」 (Whisper writes
    either; a lone 「一番です」 in noise scored clearly only as 「一番」, and is the menus' worst heard)."""
    return (f"{number}番", f"{'一二三四五六七八九'[number - 1]}番") if 1 <= number <= 9 else (f"{number}番",)


NEXT = ("ツギ", "ツギノ", "ツギオネガイシマス", "ツギヘ")
NEXT_SAID = ("次の会場", "次")  # scored against the audio


def asks_next(hypotheses: tuple[str, ...]) -> bool:
    """「次」 said at a menu: a short answer that sounds like it (Whisper hears the lone word as 「月」
    or 「すぎ」), never a numbered option."""
    for text in hypotheses:
        said = canonical(text)
        if said.startswith("ツギ"):
            return True
        if 0 < len(said) <= 3 and choice((text,), 9) is None and similarity(said, "ツギ") >= 0.5:
            return True
    return False
