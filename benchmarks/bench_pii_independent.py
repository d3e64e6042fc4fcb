"""Score the personal-data detector on the independent seeded corpus, tests/data/pii_independent.py.

    python -m benchmarks.bench_pii_independent [--seed 20261203] [--quiet]
    python -m benchmarks.bench_pii_independent --root /old/checkout --module pytest_mlgate.pii

Prints per kind the planted count n, precision (findings of that kind that overlap a planted value
of that kind), recall (planted values a finding of their kind overlaps) and fully masked (planted
values none of whose letters or digits is left readable after ``redact``), then every miss and
every false positive.  ``--root`` puts another checkout first on ``sys.path`` so that its detector
is the one scored (the "before" column).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter

from tests.data.pii_independent import CorpusScore, build_corpus, score


def table(result: CorpusScore) -> str:
    rows = [f"{'kind':8} {'n':>5} {'precision':>10} {'recall':>8} {'fully masked':>13}"]
    total = [0, 0, 0, 0, 0]
    for k in result.kinds:
        rows.append(
            f"{k.kind:8} {k.planted:5d} {k.precision:10.3f} {k.recall:8.3f} {k.masked_rate:13.3f}"
        )
        for i, v in enumerate((k.planted, k.detected, k.fully_masked, k.findings, k.true_findings)):
            total[i] += v
    n, hit, full, found, true = total
    rows.append(
        f"{'all':8} {n:5d} {true / found if found else 1:10.3f} {hit / n:8.3f} {full / n:13.3f}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--module", default="pytest_mlgate.text.pii")
    parser.add_argument("--root", help="checkout whose package is imported instead of this one")
    parser.add_argument("--quiet", action="store_true", help="only the table and problem counts")
    args = parser.parse_args(argv)
    if args.root:
        sys.path.insert(0, args.root)
    detector = importlib.import_module(args.module)
    cases = build_corpus(args.seed)
    result = score(detector.find, detector.redact, cases)
    negatives = sum(1 for c in cases if not c.planted)
    print(f"{args.module} from {detector.__file__}")
    print(
        f"{len(cases)} sentences, {sum(len(c.planted) for c in cases)} planted values, "
        f"{negatives} look-alike negatives"
    )
    print(table(result))
    print(
        "problems:",
        dict(Counter((p.what, p.kind, p.layout) for p in result.problems).most_common())
        if args.quiet
        else "",
    )
    if not args.quiet:
        for p in result.problems:
            print(f"  {p.what:15} {p.kind:6} {p.layout:28} {p.value!r:40} in {p.text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
