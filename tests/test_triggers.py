"""The trigger matrix: which suite each kind of change gets, in a git repo made by the test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_mlgate.cli.main import main
from pytest_mlgate.config.triggers import TriggerConfig, kind_of, plan

SUITES = ["fast", "full"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("src/model/train.py", "code"),
        ("prompts/system.txt", "prompt"),
        ("src/templates/chat.j2", "prompt"),
        ("data/train.jsonl", "data"),
        ("evals/tasks/my_task/test.jsonl", "data"),
        ("checkpoints/latest/model.safetensors", "model"),
        ("thresholds.toml", "config"),
        ("configs/train.yaml", "config"),
        ("README.md", "code"),  # anything else: [triggers] other
    ],
)
def test_default_kinds(path: str, kind: str) -> None:
    assert kind_of(path, TriggerConfig()) == kind


def test_deepest_suite_wins_and_says_why() -> None:
    decision = plan(["src/a.py", "prompts/p.txt"], TriggerConfig(), SUITES)
    assert decision.suite == "fast"
    decision = plan(["src/a.py", "data/x.jsonl"], TriggerConfig(), SUITES)
    assert decision.suite == "full"
    assert "data change(s) need full" in decision.reason
    assert "data/x.jsonl: data -> full" in decision.explain()
    assert plan([], TriggerConfig(), SUITES).suite == "fast"


def test_user_globs_come_first() -> None:
    triggers = TriggerConfig(paths=(("src/model/**", "model"),))
    assert plan(["src/model/arch.py"], triggers, SUITES).suite == "full"
    assert plan(["src/utils.py"], triggers, SUITES).suite == "fast"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


CONFIG = """
[model]
checkpoint = "ckpt"
[suites.fast]
tasks = ["mlgate_tr_mc"]
[suites.full]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
[triggers.paths]
"notebooks/**" = "data"
[thresholds.mlgate_tr_mc]
acc = 0.1
[thresholds.mlgate_tr_math]
"exact_match,strict-match" = 0.0
"""


@pytest.fixture
def repo(pytester: pytest.Pytester) -> Path:
    path = pytester.path
    (path / "thresholds.toml").write_text(CONFIG)
    (path / "ckpt").mkdir()
    (path / "src").mkdir()
    (path / "src" / "train.py").write_text("x = 1\n")
    pytester.makeconftest(
        """
        from pytest_mlgate.backend.fake import FakeBackend

        def pytest_mlgate_make_backend(spec):
            return FakeBackend({"mlgate_tr_mc": {"acc": [1, 0]},
                                "mlgate_tr_math": {"exact_match,strict-match": [1, 0]}})
        """
    )
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "base")
    git(path, "checkout", "-q", "-b", "feature")
    return path


@pytest.mark.parametrize(
    ("change", "suite"),
    [
        ("src/train.py", "fast"),  # code
        ("prompts/system.txt", "fast"),  # prompt
        ("data/new.jsonl", "full"),  # data
        ("checkpoints/latest/model.safetensors", "full"),  # model
        ("thresholds.toml", "full"),  # config
        ("notebooks/explore.ipynb", "full"),  # the user's own glob
    ],
)
def test_auto_suite_picks_the_tier_for_each_kind_of_change(
    repo: Path,
    pytester: pytest.Pytester,
    change: str,
    suite: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = repo / change
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(target.read_text() + "# changed\n" if target.exists() else "new\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    assert main(["plan", "--changed-from", "main", "--config", str(repo / "thresholds.toml")]) == 0
    assert capsys.readouterr().out.startswith(f"suite: {suite} (")
    config = str(repo / "thresholds.toml")
    assert main(["plan", "--changed-from", "main", "--config", config, "--format", "name"]) == 0
    assert capsys.readouterr().out == f"{suite}\n"  # what the eval workflow reads
    result = pytester.runpytest(
        "-m", "eval", "--mlgate-suite", "auto", "--mlgate-changed-from", "main", "-v"
    )
    assert result.ret == 0
    gated = [ln for ln in result.stdout.lines if ln.startswith("thresholds.toml::")]
    assert len(gated) == (1 if suite == "fast" else 2)
    result.stdout.fnmatch_lines([f"*suite chosen by the trigger matrix*need {suite}*"])


def test_auto_without_a_ref_is_a_usage_error(repo: Path, pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-m", "eval", "--mlgate-suite", "auto")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlgate-suite auto needs --mlgate-changed-from REF*"])
    bad_ref = pytester.runpytest(
        "-m", "eval", "--mlgate-suite", "auto", "--mlgate-changed-from", "no-such-ref"
    )
    assert bad_ref.ret == pytest.ExitCode.USAGE_ERROR
    bad_ref.stderr.fnmatch_lines(["*--mlgate-changed-from no-such-ref: git merge-base*"])


# DVC pointers, as `dvc add` / `dvc repro` (DVC 3) write them.
def dvc_file(path: str, md5: str, size: int = 1024) -> str:
    return f"outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n  path: {path}\n"


DVC_LOCK = """schema: '2.0'
stages:
  prepare:
    cmd: python prepare.py
    deps:
    - path: raw/corpus.txt
      md5: 1111
      size: 10
    outs:
    - path: data/prepared.parquet
      md5: {data}
      size: 20
  train:
    cmd: python train.py
    outs:
    - path: models/tiny
      md5: {model}.dir
      size: 30
      nfiles: 4
"""


def test_a_dvc_pointer_is_data_or_model_by_what_it_points_to() -> None:
    from pytest_mlgate.config.triggers import Changes, moved_outputs

    triggers = TriggerConfig(suites={**TriggerConfig().suites, "data": "fast"})
    pointers = {
        "corpus.parquet.dvc": moved_outputs(
            "corpus.parquet.dvc", dvc_file("corpus.parquet", "a1"), dvc_file("corpus.parquet", "b2")
        ),
        "models/llama.dvc": moved_outputs(
            "models/llama.dvc", dvc_file("llama", "a1.dir"), dvc_file("llama", "c3.dir")
        ),
    }
    data_only = plan(Changes(("corpus.parquet.dvc",), pointers), triggers, SUITES)
    assert data_only.suite == "fast"
    assert data_only.changes[0].kind == "data"
    assert "DVC pointer to corpus.parquet" in data_only.explain()
    both = Changes(("corpus.parquet.dvc", "models/llama.dvc"), pointers)
    with_model = plan(both, triggers, SUITES)
    assert with_model.suite == "full"
    assert "models/llama.dvc: model -> full (DVC pointer to models/llama)" in with_model.explain()


def test_dvc_lock_counts_only_the_outputs_that_moved() -> None:
    from pytest_mlgate.config.triggers import moved_outputs, pointer_kind

    old = DVC_LOCK.format(data="aaaa", model="bbbb")
    assert moved_outputs("dvc.lock", old, DVC_LOCK.format(data="cccc", model="bbbb")) == (
        "data/prepared.parquet",
    )
    moved = moved_outputs("dvc.lock", old, DVC_LOCK.format(data="aaaa", model="dddd"))
    assert moved == ("models/tiny",)
    assert pointer_kind("dvc.lock", moved, TriggerConfig())[0] == "model"
    # A folder named in [triggers] model_folders (or the [model] checkpoint) is weights too.
    elsewhere = moved_outputs("exp/a.dvc", dvc_file("ft", "1"), dvc_file("ft", "2"))
    assert elsewhere == ("exp/ft",)
    assert pointer_kind("exp/a.dvc", elsewhere, TriggerConfig())[0] == "data"
    assert pointer_kind("exp/a.dvc", elsewhere, TriggerConfig(model_folders=("exp",)))[0] == "model"
    # Not a DVC file: still a data change (never silently "code"), and it says why.
    assert moved_outputs("x.dvc", "outs: 3\n", None) is None
    assert pointer_kind("x.dvc", None, TriggerConfig()) == (
        "data",
        "DVC pointer that could not be read",
    )


DVC_CONFIG = CONFIG.replace(
    "[triggers.paths]", '[triggers.suites]\ndata = "fast"\n[triggers.paths]'
)


@pytest.mark.parametrize(
    ("files", "kind", "suite"),
    [
        ({"corpus.parquet.dvc": dvc_file("corpus.parquet", "{v}")}, "data", "fast"),
        ({"models/llama.dvc": dvc_file("llama", "{v}.dir")}, "model", "full"),
        ({"ckpt.dvc": dvc_file("ckpt", "{v}.dir")}, "model", "full"),  # the [model] checkpoint
        ({"dvc.lock": DVC_LOCK.format(data="{v}", model="same")}, "data", "fast"),
        ({"dvc.lock": DVC_LOCK.format(data="same", model="{v}")}, "model", "full"),
    ],
)
def test_mlgate_plan_reads_dvc_pointers_from_git(
    repo: Path, files: dict[str, str], kind: str, suite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "thresholds.toml").write_text(DVC_CONFIG)
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text.replace("{v}", "0001"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pointers")
    git(repo, "branch", "-f", "main")
    for name, text in files.items():
        (repo / name).write_text(text.replace("{v}", "0002"))  # uncommitted counts too
    assert main(["plan", "--changed-from", "main", "--config", str(repo / "thresholds.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"suite: {suite} (")
    (name,) = files
    assert f"  {name}: {kind} -> {suite} (DVC pointer to " in out


def test_paths_are_relative_to_the_repository_top_when_the_config_is_in_a_subfolder(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = repo / "evals"
    sub.mkdir()
    (sub / "thresholds.toml").write_text(DVC_CONFIG)
    (repo / "models").mkdir()
    (repo / "models" / "llama.dvc").write_text(dvc_file("llama", "0001.dir"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pointer")
    git(repo, "branch", "-f", "main")
    (repo / "models" / "llama.dvc").write_text(dvc_file("llama", "0002.dir"))
    (repo / "models" / "notes.jsonl").write_text("{}\n")  # untracked, outside the config folder
    assert main(["plan", "--changed-from", "main", "--config", str(sub / "thresholds.toml")]) == 0
    out = capsys.readouterr().out
    assert "  models/llama.dvc: model -> full (DVC pointer to models/llama)" in out
    assert "  models/notes.jsonl: data -> fast" in out
