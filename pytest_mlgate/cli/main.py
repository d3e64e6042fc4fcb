"""The ``mlgate`` command: ``demo``, ``tasks``, ``check``, ``init``, ``pin``, ``plan``,
``prompts``, ``history``, ``compare``, ``report``, ``power`` and ``comment``. It reuses the
plugin's option definitions, plan, store, gate and renderers: a history read here is read
exactly as the gate reads it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_mlgate.config.load import DEFAULT_CONFIG_NAME, DEFAULT_SUITE, MlgateConfig, load_config
from pytest_mlgate.config.options import GateOptions, add_options
from pytest_mlgate.errors import MlgateError, StoreError, UsageProblem
from pytest_mlgate.run.plan import HistoryPlan
from pytest_mlgate.store import HistoryStore
from pytest_mlgate.tasks import materialize_tasks, shipped_task_names

USAGE_ERROR = 4  # pytest's exit code for usage errors; the CLI uses the same


def _demo(args: argparse.Namespace) -> int:
    from pytest_mlgate.cli import demo

    return demo.main(Path(args.dir).resolve(), rebuild=args.rebuild)


def _tasks(args: argparse.Namespace) -> int:
    if args.export:
        dest = materialize_tasks(Path(args.export).resolve())
        print(f"wrote {', '.join(shipped_task_names())} to {dest}")
        print(f"use them with: lm_eval --include_path {dest} --tasks mlgate_tr_mc ...")
    else:
        print("\n".join(shipped_task_names()))
    return 0


def _check(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
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


def _config_or_none(args: argparse.Namespace) -> MlgateConfig | None:
    """--config when the file exists (or was named): a history can be read without one."""
    path = Path(args.config)
    if path.is_file() or args.config != DEFAULT_CONFIG_NAME:
        return load_config(path)
    return None


def _history_plan(args: argparse.Namespace) -> tuple[HistoryPlan, HistoryStore]:
    """The plan's history part (store, baseline spec, settings) and the opened store."""
    from pytest_mlgate.run.plan import plan_history
    from pytest_mlgate.run.resolve import open_history

    options = GateOptions(cwd=Path.cwd(), store=args.store)
    history = plan_history(_config_or_none(args), options)
    return history, open_history(history.store)


def _drift(args: argparse.Namespace, history: HistoryPlan, store: HistoryStore) -> int:
    """Each gated metric's path on the baseline branch from the anchor to the latest run."""
    import pandas as pd

    from pytest_mlgate.run.resolve import find_anchor

    spec = args.anchor or history.settings.anchor
    if not spec:
        print(
            "mlgate: error: --drift needs --anchor RUN_ID|tag:PATTERN or [gate] anchor",
            file=sys.stderr,
        )
        return USAGE_ERROR
    branch = args.branch or history.baseline.branch
    anchor, why = find_anchor(store, spec, branch, Path.cwd())
    if anchor is None:
        print(f"mlgate: error: {why}", file=sys.stderr)
        return USAGE_ERROR
    start = store.get(anchor.outcome.run_id)
    later = [e for e in store.last(100_000, branch) if start is None or e.key > start.key]
    path = [anchor.outcome] + [o for o in (store.load(e.run_id) for e in later)]
    rows = []
    for outcome in path:
        row: dict[str, object] = {"run_id": outcome.run_id, "timestamp": outcome.manifest.timestamp}
        for verdict in anchor.outcome.verdicts:
            name = verdict.threshold.item_name
            now = next(
                (v.value for v in outcome.verdicts if v.threshold == verdict.threshold), None
            )
            row[name] = now
            if now is not None and verdict.value is not None:
                row[f"{name} Δpp"] = round((now - verdict.value) * 100, 2)
        rows.append(row)
    print(f"drift on {branch} from anchor {anchor.label} (run {anchor.outcome.run_id}):")
    print(pd.DataFrame(rows).to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"))
    return 0


def _copy(args: argparse.Namespace) -> int:
    """Every run of SRC that DST does not hold, oldest first, record for record."""
    from pytest_mlgate.run.plan import StoreSpec
    from pytest_mlgate.run.resolve import open_history

    config = _config_or_none(args)
    experiment = args.experiment or (config.gate.experiment if config else "mlgate")
    source = open_history(StoreSpec(args.source, Path.cwd(), experiment))
    target = open_history(StoreSpec(args.target, Path.cwd(), experiment))
    copied = present = 0
    for entry in source.entries():
        if target.get(entry.run_id) is not None:
            present += 1
            continue
        target.append(source.load(entry.run_id))
        copied += 1
    print(
        f"copied {copied} run(s) from {source.location} to {target.location}"
        + (f"; {present} already there" if present else "")
    )
    return 0


def _sync(args: argparse.Namespace) -> int:
    """Upload the spooled runs to the MLflow store, each exactly once."""
    from pytest_mlgate.store.mlflow.store import MlflowStore

    _, store = _history_plan(args)
    if not isinstance(store, MlflowStore) or store.spool is None:
        print(
            f"mlgate: error: {store.location} is not an MLflow store: nothing to sync",
            file=sys.stderr,
        )
        return USAGE_ERROR
    pending = store.spool.pending()
    if not pending:
        print(f"nothing spooled in {store.spool.path}")
        return 0
    report = store.spool.sync(store)
    print(
        f"synced {store.spool.path} to {store.location}: {len(report.uploaded)} uploaded, "
        f"{len(report.already)} already there (removed from the spool), "
        f"{len(report.unreadable)} unreadable"
    )
    for problem in report.unreadable:
        print(f"mlgate: unreadable spooled run left in place: {problem}", file=sys.stderr)
    return 1 if report.unreadable else 0


def _publish(args: argparse.Namespace) -> int:
    """Append the folder store's records to a git branch (fetch, merge the index, push, retry)."""
    from pytest_mlgate.store.folder import FolderStore
    from pytest_mlgate.store.publish import publish

    _, store = _history_plan(args)
    if not isinstance(store, FolderStore):
        print(f"mlgate: error: {store.location} is not a folder store", file=sys.stderr)
        return USAGE_ERROR
    done = publish(store.path, args.git_branch, args.remote, Path.cwd(), retries=args.retries)
    if not done.added:
        print(f"nothing to publish: {args.git_branch} already holds every run of {store.path}")
    else:
        print(
            f"published {len(done.added)} run(s) to {args.git_branch} "
            f"({done.commit or '?'}) after {done.attempts} attempt(s): {', '.join(done.added)}"
        )
    return 0


def _merge(args: argparse.Namespace) -> int:
    """Join the shards' partial runs and gate them as one run."""
    from pytest_mlgate.backend import BackendSpec
    from pytest_mlgate.gate.verdicts import Status
    from pytest_mlgate.report.terminal import verdict_table
    from pytest_mlgate.run import merge
    from pytest_mlgate.run.evaluator import Evaluator
    from pytest_mlgate.run.outputs import write_outputs
    from pytest_mlgate.run.plan import SuiteChoice, plan_gate
    from pytest_mlgate.run.resolve import resolve_gate
    from pytest_mlgate.run.session import GateSession

    partials = merge.load_partials([Path(p) for p in args.partials])
    merge.check_shards(partials)
    run, manifest = merge.join([o for _, o in partials])
    config = load_config(Path(args.config))
    suite = config.suite(manifest.suite.name)
    options = GateOptions(
        cwd=Path.cwd(),
        config=args.config,
        checkpoint=manifest.checkpoint.id or None,
        store=args.store,
        baseline=args.baseline,
        report=args.report,
        json=args.json,
        markdown=args.markdown,
        record=args.record,
    )
    thresholds = merge.gated_thresholds(config, suite, run)
    plan = plan_gate(config, options, suite=SuiteChoice(suite), thresholds=thresholds)
    resolved = resolve_gate(plan)
    evaluator = Evaluator(
        spec=BackendSpec(config.model, resolved.checkpoint, config.include),
        suite=suite,
        batch=plan.tasks,
        make_backend=lambda spec: merge.Joined(run),
    )
    not_here = "not measured: measured only by an unsharded run"
    session = GateSession(
        resolved, evaluator, run_id=manifest.run_id, _manifest=manifest, _latency=not_here
    )
    session._determinism = {}
    # the plugin's node ids: the config file, relative to where the command runs, then the item
    where = os.path.relpath(config.path, Path.cwd())
    verdicts = [session.judge(f"{where}::{t.item_name}", t) for t in thresholds]
    print(f"merged {len(partials)} shards into run {manifest.run_id} ({', '.join(run.tasks)}):")
    print(f"baseline: {session.baseline.run_id if session.baseline else 'none recorded yet'}")
    print("\n".join(verdict_table(verdicts)))
    for verdict in verdicts:
        if verdict.status is not Status.PASS:
            print(f"{verdict.status.value.upper()} {verdict.threshold.item_name}: {verdict.reason}")
    if plan.reference is not None:
        print("mlgate: the reference is not evaluated by a merge (it needs the model)")
    attachments = write_outputs(session)
    if args.record:
        print(f"recorded run {session.record(attachments)} in {resolved.store.location}")
    return 1 if any(v.status is Status.FAIL for v in verdicts) else 0


def _history(args: argparse.Namespace) -> int:
    import pandas as pd

    from pytest_mlgate.store.codec import encode_entry

    actions = {"copy": _copy, "sync": _sync, "publish": _publish}
    if args.history_command in actions:
        return actions[args.history_command](args)
    plan, store = _history_plan(args)
    if args.drift:
        return _drift(args, plan, store)
    entries = [e for e in store.entries() if args.branch in (None, e.branch)]
    rows = []
    for entry in entries[-args.limit :] if args.limit else entries:
        row: dict[str, object] = encode_entry(entry)
        try:
            outcome = store.load(entry.run_id)
        except MlgateError:
            continue  # warned by the store
        for verdict in outcome.verdicts:
            row[f"{verdict.threshold.task}::{verdict.threshold.metric}"] = verdict.value
        rows.append(row)
    frame = pd.DataFrame(rows)
    if args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", indent=2) + "\n")
    elif frame.empty:
        print(f"no runs recorded in {store.location}")
    else:
        print(frame.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"))
    return 0


def _compare(args: argparse.Namespace) -> int:
    """RUN_B against RUN_A, exactly as the gate would compare a run with its baseline."""
    from pytest_mlgate.config.load import MetricThreshold
    from pytest_mlgate.gate.decision import gate_all
    from pytest_mlgate.gate.verdicts import Status
    from pytest_mlgate.report.terminal import verdict_table

    history, store = _history_plan(args)
    base, new = store.load(args.run_a), store.load(args.run_b)
    thresholds = [
        MetricThreshold(task, key, max_drop=args.max_drop)
        for task, result in new.run.tasks.items()
        if task in base.run
        for key in result.metrics
        if key in base.run[task].metrics
    ]
    if not thresholds:
        print(f"runs {args.run_a} and {args.run_b} share no task metric", file=sys.stderr)
        return USAGE_ERROR
    verdicts = gate_all(thresholds, new.run, base, history.settings, new.manifest)
    print(f"{args.run_b} against baseline {args.run_a}:")
    print("\n".join(verdict_table(verdicts.values())))
    for verdict in verdicts.values():
        if verdict.status is not Status.PASS:
            print(f"{verdict.status.value.upper()}: {verdict.reason}")
    return 1 if any(v.status is Status.FAIL for v in verdicts.values()) else 0


def _power(args: argparse.Namespace) -> int:
    from pytest_mlgate import stats

    share = args.discordance
    mde = stats.minimum_detectable_drop(args.n, args.p, args.alpha, args.power, share)
    basis = (
        f"{share:.1%} of examples flipping between runs"
        if share is not None
        else "independent errors (cautious; pass --discordance to use a measured flip rate)"
    )
    print(
        f"n={args.n}, accuracy {args.p:g}, alpha {args.alpha:g}, {args.power:.0%} power, {basis}:"
    )
    print(f"  minimum detectable drop: {mde * 100:.2f} pp")
    if args.drop is not None:
        disc = share if share is not None else stats.independent_discordance(args.p, args.drop)
        power = stats.mcnemar_power(args.n, args.drop, disc, args.alpha)
        print(f"  power to detect a {args.drop * 100:.2f} pp drop: {power:.1%}")
        if mde > args.drop:
            needed = stats.examples_needed(args.drop, args.p, args.alpha, args.power, share)
            print(f"  examples needed to detect it: {needed or 'more than 10,000,000'}")
    return 0


def _init(args: argparse.Namespace) -> int:
    """Write thresholds.toml, the eval workflows and their constraints file into a repository;
    never overwrite silently."""
    from pytest_mlgate.cli.pins import CONSTRAINTS_PATH, constraints

    templates = Path(__file__).resolve().parents[1] / "templates"
    root = Path(args.dir).resolve()
    pinned, missing = constraints()
    config = (templates / "thresholds.toml").read_text(encoding="utf-8")
    workflows = {w.name: w for w in sorted((templates / "workflows").glob("*.yml"))}
    if args.store == "mlflow":  # the history in MLflow: no history branch, no writer job
        gate = (templates / "mlflow" / "gate.toml").read_text(encoding="utf-8")
        config = config.replace("[gate]\n", f"[gate]\n{gate}", 1)
        workflows["mlgate-eval.yml"] = templates / "mlflow" / "mlgate-eval.yml"
    files = {
        root / DEFAULT_CONFIG_NAME: config,
        **{
            root / ".github" / "workflows" / name: _with_shards(
                workflow.read_text(encoding="utf-8"), args.shards
            )
            for name, workflow in workflows.items()
        },
        root / CONSTRAINTS_PATH: pinned,
    }
    existing = [path for path in files if path.exists()]
    if existing and not args.force:
        listed = ", ".join(str(p.relative_to(root)) for p in existing)
        print(
            f"mlgate: error: {listed} already exist(s) in {root}; pass --force to overwrite",
            file=sys.stderr,
        )
        return USAGE_ERROR
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(root)}")
    _warn_unpinned(missing)
    print(
        "next: set [model] checkpoint, then `pytest -m eval`; the workflows need a self-hosted "
        "runner labelled `gpu`"
        + (
            "; add the repository secret MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_USERNAME / "
            "_PASSWORD or _TOKEN if the server asks), and pip install 'pytest-mlgate[mlflow]'"
            if args.store == "mlflow"
            else ""
        )
    )
    return 0


SHARD_MARK = "  # mlgate init --shards N"


def _with_shards(workflow: str, shards: int) -> str:
    """The eval workflow's full-suite matrix set to ``shards`` jobs (the lines marked for it)."""
    lines = []
    for line in workflow.splitlines(keepends=True):
        if line.rstrip("\n").endswith(SHARD_MARK):
            key, _, _ = line.partition(":")
            value = f"[{', '.join(map(str, range(1, shards + 1)))}]" if "shard:" in line else shards
            line = f"{key}: {value}{SHARD_MARK}\n"
        lines.append(line)
    return "".join(lines)


def _warn_unpinned(missing: list[str]) -> None:
    if missing:
        print(
            f"mlgate: warning: not installed here, so not pinned: {', '.join(missing)}; the "
            "workflows would install their newest releases. Run `mlgate pin` where "
            "pytest-mlgate[hf] is installed.",
            file=sys.stderr,
        )


def _pin(args: argparse.Namespace) -> int:
    """Rewrite the constraints file from this environment, saying which pins moved."""
    from pytest_mlgate.cli.pins import CONSTRAINTS_PATH, constraints

    target = Path(args.dir).resolve() / CONSTRAINTS_PATH

    def pins(text: str) -> dict[str, str]:
        pairs = (ln.split("==", 1) for ln in text.splitlines() if "==" in ln and ln[0] != "#")
        return {name.strip(): version.strip() for name, version in pairs}

    before = pins(target.read_text(encoding="utf-8")) if target.is_file() else {}
    text, missing = constraints()
    after = pins(text)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    moved = sorted(n for n in {*before, *after} if before.get(n) != after.get(n))
    for name in moved:
        print(f"  {name}: {before.get(name, 'unpinned')} -> {after.get(name, 'unpinned')}")
    if before and moved:
        print(
            "pins moved: scores may move with them. Gate this change with the full suite (label "
            "the PR `full-eval`) and record a new baseline on main after the merge."
        )
    _warn_unpinned(missing)
    return 0


def _comment(args: argparse.Namespace) -> int:
    """Post the summary on the PR of a workflow_run event (see pytest_mlgate.report.comment)."""
    from pytest_mlgate.report.comment import GitHub, load_event, post_summary

    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not repo:
        print("mlgate: error: --repo OWNER/NAME or GITHUB_REPOSITORY is needed", file=sys.stderr)
        return USAGE_ERROR
    posted = post_summary(
        load_event(args.event), Path(args.summary), GitHub(repo, args.gh), args.author
    )
    print(f"mlgate comment: {posted.message}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    """Which suite the trigger matrix picks for the changes since REF, and why."""
    from pytest_mlgate.run.plan import choose_suite

    config = load_config(Path(args.config))
    options = GateOptions(cwd=Path.cwd(), suite="auto", changed_from=args.changed_from)
    trigger = choose_suite(config, options).trigger
    assert trigger is not None  # auto always asks the trigger matrix
    print(trigger.suite if args.format == "name" else trigger.explain())
    return 0


def _report(args: argparse.Namespace) -> int:
    """The HTML report of a recorded run, from the history alone: no model, no eval."""
    from pytest_mlgate.report.html import write_html
    from pytest_mlgate.report.markdown import render_markdown, write_markdown
    from pytest_mlgate.report.matrix import report_from_store

    history, store = _history_plan(args)
    data = report_from_store(
        store,
        history.settings,
        run_id=args.run_id,
        branch=args.branch,
        baseline_id=args.baseline,
        history=args.history,
    )
    output = Path(args.output)
    write_html(output, data)
    baseline = None if data.baseline is None else data.baseline.run_id
    print(f"wrote {output} (run {data.run_id}, baseline {baseline or 'none'})")
    if args.markdown:
        text = render_markdown(data.outcome, baseline=baseline, report_hint=str(output))
        write_markdown(text, Path(args.markdown))
        print(f"wrote {args.markdown}")
    return 0


def _prompts(args: argparse.Namespace) -> int:
    """The first N documents' requests of TASK exactly as the model is given them (not
    redacted: a local tool), with token counts and warnings about doubled BOS tokens or an
    empty system turn."""
    from pytest_mlgate.backend import BackendSpec, EvalRequest
    from pytest_mlgate.backend.lmeval import LmEvalBackend
    from pytest_mlgate.cli.demo import offline_env
    from pytest_mlgate.run.plan import plan_gate
    from pytest_mlgate.run.resolve import resolve_checkpoint

    os.environ.update({k: v for k, v in offline_env().items() if k.endswith("_OFFLINE")})
    config = load_config(Path(args.config))
    options = GateOptions(cwd=Path.cwd(), checkpoint=args.checkpoint, suite=args.suite)
    plan = plan_gate(config, options)
    suite = plan.suite.suite
    spec = BackendSpec(config.model, resolve_checkpoint(plan.candidate), config.include)
    backend = LmEvalBackend(spec)
    request = EvalRequest((args.task,), suite.num_fewshot, None, suite.seed)
    try:
        rendered = backend.render(args.task, request, args.n)
    finally:
        backend.close()
    shown: tuple[int, str] | None = None
    for item in rendered:
        if (item.doc_id, item.text) != shown:  # a multiple-choice document: its context once
            shown = (item.doc_id, item.text)
            print(f"=== {args.task} doc {item.doc_id} · {item.kind} · {len(item.tokens)} tokens")
            print(item.text)
        if item.continuation is not None:
            print(f"  + continuation {item.continuation!r}")
        if item.doubled_bos:
            print(
                f"mlgate: warning: doc {item.doc_id} starts with two BOS tokens (the template "
                "writes one and the tokenizer adds one): set model_args = { add_bos_token = "
                "false } or drop the BOS from the template",
                file=sys.stderr,
            )
        if item.empty_system_turn:
            print(
                f"mlgate: warning: doc {item.doc_id} has an empty system turn: set [model] "
                "system_instruction, or use a template that writes no empty system block",
                file=sys.stderr,
            )
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _unit_interval(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1)")
    return value


Commands = Any  # argparse's subparsers action (its class is private)


def _command(
    commands: Commands, name: str, help: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, help=help)
    command.set_defaults(handler=handler)
    return command


def _store_options(command: argparse.ArgumentParser) -> None:
    """--config and --store, declared as the plugin declares --mlgate-config / --mlgate-store."""
    add_options(command.add_argument, "", ("config", "store"))
    command.set_defaults(config=DEFAULT_CONFIG_NAME)


def _add_setup_commands(commands: Commands) -> None:
    demo = _command(
        commands,
        "demo",
        "build tiny demo checkpoints offline and run the gate on them end to end",
        _demo,
    )
    demo.add_argument("--dir", default="mlgate-demo", help="scratch repo (default: mlgate-demo)")
    demo.add_argument("--rebuild", action="store_true", help="retrain existing checkpoints")
    tasks = _command(
        commands, "tasks", "list the shipped tasks, or export them for lm_eval", _tasks
    )
    tasks.add_argument("--export", metavar="DIR", help="write task YAMLs with absolute data paths")
    check = _command(commands, "check", "validate a thresholds.toml", _check)
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG_NAME)
    init = _command(
        commands,
        "init",
        "write thresholds.toml and the GitHub Actions eval workflows into a repo",
        _init,
    )
    init.add_argument("--dir", default=".", help="the repository root (default: .)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.add_argument(
        "--shards",
        type=_positive,
        default=2,
        help="GPU jobs the full suite is split across (default: 2; 1: unsharded in one job)",
    )
    init.add_argument(
        "--store",
        choices=("folder", "mlflow"),
        default="folder",
        help="where the history lives: a git branch of folder records (default) or MLflow",
    )
    pin = _command(
        commands,
        "pin",
        "write .github/mlgate-constraints.txt: exact versions from this environment",
        _pin,
    )
    pin.add_argument("--dir", default=".", help="the repository root (default: .)")
    prompts = _command(
        commands, "prompts", "print a task's requests exactly as the model is given them", _prompts
    )
    prompts.add_argument("task", metavar="TASK", help="an lm-eval task name")
    prompts.add_argument("--n", type=int, default=3, help="documents to print (default: 3)")
    add_options(prompts.add_argument, "", ("config", "checkpoint", "suite"))
    prompts.set_defaults(config=DEFAULT_CONFIG_NAME, suite=DEFAULT_SUITE)
    plan = _command(commands, "plan", "which suite the trigger matrix picks, and why", _plan)
    plan.add_argument("--changed-from", required=True, metavar="REF", help="e.g. origin/main")
    plan.add_argument(
        "--format",
        choices=("explain", "name"),
        default="explain",
        help="name: print only the suite's name (for a workflow step)",
    )
    add_options(plan.add_argument, "", ("config",))
    plan.set_defaults(config=DEFAULT_CONFIG_NAME)


def _add_history_commands(commands: Commands) -> None:
    history = _command(commands, "history", "list recorded runs and their gated values", _history)
    _store_options(history)
    history.add_argument("--branch", help="only runs recorded on this branch")
    history.add_argument("--limit", type=int, default=20, help="the last N runs (0: all)")
    history.add_argument("--format", choices=("table", "csv", "json"), default="table")
    history.add_argument(
        "--drift", action="store_true", help="each gated metric's path from the anchor to now"
    )
    history.add_argument(
        "--anchor",
        metavar="RUN_ID|tag:PATTERN|models:/NAME@ALIAS",
        help="the anchor (default: [gate] anchor)",
    )
    actions = history.add_subparsers(dest="history_command", metavar="{copy,sync,publish}")
    copy = actions.add_parser("copy", help="copy every run of one store into another")
    copy.add_argument("source", metavar="SRC", help="a folder or store URI (mlflow+..., file://)")
    copy.add_argument("target", metavar="DST", help="a folder or store URI")
    copy.add_argument("--experiment", help="the MLflow experiment (default: [gate] experiment)")
    add_options(copy.add_argument, "", ("config",))
    copy.set_defaults(config=DEFAULT_CONFIG_NAME)
    sync = actions.add_parser(
        "sync", help="upload the runs spooled while the MLflow server was unreachable"
    )
    _store_options(sync)
    publish = actions.add_parser(
        "publish", help="append the folder store's runs to a git branch (safe when concurrent)"
    )
    _store_options(publish)
    publish.add_argument("--git-branch", required=True, help="e.g. mlgate-history")
    publish.add_argument(
        "--remote", default="origin", help="a remote of this repository, or a URL (default: origin)"
    )
    publish.add_argument(
        "--retries", type=int, default=8, help="pushes retried after a rejection (default: 8)"
    )
    compare = _command(
        commands,
        "compare",
        "compare RUN_B with RUN_A as the gate compares a run with its baseline",
        _compare,
    )
    _store_options(compare)
    compare.add_argument("run_a", metavar="RUN_A", help="the baseline run id")
    compare.add_argument("run_b", metavar="RUN_B", help="the run id to judge")
    compare.add_argument("--max-drop", type=float, help="override [gate] max_drop")
    report = _command(
        commands,
        "report",
        "regenerate the HTML report of a recorded run, without any eval",
        _report,
    )
    _store_options(report)
    report.add_argument(
        "--run", dest="run_id", help="the run to report (default: the latest recorded)"
    )
    report.add_argument("--branch", help="the latest run of this branch")
    report.add_argument("--baseline", help="compare with this run (default: its recorded one)")
    report.add_argument("--history", type=int, help="recorded runs shown as columns")
    report.add_argument("--output", default="mlgate-report.html", help="the HTML file")
    report.add_argument("--markdown", metavar="PATH", help="also write the Markdown summary")


def _add_merge_command(commands: Commands) -> None:
    merge = _command(
        commands,
        "merge",
        "join the partial runs of --mlgate-shard K/N and gate them as one run",
        _merge,
    )
    merge.add_argument("partials", nargs="+", metavar="PARTIAL", help="the shards' partial runs")
    _store_options(merge)
    add_options(merge.add_argument, "", ("baseline", "json", "markdown", "record"))
    merge.add_argument("--report", metavar="PATH", help="write the HTML report")


def _add_power_command(commands: Commands) -> None:
    power = _command(
        commands,
        "power",
        "the smallest accuracy drop n examples can detect (paired McNemar)",
        _power,
    )
    power.add_argument("--n", type=int, required=True, help="examples per run")
    power.add_argument("--p", type=_unit_interval, required=True, help="baseline accuracy")
    power.add_argument("--drop", type=float, help="a drop to compute the power for")
    power.add_argument("--alpha", type=_unit_interval, default=0.05)
    power.add_argument("--power", type=_unit_interval, default=0.8)
    power.add_argument(
        "--discordance", type=_unit_interval, help="share of examples that flip between runs"
    )


def _add_comment_command(commands: Commands) -> None:
    comment = _command(
        commands,
        "comment",
        "post the Markdown summary on the PR a workflow_run event names (the comment workflow)",
        _comment,
    )
    comment.add_argument("--event", help="the event JSON (default: $GITHUB_EVENT_PATH)")
    comment.add_argument(
        "--summary", default="mlgate-summary.md", help="the downloaded Markdown summary"
    )
    comment.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    comment.add_argument("--gh", default="gh", help="the gh executable (default: gh)")
    comment.add_argument(
        "--author",
        default="github-actions[bot]",
        help="the login the token comments as; only its marked comments are edited",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_setup_commands(commands)
    _add_history_commands(commands)
    _add_power_command(commands)
    _add_merge_command(commands)
    _add_comment_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageProblem as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except StoreError as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except MlgateError as exc:
        print(f"mlgate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
