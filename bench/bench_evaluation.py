"""The recogniser on the evaluation set: the answers staff marked as misrecognised on the staff site
(通話の記録 → 認識の誤りとして記録), cut from the calls' recordings and recognised again with the
configured engine (asr_engine), as `madoguchi voice evaluate` does. Prints numbers only (no texts: they
are personal data); nothing is asserted.

The appliance of MADOGUCHI_CONFIG (`make bench` uses the demo's, var/madoguchi.toml) is opened as is:
a database that cannot be opened, or one without marked turns, gets one line saying so.

    .venv/bin/python bench/bench_evaluation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance import runtime  # noqa: E402
from appliance.settings import SettingsError, load_settings  # noqa: E402
from db import crypto  # noqa: E402
from db.connection import DatabaseProblem, open_database  # noqa: E402
from db.keys import KeyProblem  # noqa: E402
from voice.evaluation import evaluate, marked_turns, summary_line  # noqa: E402


def main() -> int:
    print("== Recognition of the marked turns (the evaluation set)")
    try:
        settings = runtime.configure(load_settings())
        open_database(settings)
    except (SettingsError, KeyProblem, DatabaseProblem) as exc:
        print(f"  not measured: the appliance's database cannot be opened ({exc})")
        return 0
    turns = marked_turns()
    if not turns:
        print("  not measured: no marked turns in this appliance (mark misrecognised answers on the staff "
              "site: 通話の記録 → a call → 認識の誤りとして記録)")
        return 0
    from voice.asr.whisper import ModelProblem
    from voice.recognition import load_engine
    try:
        recognizer = load_engine(settings)
    except ModelProblem as exc:
        print(f"  not measured: {exc}")
        return 0
    started = time.monotonic()
    report = evaluate(recognizer, settings.recordings_dir, crypto.cipher(), turns=turns)
    took = time.monotonic() - started
    print(f"  engine {settings.asr_engine}, {len(turns)} marked turn(s), {took:.1f} s")
    print("| step | items | character error rate | exact matches |")
    print("|---|---|---|---|")
    for step in sorted({item.step for item in report.items}):
        items = [i for i in report.items if i.step == step]
        chars = sum(i.length for i in items)
        cer = f"{sum(i.errors for i in items) / chars:.1%}" if chars else "-"
        print(f"| {step} | {len(items)} | {cer} | {sum(i.exact for i in items)}/{len(items)} |")
    print(f"  {summary_line(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
