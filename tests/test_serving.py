"""Serving properties: determinism across batch sizes, throughput per request type."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_mlgate.backend.progress import counted
from pytest_mlgate.results import Throughput
from pytest_mlgate.store.folder import FolderStore
from tests.gate_run import run_gate

FAKE_CONFTEST = """
from pytest_mlgate.backend.fake import FakeBackend

SAME = [1.0] * 30 + [0.0] * 10
MOVED = [0.0] * 3 + [1.0] * 27 + [0.0] * 10  # three documents answer otherwise at batch 8


def pytest_mlgate_make_backend(spec):
    return FakeBackend(
        {"mlgate_tr_mc": {"acc": SAME}, "mlgate_tr_math": {"exact_match": SAME}},
        by_batch={8: {"mlgate_tr_mc": {"acc": MOVED}, "mlgate_tr_math": {"exact_match": SAME}}},
    )
"""

FAKE_GATE = """
[model]
checkpoint = "ckpt"
[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
[gate]
determinism = {{ sample = 40, batch_sizes = [1, 8], min_agreement = {agreement} }}
[thresholds.mlgate_tr_mc]
acc = {{ min = 0.1 }}
"""


def test_a_backend_whose_answers_depend_on_the_batch_size_fails_determinism(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(".toml", thresholds=FAKE_GATE.format(agreement=1.0))
    result = pytester.runpytest("-m", "eval", "-rA", "--mlgate-json=r.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "determinism mlgate_tr_mc: 37/40 (0.925) same answer at batch sizes default, 1, 8, "
            "default < min_agreement 1",
        ]
    )
    result.stdout.fnmatch_lines(["PASSED thresholds.toml::determinism::mlgate_tr_math"])
    result.stdout.fnmatch_lines(["PASSED thresholds.toml::mlgate_tr_mc::acc"])
    result.stdout.fnmatch_lines(["FAILED thresholds.toml::determinism::mlgate_tr_mc*"])
    manifest = json.loads((pytester.path / "r.json").read_text())["manifest"]
    assert manifest["determinism"][0] == {
        "task": "mlgate_tr_mc",
        "n": 40,
        "agreeing": 37,
        "passes": ["default", "1", "8", "default"],
        "max_loglik_diff": None,
    }
    pytester.makefile(".toml", thresholds=FAKE_GATE.format(agreement=0.9))
    assert pytester.runpytest("-m", "eval").ret == 0


GATE = """
[model]
checkpoint = "{checkpoint}"
dtype = "float32"
batch_size = 32

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
sample = 60
latency = {{ requests = 20, max_new_tokens = 8 }}

[gate]
cache = ""
determinism = {{ sample = 30, batch_sizes = [1, 7] }}

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.5 }}
"""


@pytest.mark.slow
def test_the_hf_backend_on_cpu_fp32_is_deterministic_and_measures_its_throughput(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "thresholds.toml").write_text(GATE.format(checkpoint=demo_checkpoints["good"]))
    result = run_gate(
        repo, "-rA", "--mlgate-record", "--mlgate-report=r.html", "-o", "mlgate_report="
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PASSED thresholds.toml::determinism::mlgate_tr_mc" in result.stdout
    assert "PASSED thresholds.toml::determinism::mlgate_tr_math" in result.stdout
    [entry] = FolderStore(repo / ".mlgate").entries()
    record = FolderStore(repo / ".mlgate").load(entry.run_id)
    figures = {d.task: d for d in record.manifest.determinism}
    mc, math = figures["mlgate_tr_mc"], figures["mlgate_tr_math"]
    assert mc.passes == ("32", "1", "7", "32")
    assert (mc.n, mc.agreeing) == (30, 30)
    assert (math.n, math.agreeing) == (30, 30)
    assert mc.max_loglik_diff is not None
    assert mc.max_loglik_diff < 1e-3
    throughput = {t.kind: t for t in record.manifest.throughput}
    assert set(throughput) == {"loglikelihood", "generate_until"}
    assert throughput["loglikelihood"].requests == 60 * 4  # four choices per question
    assert throughput["generate_until"].requests == 60
    assert all(t.tokens > 0 and t.seconds > 0 for t in throughput.values())
    page = (repo / "r.html").read_text()
    assert "determinism: 30/30 (1.000) same answer at batch sizes 32, 1, 7, 32" in page
    assert '<table id="throughput">' in page
    assert "over 20 single requests (max_new_tokens 8) on " in page
    assert "req/s" in page
    latency = record.manifest.latency
    assert latency is not None
    assert len(latency.samples_ms) == 20
    assert all(ms > 0 for ms in latency.samples_ms)
    assert latency.hardware  # the CPU model here
    assert "latency probe: 3 + 20 single requests (max_new_tokens 8)" in result.stdout
    print(f"\ndeterminism on CPU fp32: {mc.describe()}; {math.describe()}")
    print(
        f"latency on {latency.hardware}: p50 {latency.quantile(0.5):.1f} ms, p99 "
        f"{latency.quantile(0.99):.1f} ms, probe {latency.seconds:.2f} s (23 requests)"
    )
    for t in throughput.values():
        print(f"throughput {t.kind}: {t.requests_per_s:.1f} req/s, {t.tokens_per_s:.0f} tok/s")


def test_throughput_counts_requests_and_tokens_by_the_clock_it_is_given() -> None:
    ticks = iter([10.0, 12.0, 20.0, 20.5])

    class Model:
        cache_hook = None

        def tok_encode(self, text: str) -> list[int]:
            return list(range(len(text.split())))

        def loglikelihood(
            self, requests: Sequence[object], disable_tqdm: bool = False
        ) -> list[object]:
            return [(0.0, True)] * len(requests)

        def generate_until(
            self, requests: Sequence[object], disable_tqdm: bool = False
        ) -> list[str]:
            return ["bir iki üç"] * len(requests)

    model = Model()
    scored = [SimpleNamespace(args=("Soru: bir", " iki üç")) for _ in range(4)]
    generated = [SimpleNamespace(args=("Soru:", {})) for _ in range(2)]
    meter: dict[str, Throughput] = {}
    with counted(model, None, meter, clock=lambda: next(ticks)):
        model.loglikelihood(scored)
        model.generate_until(generated)
    loglik, gen = meter["loglikelihood"], meter["generate_until"]
    assert (loglik.requests, loglik.tokens, loglik.seconds) == (4, 16, 2.0)
    assert loglik.requests_per_s == 2.0
    assert (gen.requests, gen.tokens, gen.seconds) == (2, 6, 0.5)
    assert gen.tokens_per_s == 12.0


LATENCY_CONFTEST = """
import json
import random
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend
from pytest_mlgate.results import RunInfo


class Clock:
    # Advances by about `step_ms` (+-20 %, seeded) over each timed request: a model exactly as
    # fast as the test says, with no wall clock involved.
    def __init__(self, step_ms, seed):
        self.now, self.step, self.rng, self.calls = 0.0, step_ms, random.Random(seed), 0

    def __call__(self):
        self.calls += 1
        if self.calls % 2 == 0:
            self.now += self.step * (0.8 + 0.4 * self.rng.random()) / 1000
        return self.now


def pytest_mlgate_make_backend(spec):
    setup = json.loads(Path("clock.json").read_text())
    info = RunInfo(backend="fake", gpus=tuple(setup.get("gpus", ())))
    return FakeBackend(
        {"mlgate_tr_math": {"exact_match": [1.0] * 30 + [0.0] * 10}},
        info,
        clock=Clock(setup["step_ms"], setup["seed"]),
    )
"""

LATENCY_GATE = """
[model]
checkpoint = "ckpt"
[suites.fast]
tasks = ["mlgate_tr_math"]
latency = {{ requests = 200, max_new_tokens = 16 }}
[latency]
p50_ms = {{ max = {p50_max}, max_increase = 0.10 }}
p99_ms = {{ max_increase = 0.25 }}
[thresholds.mlgate_tr_math]
exact_match = {{ min = 0.1 }}
"""


class LatencyRepo:
    def __init__(self, pytester: pytest.Pytester, p50_max: float = 1000) -> None:
        self.pytester = pytester
        pytester.makeconftest(LATENCY_CONFTEST)
        (pytester.path / "ckpt").mkdir(exist_ok=True)
        pytester.makefile(".toml", thresholds=LATENCY_GATE.format(p50_max=p50_max))

    def run(
        self, step_ms: float, *args: str, seed: int = 1, gpus: tuple[str, ...] = ()
    ) -> pytest.RunResult:
        setup = {"step_ms": step_ms, "seed": seed, "gpus": list(gpus)}
        (self.pytester.path / "clock.json").write_text(json.dumps(setup))
        return self.pytester.runpytest("-m", "eval", "-rA", "-W", "default", *args)


@pytest.fixture
def latency_repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> LatencyRepo:
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    return LatencyRepo(pytester)


def test_a_slower_clock_fails_max_increase_and_the_same_speed_passes(
    latency_repo: LatencyRepo,
) -> None:
    baseline = latency_repo.run(10.0, "--mlgate-record")
    assert baseline.ret == 0
    baseline.stdout.fnmatch_lines(["*latency probe: 3 + 200 single requests (max_new_tokens 16)*"])
    same = latency_repo.run(10.0, seed=2)
    assert same.ret == 0
    same.stdout.fnmatch_lines(["PASSED thresholds.toml::latency::p50_ms"])
    slower = latency_repo.run(13.0, seed=3)
    assert slower.ret == 1
    text = slower.stdout.str()
    assert "latency p50_ms: p50 = 13." in text
    assert "significant increase > max_increase 0.1" in text
    assert re.search(r"vs baseline 10\.\d ms \(run \S+\): \+3\d\.\d % \[95% CI \+\d", text)
    slower.stdout.fnmatch_lines(["FAILED thresholds.toml::latency::p99_ms*"])


def test_latency_on_other_hardware_is_not_compared(latency_repo: LatencyRepo) -> None:
    assert latency_repo.run(10.0, "--mlgate-record", gpus=("NVIDIA H100",)).ret == 0
    other = latency_repo.run(20.0, gpus=("NVIDIA A10G",))
    assert other.ret == 0
    other.stdout.fnmatch_lines(["PASSED thresholds.toml::latency::p50_ms"])
    assert (
        "max_increase not checked: the baseline ran on 'NVIDIA H100', this run on 'NVIDIA A10G'"
        in other.stdout.str()
    )


def test_latency_above_max_fails_without_a_baseline(pytester: pytest.Pytester) -> None:
    repo = LatencyRepo(pytester, p50_max=8)
    slow = repo.run(10.0, "--mlgate-json=r.json")
    assert slow.ret == 1
    slow.stdout.fnmatch_lines(
        [
            "*latency p50_ms: p50 = *10.* ms over 200 requests: above max 8 ms; max_increase not "
            "checked: the baseline measured no latency*"
        ]
    )
    manifest = json.loads((pytester.path / "r.json").read_text())["manifest"]
    assert len(manifest["latency"]["samples_ms"]) == 200
