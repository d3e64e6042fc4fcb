"""``mlgate power``: the smallest accuracy drop n paired examples can detect."""

from __future__ import annotations

import argparse

from pytest_mlgate.cli.common import Commands, command, unit_interval
from pytest_mlgate.config.schema import SEQUENTIAL_LOOKS


def positive_count(text: str) -> int:
    """An argparse type: a whole number of examples, at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} examples: need at least 1")
    return value


def drop_size(text: str) -> float:
    """An argparse type: an accuracy drop in (0, 1] (0.02 is 2 pp)."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a drop in (0, 1] (0.02 is 2 pp)")
    return value


def run(args: argparse.Namespace) -> int:
    """Print the minimum detectable drop (and the power for ``--drop``)."""
    from pytest_mlgate import stats

    share = args.discordance
    comparisons = args.comparisons + args.subgroups  # each subgroup is one more comparison
    alpha = args.alpha / comparisons  # the run's correction: its first Holm step
    mde = stats.exact_minimum_detectable_drop(args.n, args.p, alpha, args.power, share, args.margin)
    basis = (
        f"{share:.1%} of examples flipping between runs"
        if share is not None
        else "independent errors (cautious; pass --discordance to use a measured flip rate)"
    )
    test = "exact McNemar" if args.margin <= 0 else f"Tango's test, margin {args.margin * 100:g} pp"
    print(
        f"n={args.n}, accuracy {args.p:g}, alpha {args.alpha:g} over {comparisons} "
        f"comparison(s) ({alpha:.2g} each), {test}, {args.power:.0%} power, {basis}:"
    )
    print(f"  minimum detectable drop: {mde * 100:.2f} pp")
    if args.subgroups:
        per = args.n // args.subgroups
        sub = stats.exact_minimum_detectable_drop(
            per, args.p, alpha, args.power, share, args.margin
        )
        print(f"  per subgroup (n={per} of {args.subgroups}): {sub * 100:.2f} pp")
    if args.drop is not None:
        disc = share if share is not None else stats.independent_discordance(args.p, args.drop)
        power = stats.paired_power(args.n, args.drop, disc, alpha, args.margin)
        print(f"  power to detect a {args.drop * 100:.2f} pp drop: {power:.1%}")
        if mde > args.drop:
            needed = stats.examples_needed(args.drop, args.p, args.alpha, args.power, share)
            print(f"  examples needed to detect it: {needed or 'more than 10,000,000'}")
    if args.sequential:
        # at the level the fixed-n figures above use: the run's first Holm step
        print_sequential(args.n, args.p, alpha, args.power, args.margin, share, args.looks)
    return 0


def print_sequential(
    n: int,
    p: float,
    alpha: float,
    power: float,
    margin: float,
    discordance: float | None,
    looks: list[float],
) -> None:
    """The sequential design's boundary table and, by seeded simulation, the expected share of
    documents evaluated at no change, at the margin and at the fixed-n minimum detectable drop."""
    from pytest_mlgate import stats
    from pytest_mlgate.gate import sequential as seq

    # the share of documents flipping in all; without a measured rate, independent errors
    flips = discordance if discordance is not None else stats.independent_discordance(p, 0)
    design = seq.make_design(n, alpha, looks)
    print(
        f"sequential (looks {looks}, Hwang-Shih-DeCani spending, gamma {design.gamma:g}; "
        f"pass early when the {design.futility_level:.0%} upper bound on the drop is inside "
        f"the margin {margin * 100:g} pp):"
    )
    for line in design.table():
        print(f"  {line}")
    mdd = seq.fixed_n_detectable_drop(n, margin, alpha, power, discordance=flips)
    reps = 10_000
    print(f"  expected share of documents evaluated ({reps:,} seeded simulations):")
    rows = [("no change", 0.0), ("at the margin", margin)] if margin > 0 else [("no change", 0.0)]
    if mdd is not None:
        rows.append(("at the same statistic's fixed-n detectable drop", mdd))
    for offset, (label, drop) in enumerate(rows):
        if drop > flips:
            print(f"    {label} ({drop * 100:.2f} pp): more than the {flips:.1%} flipping")
            continue
        result = seq.simulate(design, drop, margin, 0.0, reps, offset, discordance=flips)
        print(
            f"    {label} ({drop * 100:.2f} pp): {result.mean_share:.3f}, "
            f"fails {result.fail_rate:.1%} (fixed n {result.fixed_fail_rate:.1%})"
        )
    if mdd is None:
        print(f"    no drop is detected with {power:.0%} power at n={n} against this margin")


def looks_list(text: str) -> list[float]:
    """An argparse type: comma-separated look fractions, validated."""
    from pytest_mlgate.gate.sequential import validate_looks

    try:
        return list(validate_looks([float(x) for x in text.split(",") if x.strip()]))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_sequential_arguments(power: argparse.ArgumentParser) -> None:
    """``[--sequential [--looks F,F,...]]``: the sequential design besides the fixed-n figures."""
    power.add_argument(
        "--sequential", action="store_true", help="also the sequential design: bounds per look"
    )
    power.add_argument(
        "--looks",
        type=looks_list,
        default=list(SEQUENTIAL_LOOKS),
        help="with --sequential: look fractions, comma-separated (default 0.1,0.25,0.5,1.0)",
    )


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate power --n N --p P [--drop] [--alpha] [--power] [--discordance]``."""
    power = command(
        commands,
        "power",
        "the smallest accuracy drop n examples can detect (paired McNemar)",
        run,
    )
    power.add_argument("--n", type=positive_count, required=True, help="examples per run")
    power.add_argument("--p", type=unit_interval, required=True, help="baseline accuracy")
    power.add_argument("--drop", type=drop_size, help="a drop to compute the power for")
    power.add_argument("--alpha", type=unit_interval, default=0.05)
    power.add_argument("--power", type=unit_interval, default=0.8)
    add_sequential_arguments(power)
    power.add_argument(
        "--discordance", type=unit_interval, help="share of examples that flip between runs"
    )
    power.add_argument("--margin", type=float, default=0.0, help="the allowed drop (max_drop)")
    power.add_argument(
        "--comparisons", type=int, default=1, help="comparisons corrected together in the run"
    )
    power.add_argument(
        "--subgroups", type=int, default=0, help="subgroups gated, n split evenly among them"
    )
