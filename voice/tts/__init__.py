"""Speech synthesis for the phone: engines behind one function, output band-limited to the phone at
16 kHz (the media bridge's rate), and every prompt cached on disk so a repeated prompt costs nothing."""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice import audio
from voice.tts import kokoro

RATE = 16000


def split_sentences(text: str) -> list[str]:
    """「。」「！」「？」 end a sentence; what follows a sentence's end belongs to the next one."""
    return [part for part in re.split(r"(?<=[。！？!?])", text) if part.strip()] or [text]


@dataclass(frozen=True)
class Voice:
    engine: str = "openjtalk"  # "openjtalk" (Open JTalk, pyopenjtalk-plus) or "kokoro" (Kokoro-82M)
    speed: float = 1.0  # below 1 is slower: 0.85 suits many elderly callers
    volume: float = 0.7  # peak level, 0..1 (headroom keeps band-limiting from clipping)
    name: str = ""  # the engine's voice; "" is its default (Open JTalk: the bundled mei; Kokoro: jf_alpha)

    def validate(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown TTS engine {self.engine!r} (known: {', '.join(ENGINES)})")
        names = VOICE_NAMES[self.engine]
        if self.name and self.name not in names:
            known = ", ".join(names) if names else "none: leave the voice empty for the bundled one"
            raise ValueError(f"unknown {self.engine} voice {self.name!r} (known: {known})")
        if not 0.5 <= self.speed <= 2.0:
            raise ValueError(f"speech speed {self.speed} is outside 0.5-2.0")
        if not 0.05 <= self.volume <= 1.0:
            raise ValueError(f"volume {self.volume} is outside 0.05-1.0")


def _openjtalk(text: str, voice: Voice) -> tuple[np.ndarray, int]:
    import pyopenjtalk  # loads its bundled dictionary: nothing is downloaded

    samples, rate = pyopenjtalk.tts(text, speed=voice.speed)
    return samples, rate


def _kokoro(text: str, voice: Voice) -> tuple[np.ndarray, int]:
    return kokoro.synthesize(text, voice.name, voice.speed)  # the model from `madoguchi models setup`


ENGINES = {"openjtalk": _openjtalk, "kokoro": _kokoro}
VOICE_NAMES: dict[str, tuple[str, ...]] = {"openjtalk": (), "kokoro": kokoro.VOICES}  # besides ""
DEFAULT_NAMES = {"openjtalk": "", "kokoro": kokoro.DEFAULT_VOICE}  # what "" stands for


def synthesize(text: str, voice: Voice = Voice()) -> np.ndarray:
    """int16 samples at 16 kHz, phone band, peak at voice.volume."""
    voice.validate()
    if not text.strip():
        raise ValueError("nothing to say")
    samples, rate = ENGINES[voice.engine](text, voice)
    samples = np.asarray(samples, dtype=np.float64)
    peak = float(np.max(np.abs(samples))) or 1.0
    scaled = np.round(samples / peak * voice.volume * 32767).astype(np.int16)
    return audio.phone_band(audio.resample(scaled, rate, RATE), RATE)


class PromptCache:
    """Synthesised prompts as WAV files named by the hash of what produced them (text and the whole voice)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, text: str, voice: Voice) -> Path:
        # "" and the default it stands for share a file; Open JTalk's keys are those it had before Kokoro
        name = voice.name or DEFAULT_NAMES.get(voice.engine, "")
        engine = f"{voice.engine}|{name}" if name else voice.engine
        key = hashlib.sha256(f"{engine}|{voice.speed}|{voice.volume}|{text}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.wav"

    def get(self, text: str, voice: Voice = Voice()) -> np.ndarray:
        path = self.path(text, voice)
        if path.exists():
            with wave.open(str(path), "rb") as w:
                return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        samples = synthesize(text, voice)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(samples.tobytes())
        # every worker process may make the same prompt at once: each writes its own temporary file
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.part")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)  # a prompt is not personal data and can be re-made: no fsync needed
        return samples
