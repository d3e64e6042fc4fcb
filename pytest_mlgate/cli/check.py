"""``mlgate check``: validate a thresholds.toml and say what it gates."""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_mlgate.cli.common import Commands, command
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.preflight import check_thresholds
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME


def run(args: argparse.Namespace) -> int:
    """Validate the config and print each suite's tasks, variants and gates."""
    config = load_config(Path(args.config))
    check_thresholds(config)  # the metric names and bounds against the task files
    print(f"{config.path}: ok")
    for suite in config.suites.values():
        gated = config.thresholds_for(suite.all_tasks)
        sample = f", sample {suite.sample}" if suite.sample else ""
        variants = f", {len(suite.variants)} perturbed variant(s)" if suite.variants else ""
        print(
            f"  suite {suite.name}: {len(suite.tasks)} task(s){variants}, {len(gated)} gate(s)"
            f"{sample}"
        )
        for variant in config.ungated_variants(suite):
            print(f'    {variant}: reported, not gated (no [thresholds."{variant}"] table)')
    return 0


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate check [CONFIG]``."""
    check = command(commands, "check", "validate a thresholds.toml", run)
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG_NAME)
