"""Speech synthesis for the phone: engines behind one function, output band-limited to the phone at
16 kHz (the media bridge's rate), and every prompt cached on disk so a repeated prompt costs nothing.

Each sentence is made on its own and its leading and trailing silence trimmed (by energy, keeping a
few tens of ms so no consonant is clipped): the engines pad every utterance with 0.2-0.6 s of their
own, which put about 1 s between the sentences of a prompt and invited callers to answer mid-prompt.
Sentences are then SENTENCE_GAP_S apart, a natural pause, whether joined here or played one by one
(voice/sip/helpers.py appends sentence_pause() to every piece but the last)."""

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
SENTENCE_GAP_S = 0.3  # silence between two sentences of a prompt, from the end of one to the start of the next
KEEP_LEAD_S, KEEP_TAIL_S = 0.04, 0.08  # silence kept before and after the speech (a weak onset, a fading end)
TRIM_DB = -40.0  # quieter than this, below the loudest 10 ms of the piece, is silence
FADE_S = 0.005  # the kept margins' outer ends are faded, so a cut never clicks


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
    """int16 samples at 16 kHz, phone band, peak at voice.volume; sentence by sentence, each trimmed of
    the engine's silence, SENTENCE_GAP_S apart, with no silence before the first or after the last."""
    voice.validate()
    if not text.strip():
        raise ValueError("nothing to say")
    pieces: list[np.ndarray] = []
    for sentence in split_sentences(text):
        samples, rate = ENGINES[voice.engine](sentence, voice)
        piece = finish(samples, rate, voice.volume)
        if len(piece):
            pieces += [piece, sentence_pause()]
    if not pieces:  # nothing audible (only punctuation): what the engine made, untrimmed
        samples, rate = ENGINES[voice.engine](text, voice)
        return finish(samples, rate, voice.volume, trim=False)
    return np.concatenate(pieces[:-1])


def finish(samples: np.ndarray, rate: int, volume: float, trim: bool = True) -> np.ndarray:
    """An engine's output made ready for the phone: peak at volume, 16 kHz, phone band, trimmed."""
    samples = np.asarray(samples, dtype=np.float64)
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    scaled = np.round(samples / (peak or 1.0) * volume * 32767).astype(np.int16)
    banded = audio.phone_band(audio.resample(scaled, rate, RATE), RATE)
    return trim_silence(banded) if trim else banded


def trim_silence(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """samples without their leading and trailing silence: everything from KEEP_LEAD_S before the first
    sound louder than TRIM_DB (10 ms moving RMS, against the loudest) to KEEP_TAIL_S after the last.
    Sample-exact, so trimming again changes nothing (prompts cached before trimming are trimmed when
    read). Silence only: empty."""
    x = np.asarray(samples, dtype=np.int16)
    window = max(1, rate // 100)
    if len(x) < window:
        return x
    energy = np.cumsum(np.concatenate([[0.0], x.astype(np.float64) ** 2]))
    rms = np.sqrt((energy[window:] - energy[:-window]) / window)  # rms[i]: samples i .. i+window
    peak = float(rms.max())
    if peak <= 0:
        return x[:0]
    loud = np.flatnonzero(rms >= peak * 10 ** (TRIM_DB / 20))
    start = max(0, int(loud[0]) - int(KEEP_LEAD_S * rate))
    end = min(len(x), int(loud[-1]) + window + int(KEEP_TAIL_S * rate))
    out = x[start:end].copy()
    fade = min(int(FADE_S * rate), len(out) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
        if start > 0:
            out[:fade] = np.round(out[:fade] * ramp).astype(np.int16)
        if end < len(x):
            out[-fade:] = np.round(out[-fade:] * ramp[::-1]).astype(np.int16)
    return out


def sentence_pause() -> np.ndarray:
    """The silence to put after a trimmed sentence that another follows: with the margins each keeps,
    SENTENCE_GAP_S from the end of one sentence's sound to the start of the next one's."""
    return np.zeros(int(round((SENTENCE_GAP_S - KEEP_LEAD_S - KEEP_TAIL_S) * RATE)), dtype=np.int16)


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
            with wave.open(str(path), "rb") as w:  # made before trimming, perhaps: trimming again is free
                return trim_silence(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16))
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
