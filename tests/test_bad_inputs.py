"""Bad input, table-driven: each case ends with a clear outcome (exit code and a message that
names what is wrong and where). Faults: Ctrl-C during the eval, a crash in the middle of a write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlgate.errors import SkippedRecordWarning
from tests.gate_run import GATE_COMMAND, gate_env, run_gate

GOOD = """
[model]
checkpoint = "ckpt"
[suites.fast]
tasks = ["mlgate_tr_mc"]
sample = 50
[gate]
alpha = 0.05
max_drop = 0.02
[thresholds.mlgate_tr_mc]
acc = { min = 0.4 }
"""

FAKE = """
import math
from pytest_mlgate.backend.fake import FakeBackend

def pytest_mlgate_make_backend(spec):
    return FakeBackend({"mlgate_tr_mc": {"acc": %s}, "other": {"acc": [1.0]}})
"""

USAGE, FAILED = pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.TESTS_FAILED

# (id, edit of GOOD as (old, new) or None, extra files, args, fake scores or None for the real
#  backend, exit code, fragments expected in the output, in order)
CASES = [
    (
        "malformed-toml",
        ("[gate]", "[gate"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["thresholds.toml: not valid TOML", "line"],
    ),
    (
        "misspelt-key",
        ("min = 0.4", "mni = 0.4"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[thresholds.mlgate_tr_mc.acc]", "unknown key 'mni'", "Did you mean 'min'?"],
    ),
    (
        "misspelt-task",
        ("[thresholds.mlgate_tr_mc]", "[thresholds.mlgate_tr_mcc]"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[thresholds.mlgate_tr_mcc]", "Did you mean 'mlgate_tr_mc'?"],
    ),
    (
        "negative-max-drop",
        ("max_drop = 0.02", "max_drop = -0.1"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[gate] max_drop = -0.1", "must be in [0, inf]"],
    ),
    (
        "alpha-out-of-range",
        ("alpha = 0.05", "alpha = 1.5"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[gate] alpha = 1.5", "must be in (0, 1)"],
    ),
    (
        "sample-zero",
        ("sample = 50", "sample = 0"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[suites.fast] sample = 0", "must be >= 1"],
    ),
    (
        "wrong-type",
        ("sample = 50", 'sample = "fifty"'),
        {},
        [],
        "[1.0]",
        USAGE,
        ['[suites.fast] sample = "fifty"', "expected an integer"],
    ),
    (
        "checkpoint-missing",
        ('checkpoint = "ckpt"', 'checkpoint = "./models/nope"'),
        {},
        [],
        None,
        USAGE,
        ["CheckpointError", "'./models/nope' does not exist"],
    ),
    (
        "checkpoint-without-weights",
        None,
        {"ckpt/config.json": "{}"},
        [],
        None,
        USAGE,
        ["CheckpointError", "has no weight files"],
    ),
    (
        "unknown-task",
        ('tasks = ["mlgate_tr_mc"]', 'tasks = ["mlgate_tr_mc", "nope_task"]'),
        {},
        [],
        "[1.0]",
        USAGE,
        ["UnknownTaskError", "nope_task"],
    ),
    (
        "metric-missing",  # the task defines it, the backend did not return it: fail closed
        ("acc = { min = 0.4 }", "acc_norm = { min = 0.4 }"),
        {},
        [],
        "[1.0]",
        FAILED,
        ["mlgate_tr_mc acc_norm: missing from the results", "metric 'acc_norm' is not in"],
    ),
    (
        "metric-the-task-lacks",  # known from the task file: refused before evaluating
        ("acc = { min = 0.4 }", "f1 = { min = 0.4 }"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[thresholds.mlgate_tr_mc] f1: task 'mlgate_tr_mc' defines no metric 'f1'"],
    ),
    ("metric-nan", None, {}, [], "math.nan", FAILED, ["mlgate_tr_mc acc = nan"]),
    (
        "auto-without-ref",
        None,
        {},
        ["--mlgate-suite", "auto"],
        "[1.0]",
        USAGE,
        ["--mlgate-suite auto needs --mlgate-changed-from REF"],
    ),
    (
        "record-without-eval",
        None,
        {},
        ["!no-eval", "--mlgate-record"],
        "[1.0]",
        USAGE,
        ["--mlgate-record records an eval run: add -m eval"],
    ),
    (
        "unwritable-store",
        None,
        {"blocked": "a file"},
        ["--mlgate-record", "--mlgate-store=blocked/history"],
        "[1.0]",
        USAGE,
        ["--mlgate-record: the history store", "blocked/history is not writable"],
    ),
    (
        "baseline-run-missing",
        None,
        {},
        ["--mlgate-baseline=20990101T000000Z-deadbeef"],
        "[1.0]",
        USAGE,
        ["BaselineNotFound", "'20990101T000000Z-deadbeef'", "mlgate history"],
    ),
    (
        "store-scheme",
        None,
        {},
        ["--mlgate-store=s3://bucket/h"],
        "[1.0]",
        USAGE,
        ["unsupported scheme 's3'"],
    ),
    (
        "mlflow-store-scheme",
        ("max_drop = 0.02", 'max_drop = 0.02\nstore = "mlflow+ftp://host"'),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[gate] store", "an MLflow store is one of", '"mlflow+sqlite:///PATH.db"'],
    ),
    (
        "models-anchor-without-mlflow",
        ("max_drop = 0.02", 'max_drop = 0.02\nanchor = "models:/tiny@champion"'),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[gate] anchor", "a model-registry anchor needs an MLflow store"],
    ),
    (
        "models-anchor-malformed",
        (
            "max_drop = 0.02",
            'max_drop = 0.02\nstore = "mlflow"\nanchor = "models:/tiny"',
        ),
        {},
        [],
        "[1.0]",
        USAGE,
        [
            "[gate] anchor",
            "expected models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/STAGE",
        ],
    ),
    (
        "min-ratio-out-of-range",
        ("acc = { min = 0.4 }", "acc = { min = 0.4, min_ratio = 1.5 }"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["min_ratio = 1.5", "must be in (0, 1]"],
    ),
    (
        "register-without-record",
        None,
        {},
        ["--mlgate-register=tiny@champion"],
        "[1.0]",
        USAGE,
        ["--mlgate-register registers a recorded run: add --mlgate-record"],
    ),
    (
        "register-into-a-folder-store",
        None,
        {},
        ["--mlgate-record", "--mlgate-register=tiny@champion"],
        "[1.0]",
        USAGE,
        ["--mlgate-register tiny@champion names the MLflow model registry", "[gate] store"],
    ),
    (
        "register-target-malformed",
        None,
        {},
        ["--mlgate-record", "--mlgate-register=tiny"],
        "[1.0]",
        USAGE,
        ["--mlgate-register 'tiny': expected NAME@ALIAS"],
    ),
    (
        "registry-checkpoint-without-mlflow",
        None,
        {},
        ["--mlgate-checkpoint=models:/tiny@champion"],
        "[1.0]",
        USAGE,
        ["models:/tiny@champion names the MLflow model registry"],
    ),
    (
        "determinism-batch-sizes",
        ("max_drop = 0.02", "max_drop = 0.02\ndeterminism = { batch_sizes = [] }"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[gate.determinism] batch_sizes = []", "expected a non-empty list of integers >= 1"],
    ),
    (
        "determinism-agreement-range",
        ("max_drop = 0.02", "max_drop = 0.02\ndeterminism = { min_agreement = 1.5 }"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[gate.determinism] min_agreement = 1.5", "must be in [0, 1]"],
    ),
    (
        "latency-without-a-measuring-suite",
        ("[gate]", "[latency]\np50_ms = { max = 50 }\n[gate]"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[latency]", "gates latency, but no suite measures it"],
    ),
    (
        "latency-misspelt-gate",
        ("[gate]", "[latency]\np95_ms = { max = 50 }\n[gate]"),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[latency]", "unknown key 'p95_ms'", "Did you mean"],
    ),
    (
        "latency-bound-empty",
        (
            "sample = 50",
            "sample = 50\nlatency = { requests = 10 }\n[latency]\np50_ms = { }",
        ),
        {},
        [],
        "[1.0]",
        USAGE,
        ["[latency.p50_ms]", "declares no bound"],
    ),
    (
        "redact-not-a-bool",
        ("[gate]", '[report]\nredact = "yes"\n[gate]'),
        {},
        [],
        "[1.0]",
        USAGE,
        ['[report] redact = "yes"', "expected true or false"],
    ),
    (
        "reference-missing",
        None,
        {},
        ["--mlgate-reference=./nope"],
        "[1.0]",
        USAGE,
        ["CheckpointError", "nope"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "files", "args", "scores", "code", "fragments"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_ends_clearly(
    pytester: pytest.Pytester,
    edit: tuple[str, str] | None,
    files: dict[str, str],
    args: list[str],
    scores: str | None,
    code: pytest.ExitCode,
    fragments: list[str],
) -> None:
    text = GOOD if edit is None else GOOD.replace(*edit)
    assert edit is None or edit[0] in GOOD
    pytester.makefile(".toml", thresholds=text)
    for name, content in files.items():
        (pytester.path / name).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / name).write_text(content)
    if scores is not None:
        pytester.makeconftest(FAKE % scores)
        (pytester.path / "ckpt").mkdir(exist_ok=True)
    mark = [] if "!no-eval" in args else ["-m", "eval"]
    result = pytester.runpytest(*mark, *[a for a in args if a != "!no-eval"])
    assert result.ret == code
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    position = 0
    for fragment in fragments:
        found = output.find(fragment, position)
        assert found >= 0, f"{fragment!r} not in:\n{output[-2000:]}"
        position = found


SLOW_BACKEND = """
import time
from pathlib import Path
from pytest_mlgate.backend.fake import FakeBackend

class Slow(FakeBackend):
    def evaluate(self, request):
        Path("started").write_text("1")
        time.sleep(60)
        return super().evaluate(request)

def pytest_mlgate_make_backend(spec):
    return Slow({"mlgate_tr_mc": {"acc": [1.0, 0.0]}})
"""


@pytest.mark.parametrize("cancel", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_during_the_eval_records_nothing_and_keeps_the_history(
    tmp_path: Path, cancel: signal.Signals
) -> None:
    """Ctrl-C, and SIGTERM (how CI cancels a job), end the session like an interrupt."""
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "thresholds.toml").write_text(GOOD.replace("min = 0.4", "min = 0.1"))
    (tmp_path / "conftest.py").write_text(FAKE % "[1.0, 0.0, 1.0]")
    env = gate_env({"MLGATE_BRANCH": "main"})
    command = [*GATE_COMMAND, "--mlgate-record"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    index = tmp_path / ".mlgate" / "index.jsonl"
    before = index.read_bytes()
    records = sorted((tmp_path / ".mlgate" / "runs").iterdir())
    (tmp_path / "conftest.py").write_text(SLOW_BACKEND)
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(cancel)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert index.read_bytes() == before  # nothing appended
    assert sorted((tmp_path / ".mlgate" / "runs").iterdir()) == records  # no partial record
    json.loads(before.splitlines()[0])


def test_a_crash_in_the_middle_of_a_write_leaves_the_history_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_mlgate.results import EvalRun
    from pytest_mlgate.store import new_run_id
    from pytest_mlgate.store.folder import FolderStore
    from tests.outcomes import outcome

    store = FolderStore(tmp_path)
    kept = outcome(new_run_id(), EvalRun({}), timestamp="2026-11-01T00:00:00+00:00")
    store.append(kept)

    def killed(source: str, target: str) -> None:
        raise KeyboardInterrupt  # the process dies between writing the temp file and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.append(outcome(new_run_id(), EvalRun({}), timestamp="2026-11-01T00:00:00+00:00"))
    monkeypatch.undo()
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # cleaned up on the way out
    (tmp_path / "runs" / f".{new_run_id()}.json.x.tmp").write_text('{"half": ')  # kill -9 leftover
    assert [e.run_id for e in store.entries()] == [kept.run_id]
    latest = store.latest("main")
    assert latest is not None
    assert latest.run_id == kept.run_id


@pytest.mark.slow
@pytest.mark.parametrize("case", ["truncated-weights", "empty-dataset"])
def test_broken_weights_and_empty_data_fail_the_gate_with_the_cause(
    case: str, demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(demo_checkpoints["good"], checkpoint)
    config = GOOD.replace("sample = 50\n", "")
    if case == "truncated-weights":
        weights = checkpoint / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        expected = ["cannot load checkpoint", "SafetensorError", "truncated or corrupt"]
    else:
        tasks = tmp_path / "tasks"
        tasks.mkdir()
        (tmp_path / "empty.jsonl").write_text("")
        (tasks / "empty.yaml").write_text(
            "task: empty_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
            f"    test: {tmp_path / 'empty.jsonl'}\ntest_split: test\n"
            'output_type: multiple_choice\ndoc_to_text: "{{q}}"\ndoc_to_choice: ["a", "b"]\n'
            "doc_to_target: 0\nmetric_list:\n  - metric: acc\n"
        )
        config = config.replace('tasks = ["mlgate_tr_mc"]', 'tasks = ["empty_task"]')
        config = config.replace("[thresholds.mlgate_tr_mc]", "[thresholds.empty_task]")
        config = '[tasks]\ninclude = ["tasks"]\n' + config
        expected = ["task 'empty_task' cannot load its local json data", "at least one document"]
    (tmp_path / "thresholds.toml").write_text(config)
    result = run_gate(tmp_path)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout[-2000:]
    for fragment in expected:
        assert fragment in result.stdout, result.stdout[-2000:]
    assert "Traceback" not in result.stdout


# --- errors that name the real mistake: (id, files, command, exit code, first line) ------------
# Each runs as a user would, in a scratch repository: `pytest ...` or `mlgate ...`. The first line
# is the first line of the error (pytest's "ERROR: ...", argparse's last line), or of the output
# when the command succeeds; {repo} stands for the repository's path.
MLGATE = [sys.executable, "-m", "pytest_mlgate.cli.main"]
HUB_LIKE = GOOD.replace('checkpoint = "ckpt"', 'checkpoint = "checkpoints/latest"')
BAD_YAML = "task: broken\nmetric_list:\n  - metric: acc\n   aggregation: mean\n"
INCLUDED = '[tasks]\ninclude = ["tasks"]\n' + GOOD
HEAVY = """
import json, sys
from pathlib import Path

def pytest_unconfigure(config):
    heavy = sorted(m for m in ("torch", "transformers", "lm_eval") if m in sys.modules)
    Path("heavy.json").write_text(json.dumps(heavy))
"""

NAMED_CASES = [
    (
        "hub-like-missing-checkpoint-beside-its-folder",
        {"thresholds.toml": HUB_LIKE, "checkpoints/.keep": "", "conftest.py": HEAVY},
        ["pytest", "-m", "eval"],
        USAGE,
        "ERROR: CheckpointError: checkpoint 'checkpoints/latest' does not exist: no folder "
        "{repo}/checkpoints/latest ('checkpoints' exists in {repo}, so this names a folder in it)."
        " As a hub id it would be downloaded from huggingface.co/checkpoints/latest.",
    ),
    (
        "hub-like-missing-checkpoint-offline",
        {"thresholds.toml": HUB_LIKE, "conftest.py": HEAVY},
        ["pytest", "-m", "eval"],
        USAGE,
        "ERROR: CheckpointError: checkpoint 'checkpoints/latest' does not exist: no folder "
        "{repo}/checkpoints/latest (the hub is offline (HF_HUB_OFFLINE) and its cache",
    ),
    (
        "task-yaml-that-does-not-parse",
        {"thresholds.toml": INCLUDED, "tasks/broken.yaml": BAD_YAML},
        ["pytest", "-m", "eval"],
        USAGE,
        "ERROR: task file {repo}/tasks/broken.yaml, line 4, column 4: not valid YAML: expected "
        "<block end>, but found '<block mapping start>'",
    ),
    (
        "metric-the-task-does-not-define",
        {"thresholds.toml": GOOD.replace("acc = {", "accuracy = {")},
        ["pytest", "-m", "eval"],
        USAGE,
        "ERROR: {repo}/thresholds.toml: [thresholds.mlgate_tr_mc] accuracy: task 'mlgate_tr_mc' "
        "defines no metric 'accuracy' (its metrics: acc, acc_norm;",
    ),
    (
        "metric-the-task-does-not-define-in-check",
        {"thresholds.toml": GOOD.replace("acc = {", "accuracy = {")},
        ["mlgate", "check"],
        USAGE,
        "mlgate: error: {repo}/thresholds.toml: [thresholds.mlgate_tr_mc] accuracy: task "
        "'mlgate_tr_mc' defines no metric 'accuracy'",
    ),
    (
        "filter-the-task-does-not-define",
        {
            "thresholds.toml": GOOD.replace(
                "acc = { min = 0.4 }",
                'acc = { min = 0.4 }\n[thresholds.mlgate_tr_math]\n"exact_match,strict" = 0.1',
            ).replace('tasks = ["mlgate_tr_mc"]', 'tasks = ["mlgate_tr_mc", "mlgate_tr_math"]')
        },
        ["mlgate", "check"],
        USAGE,
        "mlgate: error: {repo}/thresholds.toml: [thresholds.mlgate_tr_math] "
        "\"exact_match,strict\": task 'mlgate_tr_math' has no filter 'strict' (its filters: "
        "strict-match, flexible-extract;",
    ),
    (
        "bound-no-accuracy-can-reach",
        {"thresholds.toml": GOOD.replace("min = 0.4", "min = 1.5")},
        ["pytest", "-m", "eval"],
        USAGE,
        "ERROR: {repo}/thresholds.toml: [thresholds.mlgate_tr_mc] acc: min = 1.5 can never be "
        "met: acc is a mean of 0/1 scores, in [0, 1]",
    ),
    (
        "thresholds-with-a-byte-order-mark",
        {"thresholds.toml": "\ufeff" + GOOD.lstrip()},
        ["mlgate", "check"],
        pytest.ExitCode.OK,
        "{repo}/thresholds.toml: ok",
    ),
    (
        "thresholds-file-named-without-eval",
        {"thresholds.toml": GOOD},
        ["pytest", "thresholds.toml"],
        USAGE,
        "ERROR: {repo}/thresholds.toml holds the gate's eval items, which run only with -m eval: "
        "pytest -m eval thresholds.toml",
    ),
    (
        "power-with-no-examples",
        {},
        ["mlgate", "power", "--n", "0", "--p", "0.8"],
        2,
        "mlgate power: error: argument --n: 0 examples: need at least 1",
    ),
    (
        "power-with-negative-examples",
        {},
        ["mlgate", "power", "--n", "-5", "--p", "0.8"],
        2,
        "mlgate power: error: argument --n: -5 examples: need at least 1",
    ),
    (
        "power-with-a-negative-drop",
        {},
        ["mlgate", "power", "--n", "100", "--p", "0.8", "--drop", "-0.02"],
        2,
        "mlgate power: error: argument --drop: -0.02 is not a drop in (0, 1] (0.02 is 2 pp)",
    ),
]


def first_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error's first line (pytest's ERROR line, argparse's last one), else the output's."""
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR:")]
    if errors:
        return errors[0]
    if result.returncode and result.stderr.strip():
        return result.stderr.strip().splitlines()[-1]
    return result.stdout.strip().splitlines()[0]


@pytest.mark.parametrize(
    ("files", "command", "code", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in NAMED_CASES],
)
def test_the_error_names_the_real_mistake(
    tmp_path: Path, files: dict[str, str], command: list[str], code: int, expected: str
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content, encoding="utf-8")
    program = MLGATE if command[0] == "mlgate" else [*GATE_COMMAND[:3]]
    empty_hub = {"HF_HUB_CACHE": str(tmp_path / "hub")}  # nothing cached: offline, not there
    result = subprocess.run(
        [*program, *command[1:]], cwd=repo, env=gate_env(empty_hub), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
    line = first_line(result)
    assert line.startswith(expected.format(repo=repo)), line
    assert "Traceback" not in result.stdout + result.stderr
    if "conftest.py" in files:  # found before anything heavy is imported
        assert json.loads((repo / "heavy.json").read_text()) == []


def test_a_close_match_is_offered_for_a_metric_the_task_lacks(tmp_path: Path) -> None:
    (tmp_path / "thresholds.toml").write_text(GOOD.replace("acc = {", "accuracy = {"))
    result = subprocess.run(
        [*MLGATE, "check"], cwd=tmp_path, env=gate_env(), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == USAGE
    assert result.stderr.rstrip().endswith("task.yaml.in). Did you mean 'acc'?")


GIT_NOTES = {
    "outside-git": "mlgate: recorded outside a git repository ({repo}): the run names no branch "
    "and no commit: no baseline lookup by branch will find it; set MLGATE_BRANCH",
    "unborn-branch": "mlgate: recorded before the first commit on branch 'main': the run names "
    "no commit (commit, then record again, for a baseline that names one)",
    "detached": "mlgate: recorded without a branch name (detached checkout, unknown CI): no "
    "baseline lookup by branch will find it; set MLGATE_BRANCH",
}


@pytest.mark.parametrize("where", sorted(GIT_NOTES))
def test_a_recorded_run_says_what_its_git_state_lacks(tmp_path: Path, where: str) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "thresholds.toml").write_text(GOOD)
    (tmp_path / "conftest.py").write_text(FAKE % "[1.0, 1.0]")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    if where != "outside-git":
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    if where == "detached":
        subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run([*git, "commit", "-qm", "c"], cwd=tmp_path, check=True)
        subprocess.run([*git, "checkout", "-q", "--detach"], cwd=tmp_path, check=True)
    env = {name: "" for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "MLGATE_BRANCH")}
    result = run_gate(tmp_path, "--mlgate-record", env=env)
    assert result.returncode == 0, result.stdout[-2000:]
    [said] = [ln for ln in result.stdout.splitlines() if ln.startswith("mlgate: recorded ")][1:]
    assert said == GIT_NOTES[where].format(repo=tmp_path)
    history = subprocess.run(
        [*MLGATE, "history"], cwd=tmp_path, env=gate_env(env), capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert "None" not in history.stdout
    [row] = history.stdout.splitlines()[1:]
    branch, commit = row.split()[2:4]
    assert (branch, commit == "-") == (
        {"unborn-branch": "main"}.get(where, "-"),
        where != "detached",
    )


def test_after_a_truncated_last_index_line_the_next_record_starts_its_own(tmp_path: Path) -> None:
    from pytest_mlgate.results import EvalRun
    from pytest_mlgate.store import new_run_id
    from pytest_mlgate.store.folder import FolderStore
    from tests.outcomes import outcome

    store = FolderStore(tmp_path)
    first = outcome(new_run_id(), EvalRun({}), timestamp="2026-11-01T00:00:00+00:00")
    store.append(first)
    index = tmp_path / "index.jsonl"
    index.write_bytes(index.read_bytes()[:-10])  # a crash cut the last line
    second = outcome(new_run_id(), EvalRun({}), timestamp="2026-11-02T00:00:00+00:00")
    FolderStore(tmp_path).append(second)
    with pytest.warns(SkippedRecordWarning, match="unreadable index entry skipped"):
        entries = FolderStore(tmp_path).entries()
    lines = index.read_bytes().split(b"\n")
    assert json.loads(lines[1])["run_id"] == second.run_id  # on a line of its own, readable
    assert [e.run_id for e in entries] == [first.run_id, second.run_id]  # nothing lost


def test_the_power_warning_says_to_record_a_new_baseline_with_more_examples() -> None:
    from pytest_mlgate.backend.fake import fake_task_result
    from pytest_mlgate.config.schema import GateConfig, MetricThreshold
    from pytest_mlgate.gate.power import power_warnings
    from pytest_mlgate.results import EvalRun
    from tests.outcomes import outcome

    baseline = outcome("b", EvalRun({"t": fake_task_result("t", {"acc": [1.0, 0.0] * 25})}))
    [message] = power_warnings([MetricThreshold("t", "acc", max_drop=0.01)], baseline, GateConfig())
    assert message.endswith(
        "widen the margin, or evaluate more examples (raise the suite's sample, or remove it for "
        "every document) and record a new baseline with them (--mlgate-record on the baseline "
        "branch): the paired test counts only documents both runs evaluated, so against this "
        "baseline n stays at most 50."
    )


def test_demo_says_what_it_is_doing_and_where_the_checkpoints_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_mlgate.cli import demo

    def build(root: Path, settings: object = None) -> None:
        print("(training)")
        for variant in demo.VARIANTS:
            (root / variant).mkdir(parents=True)
            (root / variant / "config.json").write_text("{}")

    monkeypatch.setattr(demo, "build_checkpoints", build)
    monkeypatch.setattr(demo, "run_gate", lambda repo, ckpt, extra=(): 0 if "good" in ckpt else 1)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: None)  # no git in the scratch repo
    assert demo.main(tmp_path / "d") == 0
    lines = capsys.readouterr().out.splitlines()
    checkpoints = tmp_path / "d" / "checkpoints"
    assert lines[0] == f"mlgate demo: a scratch repository in {tmp_path / 'd'}"
    assert lines[1].startswith(
        f"mlgate demo: training the tiny checkpoints good, regressed into {checkpoints} (offline"
    )
    assert lines[2] == "(training)"  # said before the minutes it takes, not after
    assert demo.main(tmp_path / "d") == 0
    again = capsys.readouterr().out.splitlines()
    assert (
        again[1]
        == f"mlgate demo: reusing the checkpoints in {checkpoints} (--rebuild to train again)"
    )
