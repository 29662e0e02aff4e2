"""The production recogniser: ReazonSpeech k2 (a zipformer transducer trained on Japanese TV speech),
run by sherpa-onnx on the CPU. The model files are not shipped: the operator brings the published folder
(tokens.txt plus encoder/decoder/joiner-epoch-99-avg-1[.int8].onnx) on USB media and
`madoguchi models import DIR` copies it into data_dir/models/reazonspeech-k2. Nothing is fetched."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from db.files import fsync_dir
from voice.asr import Transcript
from voice.asr.filters import clean
from voice.asr.whisper import ModelProblem

FOLDER_NAME = "reazonspeech-k2"
PARTS = ("encoder", "decoder", "joiner")
SUFFIXES = (".int8.onnx", ".onnx")  # int8 preferred: a quarter of the size, about the same accuracy
REQUIRED = ("tokens.txt and encoder-, decoder- and joiner-epoch-99-avg-1.onnx "
            "(or all three as .int8.onnx) in one folder")
HINT = "run `madoguchi models import DIR` with the ReazonSpeech k2 model folder"
DECODINGS = ("greedy_search", "modified_beam_search")

RATE = 16000
PAD_SECONDS = 0.9  # silence added at both ends, as reazonspeech.k2.asr does
MAX_SECONDS = 30.0  # upstream warns past this (padding included): k2 memory grows with the input
PIECE = int((MAX_SECONDS - 2 * PAD_SECONDS) * RATE)  # longest unpadded piece given to the model
CUT_SEARCH = 3 * RATE  # a long input is cut at its quietest 100 ms within the last 3 s of a piece
DEFAULT_CONFIDENCE = 0.5  # for non-empty text when the engine reports no token log-probabilities


def model_name(part: str, suffix: str) -> str:
    return f"{part}-epoch-99-avg-1{suffix}"


def _problems(folder: Path) -> list[str]:
    """What is missing or empty, naming the files (no advice)."""
    if not folder.is_dir():
        return [f"{folder} does not exist"]
    suffix = next((s for s in SUFFIXES if all((folder / model_name(p, s)).is_file() for p in PARTS)), None)
    if suffix is None:  # no complete set: name what the set that was begun lacks (fp32 when none was)
        suffix = ".int8.onnx" if any((folder / model_name(p, ".int8.onnx")).exists() for p in PARTS) else ".onnx"
    problems = []
    for name in ("tokens.txt", *(model_name(p, suffix) for p in PARTS)):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif path.stat().st_size == 0:
            problems.append(f"{path} is empty")
    return problems


def check(folder: Path) -> list[str]:
    """Problems with an installed model folder (empty when it is ready)."""
    return [f"{problem} ({HINT})" for problem in _problems(folder)]


def find_files(folder: Path) -> dict[str, Path]:
    """tokens, encoder, decoder and joiner: all three .int8.onnx when they are all there, else all fp32."""
    problems = check(folder)
    if problems:
        raise ModelProblem("; ".join(problems))
    suffix = next(s for s in SUFFIXES if all((folder / model_name(p, s)).is_file() for p in PARTS))
    return {"tokens": folder / "tokens.txt", **{p: folder / model_name(p, suffix) for p in PARTS}}


def probe(folder: Path, timeout: float = 300) -> list[str]:
    """Load the model and decode a second of silence in a child process. sherpa-onnx ends the whole
    process (exit code 255, message on stderr) for some bad models, e.g. a decoder without the
    vocab_size/context_size metadata or an encoder with the wrong input types, so this cannot be
    tried in the process that has to survive it."""
    code = ("import sys, numpy; from pathlib import Path; from voice.asr.reazonspeech import ReazonSpeechRecognizer;"
            "ReazonSpeechRecognizer(Path(sys.argv[1]), threads=1).transcribe(numpy.zeros(16000, numpy.int16))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(Path(__file__).parents[2]),
                                                                    os.environ.get("PYTHONPATH"))))}
    try:
        run = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True,
                             env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"loading the model in {folder} took longer than {timeout:.0f} s"]
    if run.returncode == 0:
        return []
    lines = [line.strip() for line in run.stderr.splitlines() if line.strip()]
    return [f"sherpa-onnx cannot use the model in {folder}: {lines[-1] if lines else f'exit code {run.returncode}'}"]


def _locate(source: Path) -> Path:
    """source itself when it holds model files, else its only subfolder that does."""
    def holds(folder: Path) -> bool:
        names = ("tokens.txt", *(model_name(p, s) for p in PARTS for s in SUFFIXES))
        return any((folder / name).exists() for name in names)

    if not source.is_dir():
        raise ModelProblem(f"{source} is not a folder (unpack the model archive first)")
    if holds(source):
        return source
    found = sorted(sub for sub in source.iterdir() if sub.is_dir() and not sub.name.startswith(".") and holds(sub))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ModelProblem(f"no ReazonSpeech k2 model in {source}: expected {REQUIRED}")
    raise ModelProblem(f"{source} holds {len(found)} model folders ({', '.join(f.name for f in found)}): name one")



def import_folder(source: Path, models_dir: Path) -> Path:
    """Copy the model from source (the model folder, or a folder holding only it, as the published
    archive unpacks) into models_dir/reazonspeech-k2. The copy is made in a hidden sibling, synced,
    checked and trial-loaded before it replaces the old install, which a failure leaves as it was."""
    origin = _locate(Path(source))
    problems = _problems(origin)
    if problems:
        raise ModelProblem(f"not a usable ReazonSpeech k2 model ({REQUIRED}): " + "; ".join(problems))
    files = find_files(origin)
    models_dir.mkdir(parents=True, exist_ok=True)
    folder = models_dir / FOLDER_NAME
    tmp, old = models_dir / f".{FOLDER_NAME}.{os.getpid()}.part", models_dir / f".{FOLDER_NAME}.{os.getpid()}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for path in files.values():
            with open(path, "rb") as src, open(tmp / path.name, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
        fsync_dir(tmp)
        problems = _problems(tmp) or probe(tmp)
        if problems:
            raise ModelProblem("; ".join(problems))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # a directory cannot be renamed over a full one: move the old install aside, put the new one in place
    shutil.rmtree(old, ignore_errors=True)
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    fsync_dir(models_dir)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def split(samples: np.ndarray, limit: int = PIECE) -> list[np.ndarray]:
    """Pieces of at most limit samples, each cut at the quietest 100 ms in the last 3 s before the limit."""
    pieces, start, step = [], 0, RATE // 10
    while len(samples) - start > limit:
        lo = start + max(limit - CUT_SEARCH, limit // 2)
        level = np.abs(samples[lo:start + limit].astype(np.int32))
        total = np.concatenate([[0], np.cumsum(level)])
        cut = lo + int(np.argmin(total[step:] - total[:-step])) + step // 2
        pieces.append(samples[start:cut])
        start = cut
    pieces.append(samples[start:])
    return pieces


class ReazonSpeechRecognizer:
    name = "reazonspeech"

    def __init__(self, folder: Path, threads: int = 2, decoding: str = "greedy_search"):
        if decoding not in DECODINGS:
            raise ValueError(f"decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")
        files = find_files(folder)
        import sherpa_onnx

        try:
            self.recognizer = sherpa_onnx.OfflineRecognizer.from_transducer(
                encoder=str(files["encoder"]), decoder=str(files["decoder"]), joiner=str(files["joiner"]),
                tokens=str(files["tokens"]), num_threads=threads, sample_rate=RATE, feature_dim=80,
                decoding_method=decoding)
        except Exception as e:  # sherpa-onnx raises RuntimeError, IndexError, ValueError for bad files
            raise ModelProblem(f"sherpa-onnx cannot use the model in {folder}: {e} ({HINT})") from e
        self.files = files

    def transcribe(self, samples: np.ndarray, expected: Sequence[str] = ()) -> Transcript:
        """samples: int16 mono at 16 kHz; longer than 30 s is recognised in pieces and joined. expected
        answers are not scored (sherpa-onnx scores no given text): the dialog matches their readings."""
        started = time.perf_counter()
        pad = np.zeros(int(PAD_SECONDS * RATE), np.float32)
        texts, log_probs = [], []
        for piece in split(np.asarray(samples)) if len(samples) else ():
            stream = self.recognizer.create_stream()
            stream.accept_waveform(RATE, np.concatenate([pad, piece.astype(np.float32) / 32768.0, pad]))
            self.recognizer.decode_stream(stream)
            texts.append(stream.result.text)
            log_probs += list(stream.result.ys_log_probs)
        text = clean("".join(texts))
        if not text:
            confidence = 0.0
        elif log_probs:  # geometric mean of the chosen tokens' probabilities
            confidence = round(math.exp(sum(log_probs) / len(log_probs)), 3)
        else:
            confidence = DEFAULT_CONFIDENCE
        return Transcript(text, confidence, seconds=time.perf_counter() - started)
