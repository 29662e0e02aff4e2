"""How good and how fast the operators' answer candidates are (db/faqsearch.py over the demo FAQ,
appliance/demo_faq.toml): top-1 and top-3 accuracy on the questions of bench/faq_questions.toml, which
were written from a list of topics, not from the entries' texts (paraphrased, spoken, misheard by a
weak recogniser, and unrelated ones that should find nothing), and the time per question.

    .venv/bin/python bench/bench_faq.py [--questions bench/faq_questions.toml] [--misses]

A question counts as top-k when one of its expected entries is among the first k candidates; an
unrelated question is right when no candidate is offered. --misses prints the questions missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.faqsearch import FaqDocument, FaqIndex  # noqa: E402


def demo_documents() -> list[FaqDocument]:
    demo = tomllib.loads((ROOT / "appliance" / "demo_faq.toml").read_text(encoding="utf-8"))
    names = {c["key"]: c["name"] for c in demo["category"]}
    return [FaqDocument(i, e["key"], e["question"], e["answer"], tuple(e.get("phrasings", ())),
                        names[e["category"]], e.get("bring", ""), e.get("public", True))
            for i, e in enumerate(demo["entry"], start=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "faq_questions.toml")
    parser.add_argument("--misses", action="store_true", help="print the questions not found in the top 3")
    args = parser.parse_args()
    questions = tomllib.loads(args.questions.read_text(encoding="utf-8"))["question"]
    documents = demo_documents()
    started = time.perf_counter()
    index = FaqIndex(documents)
    built = time.perf_counter() - started
    index.search("暗証番号")  # the tokenizer's first use loads the dictionary: not a question's time
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # kind → [questions, top-1, top-3]
    times, missed = [], []
    for question in questions:
        started = time.perf_counter()
        found = [c.document.key for c in index.search(question["text"], limit=5)]
        times.append(time.perf_counter() - started)
        row = tally[question["kind"]]
        row[0] += 1
        expected = set(question["expect"])
        if not expected:
            right = not found
            row[1] += right
            row[2] += right
        else:
            row[1] += bool(found[:1]) and found[0] in expected
            row[2] += bool(expected & set(found[:3]))
        if (not expected and found) or (expected and not expected & set(found[:3])):
            missed.append((question["kind"], question["text"], question["expect"], found[:3]))
    print(f"answer candidates: {len(documents)} FAQ entries (index built in {built * 1000:.0f} ms), "
          f"{len(questions)} questions")
    print(f"{'kind':12} {'questions':>9} {'top-1':>7} {'top-3':>7}")
    answerable = [0, 0, 0]
    for kind, (count, top1, top3) in sorted(tally.items()):
        print(f"{kind:12} {count:9d} {top1 / count:7.0%} {top3 / count:7.0%}")
        if kind != "unrelated":
            answerable = [a + b for a, b in zip(answerable, (count, top1, top3), strict=True)]
    count, top1, top3 = answerable
    print(f"{'answerable':12} {count:9d} {top1 / count:7.0%} {top3 / count:7.0%}")
    times_ms = sorted(t * 1000 for t in times)
    print(f"time per question: median {statistics.median(times_ms):.1f} ms, "
          f"p95 {times_ms[int(len(times_ms) * 0.95) - 1]:.1f} ms, max {times_ms[-1]:.1f} ms")
    if args.misses:
        for kind, text, expect, found in missed:
            print(f"  {kind:10} {text}  expected {expect}  got {found}")


if __name__ == "__main__":
    main()
