"""Collecting DTMF digits into entries (sans-io): '#' ends an entry, so does the entry's length or a
pause between digits longer than the inter-digit timeout. Time is passed in, never read."""

from __future__ import annotations

from dataclasses import dataclass

from voice.call.events import DigitsEntered

VALID = set("0123456789*#ABCD")


@dataclass
class DigitCollector:
    max_digits: int = 1
    inter_digit_timeout_s: float = 3.0
    terminator: str = "#"
    max_digits_per_second: float = 20.0  # faster than any hand
    # a storm: more digits than this each faster than a hand after the one before (all of them ignored).
    # A few that fast are a hand's keys handed over together: a worker busy for a moment takes the
    # digits that queued meanwhile at once (a birth date's 「1、2」 lost its 2, and the caller was handed over)
    storm_run: int = 6

    def __post_init__(self):
        self.buffer = ""
        self.last_at: float | None = None  # last accepted digit: the inter-digit timeout runs from here
        self.last_seen: float | None = None  # last digit of any kind: a storm keeps this fresh
        self._run = 0  # digits in a row each faster than a hand
        self._before_run = ""  # the entry as it was before them

    def digit(self, digit: str, at: float) -> DigitsEntered | None:
        """Feed one digit received at monotonic time `at`; returns an entry when one is complete."""
        if digit not in VALID:
            return None
        rapid = self.last_seen is not None and at - self.last_seen < 1 / self.max_digits_per_second
        self.last_seen = at
        if not rapid:
            self._run, self._before_run = 0, self.buffer
        self._run += 1
        if self._run > self.storm_run:
            self.buffer = self._before_run  # the storm's first digits out again
            return None
        self.last_at = at
        if digit == self.terminator:
            return self._take("terminator")
        self.buffer += digit
        if len(self.buffer) >= self.max_digits:
            return self._take("length")
        return None

    def deadline(self) -> float | None:
        """When tick() should next be called, or None when no entry is under way."""
        if not self.buffer or self.last_at is None:
            return None
        return self.last_at + self.inter_digit_timeout_s

    def tick(self, now: float) -> DigitsEntered | None:
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            return self._take("timeout")
        return None

    def _take(self, ended_by: str) -> DigitsEntered | None:
        digits, self.buffer = self.buffer, ""
        if not digits and ended_by == "terminator":
            return DigitsEntered("", ended_by)  # '#' alone: "skip" / "done" in menus
        return DigitsEntered(digits, ended_by) if digits else None
