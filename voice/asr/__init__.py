"""Speech recognition behind one interface: 16 kHz int16 samples in, a Transcript out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float  # 0..1, engine-specific but comparable within an engine
    alternatives: tuple[str, ...] = ()  # the engine's other hypotheses, best first (n-best)
    seconds: float = 0.0  # time the recognition took
    failed: bool = False  # the recogniser could not be asked (down, too slow): nothing was heard or not

    @property
    def hypotheses(self) -> tuple[str, ...]:
        return (self.text, *self.alternatives) if self.text else self.alternatives
