"""Never a silent pass: gate options without ``-m eval`` are refused (exit 4), options kept in ini
files and addopts leave plain ``pytest`` alone, and ``-m eval`` with nothing to gate says what it
looked for and where (exit 5). Through pytester, with the fake backend as a plugin module."""

from __future__ import annotations

import subprocess

import pytest

from pytest_mlgate.config.options import OPTIONS, flag

THRESHOLDS = """
[model]
checkpoint = "ckpt"
[suites.fast]
tasks = ["mlgate_tr_mc"]
[suites.full]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
[thresholds.mlgate_tr_mc]
acc = { min = 0.5 }
[thresholds.mlgate_tr_math]
"exact_match,strict-match" = { min = 0.5 }
"""

FAKE_GATE = """
from pytest_mlgate.backend.fake import FakeBackend

def pytest_mlgate_make_backend(spec):
    return FakeBackend({
        "mlgate_tr_mc": {"acc": [1, 1, 1, 0]},
        "mlgate_tr_math": {"exact_match,strict-match": [1, 0]},
    })
"""

USAGE, NOTHING = pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A git repository with a thresholds.toml, one unit test and the fake backend (a plugin
    module, ``-p fake_gate``, so it loads from any folder the run starts in)."""
    subprocess.run(["git", "init", "-q"], cwd=pytester.path, check=True)
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(".toml", thresholds=THRESHOLDS)
    pytester.makepyfile(fake_gate=FAKE_GATE)
    pytester.syspathinsert()
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_unit.py").write_text("def test_unit():\n    pass\n")
    return pytester


def error_text(result: pytest.RunResult) -> str:
    return "\n".join(result.errlines + result.outlines)


def _typed(name: str) -> list[str]:
    option = flag(name, "mlgate-")
    value = "thresholds.toml" if name == "config" else "x"  # a missing config is its own error
    return [option] if OPTIONS[name].metavar is None else [option, value]


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_gate_option_without_eval_is_refused(repo: pytest.Pytester, name: str) -> None:
    result = repo.runpytest("-p", "fake_gate", *_typed(name))
    assert result.ret == USAGE
    option = flag(name, "mlgate-")
    first = result.errlines[0]
    assert first.startswith(f"ERROR: {option} ")
    assert first.endswith(
        "add -m eval"
        if name == "record"
        else "add -m eval (without it pytest runs the unit tests alone and gates nothing)"
    )
    assert "passed" not in error_text(result)  # not even the unit tests ran


def test_every_option_given_is_named_once(repo: pytest.Pytester) -> None:
    typed = ["--mlgate-suite", "full", "--mlgate-checkpoint=x", "--mlgate-suite=fast"]
    result = repo.runpytest("-p", "fake_gate", *typed)
    assert result.ret == USAGE
    result.stderr.fnmatch_lines(
        ["ERROR: --mlgate-suite, --mlgate-checkpoint act only on an eval run, *add -m eval*"]
    )


def test_the_same_options_with_eval_run_the_gate(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-p", "fake_gate", "-m", "eval", "--mlgate-suite", "full")
    assert result.ret == 0
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["*mlgate: suite full*"])


@pytest.mark.parametrize("where", ["ini", "env"])
def test_options_in_addopts_and_ini_keys_leave_plain_pytest_alone(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    addopts = "--mlgate-suite full --mlgate-report=r.html --mlgate-json=r.json"
    ini = "[pytest]\nmlgate_suite = full\nmlgate_report = r.html\n"
    if where == "ini":
        repo.makeini(ini + f"addopts = {addopts}\n")
    else:
        repo.makeini(ini)
        monkeypatch.setenv("PYTEST_ADDOPTS", addopts)
    plain = repo.runpytest("-p", "fake_gate")
    assert plain.ret == 0, error_text(plain)
    plain.assert_outcomes(passed=1)
    assert not (repo.path / "r.json").exists()  # nothing gated, nothing written
    gated = repo.runpytest("-p", "fake_gate", "-m", "eval")
    assert gated.ret == 0, error_text(gated)
    gated.assert_outcomes(passed=2, deselected=1)  # the full suite, from addopts / the ini key
    assert (repo.path / "r.json").is_file()
    assert (repo.path / "r.html").is_file()


def test_naming_the_thresholds_file_without_eval_says_how_to_run_it(
    repo: pytest.Pytester,
) -> None:
    result = repo.runpytest("-p", "fake_gate", "thresholds.toml")
    assert result.ret == USAGE
    assert result.errlines[0] == (
        f"ERROR: {repo.path / 'thresholds.toml'} holds the gate's eval items, which run only "
        "with -m eval: pytest -m eval thresholds.toml"
    )
    assert "not found" not in error_text(result)
    gated = repo.runpytest("-p", "fake_gate", "-m", "eval", "thresholds.toml")
    gated.assert_outcomes(passed=1)


def test_eval_from_a_subfolder_finds_the_repositorys_thresholds(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ini file: pytest's rootdir is the subfolder; the search goes on to the git root."""
    monkeypatch.chdir(repo.path / "tests")
    result = repo.runpytest("-p", "fake_gate", "-m", "eval")
    assert result.ret == 0, error_text(result)
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["mlgate_tr_mc  acc  *>= 0.5*PASS"])


def test_eval_with_no_thresholds_file_says_where_it_looked(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo.path / "thresholds.toml").unlink()
    monkeypatch.chdir(repo.path / "tests")
    result = repo.runpytest("-p", "fake_gate", "-m", "eval")
    assert result.ret == NOTHING
    result.stdout.fnmatch_lines(
        [
            f"mlgate: -m eval found nothing to gate: no thresholds.toml from {repo.path / 'tests'} "
            f"up to {repo.path} (the search stops there: it holds .git); create one with "
            "`mlgate init`, run from the repository, or pass --mlgate-config PATH"
        ]
    )


def test_eval_with_an_empty_thresholds_table_says_so(repo: pytest.Pytester) -> None:
    (repo.path / "thresholds.toml").write_text(
        '[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[thresholds]\n'
    )
    result = repo.runpytest("-p", "fake_gate", "-m", "eval")
    assert result.ret == NOTHING
    result.stdout.fnmatch_lines(
        [
            f"mlgate: -m eval found nothing to gate: {repo.path / 'thresholds.toml'} declares no "
            "threshold for the tasks of suite 'fast' (mlgate_tr_mc); add a [thresholds.TASK] table"
        ]
    )


def test_eval_on_paths_without_the_thresholds_file_names_it(repo: pytest.Pytester) -> None:
    result = repo.runpytest("-p", "fake_gate", "-m", "eval", "tests")
    assert result.ret == NOTHING
    result.stdout.fnmatch_lines(
        [
            f"mlgate: -m eval found nothing to gate: {repo.path / 'thresholds.toml'} was not "
            f"collected, the paths given ({repo.path / 'tests'}) do not include it; run without "
            "paths or add thresholds.toml to them"
        ]
    )


def test_a_named_config_that_is_missing_stays_a_usage_error(repo: pytest.Pytester) -> None:
    (repo.path / "tests" / "test_gate.py").write_text(
        "import pytest\n\n@pytest.mark.eval\ndef test_it():\n    pass\n"
    )
    result = repo.runpytest("-p", "fake_gate", "-m", "eval", "--mlgate-config=nope.toml")
    assert result.ret == USAGE
