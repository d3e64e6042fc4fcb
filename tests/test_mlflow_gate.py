"""The gate with MLflow as its history and registry, against a real `mlflow server` on
127.0.0.1, as a user runs it (`python -m pytest -m eval` in a git repository); and head to head
against a reference checkpoint. Scores come from a fake backend keyed by the checkpoint's
config.json, so a registered version downloaded from MLflow scores as its source did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.checkpoint import fingerprint_checkpoint
from pytest_mlgate.config.schema import ModelUri, parse_model_uri
from pytest_mlgate.errors import ConfigError, ModelStageWarning
from pytest_mlgate.store.mlflow import registry
from pytest_mlgate.store.mlflow.store import MlflowStore
from tests.gate_run import gate_env, run_gate
from tests.mlflow_server import DroppingProxy, MlflowServer

pytest.importorskip("mlflow")

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend


class Logged(FakeBackend):
    def evaluate(self, request):
        with open("models.log", "a") as log:
            log.write(f"eval {self.name}\\n")
        return super().evaluate(request)

    def close(self):
        with open("models.log", "a") as log:
            log.write(f"close {self.name}\\n")


class StopsTheServer(Logged):
    # Stops the MLflow server while evaluating (after the baseline lookup, before the
    # upload): a server that goes away mid-session.

    def evaluate(self, request):
        import os, signal, time, urllib.request

        os.killpg(int(os.environ["MLGATE_TEST_STOP_PGID"]), signal.SIGTERM)
        for _ in range(100):
            try:
                urllib.request.urlopen(os.environ["MLFLOW_TRACKING_URI"] + "/health", timeout=1)
            except OSError:
                break
            time.sleep(0.1)
        return super().evaluate(request)


def pytest_mlgate_make_backend(spec):
    import os

    name = json.loads((Path(spec.checkpoint) / "config.json").read_text())["name"]
    with open("models.log", "a") as log:
        log.write(f"open {name}\\n")
    kind = StopsTheServer if os.environ.get("MLGATE_TEST_STOP_PGID") else Logged
    backend = kind({"mlgate_tr_mc": {"acc": json.loads(Path("scores.json").read_text())[name]}})
    backend.name = name
    cacheable = bool(os.environ.get("MLGATE_TEST_CACHEABLE"))
    backend.cacheable = lambda: cacheable  # the Cacheable capability is a method
    return backend
"""

THRESHOLDS = """
[model]
checkpoint = "ckpt/a"

[suites.fast]
tasks = ["mlgate_tr_mc"]

[gate]
store = "{store}"
experiment = "{experiment}"
cache = ""
{extra}

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.1{bounds} }}
"""

BASE = [1.0] * 80 + [0.0] * 20  # 0.80 on 100 examples


def flip(right_to_wrong: int = 0, wrong_to_right: int = 0) -> list[float]:
    new = list(BASE)
    for i in range(right_to_wrong):
        new[i] = 0.0
    for i in range(wrong_to_right):
        new[80 + i] = 1.0
    return new


SCORES = {
    "a": BASE,
    "a2": BASE,  # the same model, other bytes: a second version that scores the same
    "b": flip(right_to_wrong=12),  # a significant regression
    "c": flip(wrong_to_right=6),  # better
    "c2": flip(wrong_to_right=6),  # as good as c, other bytes
}


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    done = subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


class Repo:
    """A git repository with thresholds.toml, the fake backend and four checkpoints."""

    def __init__(self, path: Path, store: str, experiment: str, extra: str = "") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        for name in SCORES:
            folder = path / "ckpt" / name
            folder.mkdir(parents=True)
            (folder / "config.json").write_text(json.dumps({"name": name}))
            (folder / "model.safetensors").write_bytes(f"weights of {name}".encode() * 64)
        (path / "conftest.py").write_text(CONFTEST)
        (path / "scores.json").write_text(json.dumps(SCORES))
        (path / ".gitignore").write_text("ckpt/\n.mlgate*\nmodels.log\n*.json\n*.md\n*.html\n")
        self.configure(store, experiment, extra)
        git(path, "init", "-q", "-b", "main")
        self.commit("start")

    def configure(self, store: str, experiment: str, extra: str = "", bounds: str = "") -> None:
        text = THRESHOLDS.format(store=store, experiment=experiment, extra=extra, bounds=bounds)
        (self.path / "thresholds.toml").write_text(text)

    def commit(self, message: str) -> str:
        (self.path / "notes.txt").write_text(message)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-qm", message)
        return git(self.path, "rev-parse", "HEAD")

    def gate(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_gate(self.path, "-W", "default", *args, env=env)

    def mlgate(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_mlgate.cli.main", *args],
            cwd=self.path,
            env=gate_env(env),
            capture_output=True,
            text=True,
            check=False,
        )

    def verdict(self, name: str = "r.json") -> dict[str, object]:
        [verdict] = json.loads((self.path / name).read_text())["verdicts"]
        return dict(verdict)


def out(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def server_env(mlflow_server: MlflowServer) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": mlflow_server.uri}


def test_record_on_main_then_gate_a_pr_against_it(
    tmp_path: Path, server_env: dict[str, str], mlflow_server: MlflowServer
) -> None:
    repo = Repo(tmp_path / "repo", "mlflow", "record-then-gate")
    first = repo.gate("--mlgate-record", env=server_env)
    assert first.returncode == 0, out(first)
    assert "recorded run 2" in first.stdout
    assert f"in MLflow {mlflow_server.uri}, experiment 'record-then-gate'" in first.stdout
    git(repo.path, "checkout", "-q", "-b", "feature")
    regressed = repo.gate("--mlgate-checkpoint", "ckpt/b", "--mlgate-json=r.json", env=server_env)
    assert regressed.returncode == 1, out(regressed)
    assert "significant drop of 0.1200 > max_drop 0.02" in str(repo.verdict()["reason"])
    better = repo.gate("--mlgate-checkpoint", "ckpt/c", env=server_env)
    assert better.returncode == 0, out(better)
    listed = repo.mlgate("history", "--format", "json", env=server_env)
    assert listed.returncode == 0, out(listed)
    [row] = json.loads(listed.stdout)  # the PR runs were not recorded
    assert row["branch"] == "main"
    assert row["mlgate_tr_mc::acc"] == 0.8


def test_without_a_tracking_uri_a_pr_gates_its_thresholds_only(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", "mlflow", "no-uri")
    env = {"MLFLOW_TRACKING_URI": ""}  # a fork PR: the secret is not there
    result = repo.gate("--mlgate-checkpoint", "ckpt/b", "--mlgate-markdown=s.md", env=env)
    assert result.returncode == 0, out(result)
    assert "gated on thresholds only" in result.stdout
    assert "gated on thresholds only" in (repo.path / "s.md").read_text()
    recording = repo.gate("--mlgate-record", env=env)
    assert recording.returncode == 4, out(recording)
    assert "MLFLOW_TRACKING_URI, which is not set" in out(recording)
    assert not (repo.path / "mlruns").exists()


def test_server_down_baseline_lookup_is_exit_4_and_a_run_it_dies_under_is_spooled(
    tmp_path: Path,
) -> None:
    """Down before the session: exit 4 naming the server, no eval. Down during the eval (the
    backend stops it): the run is spooled, the session exits per its verdict, and `mlgate
    history sync` uploads it once the server is back."""
    server = MlflowServer(tmp_path / "server").start()
    env = {"MLFLOW_TRACKING_URI": server.uri}
    try:
        repo = Repo(tmp_path / "repo", "mlflow", "down")
        assert repo.gate("--mlgate-record", env=env).returncode == 0
        server.stop()
        (repo.path / "models.log").unlink()
        for args in (("--mlgate-checkpoint", "ckpt/b"), ("--mlgate-record",)):
            lookup = repo.gate(*args, env=env)
            assert lookup.returncode == 4, out(lookup)
            assert f"MLflow server {server.uri} is unreachable" in out(lookup)
            assert "no eval was run" in out(lookup)
            assert not (repo.path / "models.log").exists()
        spooled = []
        for step in range(2):
            server.start()
            repo.commit(f"step {step}")
            assert server.process is not None
            dies = {**env, "MLGATE_TEST_STOP_PGID": str(server.process.pid)}
            result = repo.gate("--mlgate-record", "--mlgate-checkpoint", "ckpt/c", env=dies)
            assert result.returncode == 0, out(result)
            assert "run NOT uploaded" in result.stdout
            assert "history sync" in result.stdout
            spooled.append(result)
            server.stop()
        server.start()
        synced = repo.mlgate("history", "sync", env=env)
        assert synced.returncode == 0, out(synced)
        assert "2 uploaded, 0 already there" in synced.stdout
        listed = repo.mlgate("history", "--format", "json", env=env)
        ids = [row["run_id"] for row in json.loads(listed.stdout)]
        assert len(ids) == len(set(ids)) == 3
    finally:
        server.stop()


def test_a_run_is_spooled_when_the_server_goes_away_after_the_lookup(tmp_path: Path) -> None:
    """The lookup succeeds, then the upload cannot: the run is spooled, the session exits per
    its verdict, `mlgate history sync` uploads it exactly once (also after a crash between
    the upload and the spool clean-up)."""
    server = MlflowServer(tmp_path / "server").start()
    proxy = DroppingProxy(server.port, b"PUT /api/2.0/mlflow-artifacts/artifacts")
    direct = {"MLFLOW_TRACKING_URI": server.uri}
    try:
        repo = Repo(tmp_path / "repo", "mlflow", "spool")
        assert repo.gate("--mlgate-record", env=direct).returncode == 0
        recorded_down = []
        for step in range(3):
            repo.commit(f"step {step}")
            result = repo.gate("--mlgate-record", env={"MLFLOW_TRACKING_URI": proxy.uri})
            assert result.returncode == 0, out(result)  # exits per its verdict: passed
            assert "run NOT uploaded" in result.stdout
            assert "spooled in" in result.stdout
            recorded_down.append(result)
        assert proxy.dropped >= 3
        spool = repo.path / ".mlgate-spool"
        pending = sorted(p.name for p in spool.iterdir())
        assert len(pending) == 3
        synced = repo.mlgate("history", "sync", env=direct)
        assert synced.returncode == 0, out(synced)
        assert "3 uploaded, 0 already there" in synced.stdout
        again = repo.mlgate("history", "sync", env=direct)
        assert "nothing spooled" in again.stdout
        listed = repo.mlgate("history", "--format", "json", env=direct)
        ids = [row["run_id"] for row in json.loads(listed.stdout)]
        assert len(ids) == 4
        assert len(set(ids)) == 4
        assert set(pending) <= set(ids)
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=server.uri)
        experiment = client.get_experiment_by_name("spool")
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id])
        live = [r.data.tags["mlgate.run_id"] for r in runs]
        assert sorted(live) == sorted(ids)  # the cut-off uploads were removed, none twice
    finally:
        proxy.close()
        server.stop()


def assert_champion_is(store: MlflowStore, version: str, source: Path, into: Path) -> None:
    """@champion holds ``version``, whose downloaded files hash to the fingerprint recorded
    with the gate run that registered it (and to ``source``'s)."""
    champion = registry.find_version(store, "models:/tiny@champion")
    assert champion.version == version
    fetched = registry.fetch(store, champion, into)
    [entry] = [e for e in store.entries() if e.run_id == champion.tags["mlgate.run_id"]]
    assert fingerprint_checkpoint(str(fetched)).fingerprint == entry.fingerprint
    assert entry.fingerprint == fingerprint_checkpoint(str(source)).fingerprint


def test_register_compare_with_the_champion_and_move_the_alias_only_forward(
    tmp_path: Path, server_env: dict[str, str], mlflow_server: MlflowServer
) -> None:
    repo = Repo(tmp_path / "repo", "mlflow", "registry")
    transcript: list[str] = []

    def step(label: str, *args: str) -> subprocess.CompletedProcess[str]:
        result = repo.gate(
            *args,
            "--mlgate-json=r.json",
            env={**server_env, "MLGATE_BRANCH": "main"} if "late" in label else server_env,
        )
        said = [line for line in result.stdout.splitlines() if "regist" in line]
        reason = str(repo.verdict()["reason"]) if (repo.path / "r.json").exists() else ""
        transcript.append(f"{label}: exit {result.returncode}; {'; '.join(said)}; {reason}")
        return result

    first_commit = git(repo.path, "rev-parse", "HEAD")
    assert (
        step("register a", "--mlgate-record", "--mlgate-register", "tiny@champion").returncode == 0
    )
    store = MlflowStore(mlflow_server.uri, "registry")
    assert_champion_is(store, "1", repo.path / "ckpt" / "a", tmp_path / "fetched")

    git(repo.path, "checkout", "-q", "-b", "pr")
    champ = ("--mlgate-baseline", "models:/tiny@champion")
    assert step("b vs champion", "--mlgate-checkpoint", "ckpt/b", *champ).returncode == 1
    assert "significant drop" in transcript[-1]
    failing = step(
        "b registers?",
        "--mlgate-checkpoint",
        "ckpt/b",
        *champ,
        "--mlgate-record",
        "--mlgate-register",
        "tiny@champion",
    )
    assert failing.returncode == 1
    assert "did not pass" in failing.stdout
    assert step("c vs champion", "--mlgate-checkpoint", "ckpt/c", *champ).returncode == 0
    git(repo.path, "checkout", "-q", "main")
    repo.commit("merge c")
    moved = step(
        "register c",
        "--mlgate-checkpoint",
        "ckpt/c",
        "--mlgate-record",
        "--mlgate-register",
        "tiny@champion",
    )
    assert moved.returncode == 0
    assert "registered models:/tiny/2 and moved @champion" in moved.stdout
    # A late run of an older commit (a merge burst finishing out of order) registers but
    # does not take the alias back.
    git(repo.path, "checkout", "-q", first_commit)
    late = step(
        "late c2",
        "--mlgate-checkpoint",
        "ckpt/c2",
        "--mlgate-record",
        "--mlgate-register",
        "tiny@champion",
    )
    assert late.returncode == 0, out(late)
    assert "@champion NOT moved" in late.stdout
    assert "is an ancestor of" in late.stdout
    assert_champion_is(store, "2", repo.path / "ckpt" / "c", tmp_path / "fetched")
    # The champion as the checkpoint: fetched from the registry and evaluated.
    git(repo.path, "checkout", "-q", "main")
    served = step("evaluate champion", "--mlgate-checkpoint", "models:/tiny@champion")
    assert served.returncode == 0, out(served)
    assert str(repo.path / ".mlgate-cache" / "models" / "tiny" / "2") in served.stdout
    print("\n" + "\n".join(transcript))


def test_a_models_anchor_is_the_latest_run_of_that_version(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    repo = Repo(tmp_path / "repo", "mlflow", "anchor")
    recorded = repo.gate("--mlgate-record", "--mlgate-register", "anch@release", env=server_env)
    assert recorded.returncode == 0, out(recorded)
    repo.configure("mlflow", "anchor", extra='anchor = "models:/anch@release"\nmax_drift = 0.02')
    drifted = repo.gate("--mlgate-checkpoint", "ckpt/b", "--mlgate-json=r.json", env=server_env)
    assert drifted.returncode == 1, out(drifted)
    assert "anchor: models:/anch@release (run " in drifted.stdout
    reason = str(repo.verdict()["reason"])
    assert "vs anchor models:/anch@release 0.8000, delta -0.1200" in reason
    assert "significant drift of 0.1200 > max_drift 0.02" in reason


# -- head to head ------------------------------------------------------------------------------
@pytest.fixture
def folder_repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo", ".mlgate", "unused")


def test_head_to_head_verdicts_equal_those_against_a_recorded_baseline_of_that_checkpoint(
    folder_repo: Repo,
) -> None:
    repo = folder_repo
    assert repo.gate("--mlgate-record").returncode == 0  # ckpt/a recorded as the baseline
    against_baseline = repo.gate("--mlgate-checkpoint", "ckpt/b", "--mlgate-json=base.json")
    (repo.path / "models.log").unlink()
    head_to_head = (
        "--mlgate-checkpoint",
        "ckpt/b",
        "--mlgate-reference",
        "ckpt/a",
        "--mlgate-store",
        "empty-history",
        "--mlgate-json=head.json",
        "--mlgate-report=head.html",
        "-o",
        "mlgate_report=",
    )
    head = repo.gate(*head_to_head)
    assert against_baseline.returncode == head.returncode == 1
    base, versus = repo.verdict("base.json"), repo.verdict("head.json")
    reference = versus["reference"]
    assert isinstance(reference, dict)
    for key in ("delta", "delta_ci", "p_value", "p_adjusted", "test", "paired_n", "baseline"):
        assert reference[key] == base[key], key
    assert versus["status"] == base["status"] == "fail"
    assert "vs reference ckpt/a 0.8000, delta -0.1200" in str(versus["reason"])
    assert "significant drop of 0.1200 > max_drop 0.02" in str(versus["reason"])
    # One model in memory at a time: the candidate is released before the reference loads.
    log = (repo.path / "models.log").read_text().split("\n")
    assert log[:5] == ["open b", "eval b", "close b", "open a", "eval a"]
    page = (repo.path / "head.html").read_text()
    assert '<span class="tag">reference ckpt/a</span>' in page


def test_the_reference_is_cached_by_its_fingerprint(folder_repo: Repo) -> None:
    repo = folder_repo
    cached = {"MLGATE_TEST_CACHEABLE": "1"}
    repo.configure(".mlgate", "unused", extra='cache = "cache"\nreference = "ckpt/a"')
    (repo.path / "thresholds.toml").write_text(
        (repo.path / "thresholds.toml").read_text().replace('cache = ""\n', "")
    )
    first = repo.gate("--mlgate-checkpoint", "ckpt/c", "--mlgate-json=one.json", env=cached)
    assert first.returncode == 0, out(first)
    (repo.path / "models.log").unlink()
    second = repo.gate("--mlgate-checkpoint", "ckpt/c", "--mlgate-json=two.json", env=cached)
    assert second.returncode == 0, out(second)
    assert "eval" not in (repo.path / "models.log").read_text()  # neither model evaluated
    assert repo.verdict("one.json")["reference"] == repo.verdict("two.json")["reference"]
    # Another reference (other bytes) is another fingerprint: evaluated, not read from the cache.
    (repo.path / "ckpt" / "a" / "model.safetensors").write_bytes(b"retrained a" * 64)
    repo.gate("--mlgate-checkpoint", "ckpt/c", env=cached)
    assert "eval a" in (repo.path / "models.log").read_text()


def test_with_a_baseline_and_a_reference_both_are_gated(folder_repo: Repo) -> None:
    repo = folder_repo
    assert repo.gate("--mlgate-checkpoint", "ckpt/c", "--mlgate-record").returncode == 0
    both = repo.gate("--mlgate-reference", "ckpt/b", "--mlgate-json=r.json")
    verdict = repo.verdict()
    reason = str(verdict["reason"])
    assert both.returncode == 1, out(both)  # a loses to the baseline c, and beats b
    assert "significant drop of 0.0600 > max_drop 0.02" in reason
    assert "vs reference ckpt/b 0.6800, delta +0.1200" in reason
    assert "within max_drop" in reason


def test_min_ratio_bounds_the_drop_against_the_reference(folder_repo: Repo) -> None:
    repo = folder_repo
    repo.configure(".mlgate", "unused", extra='reference = "ckpt/a"', bounds=", min_ratio = 0.95")
    close = repo.gate("--mlgate-checkpoint", "ckpt/a2", "--mlgate-json=r.json")
    assert close.returncode == 0, out(close)
    assert "within min_ratio 0.95 (a drop of 0.0400)" in str(repo.verdict()["reason"])
    worse = repo.gate("--mlgate-checkpoint", "ckpt/b", "--mlgate-json=r.json")
    assert worse.returncode == 1
    assert "significant drop of 0.1200 > min_ratio 0.95 (a drop of 0.0400)" in str(
        repo.verdict()["reason"]
    )


# -- stages ------------------------------------------------------------------------------------
def test_a_stage_is_moved_forward_only_and_resolved_as_checkpoint_and_baseline(
    tmp_path: Path, server_env: dict[str, str], mlflow_server: MlflowServer
) -> None:
    """``--mlgate-register NAME --mlgate-register-stage Staging`` moves the stage like an alias
    (forward only); ``models:/NAME/Staging`` then works as baseline and checkpoint, with
    MLflow's own deprecation warning and a note naming the alias to use instead."""
    repo = Repo(tmp_path / "repo", "mlflow", "stages")
    transcript: list[str] = []

    def step(label: str, *args: str) -> subprocess.CompletedProcess[str]:
        result = repo.gate(*args, "--mlgate-json=r.json", env=server_env)
        said = [line for line in out(result).splitlines() if "regist" in line or "stage" in line]
        transcript.append(f"{label}: exit {result.returncode}; " + " | ".join(said))
        return result

    first_commit = git(repo.path, "rev-parse", "HEAD")
    staged = ("--mlgate-register", "stg", "--mlgate-register-stage", "Staging")
    first = step("register a", "--mlgate-record", *staged)
    assert first.returncode == 0, out(first)
    assert "registered models:/stg/1 and moved stage Staging to it" in first.stdout
    store = MlflowStore(mlflow_server.uri, "stages")
    with (
        pytest.warns(FutureWarning, match="stages will be removed"),
        pytest.warns(ModelStageWarning, match="prefer an alias: models:/stg@staging"),
    ):
        assert registry.find_version(store, "models:/stg/Staging").version == "1"

    # As a baseline: the staged version's run, b's regression against it found.
    git(repo.path, "checkout", "-q", "-b", "pr")
    against = step(
        "b vs Staging", "--mlgate-checkpoint", "ckpt/b", "--mlgate-baseline", "models:/stg/Staging"
    )
    assert against.returncode == 1, out(against)
    assert "significant drop" in str(repo.verdict()["reason"])
    assert f"baseline: {first_run_id(store)}" in against.stdout
    assert "Model registry stages will be removed" in out(against)  # MLflow's FutureWarning
    assert "prefer an alias: models:/stg@staging" in out(against)

    # Forward: a later commit's run takes the stage; the version there before is archived.
    git(repo.path, "checkout", "-q", "main")
    repo.commit("merge c")
    moved = step("register c", "--mlgate-checkpoint", "ckpt/c", "--mlgate-record", *staged)
    assert "registered models:/stg/2 and moved stage Staging to it" in moved.stdout, out(moved)
    assert stages(store) == {"1": "Archived", "2": "Staging"}
    # Backward: a late run of the older commit registers but leaves the stage where it is.
    git(repo.path, "checkout", "-q", first_commit)
    late = step("late c2", "--mlgate-checkpoint", "ckpt/c2", "--mlgate-record", *staged)
    assert late.returncode == 0, out(late)
    assert "registered models:/stg/3; stage Staging NOT moved: this run's commit" in late.stdout
    assert stages(store) == {"1": "Archived", "2": "Staging", "3": "None"}

    # As the checkpoint (any case, as MLflow matches stages): version 2 downloaded.
    git(repo.path, "checkout", "-q", "main")
    served = step("evaluate Staging", "--mlgate-checkpoint", "models:/stg/staging")
    assert served.returncode == 0, out(served)
    assert str(repo.path / ".mlgate-cache" / "models" / "stg" / "2") in served.stdout
    # An empty stage is a usage error that says how to fill it.
    empty = step("Production", "--mlgate-checkpoint", "models:/stg/Production")
    assert empty.returncode == 4
    assert "no version of 'stg' is in stage Production" in out(empty)
    print("\n" + "\n".join(transcript))


def stages(store: MlflowStore) -> dict[str, str]:
    """Each version of the model ``stg`` and the stage it is in, read from the server."""
    found = store.client().search_model_versions("name='stg'")
    return {str(v.version): str(v.current_stage) for v in found}


def first_run_id(store: MlflowStore) -> str:
    return sorted(store.entries(), key=lambda e: e.key)[0].run_id


def test_register_targets_and_stage_uris_are_checked_before_anything_runs() -> None:
    assert registry.check_register_target("tiny", "production") == "Production"
    assert registry.check_register_target("tiny@champion", "Staging") == "Staging"
    assert registry.check_register_target("tiny@champion") is None
    with pytest.raises(ConfigError, match="bare NAME with --mlgate-register-stage"):
        registry.check_register_target("tiny")
    with pytest.raises(ConfigError, match="expected one of None, Staging, Production, Archived"):
        registry.check_register_target("tiny", "Prod")
    with pytest.raises(ValueError, match=r"stages: None, Staging, Production, Archived"):
        parse_model_uri("models:/tiny/Prod")
    assert parse_model_uri("models:/a/b/archived") == ModelUri("a/b", stage="Archived")
    assert parse_model_uri("models:/tiny/None").stage == "None"


def test_without_a_stage_api_the_error_names_the_alias_form() -> None:
    class NoStages:  # an MLflow client after stages are removed: no stage methods at all
        pass

    with pytest.raises(ConfigError, match=r"use an alias instead: models:/NAME@ALIAS"):
        registry._stage_api(NoStages(), "models:/tiny/Production", "get_latest_versions")
