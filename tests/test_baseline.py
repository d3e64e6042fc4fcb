"""The gate against a recorded baseline, through pytester with the fake backend."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest

THRESHOLDS = """
{tasks}
[model]
checkpoint = "ckpt"

[suites.fast]
tasks = ["{task}"]

[gate]
max_drop = {max_drop}
correction = "{correction}"
{extra}

[thresholds.{task}]
{gated}
"""

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend
from pytest_mlgate.results import RunInfo


def pytest_mlgate_make_backend(spec):
    data = json.loads(Path("scores.json").read_text())
    info = RunInfo(**data.get("info", {"backend": "fake"}))
    return FakeBackend({data.get("task", "mlgate_tr_mc"): data["scores"]}, info)
"""

BASE = [1.0] * 80 + [0.0] * 20  # 0.80 on 100 examples


def flip(scores: Sequence[float], right_to_wrong: int, wrong_to_right: int = 0) -> list[float]:
    new = list(scores)
    rights = [i for i, s in enumerate(new) if s == 1.0]
    wrongs = [i for i, s in enumerate(new) if s == 0.0]
    for i in rights[:right_to_wrong]:
        new[i] = 0.0
    for i in wrongs[:wrong_to_right]:
        new[i] = 1.0
    return new


class Repo:
    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makeconftest(CONFTEST)
        (pytester.path / "ckpt").mkdir()
        self.configure()

    def configure(
        self,
        max_drop: float = 0.02,
        correction: str = "holm",
        extra: str = "",
        gated: str = "acc = { min = 0.1 }",
        task: str = "mlgate_tr_mc",
        tasks: str = "",
    ) -> None:
        self.task = task
        self.pytester.makefile(
            ".toml",
            thresholds=THRESHOLDS.format(
                max_drop=max_drop,
                correction=correction,
                extra=extra,
                gated=gated,
                task=task,
                tasks=tasks,
            ),
        )

    def run(
        self, scores: dict[str, list[float]], *args: str, info: dict[str, object] | None = None
    ) -> pytest.RunResult:
        data: dict[str, object] = {"scores": scores, "task": self.task}
        if info is not None:
            data["info"] = info
        (self.pytester.path / "scores.json").write_text(json.dumps(data))
        return self.pytester.runpytest("-m", "eval", "-rA", "-W", "default", *args)

    def history(self) -> list[dict[str, object]]:
        index = self.pytester.path / ".mlgate" / "index.jsonl"
        return [json.loads(line) for line in index.read_text().splitlines()]


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.setenv("GITHUB_REF_NAME", "main")  # the scratch dir is no git repo
    return Repo(pytester)


def test_first_run_has_no_baseline_and_records_one(repo: Repo) -> None:
    result = repo.run({"acc": BASE}, "--mlgate-record", "--mlgate-json=r.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["baseline: none recorded yet", "mlgate: recorded run *"])
    [verdict] = json.loads((repo.pytester.path / "r.json").read_text())["verdicts"]
    assert verdict["reason"].endswith("within >= 0.1; no baseline recorded yet")
    [entry] = repo.history()
    assert entry["branch"] == "main"
    record = json.loads(
        (repo.pytester.path / ".mlgate" / "runs" / f"{entry['run_id']}.json").read_text()
    )
    assert record["manifest"]["suite"]["name"] == "fast"
    assert record["manifest"]["checkpoint"]["fingerprint"].startswith("sha256:")
    assert record["verdicts"][0]["status"] == "pass"


def test_a_significant_drop_fails_with_value_baseline_delta_ci_and_p(repo: Repo) -> None:
    repo.run({"acc": BASE}, "--mlgate-record")
    result = repo.run({"acc": flip(BASE, 20)})  # 0.80 -> 0.60, 20 right->wrong, 0 back
    assert result.ret == 1
    [line] = [ln for ln in result.stdout.lines if ln.startswith("mlgate_tr_mc acc = 0.6000 vs")]
    assert re.search(
        r"baseline 0\.8000 \(run \S+\), delta -0\.2000 \[95% CI -0\.\d+, -0\.\d+\]", line
    ), line
    # Tango's score test of "drop <= 2 pp" (before: exact McNemar of "drop <= 0", p=9.5e-07)
    assert "p=1.3e-05" in line
    assert "(tango-score, n=100)" in line
    assert line.endswith(
        "significant drop of 0.2000 > max_drop 0.02: drop 20.0 pp > margin 2 pp, p = 1.3e-05"
    )


def test_a_drop_beyond_max_drop_that_is_not_significant_passes_with_a_warning(repo: Repo) -> None:
    repo.run({"acc": BASE}, "--mlgate-record")
    result = repo.run({"acc": flip(BASE, 6, 3)})  # 0.80 -> 0.77: 6 lost, 3 gained
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*NoiseExplainedDropWarning: mlgate_tr_mc acc = 0.7700 vs baseline 0.8000*p=0.368*"
            "drop of 0.0300 > max_drop 0.02 is not significant at alpha 0.05 (drop 3.0 pp > "
            "margin 2 pp, p = 0.368); the minimum detectable drop at n=100 is 0.*",
        ]
    )
    result.stdout.fnmatch_lines(["mlgate_tr_mc*acc*0.7700*0.8000*-0.0300*0.368*WARN"])


def test_an_improvement_passes(repo: Repo) -> None:
    repo.run({"acc": BASE}, "--mlgate-record")
    result = repo.run({"acc": flip(BASE, 0, 15)})
    assert result.ret == 0
    result.stdout.fnmatch_lines(["mlgate_tr_mc*acc*0.9500*0.8000*+0.1500*PASS"])


def test_holm_keeps_many_borderline_metrics_from_multiplying_false_alarms(repo: Repo) -> None:
    metrics = [f"m{i}" for i in range(6)]
    gated = "\n".join(f"{m} = {{ max_drop = 0.0 }}" for m in metrics)
    listed = "".join(f"  - metric: {m}\n" for m in metrics)  # the preflight reads them here
    (repo.pytester.path / "tasks").mkdir()
    (repo.pytester.path / "tasks" / "six.yaml").write_text(f"task: six\nmetric_list:\n{listed}")
    six = '[tasks]\ninclude = ["tasks"]'
    repo.configure(gated=gated, task="six", tasks=six)
    repo.run({m: BASE for m in metrics}, "--mlgate-record")
    dropped = {m: flip(BASE, 6, 0) for m in metrics}  # each alone: p = 0.0156 < 0.05
    holm = repo.run(dropped)
    assert holm.ret == 0  # 6 x 0.0156 = 0.094 after Holm: warnings, not failures
    assert len([ln for ln in holm.stdout.lines if ln.endswith(" WARN")]) == 6
    repo.configure(gated=gated, correction="none", task="six", tasks=six)
    uncorrected = repo.run(dropped)
    assert uncorrected.ret == 1
    uncorrected.assert_outcomes(failed=6)


def test_baseline_option_takes_a_run_id_or_a_branch(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.run({"acc": BASE}, "--mlgate-record")
    [first] = repo.history()
    monkeypatch.setenv("GITHUB_REF_NAME", "release")
    repo.run({"acc": flip(BASE, 0, 10)}, "--mlgate-record")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    by_id = repo.run({"acc": BASE}, f"--mlgate-baseline={first['run_id']}")
    by_id.stdout.fnmatch_lines([f"baseline: {first['run_id']}"])
    by_branch = repo.run({"acc": BASE}, "--mlgate-baseline=release")
    by_branch.stdout.fnmatch_lines(["*baseline 0.9000*"])
    missing = repo.run({"acc": BASE}, "--mlgate-baseline=nope")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(
        [
            "ERROR: BaselineNotFound: --mlgate-baseline 'nope': no recorded run or branch*"
            "(2 runs; branches: main, release)*"
        ]
    )


def test_an_incomparable_baseline_fails_with_the_reason_and_the_fix(repo: Repo) -> None:
    repo.run({"acc": BASE}, "--mlgate-record", info={"dtype": "float32"})
    result = repo.run({"acc": BASE}, info={"dtype": "bfloat16"})
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*not comparable with baseline run *: dtype differs (float32 in the baseline, bfloat16 "
            "now). Record a new baseline from the reference branch (pytest -m eval --mlgate-suite "
            "fast --mlgate-record)*"
        ]
    )
    repo.configure(extra='on_incomparable = "warn"')
    warned = repo.run({"acc": BASE}, info={"dtype": "bfloat16"})
    assert warned.ret == 0
    warned.stdout.fnmatch_lines(["*within max_drop 0.02 (dtype differs*"])


def test_different_examples_fall_back_to_an_unpaired_test_and_say_so(repo: Repo) -> None:
    repo.configure(extra='on_incomparable = "warn"')
    repo.run({"acc": BASE}, "--mlgate-record")
    result = repo.run({"acc": BASE + [1.0] * 20})  # 120 examples: 20 the baseline never saw
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*two-proportion-z*examples could not be paired: unpaired test; documents differ "
            "(20 of 120 evaluated examples are not in the baseline*"
        ]
    )


def test_power_warning_before_the_eval(repo: Repo) -> None:
    repo.configure(gated="acc = { max_drop = 0.01 }")
    repo.run({"acc": BASE}, "--mlgate-record")
    result = repo.run({"acc": BASE})
    result.stdout.fnmatch_lines(
        [
            # before: "acc: n=100 cannot detect a 1.0 pp drop at alpha 0.05" (normal approximation,
            # unadjusted alpha, no margin)
            "*PowerWarning: mlgate_tr_mc acc vs baseline: n=100: the minimum detectable drop is "
            "* pp (Tango's score test against a 1 pp margin at adjusted alpha 0.05, 80% power; "
            "assuming*"
        ]
    )


def test_junit_and_json_carry_the_comparison(repo: Repo) -> None:
    repo.run({"acc": BASE}, "--mlgate-record")
    repo.run({"acc": flip(BASE, 20)}, "--junitxml=j.xml", "--mlgate-json=r.json")
    xml = (repo.pytester.path / "j.xml").read_text()
    for name in ("mlgate_baseline", "mlgate_delta", "mlgate_p", "mlgate_baseline_run"):
        assert f'<property name="{name}"' in xml
    [verdict] = json.loads((repo.pytester.path / "r.json").read_text())["verdicts"]
    assert verdict["status"] == "fail"


def test_mlgate_baseline_fixture(repo: Repo) -> None:
    repo.pytester.makepyfile(
        """
        import pytest

        @pytest.mark.eval
        def test_no_category_regressed(mlgate_eval, mlgate_baseline):
            now = mlgate_eval("mlgate_tr_mc")["mlgate_tr_mc"].metric("acc")
            if mlgate_baseline is None:
                pytest.skip("no baseline yet")
            before = mlgate_baseline["mlgate_tr_mc"].metric("acc")
            assert now.value >= before.value - 0.05
        """
    )
    repo.run({"acc": BASE}, "--mlgate-record").assert_outcomes(passed=1, skipped=1)
    repo.run({"acc": flip(BASE, 10)}).assert_outcomes(failed=2)


def test_unwritable_store_is_a_usage_error_before_any_eval(repo: Repo) -> None:
    (repo.pytester.path / "blocked").write_text("a file where the store folder should be")
    result = repo.run({"acc": BASE}, "--mlgate-record", "--mlgate-store=blocked/history")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ConfigError: --mlgate-record: the history store *"])


def test_power_warning_uses_how_much_neighbouring_baselines_disagree(repo: Repo) -> None:
    repo.configure(gated="acc = { max_drop = 0.01 }")
    repo.run({"acc": BASE}, "--mlgate-record")
    repo.run({"acc": flip(BASE, 2, 2)}, "--mlgate-record")  # 4 of 100 examples flipped
    result = repo.run({"acc": BASE})
    result.stdout.fnmatch_lines(
        [
            "*acc vs baseline: n=100: the minimum detectable drop is * pp*given the 4.0% of "
            "examples that flipped between the last two baseline runs*"
        ]
    )


def test_each_row_shows_the_drop_its_comparison_can_detect(repo: Repo) -> None:
    """The power of the test actually run, beside its row: in the JSON verdict and the report."""
    from pytest_mlgate.config.schema import GateConfig, MetricThreshold
    from pytest_mlgate.gate.power import plan_power
    from pytest_mlgate.store.codec import loads_outcome

    repo.run({"acc": BASE}, "--mlgate-record")
    done = repo.run({"acc": BASE}, "--mlgate-json=r.json", "--mlgate-report=r.html")
    assert done.ret == 0
    [verdict] = json.loads((repo.pytester.path / "r.json").read_text())["verdicts"]
    [entry] = repo.history()
    record = repo.pytester.path / ".mlgate" / "runs" / f"{entry['run_id']}.json"
    baseline = loads_outcome(record.read_text())
    settings = GateConfig(max_drop=0.02)
    [planned] = plan_power([MetricThreshold("mlgate_tr_mc", "acc")], baseline, settings)
    assert verdict["detectable"] == pytest.approx(planned.detectable)
    assert 0.02 < verdict["detectable"] < 0.5  # 100 examples cannot see a 2 pp drop
    html = (repo.pytester.path / "r.html").read_text()
    assert f"detects {planned.detectable * 100:.1f} pp" in html
