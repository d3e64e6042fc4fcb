"""Backend capabilities are methods (a flag never counts), and the ``mlgate`` command calls
the backend hook from the rootdir's conftest.py as pytest does (``mlgate prompts``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mlgate.backend import (
    Cacheable,
    EvalRequest,
    ListsSubgroups,
    MeasuresLatency,
    OwnClock,
    RendersPrompts,
    has_capability,
)
from pytest_mlgate.backend.fake import FakeBackend
from pytest_mlgate.cli.main import main
from pytest_mlgate.config.schema import LatencyConfig

CAPABILITIES: dict[type, str] = {
    Cacheable: "cacheable",
    ListsSubgroups: "subgroups",
    MeasuresLatency: "latency",
    OwnClock: "clock",
    RendersPrompts: "render",
}


class Bare:
    """A backend with the four required methods and no capability."""

    def check(self, tasks: object) -> None: ...
    def model(self) -> object: ...
    def evaluate(self, request: object) -> None: ...
    def close(self) -> None: ...


@pytest.mark.parametrize("kind", list(CAPABILITIES), ids=list(CAPABILITIES.values()))
@pytest.mark.parametrize("flag", [False, True, None, 0, "yes"])
def test_an_attribute_in_place_of_the_method_is_not_the_capability(
    kind: type, flag: object
) -> None:
    backend = Bare()
    setattr(backend, CAPABILITIES[kind], flag)
    assert not (isinstance(backend, kind) and has_capability(backend, kind))


@pytest.mark.parametrize("kind", list(CAPABILITIES), ids=list(CAPABILITIES.values()))
def test_the_method_is_the_capability(kind: type) -> None:
    backend = Bare()
    setattr(backend, CAPABILITIES[kind], lambda *args: None)
    assert isinstance(backend, kind)
    assert has_capability(backend, kind)
    assert not (isinstance(Bare(), kind) and has_capability(Bare(), kind))


def test_the_fake_backend_lists_subgroups_and_times_latency_by_its_own_clock() -> None:
    ticks = iter(range(100))
    backend = FakeBackend({"t": {"acc": [1.0, 0.0]}}, clock=lambda: float(next(ticks)))
    for kind in (ListsSubgroups, MeasuresLatency, OwnClock):
        assert isinstance(backend, kind)
        assert has_capability(backend, kind)
    for absent in (Cacheable, RendersPrompts):  # a fake's results are never cached
        assert not (isinstance(backend, absent) and has_capability(backend, absent))
    clock: Callable[[], float] = backend.clock
    samples = backend.latency(EvalRequest(("t",)), LatencyConfig(warmup=1, requests=2), clock)
    assert samples == [1000.0, 1000.0]  # one tick of the test's clock per request


PROMPTS_CONFTEST = """
from pytest_mlgate.backend.fake import FakeBackend
from pytest_mlgate.backend.lmeval_prompts import RenderedRequest

OPENED = []


class Renders(FakeBackend):
    def render(self, task, request, limit):
        return [RenderedRequest(0, "loglikelihood", "Soru: 2+2?", " 4", (1, 2, 3), False, False)]


class Silent(FakeBackend):
    render = False  # a flag, not the capability


def pytest_mlgate_make_backend(spec, config):
    assert config is None  # the mlgate command has no pytest config
    kind = Silent if "silent" in spec.checkpoint else Renders
    return kind({"mlgate_tr_mc": {"acc": [1.0]}})
"""


@pytest.fixture
def prompts_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "conftest.py").write_text(PROMPTS_CONFTEST, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "thresholds.toml").write_text(
        '[model]\ncheckpoint = "served"\n\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_mlgate_prompts_renders_through_the_conftest_backend(
    prompts_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prompts", "mlgate_tr_mc", "--n", "1"]) == 0
    out = capsys.readouterr().out
    assert "=== mlgate_tr_mc doc 0 · loglikelihood · 3 tokens" in out
    assert "Soru: 2+2?" in out


def test_mlgate_prompts_names_a_backend_that_cannot_render(
    prompts_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prompts", "mlgate_tr_mc", "--checkpoint", "silent"]) == 4
    err = capsys.readouterr().err
    assert "Silent (from pytest_mlgate_make_backend) cannot show its prompts" in err
    assert "render(task, request, limit)" in err


def test_a_broken_rootdir_conftest_is_a_usage_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "conftest.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["history", "--store", "hist"]) == 4
    err = capsys.readouterr().err
    assert f"{tmp_path / 'conftest.py'}: importing it failed (RuntimeError: boom)" in err
