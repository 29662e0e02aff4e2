"""An optional recogniser: ReazonSpeech's ESPnet conformer (reazonspeech-espnet-v2), run by ESPnet and
PyTorch, which are not installed by default (pip install 'madoguchi[espnet]'). The model is read from a
local folder in the published layout, exp/asr_train_*/config.yaml with valid.acc.ave_10best.pth beside it
and the feature statistics under exp/asr_stats_*/ (or a flat config.yaml + model.pth); never from a hub."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voice.asr import Transcript
from voice.asr.filters import clean
from voice.asr.reazonspeech import RATE, split
from voice.asr.whisper import ModelProblem

FOLDER_NAME = "reazonspeech-espnet"
REQUIRED = ("exp/asr_train_*/config.yaml with its .pth (valid.acc.ave_10best.pth) and the stats file the "
            "config names, as in reazonspeech-espnet-v2; or config.yaml and model.pth side by side")
HINT = f"copy the reazonspeech-espnet-v2 folder to models/{FOLDER_NAME}"
MODEL_NAMES = ("model.pth", "valid.acc.ave_10best.pth", "valid.acc.ave.pth", "valid.acc.best.pth")
WINDOW = 20 * RATE  # as reazonspeech.espnet.asr decodes
PADDING = (RATE, RATE // 2)  # silence before and after each window, as upstream
_CHDIR = threading.Lock()


def find_files(folder: Path) -> tuple[Path, Path] | None:
    """(config.yaml, model .pth) in the flat or the published layout, or None."""
    for config in (folder / "config.yaml", *sorted(folder.glob("exp/asr_train*/config.yaml"))):
        if config.is_file():
            models = [config.parent / n for n in MODEL_NAMES if (config.parent / n).is_file()]
            models = models or sorted(config.parent.glob("*.pth"))
            if models:
                return config, models[0]
    return None


def check(folder: Path) -> list[str]:
    """Problems with the model folder (empty when it is ready)."""
    if not folder.is_dir():
        return [f"{folder} does not exist ({HINT})"]
    files = find_files(folder)
    if files is None:
        return [f"no ESPnet model in {folder}: expected {REQUIRED} ({HINT})"]
    # the published config names its normalisation statistics relative to the model folder
    found = re.search(r"^\s*stats_file:\s*(\S+)", files[0].read_text(encoding="utf-8", errors="replace"), re.M)
    if found and not (folder / found[1]).is_file() and not Path(found[1]).is_file():
        return [f"{folder / found[1]} (named by {files[0]}) is missing ({HINT})"]
    return []


class EspnetRecognizer:
    name = "reazonspeech-espnet"

    def __init__(self, folder: Path, threads: int = 2, beam_size: int = 10):
        if importlib.util.find_spec("espnet2") is None:
            raise ModelProblem("the reazonspeech-espnet engine needs ESPnet and PyTorch, which are not installed: "
                               "install the optional extra: pip install 'madoguchi[espnet]' "
                               "(or set asr_engine to reazonspeech or whisper)")
        problems = check(folder)
        if problems:
            raise ModelProblem("; ".join(problems))
        config, model = find_files(folder)
        import torch
        from espnet2.bin.asr_inference import Speech2Text

        torch.set_num_threads(threads)
        with _CHDIR:  # relative paths in config.yaml resolve against the working directory
            before = Path.cwd()
            os.chdir(folder)
            try:
                self.model = Speech2Text(asr_train_config=str(config), asr_model_file=str(model), device="cpu",
                                         lm_weight=0.0, beam_size=beam_size, nbest=1)
            except Exception as e:
                raise ModelProblem(f"ESPnet cannot use the model in {folder}: {e}") from e
            finally:
                os.chdir(before)

    def transcribe(self, samples: np.ndarray, expected: Sequence[str] = ()) -> Transcript:
        """samples: int16 mono at 16 kHz. expected answers are not scored (the dialog matches their
        readings instead)."""
        started = time.perf_counter()
        texts, scores, tokens = [], 0.0, 0
        for piece in split(np.asarray(samples), WINDOW) if len(samples) else ():
            text, _, token_ids, hyp = self.model(np.pad(piece.astype(np.float32) / 32768.0, PADDING))[0]
            texts.append(text)
            scores += float(hyp.score)
            tokens += len(token_ids)
        text = clean("".join(texts))
        confidence = round(min(1.0, math.exp(scores / tokens)), 3) if text and tokens else 0.0
        return Transcript(text, confidence, seconds=time.perf_counter() - started)
