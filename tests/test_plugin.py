"""Plugin behaviour through pytester, with the fake backend supplied by a conftest hook."""

from __future__ import annotations

import json

import pytest

THRESHOLDS = """
[model]
checkpoint = "ckpt"

[suites.fast]
tasks = ["mlgate_tr_mc"]

[suites.full]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]

[thresholds.mlgate_tr_mc]
acc = {{ min = {mc_min} }}

[thresholds.mlgate_tr_math]
"exact_match,strict-match" = {{ min = 0.5 }}
"""

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend

BACKEND = FakeBackend({{
    "mlgate_tr_mc": {{"acc": [1, 1, 1, 0], "acc_norm": [1, 0, 0, 0]}},
    "mlgate_tr_math": {{"exact_match,strict-match": [1, 0]}},
    "extra_task": {{"f1": 0.9}},
}})
MADE = []


def pytest_mlgate_make_backend(spec):
    MADE.append(spec.checkpoint)
    return BACKEND


def pytest_mlgate_evaluated(run):
    Path("evaluated.json").write_text(json.dumps(sorted(run.tasks)))


def pytest_sessionfinish(session):
    Path("backend.json").write_text(json.dumps({{
        "made": MADE,
        "requests": [list(r.tasks) for r in BACKEND.requests],
    }}))
"""


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(".toml", thresholds=THRESHOLDS.format(mc_min=0.5))
    pytester.makeconftest(CONFTEST.format())
    pytester.makepyfile(
        test_unit="""
        import pytest

        def test_plain_unit_test():
            assert True

        @pytest.mark.eval(tasks=["extra_task"])
        def test_user_eval(mlgate_eval):
            run = mlgate_eval("extra_task")
            assert run["extra_task"].metric("f1").value == 0.9

        @pytest.mark.eval(suite="full")
        def test_only_in_full(mlgate_eval):
            assert mlgate_eval("mlgate_tr_math")["mlgate_tr_math"].n == 2
        """
    )
    return pytester


def backend_log(pytester: pytest.Pytester) -> dict[str, list[object]]:
    data: dict[str, list[object]] = json.loads((pytester.path / "backend.json").read_text())
    return data


def test_plain_pytest_runs_unit_tests_only(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-v")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.no_fnmatch_line("*thresholds.toml::*")
    assert backend_log(repo) == {"made": [], "requests": []}


def test_eval_run_collects_one_item_per_threshold_of_the_suite(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-m", "eval", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["test_unit.py::test_user_eval", "thresholds.toml::mlgate_tr_mc::acc", "2/4 tests*"]
    )
    result.stdout.no_fnmatch_line("*mlgate_tr_math*")  # not in the fast suite
    result.stdout.no_fnmatch_line("*test_only_in_full*")


def test_eval_run_passes_and_evaluates_everything_in_one_batch(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-m", "eval", "-v")
    assert result.ret == 0
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*thresholds.toml::mlgate_tr_mc::acc PASSED*",
            "*mlgate: suite fast*",
            "task*metric*value*95% CI*n*threshold*verdict",
            "mlgate_tr_mc*acc*0.7500*4*>= 0.5*PASS",
        ]
    )
    log = backend_log(repo)
    assert log["made"] == [str(repo.path / "ckpt")]  # one backend, checkpoint resolved
    assert log["requests"] == [["mlgate_tr_mc", "extra_task"]]  # one batched call
    assert json.loads((repo.path / "evaluated.json").read_text()) == ["extra_task", "mlgate_tr_mc"]


def test_threshold_above_score_fails_with_one_line_reason(repo: pytest.Pytester) -> None:
    repo.makefile(".toml", thresholds=THRESHOLDS.format(mc_min=0.9))
    result = repo.runpytest("-m", "eval")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ mlgate_tr_mc::acc _*",
            "mlgate_tr_mc acc = 0.7500, 95% CI 0.301-0.954, n=4: below min 0.9",
            "*FAIL*",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_full_suite_gates_more_tasks_and_runs_suite_tests(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-m", "eval", "--mlgate-suite", "full", "-v")
    result.assert_outcomes(passed=4, deselected=1)  # 2 thresholds, 2 eval tests; 1 unit test
    result.stdout.fnmatch_lines(
        ["*test_only_in_full PASSED*", "*mlgate_tr_math::exact_match,strict-match PASSED*"]
    )
    assert result.ret == 0
    assert backend_log(repo)["requests"] == [["mlgate_tr_mc", "mlgate_tr_math", "extra_task"]]


def test_a_metric_the_task_does_not_define_is_a_usage_error_before_evaluating(
    repo: pytest.Pytester,
) -> None:
    gated = THRESHOLDS.replace("acc = {", "bleu = {{ min = 0.1 }}\nacc = {")
    repo.makefile(".toml", thresholds=gated.format(mc_min=0.5))
    result = repo.runpytest("-m", "eval")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bleu*"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[suites.fast]", "[suites.fats]"), "no suite 'fast'*Did you mean 'fats'?"),
        (("min = {mc_min}", "mni = {mc_min}"), "unknown key 'mni'*Did you mean 'min'?"),
    ],
)
def test_config_errors_exit_4_with_the_message(
    repo: pytest.Pytester, change: tuple[str, str], message: str
) -> None:
    repo.makefile(".toml", thresholds=THRESHOLDS.replace(*change).format(mc_min=0.5))
    result = repo.runpytest("-m", "eval")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *thresholds.toml*{message}*"])


def test_plain_run_with_broken_config_is_also_a_usage_error(repo: pytest.Pytester) -> None:
    repo.makefile(".toml", thresholds="[model\n")
    result = repo.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *thresholds.toml: not valid TOML*"])


def test_unknown_task_from_the_backend_is_a_usage_error(repo: pytest.Pytester) -> None:
    repo.makepyfile(
        test_more="""
        import pytest

        @pytest.mark.eval(tasks=["no_such_task"])
        def test_it(mlgate_eval):
            pass
        """
    )
    result = repo.runpytest("-m", "eval")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: UnknownTaskError: unknown task(s) no_such_task*"])


def test_checkpoint_option_and_env_override_config(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo.path / "other").mkdir()
    monkeypatch.setenv("MLGATE_CHECKPOINT", "hub-org/model-from-env")
    repo.runpytest("-m", "eval")
    assert backend_log(repo)["made"] == ["hub-org/model-from-env"]
    repo.runpytest("-m", "eval", "--mlgate-checkpoint", "other")
    assert backend_log(repo)["made"] == [str(repo.path / "other")]


def test_json_output_has_verdicts_and_per_example_scores(repo: pytest.Pytester) -> None:
    repo.runpytest("-m", "eval", "--mlgate-json", "out/results.json")
    document = json.loads((repo.path / "out" / "results.json").read_text())
    assert document["passed"] is True
    assert document["suite"] == "fast"
    [verdict] = document["verdicts"]
    assert verdict["item"] == "thresholds.toml::mlgate_tr_mc::acc"
    assert (verdict["status"], verdict["value"], verdict["n"]) == ("pass", 0.75, 4)
    acc = document["results"]["tasks"]["mlgate_tr_mc"]["metrics"]["acc,none"]
    assert acc["scores"] == [1.0, 1.0, 1.0, 0.0]


def test_junit_xml_carries_value_properties(repo: pytest.Pytester) -> None:
    repo.runpytest("-m", "eval", "--junitxml", "junit.xml")
    xml = (repo.path / "junit.xml").read_text()
    assert '<property name="mlgate_value" value="0.75"' in xml
    assert '<property name="mlgate_status" value="pass"' in xml


def test_no_thresholds_file_leaves_pytest_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    assert True\n")
    result = pytester.runpytest("-m", "eval or not eval")
    result.assert_outcomes(passed=1)


def test_eval_fixtures_without_config_fail_with_guidance(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.eval
        def test_x(mlgate_eval):
            pass
        """
    )
    result = pytester.runpytest("-m", "eval")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: 1 eval test(s) selected but there is no *thresholds.toml*"]
    )


def test_explicit_test_paths_do_not_pull_in_threshold_items(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-m", "eval", "test_unit.py", "--collect-only", "-q")
    result.stdout.no_fnmatch_line("*thresholds.toml::*")
    result = repo.runpytest("-m", "eval", "thresholds.toml", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["thresholds.toml::mlgate_tr_mc::acc"])


def test_config_is_found_when_an_option_value_moves_the_rootdir(
    repo: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("models") / "ckpt"
    elsewhere.mkdir()
    result = repo.runpytest("-m", "eval", "--mlgate-checkpoint", str(elsewhere))
    assert result.ret == 0
    assert backend_log(repo)["made"] == [str(elsewhere)]


def test_config_file_option(pytester: pytest.Pytester) -> None:
    (pytester.path / "ci").mkdir()
    (pytester.path / "ci" / "gate.toml").write_text(THRESHOLDS.format(mc_min=0.5))
    pytester.makeconftest(CONFTEST.format())
    result = pytester.runpytest("-m", "eval", "--mlgate-config", "ci/gate.toml", "--co", "-q")
    result.stdout.fnmatch_lines(["ci/gate.toml::mlgate_tr_mc::acc"])
    missing = pytester.runpytest("--mlgate-config", "nope.toml")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["ERROR: *nope.toml: no such file*"])


# --- selection, node ids and failure modes an independent review found ------------------------


def test_a_mark_expression_that_does_not_ask_for_eval_runs_no_gate(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-m", "not slow")
    result.assert_outcomes(passed=1, deselected=2)
    assert backend_log(repo) == {"made": [], "requests": []}


def test_node_ids_select_and_last_failed_reruns_a_gated_metric(repo: pytest.Pytester) -> None:
    repo.makefile(".toml", thresholds=THRESHOLDS.format(mc_min=0.9))
    first = repo.runpytest("-m", "eval", "-p", "cacheprovider")
    first.assert_outcomes(failed=1, passed=1)
    by_id = repo.runpytest("-m", "eval", "thresholds.toml::mlgate_tr_mc::acc")
    by_id.assert_outcomes(failed=1)
    last_failed = repo.runpytest("-m", "eval", "--lf", "-p", "cacheprovider")
    last_failed.assert_outcomes(failed=1)
    last_failed.stdout.no_fnmatch_line("*not in selected tests*")


def test_xdist_is_refused_for_eval_runs_and_allowed_for_unit_tests(repo: pytest.Pytester) -> None:
    refused = repo.runpytest_subprocess("-m", "eval", "-n", "2")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["ERROR: pytest -m eval cannot run under pytest-xdist*"])
    repo.runpytest_subprocess("-n", "2").assert_outcomes(passed=1)


def test_warnings_as_errors_fail_an_item_not_the_run(pytester: pytest.Pytester) -> None:
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(".toml", thresholds=THRESHOLDS.format(mc_min=0.5))
    pytester.makeconftest(CONFTEST.format())
    history = pytester.path / ".mlgate" / "runs"
    history.mkdir(parents=True)
    (history / "broken.json").write_text("{")  # an unreadable record: warned while collecting
    result = pytester.runpytest("-m", "eval", "-W", "error::pytest_mlgate.errors.MlgateWarning")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*SkippedRecordWarning*broken.json: unreadable history record*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_a_backend_crash_is_evaluated_once_and_fails_every_gate(pytester: pytest.Pytester) -> None:
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(".toml", thresholds=THRESHOLDS.format(mc_min=0.5))
    pytester.makeconftest(
        """
        CALLS = []

        class Crashing:
            def check(self, tasks): pass
            def model(self): return self
            def close(self): pass
            def evaluate(self, request):
                CALLS.append(request)
                raise RuntimeError("CUDA out of memory")

        def pytest_mlgate_make_backend(spec):
            return Crashing()

        def pytest_sessionfinish(session):
            print("evaluate calls:", len(CALLS))
        """
    )
    result = pytester.runpytest("-m", "eval", "--mlgate-suite", "full", "-s")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*evaluate calls: 1*"])  # once, not once per gated item
    result.stdout.fnmatch_lines(["*evaluation failed: RuntimeError: CUDA out of memory*"])


def test_recording_is_skipped_and_said_when_the_run_stops_early(repo: pytest.Pytester) -> None:
    repo.makefile(".toml", thresholds=THRESHOLDS.format(mc_min=0.9))
    result = repo.runpytest("-m", "eval", "-x", "--mlgate-record", "--mlgate-suite", "full")
    result.stdout.fnmatch_lines(["mlgate: run NOT recorded: the session stopped early*"])
    assert not (repo.path / ".mlgate" / "index.jsonl").exists()
    collect_only = repo.runpytest("-m", "eval", "--co", "--mlgate-record")
    assert collect_only.ret == 0


def test_bad_marker_arguments_and_record_without_eval_are_usage_errors(
    repo: pytest.Pytester,
) -> None:
    repo.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.eval(tasks=5)
        def test_it():
            pass
        """
    )
    bad = repo.runpytest("-m", "eval")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: *test_it: @pytest.mark.eval(tasks=...) takes a task name*"])
    no_eval = repo.runpytest("--mlgate-record")
    assert no_eval.ret == pytest.ExitCode.USAGE_ERROR
    no_eval.stderr.fnmatch_lines(["ERROR: --mlgate-record records an eval run: add -m eval"])
