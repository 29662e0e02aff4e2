"""Speech recognition behind one interface: `transcribe(samples, expected=())`, 16 kHz int16 samples in,
a Transcript out. `expected`: the answers a question expects, written as a caller says them; a
recogniser that can score them against the audio (Whisper) returns one score each, the others none."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float  # 0..1, engine-specific but comparable within an engine
    alternatives: tuple[str, ...] = ()  # the engine's other hypotheses, best first (n-best)
    seconds: float = 0.0  # time the recognition took
    failed: bool = False  # the recogniser could not be asked (down, too slow): nothing was heard or not
    # per expected answer, in the order asked: how much more likely the audio makes it than silence does
    # (natural log); () when none were expected or the recogniser cannot score
    scores: tuple[float, ...] = ()

    @property
    def hypotheses(self) -> tuple[str, ...]:
        return (self.text, *self.alternatives) if self.text else self.alternatives
