"""Audio files staff upload for IVR announcements (a recorded greeting, hold music): any format FFmpeg
reads (PyAV, already here for the recogniser) is converted to the phone's format (16 kHz mono 16-bit
WAV) and kept under data_dir/ivr_audio/NAME.wav, written crash-safe; a file that holds no audio is
refused with a Japanese message. Flow nodes name the file (db/flowgraph.py `audio`)."""

from __future__ import annotations

import io
import os
import re
import wave
from pathlib import Path

import numpy as np

from appliance import runtime
from appliance.messages import catalogue

RATE = 16000
MAX_BYTES = 20_000_000
MAX_SECONDS = 600.0
NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
_CATALOGUE_PATH = Path(__file__).with_name("flowgraph.toml")


class AudioError(ValueError):
    """An upload that cannot be an announcement; the message is Japanese, for staff."""


def _msg(key: str, **values) -> str:
    return catalogue(_CATALOGUE_PATH)[f"audio.{key}"].format(**values)


def folder() -> Path:
    return runtime.settings().data_dir / "ivr_audio"


def names() -> list[str]:
    return sorted(p.name for p in folder().glob("*.wav")) if folder().is_dir() else []


def convert(data: bytes) -> bytes:
    """16 kHz mono 16-bit PCM of any audio file FFmpeg reads; AudioError when it is no audio."""
    import av

    if not data or len(data) > MAX_BYTES:
        raise AudioError(_msg("size", limit=MAX_BYTES // 1_000_000))
    try:
        with av.open(io.BytesIO(data)) as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise AudioError(_msg("not_audio"))
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            chunks = []
            for frame in container.decode(streams[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                if sum(len(c) for c in chunks) > MAX_SECONDS * RATE:
                    raise AudioError(_msg("too_long", limit=int(MAX_SECONDS // 60)))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except Exception:  # noqa: BLE001 - whatever FFmpeg says of a file that is not audio
        raise AudioError(_msg("not_audio")) from None
    samples = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)
    if len(samples) < RATE // 10:
        raise AudioError(_msg("not_audio"))
    return samples.tobytes()


def save(name: str, data: bytes) -> str:
    """Convert and keep the upload as NAME.wav (replacing one of that name); the file name."""
    if not NAME.fullmatch(name):
        raise AudioError(_msg("name"))
    pcm = convert(data)
    target = folder() / f"{name}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".tmp")
    with open(temp, "wb") as raw:
        with wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(temp, target)
    return target.name


def load(name: str) -> bytes:
    """The 16 kHz PCM of a kept file (OSError or wave.Error when it is missing or damaged)."""
    if not NAME.fullmatch(name.removesuffix(".wav")):
        raise OSError(f"not an audio file name: {name!r}")
    with wave.open(str(folder() / name), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
            raise wave.Error("not 16 kHz mono 16-bit")
        return w.readframes(w.getnframes())
