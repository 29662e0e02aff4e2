"""The evaluation set: the turns staff marked as misrecognised on the staff site, with what the caller
really said, run again through a recogniser (`madoguchi voice evaluate`, bench/bench_evaluation.py).

Each marked turn's answer is cut from its call's recording (db/recordings.py: the same segment staff
heard, a little padding either side), brought from 8 kHz to the recogniser's 16 kHz and recognised.
The character error rate is counted on texts compared as the dialog compares them (NFKC, lower case,
no punctuation or spaces: voice/asr/filters.py normalize), over the characters of the right texts.
Reads only; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from db import recordings
from db.crypto import DecryptionError
from db.models import CallRecord, CallTurn
from voice import audio
from voice.asr.filters import normalize

RATE = 16000


@dataclass(frozen=True)
class Item:
    turn_id: int
    call_id: int
    step: str
    expected: str
    heard_then: str  # what the call's recogniser heard
    heard_now: str  # what this recogniser hears
    errors: int  # edits from heard_now to expected
    length: int  # characters of expected (normalised)

    @property
    def exact(self) -> bool:
        return self.errors == 0


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (turn id, why: no_recording, unreadable)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def errors(self) -> int:
        return sum(i.errors for i in self.items)

    @property
    def characters(self) -> int:
        return sum(i.length for i in self.items)

    @property
    def cer(self) -> float | None:
        return self.errors / self.characters if self.characters else None

    @property
    def exact(self) -> int:
        return sum(i.exact for i in self.items)


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def score(expected: str, heard: str) -> tuple[int, int]:
    """(character errors, characters expected) on normalised texts."""
    want, got = normalize(expected), normalize(heard)
    return edit_distance(got, want), len(want)


def marked_turns() -> list[CallTurn]:
    """The marked turns in the order they were marked (the oldest first), with their calls."""
    return list(CallTurn.select(CallTurn, CallRecord).join(CallRecord)
                .where(CallTurn.corrected_at.is_null(False)).order_by(CallTurn.corrected_at, CallTurn.id))


def turn_audio(turn: CallTurn, recordings_dir: Path, cipher):
    """The turn's answer as 16 kHz int16 samples; None without a recording or a position."""
    window = recordings.turn_window(turn.offset_s, turn.duration_s)
    if not turn.call.recording or window is None:
        return None
    narrow = recordings.segment_samples(Path(recordings_dir) / turn.call.recording, cipher, *window)
    return audio.resample(narrow, recordings.RATE, RATE)


def evaluate(recognizer, recordings_dir: Path, cipher, turns: list[CallTurn] | None = None,
             on_item: Callable[[Item], None] = lambda item: None) -> Report:
    """Recognise every marked turn again; on_item is called as each one is done."""
    report = Report()
    for turn in marked_turns() if turns is None else turns:
        try:
            samples = turn_audio(turn, recordings_dir, cipher)
        except (OSError, DecryptionError):
            report.skipped.append((turn.id, "unreadable"))
            continue
        if samples is None or not len(samples):
            report.skipped.append((turn.id, "no_recording"))
            continue
        heard = recognizer.transcribe(samples).text
        errors, length = score(turn.corrected or "", heard)
        item = Item(turn.id, turn.call_id, turn.step, turn.corrected or "", turn.heard or "", heard, errors, length)
        report.items.append(item)
        on_item(item)
    return report


def summary_line(report: Report) -> str:
    if not report.items and not report.skipped:
        return ("no marked turns: mark misrecognised answers on the staff site (通話の記録 → a call → "
                "認識の誤りとして記録), then run this again")
    cer = f"{report.cer:.1%}" if report.cer is not None else "-"
    return (f"{report.count} item(s), character error rate {cer} ({report.errors}/{report.characters}), "
            f"exact matches {report.exact}/{report.count}"
            + (f", skipped {len(report.skipped)} (no recording or unreadable)" if report.skipped else ""))
