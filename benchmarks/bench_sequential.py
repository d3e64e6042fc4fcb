"""Sequential gate savings and error rates, simulated: ``python -m benchmarks.bench_sequential``.

In-process and seeded. Each repetition draws the paired outcomes of ``--n`` documents (accuracy
about 0.7): a document goes right→wrong with probability ``flip + drop`` and wrong→right with
``flip``, independently, so the true drop is ``drop`` and about ``2 flip`` of documents change
without any real change. The design of ``pytest_mlgate.gate.sequential`` looks after 10/25/50/100 %
of them and tests "drop <= max_drop" with the paired margin score statistic at each look's bound;
the same draws give the fixed-n test (all documents, one look) and naive peeking (the fixed-n level
at every look). Rows: mean share of documents evaluated, false-failure rate at a true drop equal to
the margin (sequential and naive), and power at the fixed-n test's minimum detectable drop. Every
rate has its 95 % interval (Wilson; a normal interval for means and paired differences).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import numpy as np

from pytest_mlgate import stats
from pytest_mlgate.gate import sequential as seq


def _rate(rate: float, reps: int) -> str:
    low, high = stats.wilson_interval(round(rate * reps), reps)
    return f"{rate:.2%} [{low:.2%}, {high:.2%}]"


def _share(design: seq.SequentialDesign, result: seq.Simulated) -> str:
    shares = [look.documents / design.total for look in design.looks]
    reps = result.repetitions
    mean = sum(s * k for s, k in zip(shares, result.stopped_at, strict=True)) / reps
    second = sum(s * s * k for s, k in zip(shares, result.stopped_at, strict=True)) / reps
    half = 1.96 * math.sqrt(max(second - mean * mean, 0.0) / reps)
    return f"{mean:.3f} [{mean - half:.3f}, {mean + half:.3f}]"


def _power_gap(result: seq.Simulated) -> str:
    """Sequential minus fixed-n power on the same draws, with a paired (McNemar-type) interval."""
    reps = result.repetitions
    gap = (result.sequential_only - result.fixed_only) / reps
    variance = (result.sequential_only + result.fixed_only) / reps - gap * gap
    half = 1.96 * math.sqrt(max(variance, 0.0) / reps)
    return f"{gap * 100:+.2f} pp [{(gap - half) * 100:+.2f}, {(gap + half) * 100:+.2f}]"


def run(args: argparse.Namespace) -> list[str]:
    design = seq.make_design(args.n, args.alpha, args.looks, args.gamma)
    mdd = seq.fixed_n_detectable_drop(args.n, args.max_drop, args.alpha, 0.8, args.flip)
    if mdd is None:
        raise SystemExit(f"n = {args.n}: no drop is detected with 80 % power; use a larger --n")

    def simulate(drop: float, offset: int) -> seq.Simulated:
        return seq.simulate(
            design, drop, args.max_drop, args.flip, args.repetitions, args.seed + offset
        )

    regression, unchanged = simulate(0.10, 0), simulate(0.0, 1)
    at_margin, detect = simulate(args.max_drop, 2), simulate(mdd, 3)
    reps = args.repetitions
    lines = [
        f"n = {args.n:,}, flips {args.flip:.1%} each way, max_drop {args.max_drop:g}, "
        f"alpha {args.alpha:g}, looks {list(args.looks)}, HSD gamma {args.gamma:g}, "
        f"{reps:,} repetitions per row, seed {args.seed}",
        "",
        *design.table(),
        "",
        "| setting | measure | sequential | fixed n | goal |",
        "| --- | --- | --- | --- | --- |",
        f"| 10 pp regression | share evaluated | {_share(design, regression)} | 1.000 | <= 0.20 |",
        f"| 10 pp regression | fails | {_rate(regression.fail_rate, reps)} | "
        f"{_rate(regression.fixed_fail_rate, reps)} | |",
        f"| no change | share evaluated | {_share(design, unchanged)} | 1.000 | <= 0.60 |",
        f"| no change | fails | {_rate(unchanged.fail_rate, reps)} | "
        f"{_rate(unchanged.fixed_fail_rate, reps)} | |",
        f"| drop = margin ({args.max_drop * 100:g} pp) | false failures | "
        f"{_rate(at_margin.fail_rate, reps)} | {_rate(at_margin.fixed_fail_rate, reps)} | "
        f"<= {args.alpha:g} |",
        f"| drop = margin, naive looks | false failures | {_rate(at_margin.naive_fail_rate, reps)} "
        "| | (peeking) |",
        f"| drop = margin | share evaluated | {_share(design, at_margin)} | 1.000 | |",
        f"| drop = fixed-n MDD ({mdd * 100:.2f} pp) | power | {_rate(detect.fail_rate, reps)} | "
        f"{_rate(detect.fixed_fail_rate, reps)} | >= fixed - 3 pp |",
        f"| drop = fixed-n MDD | sequential - fixed power | {_power_gap(detect)} | | >= -3 pp |",
        f"| drop = fixed-n MDD | share evaluated | {_share(design, detect)} | 1.000 | |",
    ]
    # The size at the margin is what the continuity correction is for: check it where few
    # documents flip the other way (total discordance D, (D + m) / 2 right→wrong).
    for offset, total in enumerate((0.025, 0.04, 0.06, 0.10), start=4):
        swept = seq.simulate(
            design, args.max_drop, args.max_drop, 0.0, reps, args.seed + offset, discordance=total
        )
        exact = seq.fixed_n_power(args.n, args.max_drop, args.max_drop, args.alpha, 0.0, total)
        lines.append(
            f"| drop = margin, {total:.1%} flipping in all | false failures | "
            f"{_rate(swept.fail_rate, reps)} | {_rate(swept.fixed_fail_rate, reps)} "
            f"(exact {exact:.2%}) | <= {args.alpha:g} |"
        )
    lines.append(_run_level(design, args, items=4))
    lines.extend(_reference_rows(args))
    return lines


def with_reference(args: argparse.Namespace, repetitions: int | None = None) -> dict[str, float]:
    """A sequential run with ``--mlgate-reference``: the baseline comparison look by look at
    alpha / 2 (its share, ``gate.looks.SequentialPlan.share``), the reference's at fixed n on the
    documents the run stopped at, at the other alpha / 2; every true drop at the margin. The
    stopping time depends on the candidate's answers, which both comparisons share: at worst the
    reference answers as the baseline does (the same statistic twice), at best independently.
    How often the run fails (any comparison), for each of the two."""
    reps = repetitions or args.repetitions
    half = seq.make_design(args.n, args.alpha / 2, args.looks, args.gamma)
    p_loss, p_gain = seq.flip_shares(args.max_drop, args.flip)
    losses, gains, sizes = seq.draw_counts(half, p_loss, p_gain, reps, args.seed + 20)
    z = seq.paired_margin_z(losses, gains, sizes[None, :], args.max_drop)
    fail = np.array([look.fail_z for look in half.looks])[None, :]
    passing = np.array([np.inf if look.pass_z is None else look.pass_z for look in half.looks])
    stop = np.argmax((z >= fail) | (z <= passing[None, :]), axis=1)
    rows = np.arange(reps)
    failed = z[rows, stop] >= fail[0, stop]
    critical = stats.normal_quantile(1 - args.alpha / 2)  # Tango's test at alpha / 2
    other = seq.draw_counts(half, p_loss, p_gain, reps, args.seed + 21)
    rates = {}
    for name, (b, c) in (("as the baseline", (losses, gains)), ("independent", other[:2])):
        ref_z = seq.paired_margin_z(b[rows, stop], c[rows, stop], sizes[stop], args.max_drop, 0.0)
        rates[name] = float((failed | (ref_z >= critical)).mean())
    return rates


def _reference_rows(args: argparse.Namespace) -> list[str]:
    return [
        f"| reference ({name}), each true drop = margin | run fails | "
        f"{_rate(rate, args.repetitions)} (baseline look by look at alpha/2, reference at fixed "
        f"n on the documents evaluated, alpha/2) | | <= {args.alpha:g} |"
        for name, rate in with_reference(args).items()
    ]


def _run_level(design: seq.SequentialDesign, args: argparse.Namespace, items: int) -> str:
    """``items`` independent comparisons, every true drop at the margin: how often any fails,
    under Holm look by look (the run-level rule) and with each item at the full alpha."""
    paths = []
    for offset in range(items):
        losses, gains, sizes = seq.draw_counts(
            design,
            *seq.flip_shares(args.max_drop, args.flip),
            args.repetitions,
            args.seed + 10 + offset,
        )
        paths.append(seq.paired_margin_z(losses, gains, sizes[None, :], args.max_drop))
    reps, holm, alone = args.repetitions, 0, 0
    totals = [args.n] * items
    for rep in range(reps):
        z = [path[rep].tolist() for path in paths]
        holm += any(d.decision == "fail" for d in seq.holm_sequential(z, totals, args.alpha))
        alone += any(seq.simulate_item_fails(design, row) for row in z)
    return (
        f"| {items} items, each true drop = margin | run fails (any item) | "
        f"{_rate(holm / reps, reps)} (Holm look by look) | {_rate(alone / reps, reps)} "
        f"(each item at alpha) | <= {args.alpha:g} |"
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sequential")
    parser.add_argument("--n", type=int, default=2_000)
    parser.add_argument("--flip", type=float, default=0.015, help="each-way flip rate")
    parser.add_argument("--max-drop", type=float, default=0.02)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--gamma", type=float, default=seq.DEFAULT_GAMMA)
    parser.add_argument("--looks", type=float, nargs="+", default=list(seq.DEFAULT_LOOKS))
    parser.add_argument("--repetitions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    print("\n".join(run(parse(argv))))


if __name__ == "__main__":
    main()
