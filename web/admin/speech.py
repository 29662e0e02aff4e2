"""The admin site's audio preview: a prompt said in a phone line's voice and speed. The sites may not
import voice (the layers in pyproject.toml), so the preview runs the CLI `madoguchi voice say` in a
child process with this process's settings (MADOGUCHI_CONFIG and the environment are inherited), the
text on its standard input, and a time limit below gunicorn's request timeout. Nothing is cached or
written: a preview of a text being edited is never a prompt a call will say."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)

TIMEOUT_S = 25.0  # gunicorn ends a request at 30 s (web/server.py); Kokoro's first load takes about 2 s


@dataclass(frozen=True)
class SpeechVoice:
    engine: str
    name: str
    speed: float
    volume: float


class SpeechFailed(Exception):
    """The synthesiser could not make the preview (its model is missing, it took too long)."""


def command(voice: SpeechVoice) -> list[str]:
    return [sys.executable, "-m", "appliance", "voice", "say", "--tts-engine", voice.engine, "--tts-voice",
            voice.name, "--tts-speed", f"{voice.speed:g}", "--tts-volume", f"{voice.volume:g}"]


def say(text: str, voice: SpeechVoice) -> bytes:
    """The WAV file (16 kHz mono) of the text in this voice; SpeechFailed when it cannot be made."""
    try:
        done = subprocess.run(command(voice), input=text.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        log.warning("audio preview (%s) took longer than %.0f s", voice.engine, TIMEOUT_S)
        raise SpeechFailed("timeout") from None
    if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
        # the last line says why (a missing Kokoro model, say); it never holds personal data
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        log.warning("audio preview (%s) failed: %s", voice.engine, reason[0][:300])
        raise SpeechFailed(reason[0])
    return done.stdout
