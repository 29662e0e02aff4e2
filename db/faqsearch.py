"""Answer candidates from the FAQ, found on the box: SudachiPy cuts the question into words, BM25 (bm25s)
ranks the entries by their normalised forms (忘れた → 忘れる, 保険証) *and* by the sounds of the words
(katakana readings, in overlapping three-sound pieces), so 「あんしょうばんごう」 finds 暗証番号 and a
misrecognised 「行進」 (コウシン) still finds 更新. What people ask (the question, its other phrasings,
the category) weighs more than the answer's text. Each candidate carries the answer's sentence that
matches best, its matching words marked. Nothing here reads the network or the database: the index is
built from plain documents (db/faq.py keeps one per process and rebuilds it when the FAQ changes)."""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field

import bm25s
import numpy as np
from sudachipy import Dictionary, SplitMode

QUERY_MAX_CHARS = 500  # a live transcript can be long: its last words are the question
ASK_WEIGHT, ANSWER_WEIGHT, READING_WEIGHT = 1.0, 0.35, 0.6
# BM25 scores depend on the corpus; whether an entry is about the question at all does not: an entry is
# a candidate when it shares this part of the question's three-sound pieces or content words
# (bench/faq_questions.toml: the unrelated questions share less, nearly all answerable ones more)
MIN_COVERAGE = 0.25
_CONTENT = {"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "接頭辞", "接尾辞"}
_SKIP_READING = {"補助記号", "空白", "感動詞", "記号"}
# words in nearly every question: they would only add noise to the ranking
_STOP = {"為る", "有る", "居る", "成る", "出来る", "言う", "思う", "事", "物", "為", "様", "其の", "此の",
         "貰う", "下さる", "頂く", "行く", "来る", "分かる", "知る", "教える", "どう", "何", "いつ", "どこ",
         "良い", "いい", "方", "所", "今", "ちょっと", "方法", "聞く", "仕舞う"}
_SENTENCE = re.compile(r"[^。！？\n]+[。！？]?")
_HIRAGANA = {chr(c): chr(c + 0x60) for c in range(0x3041, 0x3097)}


@dataclass(frozen=True)
class FaqDocument:
    """What the index knows of one entry."""

    id: int
    key: str
    question: str
    answer: str
    phrasings: tuple[str, ...] = ()
    category: str = ""
    bring: str = ""
    public: bool = True


@dataclass(frozen=True)
class Candidate:
    document: FaqDocument
    score: float
    passage: tuple[tuple[str, bool], ...]  # the best-matching sentence: (text, matched) pieces
    question: tuple[tuple[str, bool], ...]  # the entry's question, its matching words marked


@dataclass
class _Words:
    features: list[str] = field(default_factory=list)  # "w:" normalised forms
    sounds: list[str] = field(default_factory=list)  # "r:" three-sound pieces of the reading
    reading: str = ""  # the whole question in katakana, without long-vowel marks


class _Tokenizer:
    """One SudachiPy dictionary per process, a tokenizer per thread (they are not thread-safe)."""

    def __init__(self):
        self._dictionary = None
        self._local = threading.local()
        self._lock = threading.Lock()

    def __call__(self, text: str, mode=SplitMode.C):
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            with self._lock:
                if self._dictionary is None:
                    self._dictionary = Dictionary(dict="core")
            tokenizer = self._local.tokenizer = self._dictionary.tokenizer()
        return tokenizer.tokenize(text, mode)


tokenize = _Tokenizer()


def clean(text: str) -> str:
    """NFKC (full-width letters and digits), one space for any run of blanks, at most QUERY_MAX_CHARS."""
    text = " ".join(unicodedata.normalize("NFKC", text or "").split())
    return text[-QUERY_MAX_CHARS:]


def katakana(text: str) -> str:
    return "".join(_HIRAGANA.get(c, c) for c in text)


def words(text: str) -> _Words:
    found = _Words()
    text = clean(text)
    if not text:
        return found
    reading = []
    for m in tokenize(text):
        pos = m.part_of_speech()[0]
        if pos in _SKIP_READING:
            continue
        sound = katakana(m.reading_form() if m.reading_form() != "キゴウ" else m.surface())
        reading.append(sound)
        normal = m.normalized_form()
        if pos in _CONTENT and normal not in _STOP:
            found.features.append("w:" + normal)
            # the parts of a compound (電子証明書 → 電子, 証明, 書) meet questions that use one of them
            if len(m.surface()) > 2:
                parts = [p.normalized_form() for p in tokenize(m.surface(), SplitMode.A)]
                if len(parts) > 1:
                    found.features.extend("w:" + p for p in parts if p not in _STOP)
    found.reading = "".join(reading).replace("ー", "")
    found.sounds = ["r:" + found.reading[i:i + 3] for i in range(len(found.reading) - 2)]
    return found


def _bm25(corpus: list[list[str]]) -> bm25s.BM25:
    retriever = bm25s.BM25()
    # bm25s wants a non-empty vocabulary; an entry without words still gets a row
    retriever.index([tokens or ["\0"] for tokens in corpus], show_progress=False)
    return retriever


def _scores(retriever: bm25s.BM25, tokens: list[str], size: int) -> np.ndarray:
    known = [t for t in tokens if t in retriever.vocab_dict]
    if not known:
        return np.zeros(size)
    return retriever.get_scores(known)


class FaqIndex:
    """The answer candidates over a set of documents."""

    def __init__(self, documents: list[FaqDocument]):
        self.documents = list(documents)
        asks, answers = [], []
        for d in self.documents:
            ask = words("\n".join([d.question, *d.phrasings, d.category]))
            answer = words("\n".join([d.answer, d.bring]))
            asks.append(ask)
            answers.append(answer)
        # each entry's words and sounds (all fields), for telling whether it is about the question at all
        self._vocabulary = [set(a.features) | set(a.sounds) | set(b.features) | set(b.sounds)
                            for a, b in zip(asks, answers, strict=True)]
        size = len(self.documents)
        self._size = size
        if size:
            self._ask = _bm25([w.features for w in asks])
            self._ask_sound = _bm25([w.sounds for w in asks])
            self._answer = _bm25([w.features for w in answers])
            self._answer_sound = _bm25([w.sounds for w in answers])

    def coverage(self, i: int, asked: _Words) -> float:
        """The larger of the parts of the question's content words, and of its sounds, that entry i has."""
        have = self._vocabulary[i]
        words_part = sum(f in have for f in set(asked.features)) / len(set(asked.features)) if asked.features else 0
        sounds_part = sum(s in have for s in set(asked.sounds)) / len(set(asked.sounds)) if asked.sounds else 0
        return max(words_part, sounds_part)

    def search(self, query: str, limit: int = 5, public_only: bool = False) -> list[Candidate]:
        """The best `limit` entries about the question (MIN_COVERAGE), best first."""
        asked = words(query)
        if not self._size or not (asked.features or asked.sounds):
            return []
        scores = (ASK_WEIGHT * (_scores(self._ask, asked.features, self._size)
                                + READING_WEIGHT * _scores(self._ask_sound, asked.sounds, self._size))
                  + ANSWER_WEIGHT * (_scores(self._answer, asked.features, self._size)
                                     + READING_WEIGHT * _scores(self._answer_sound, asked.sounds, self._size)))
        if public_only:
            scores = np.where([d.public for d in self.documents], scores, -1.0)
        found = []
        for i in np.argsort(-scores, kind="stable"):
            if len(found) == limit or scores[i] <= 0:
                break
            if self.coverage(i, asked) < MIN_COVERAGE:
                continue
            document = self.documents[i]
            found.append(Candidate(document, float(scores[i]), best_passage(document.answer, asked),
                                   marked(document.question, asked)))
        return found


def marked(text: str, asked: _Words) -> tuple[tuple[str, bool], ...]:
    """text cut into (piece, matched) pieces: a word is matched when the question has its normalised
    form, or says its reading (three sounds or more)."""
    normals = {f[2:] for f in asked.features}
    pieces: list[tuple[str, bool]] = []
    at = 0
    for begin, end, normal, sound in words_spans(text):
        if not (normal in normals or (len(sound) >= 3 and sound.replace("ー", "") in asked.reading)):
            continue
        if begin > at:
            pieces.append((text[at:begin], False))
        if pieces and pieces[-1][1] and begin == at:  # next to a marked word: one mark
            pieces[-1] = (pieces[-1][0] + text[begin:end], True)
        else:
            pieces.append((text[begin:end], True))
        at = end
    if at < len(text):
        pieces.append((text[at:], False))
    return tuple(pieces)


def words_spans(text: str) -> list[tuple[int, int, str, str]]:
    """(begin, end, normalised form, reading) of each word of text (not blanks or punctuation)."""
    return [(m.begin(), m.end(), m.normalized_form(), katakana(m.reading_form())) for m in tokenize(text)
            if m.part_of_speech()[0] in _CONTENT and m.normalized_form() not in _STOP]


def best_passage(answer: str, asked: _Words) -> tuple[tuple[str, bool], ...]:
    """The answer's sentence sharing the most words with the question (the first when none does)."""
    sentences = [s.strip() for s in _SENTENCE.findall(answer) if s.strip()]
    if not sentences:
        return ((answer, False),)
    best, best_count = sentences[0], 0
    for sentence in sentences:
        count = sum(matched for _, matched in marked(sentence, asked))
        if count > best_count:
            best, best_count = sentence, count
    return marked(best, asked)
