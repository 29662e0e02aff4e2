"""The media timeout rule (sans-io): a call whose caller sends no audio packets for media_timeout_s
(a dead line, a phone that went away without BYE) is ended; a call on hold is not. The adapter reads
the packet count once a second and asks."""

from __future__ import annotations

from dataclasses import dataclass

CHECK_EVERY_S = 1.0


@dataclass
class MediaWatch:
    timeout_s: float
    packets: int = -1
    changed_at: float = 0.0
    next_check: float = 0.0

    def started(self, now: float) -> None:
        self.changed_at = now

    def due(self, now: float) -> bool:
        return now >= self.next_check

    def timed_out(self, packets: int, on_hold: bool, now: float) -> bool:
        """With the caller's packet count now: True when nothing came for timeout_s."""
        self.next_check = now + CHECK_EVERY_S
        if packets != self.packets or on_hold:
            self.packets, self.changed_at = packets, now
            return False
        return now - self.changed_at >= self.timeout_s
