"""The gate's options, declared once for the pytest plugin (``--mlgate-NAME``) and the ``mlgate``
command (``--NAME``), and their values as one frozen object.

Plain Python: :func:`add_options` takes any ``addoption``-like callable (pytest's option group,
or an argparse parser), pytest-benchmark style.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME, DEFAULT_SUITE, GateConfig, SuiteConfig

DEFAULT_REPORT = "mlgate-report.html"


@dataclass(frozen=True)
class Option:
    metavar: str | None  #: None: a flag (store_true)
    help: str
    #: a flag of a pair: it stores ``const`` into the option ``dest`` (default None), last one wins
    dest: str | None = None
    const: bool = True


OPTIONS: dict[str, Option] = {
    "config": Option(
        "PATH", f"the gate's config file (default: {DEFAULT_CONFIG_NAME} at the repository root)"
    ),
    "checkpoint": Option(
        "PATH_OR_ID",
        "checkpoint to evaluate: a folder, a hub id, or models:/NAME@ALIAS | models:/NAME/VERSION "
        "| models:/NAME/STAGE from the MLflow registry (overrides $MLGATE_CHECKPOINT and "
        "[model] checkpoint)",
    ),
    "reference": Option(
        "PATH_OR_URI",
        "also evaluate this checkpoint on the same documents and gate head to head against it "
        "(default: [gate] reference)",
    ),
    "suite": Option(
        "NAME|auto",
        f"which [suites.NAME] to run with -m eval (default: {DEFAULT_SUITE}); auto: the trigger "
        "matrix picks it from what changed since --mlgate-changed-from",
    ),
    "changed_from": Option(
        "REF", "git ref whose merge base with HEAD the changes are counted from (for auto)"
    ),
    "report": Option(
        "PATH", f"where -m eval writes the HTML report (default: {DEFAULT_REPORT}; '' for none)"
    ),
    "json": Option("PATH", "write results and verdicts as JSON"),
    "metrics": Option(
        "PATH",
        "write the gated metrics as a JSON metrics file that `dvc metrics show / diff` reads "
        "(default: [report] metrics)",
    ),
    "wandb": Option(
        "PROJECT",
        "log the gated run to this Weights & Biases project (default: [report] wandb; "
        "credentials from $WANDB_API_KEY, WANDB_MODE=offline works); never changes a verdict",
    ),
    "markdown": Option(
        "PATH",
        "write the Markdown summary (for a PR comment); it is also appended to "
        "$GITHUB_STEP_SUMMARY when that is set",
    ),
    "store": Option(
        "PATH_OR_URI",
        "the run history: a folder, file:// URI, mlflow, mlflow+http(s)://HOST:PORT or "
        "mlflow+sqlite:///PATH.db (default: [gate] store, .mlgate)",
    ),
    "baseline": Option(
        "BRANCH_OR_RUN_ID",
        "compare with this recorded run, the latest on this branch, or the latest complete run "
        "of a registered version, models:/NAME@ALIAS or /STAGE (default: the latest run on "
        "[gate] baseline)",
    ),
    "no_cache": Option(
        None,
        "evaluate even when the result cache holds this exact evaluation (and store nothing)",
    ),
    "record": Option(
        None, "append this run (results, per-example scores, manifest) to the history"
    ),
    "card": Option(
        "DIR",
        "after a passing recorded run: write its results into the model card DIR/README.md "
        "(model-index and an evaluation section; the card's other content is kept)",
    ),
    "shard": Option(
        "K/N",
        "evaluate only shard K of N of every task's documents and write a partial run (gated "
        "when `mlgate merge` joins the shards)",
    ),
    "partial": Option(
        "PATH", "where --mlgate-shard writes its partial run (default: mlgate-shard-K-of-N.json)"
    ),
    "sequential": Option(
        None,
        "evaluate look by look and stop once every item is decided, for this run (default: "
        "[suites.NAME] sequential)",
        dest="sequential",
    ),
    "no_sequential": Option(
        None,
        "evaluate every document at once, for this run, although the suite sets sequential",
        dest="sequential",
        const=False,
    ),
    "register": Option(
        "NAME@ALIAS|NAME",
        "after a passing recorded run (MLflow store): register the checkpoint as a new version "
        "of NAME and move ALIAS to it, only forward in git history (a bare NAME: with "
        "--mlgate-register-stage)",
    ),
    "register_stage": Option(
        "STAGE",
        "with --mlgate-register: also move this MLflow stage (Staging, Production, Archived, "
        "None; deprecated by MLflow in favour of aliases) to the new version, only forward",
    ),
}


def flag(name: str, prefix: str) -> str:
    """``store`` -> ``--mlgate-store`` (prefix ``mlgate-``) or ``--store`` (prefix '')."""
    return f"--{prefix}{name.replace('_', '-')}"


def add_options(
    addoption: Callable[..., Any], prefix: str, names: Iterable[str] = tuple(OPTIONS)
) -> None:
    """Declare ``names`` through ``addoption`` (pytest's ``group.addoption`` or argparse's
    ``add_argument``): one definition for the plugin and the command line."""
    for name in names:
        option = OPTIONS[name]
        if option.dest is not None:
            addoption(
                flag(name, prefix),
                action="store_const",
                const=option.const,
                dest=f"{prefix}{option.dest}".replace("-", "_"),
                default=None,
                help=option.help,
            )
        elif option.metavar is None:
            addoption(flag(name, prefix), action="store_true", help=option.help)
        else:
            addoption(flag(name, prefix), metavar=option.metavar, help=option.help)


@dataclass(frozen=True)
class GateOptions:
    """The options' values for one run, wherever they came from (pytest or the CLI)."""

    cwd: Path  #: where the command ran: relative option paths resolve from here
    config: str | None = None
    checkpoint: str | None = None
    reference: str | None = None
    suite: str = DEFAULT_SUITE
    changed_from: str | None = None
    report: str | None = DEFAULT_REPORT  #: None or '': no HTML report
    json: str | None = None
    markdown: str | None = None
    metrics: str | None = None
    wandb: str | None = None
    store: str | None = None
    baseline: str | None = None
    no_cache: bool = False
    record: bool = False
    register: str | None = None
    register_stage: str | None = None
    card: str | None = None
    shard: str | None = None
    partial: str | None = None
    sequential: bool | None = None  #: None: as the suite says


SHARDED_SEQUENTIAL = (
    "--mlgate-shard with sequential gating: the shards split a fixed set of documents that "
    "`mlgate merge` gates at once, so the sharded full tier runs fixed-n. Pass "
    "--mlgate-no-sequential with --mlgate-shard (or drop sequential from [suites.{suite}])."
)


def sequential_looks(
    suite: SuiteConfig, gate: GateConfig, options: GateOptions
) -> tuple[float, ...] | None:
    """The looks this run evaluates at, or None for every document at once.

    ``--mlgate-sequential`` / ``--mlgate-no-sequential`` override the suite; a recording run
    (``--mlgate-record``) evaluates every document unless ``[gate] record_sequential = true``,
    so baselines stay whole. ``ValueError`` (a usage error) for a sequential sharded run.
    """
    from pytest_mlgate.config.schema import SequentialConfig

    wanted = options.sequential if options.sequential is not None else suite.sequential is not None
    if not wanted:
        return None
    if options.shard is not None:
        raise ValueError(SHARDED_SEQUENTIAL.format(suite=suite.name))
    if options.record and not gate.record_sequential:
        return None
    return (suite.sequential or SequentialConfig()).looks
