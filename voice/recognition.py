"""The shared recognition service: the ASR model is loaded once, in one process, and the voice workers
send it utterances over a Unix socket (`madoguchi voice` starts it as `run_dir/asr.sock`).

Wire format, both ways: a 4-byte big-endian length and a JSON header, then (requests only) a 4-byte
length and the utterance as 16 kHz 16-bit mono PCM. A request's header may name the answers the
question expects ({"expected": [...]}, at most MAX_EXPECTED short texts); the reply carries the text,
confidence, other hypotheses, seconds and a score per expected answer. One request per connection
keeps a crashed or slow request from poisoning the next.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import struct
import threading
from pathlib import Path

import numpy as np

from voice.asr import Transcript

log = logging.getLogger(__name__)

MAX_PCM_BYTES = 31 * 16000 * 2  # a little over the 30 s an utterance may last
MAX_HEADER_BYTES = 64 * 1024
MAX_EXPECTED, MAX_EXPECTED_CHARACTERS = 64, 40  # a question's answers: a few dozen, each a few words


class RecognitionFailed(Exception):
    pass


def load_engine(settings):
    """The recogniser the settings name, with its model verified (ModelProblem says what to do)."""
    if settings.asr_engine == "whisper":
        from voice.asr.whisper import FOLDER_NAME, WhisperRecognizer

        return WhisperRecognizer(settings.models_dir / FOLDER_NAME, threads=settings.asr_threads)
    if settings.asr_engine == "reazonspeech":
        from voice.asr.reazonspeech import FOLDER_NAME, ReazonSpeechRecognizer

        return ReazonSpeechRecognizer(settings.models_dir / FOLDER_NAME, threads=settings.asr_threads)
    from voice.asr.espnet import FOLDER_NAME, EspnetRecognizer

    return EspnetRecognizer(settings.models_dir / FOLDER_NAME)


def _send(sock: socket.socket, header: dict, payload: bytes | None = None) -> None:
    data = json.dumps(header, ensure_ascii=False).encode()
    parts = [struct.pack(">I", len(data)), data]
    if payload is not None:
        parts += [struct.pack(">I", len(payload)), payload]
    sock.sendall(b"".join(parts))


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 16))
        if not chunk:
            raise ConnectionError("connection closed mid-message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_block(sock: socket.socket, limit: int) -> bytes:
    (size,) = struct.unpack(">I", _read_exact(sock, 4))
    if size > limit:
        raise ValueError(f"message of {size} bytes is over the limit of {limit}")
    return _read_exact(sock, size)


def _expected(value) -> tuple[str, ...]:
    """The expected answers of a request, checked: a list of at most MAX_EXPECTED non-empty short texts."""
    if not isinstance(value, list) or len(value) > MAX_EXPECTED:
        raise ValueError(f"expected must be a list of at most {MAX_EXPECTED} texts")
    if not all(isinstance(text, str) and 0 < len(text.strip()) <= MAX_EXPECTED_CHARACTERS for text in value):
        raise ValueError(f"each expected answer must be a text of 1 to {MAX_EXPECTED_CHARACTERS} characters")
    return tuple(value)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server: RecognitionServer = self.server  # type: ignore[assignment]
        try:
            header = json.loads(_read_block(self.request, MAX_HEADER_BYTES))
            if not isinstance(header, dict):
                raise ValueError("the header must be an object")
            expected = _expected(header.get("expected", []))
            pcm = _read_block(self.request, MAX_PCM_BYTES)
            if len(pcm) % 2:
                raise ValueError("PCM of odd length")
        except (ValueError, ConnectionError, json.JSONDecodeError) as exc:
            log.warning("recognition request refused: %s", exc)
            self._reply({"error": f"bad request: {exc}"})
            return
        samples = np.frombuffer(pcm, dtype=np.int16)
        try:
            with server.slots:
                transcript = server.engine.transcribe(samples, expected)
        except Exception as exc:  # one failed utterance must not take the service down
            log.exception("recognition failed")
            self._reply({"error": f"recognition failed: {type(exc).__name__}"})
            return
        self._reply({"text": transcript.text, "confidence": transcript.confidence,
                     "alternatives": list(transcript.alternatives), "seconds": transcript.seconds,
                     "scores": list(transcript.scores)})
        log.info("recognised %.1f s of speech in %.2f s (%d characters)",
                 len(samples) / 16000, transcript.seconds, len(transcript.text))

    def _reply(self, header: dict) -> None:
        with contextlib.suppress(OSError):  # the worker gave up (the call ended): nothing to tell
            _send(self.request, header)


class RecognitionServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, engine, parallel: int = 1):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.engine = engine
        self.slots = threading.BoundedSemaphore(parallel)
        super().__init__(str(path), _Handler)
        path.chmod(0o600)


class RecognitionClient:
    def __init__(self, path: Path, timeout_s: float = 30.0):
        self.path = str(path)
        self.timeout_s = timeout_s

    def transcribe(self, pcm: bytes, expected: tuple[str, ...] = ()) -> Transcript:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout_s)
                sock.connect(self.path)
                _send(sock, {"expected": list(expected)} if expected else {}, pcm)
                reply = json.loads(_read_block(sock, MAX_HEADER_BYTES))
        except (OSError, ValueError, ConnectionError) as exc:
            raise RecognitionFailed(f"recognition service unavailable: {exc}") from exc
        if "error" in reply:
            raise RecognitionFailed(reply["error"])
        scores = tuple(float(score) for score in reply.get("scores", ()))
        if scores and len(scores) != len(expected):
            raise RecognitionFailed(f"{len(scores)} scores for {len(expected)} expected answers")
        return Transcript(reply["text"], float(reply["confidence"]), tuple(reply.get("alternatives", ())),
                          float(reply.get("seconds", 0.0)), scores=scores)
