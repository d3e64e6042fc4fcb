"""The group-sequential design: bounds, their error rate, the margin score test, what it saves."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from pytest_mlgate import stats
from pytest_mlgate.gate import sequential as seq

if TYPE_CHECKING:
    from pytest_mlgate.config.schema import MlgateConfig


def _brownian_crossings(
    fractions: list[float], bounds: tuple[float, ...], paths: int, seed: int
) -> np.ndarray:
    """Cumulative share of simulated null paths that cross a bound by each look."""
    rng = np.random.default_rng(seed)
    steps = np.diff(np.asarray(fractions), prepend=0.0)
    walk = np.cumsum(rng.standard_normal((paths, len(fractions))) * np.sqrt(steps), axis=1)
    z = walk / np.sqrt(np.asarray(fractions))
    crossed = np.maximum.accumulate(z >= np.asarray(bounds), axis=1)
    share: np.ndarray = crossed.mean(axis=0)
    return share


def test_lan_demets_obf_bounds_match_the_published_table() -> None:
    # Four equally spaced looks, one-sided 0.025: 4.333, 2.963, 2.359, 2.014 (Jennison & Turnbull,
    # gsDesign sfLDOF). Agreement to 1e-3 shows the recursive integration is exact, not approximate.
    fractions = [0.25, 0.5, 0.75, 1.0]
    bounds = seq.efficacy_bounds(fractions, [seq.obf_spent(t, 0.025) for t in fractions])
    assert bounds == pytest.approx((4.3326, 2.9631, 2.3590, 2.0141), abs=1e-3)


@pytest.mark.parametrize(
    ("looks", "alpha", "gamma"),
    [
        (seq.DEFAULT_LOOKS, 0.05, seq.DEFAULT_GAMMA),
        ((0.2, 0.4, 0.6, 0.8, 1.0), 0.01, -2.0),
        ((0.3, 1.0), 0.1, -4.0),
    ],
)
def test_null_crossing_probability_equals_the_alpha_spent(
    looks: list[float], alpha: float, gamma: float
) -> None:
    design = seq.make_design(10_000, alpha, looks, gamma)
    fractions = [look.fraction for look in design.looks]
    bounds = tuple(look.fail_z for look in design.looks)
    spent = [look.alpha_spent for look in design.looks]
    # integration: exact to well under 1e-6
    assert seq.crossing_probabilities(fractions, bounds) == pytest.approx(spent, abs=1e-6)
    # an independent check by simulated Brownian paths: within 4.5 standard errors at every look
    paths = 400_000
    simulated = _brownian_crossings(fractions, bounds, paths, seed=2026)
    for observed, expected in zip(simulated, spent, strict=True):
        assert abs(observed - expected) < 4.5 * math.sqrt(expected * (1 - expected) / paths)
    assert spent[-1] == alpha


@pytest.mark.parametrize("gamma", [-4.0, -3.0, -2.0, 0.0, 1.0])
def test_bounds_are_monotone_and_pass_early_lies_below_fail(gamma: float) -> None:
    design = seq.make_design(2_000, 0.05, seq.DEFAULT_LOOKS, gamma)
    fails = [look.fail_z for look in design.looks]
    spent = [look.alpha_spent for look in design.looks]
    assert all(a > b for a, b in itertools.pairwise(fails))
    assert all(a < b for a, b in itertools.pairwise(spent))
    # the last bound is never below the fixed-n critical value: spending can only cost
    assert fails[-1] >= stats.normal_quantile(0.95)
    for look in design.looks[:-1]:
        assert look.pass_z is not None
        assert look.pass_z < look.fail_z
    assert design.looks[-1].pass_z is None


def test_gamma_limits_behave_like_pocock_and_obrien_fleming() -> None:
    fractions = list(seq.DEFAULT_LOOKS)

    def hsd(gamma: float) -> tuple[float, ...]:
        return seq.efficacy_bounds(fractions, [seq.hsd_spent(t, 0.05, gamma) for t in fractions])

    pocock = seq.efficacy_bounds(fractions, [seq.pocock_spent(t, 0.05) for t in fractions])
    obf = seq.efficacy_bounds(fractions, [seq.obf_spent(t, 0.05) for t in fractions])
    assert hsd(1.0) == pytest.approx(pocock, abs=0.03)  # Hwang-Shih-DeCani's own comparison
    assert hsd(-4.0)[-1] == pytest.approx(obf[-1], abs=0.01)
    gammas = [-8.0, -6.0, -4.0, -3.0, -2.0, 0.0, 1.0, 2.0]
    firsts = [hsd(g)[0] for g in gammas]
    lasts = [hsd(g)[-1] for g in gammas]
    # more negative gamma: less spent early (a higher first bound), more left for the last look
    assert all(a > b for a, b in itertools.pairwise(firsts))
    assert all(a < b for a, b in itertools.pairwise(lasts))
    assert lasts[0] == pytest.approx(stats.normal_quantile(0.95), abs=0.005)


def test_default_gamma_sits_between_the_two_families() -> None:
    default = seq.make_design(2_000, 0.05)
    obf_like = seq.make_design(2_000, 0.05, gamma=-4.0)
    pocock_like = seq.make_design(2_000, 0.05, gamma=1.0)
    for k in range(3):
        assert pocock_like.looks[k].fail_z < default.looks[k].fail_z < obf_like.looks[k].fail_z


def test_look_sizes_round_up_and_drop_empty_looks() -> None:
    assert seq.look_sizes(2_000) == (200, 500, 1_000, 2_000)
    assert seq.look_sizes(479) == (48, 120, 240, 479)
    assert seq.look_sizes(3) == (1, 2, 3)  # 10 % and 25 % of 3 documents are both one document
    assert seq.look_sizes(1) == (1,)


@pytest.mark.parametrize(
    ("looks", "message"),
    [
        ([], "empty"),
        ([0.5, 0.25, 1.0], "not strictly increasing"),
        ([0.25, 0.25, 1.0], "not strictly increasing"),
        ([0.0, 1.0], "not a fraction in (0, 1]"),
        ([0.5, 1.5], "not a fraction in (0, 1]"),
        ([0.25, 0.5], "last look must be 1.0"),
    ],
)
def test_bad_looks_say_what_is_wrong(looks: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seq.validate_looks(looks)


def test_margin_score_statistic_reduces_to_mcnemar_and_uses_the_restricted_mle() -> None:
    b, c = np.arange(0, 40), np.arange(40, 0, -1)
    z = seq.paired_margin_z(b, c, 500, 0.0, continuity=0.0)
    assert z == pytest.approx((b - c) / np.sqrt(b + c))
    # at margin d the nuisance (share of gains) maximises the likelihood under drop = d
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(50, 3_000))
        losses, gains = int(rng.integers(0, n // 10)), int(rng.integers(0, n // 10))
        d = float(rng.uniform(0.0, 0.05))
        grid = np.linspace(1e-7, (1 - d) / 2 - 1e-7, 400_001)
        loglik = (
            losses * np.log(grid + d)
            + gains * np.log(grid)
            + (n - losses - gains) * np.log(1 - 2 * grid - d)
        )
        best = grid[np.argmax(loglik)]
        expected = (losses - gains - n * d) / math.sqrt(n * (2 * best + d * (1 - d)))
        got = float(seq.paired_margin_z(losses, gains, n, d, continuity=0.0))
        assert got == pytest.approx(expected, rel=1e-3, abs=1e-3)


def test_margin_score_statistic_is_the_gates_tango_test() -> None:
    # the same statistic as the fixed-n rule's (stats.tango_score), before the continuity
    # correction the sequential design adds
    rng = np.random.default_rng(8)
    for _ in range(200):
        n = int(rng.integers(20, 5_000))
        b, c = (int(x) for x in rng.integers(0, n // 8 + 1, size=2))
        margin = float(rng.choice([0.0, 0.01, 0.02, 0.05]))
        if b + c == 0:
            continue
        z = float(seq.paired_margin_z(b, c, n, margin, continuity=0.0))
        p = stats.tango_score(b, c, n, margin)
        if 1e-6 < p < 1 - 1e-6:  # beyond, inverting the p-value loses digits
            assert z == pytest.approx(stats.normal_quantile(1 - p), abs=1e-6)


def test_margin_score_statistic_orders_evidence() -> None:
    n, margin = 1_000, 0.02
    z = seq.paired_margin_z(np.arange(10, 80), 10, n, margin)
    assert np.all(np.diff(z) > 0)  # one more right→wrong document: more evidence of a drop
    assert float(seq.paired_margin_z(30, 10, n, margin)) == 0.0  # observed drop = margin
    assert float(seq.paired_margin_z(0, 0, n, 0.0)) == 0.0  # nothing discordant: no evidence


def test_decisions_at_a_look() -> None:
    design = seq.make_design(2_000, 0.05)
    first, last = design.looks[0], design.looks[-1]
    assert first.decide(first.fail_z + 0.01) == "fail"
    assert first.decide(0.0) == "continue"
    assert first.decide(-2.0) == "pass"
    assert last.decide(last.fail_z - 0.01) == "pass"
    assert design.decide(4, last.fail_z) == "fail"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 0.05, "gamma": -9.0}, "gamma"),
        ({"alpha": 0.05, "futility_level": 0.4}, "futility_level"),
    ],
)
def test_bad_design_parameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        seq.make_design(100, **kwargs)


def test_simulation_meets_the_issue_targets_seeded_and_small() -> None:
    # The benchmark's setting (benchmarks/bench_sequential.py) at 4,000 repetitions per row.
    n, margin, alpha, reps = 2_000, 0.02, 0.05, 4_000
    design = seq.make_design(n, alpha)
    regression = seq.simulate(design, 0.10, margin, repetitions=reps, seed=11)
    assert regression.fail_rate == 1.0
    assert regression.mean_share <= 0.20
    unchanged = seq.simulate(design, 0.0, margin, repetitions=reps, seed=12)
    assert unchanged.fail_rate == 0.0
    assert unchanged.mean_share <= 0.60
    at_margin = seq.simulate(design, margin, margin, repetitions=reps, seed=13)
    low, _ = stats.wilson_interval(round(at_margin.fail_rate * reps), reps)
    assert low <= alpha  # consistent with <= alpha ...
    naive_low, _ = stats.wilson_interval(round(at_margin.naive_fail_rate * reps), reps)
    assert naive_low > alpha  # ... while peeking at the fixed-n level is clearly above it
    mdd = seq.fixed_n_detectable_drop(n, margin, alpha)
    assert mdd is not None
    detect = seq.simulate(design, mdd, margin, repetitions=reps, seed=14)
    assert detect.fixed_fail_rate == pytest.approx(0.8, abs=0.03)  # the exact power is what it says
    assert detect.fail_rate >= detect.fixed_fail_rate - 0.03


def test_a_reference_beside_the_looks_keeps_the_run_level_rate_seeded_and_small() -> None:
    """The baseline comparison look by look at alpha / 2 and the reference's at fixed n on the
    documents the run stopped at (alpha / 2): the run fails at most alpha when every true drop is
    at its margin, whether the reference answers as the baseline does or independently."""
    from benchmarks import bench_sequential

    args = bench_sequential.parse(["--repetitions", "4000"])
    for name, rate in bench_sequential.with_reference(args).items():
        low, _ = stats.wilson_interval(round(rate * 4000), 4000)
        assert low <= args.alpha, (name, rate)


def test_no_detectable_drop_at_a_tiny_n_is_said_not_invented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_mlgate.cli.main import main

    assert seq.fixed_n_detectable_drop(5, 0.02, 0.05, flip_rate=0.21) is None
    assert main(["power", "--n", "5", "--p", "0.7", "--margin", "0.02", "--sequential"]) == 0
    out = capsys.readouterr().out
    assert "no drop is detected with 80% power at n=5" in out
    assert "fixed-n detectable drop" not in out


def test_fixed_n_power_is_exact() -> None:
    # at a true drop equal to the margin the fixed-n test's rejection rate is its size: <= alpha
    assert seq.fixed_n_power(2_000, 0.02, 0.02, 0.05) <= 0.05
    small = seq.fixed_n_power(50, 0.05, 0.0, 0.05)
    draws = np.random.default_rng(3).multinomial(50, [0.065, 0.015, 0.92], size=200_000)
    z = seq.paired_margin_z(draws[:, 0], draws[:, 1], 50, 0.0)
    assert small == pytest.approx(float((z >= stats.normal_quantile(0.95)).mean()), abs=0.004)


def test_power_sequential_prints_the_bounds_and_the_expected_share(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_mlgate.cli.main import main

    args = ["power", "--n", "2000", "--p", "0.7", "--discordance", "0.03", "--margin", "0.02"]
    assert main([*args, "--sequential"]) == 0
    out = capsys.readouterr().out
    design = seq.make_design(2_000, 0.05)
    for look in design.looks:
        assert f"{look.documents:>9,}" in out
        assert f"{look.fail_z:.3f}" in out
    shares = [
        float(line.split(":")[1].split(",")[0]) for line in out.splitlines() if " pp): " in line
    ]
    assert len(shares) == 3  # no change, at the margin, at the detectable drop
    assert shares[0] <= 0.60  # no change stops early (pass) most of the time
    assert all(0 < share <= 1 for share in shares)
    assert main([*args, "--sequential", "--looks", "0.5,1"]) == 0
    two = capsys.readouterr().out
    rows = [
        line.split()
        for line in two.splitlines()
        if re.match(r"^\s+\d+\s+[\d,]+\s+\d\.\d{3}\s", line)
    ]
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("1", "1,000", "0.500"),
        ("2", "2,000", "1.000"),
    ]
    assert main(args) == 0
    assert "sequential" not in capsys.readouterr().out


def test_power_sequential_refuses_bad_looks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_mlgate.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["power", "--n", "100", "--p", "0.7", "--sequential", "--looks", "0.5,0.9"])
    assert exited.value.code == 2
    assert "last look must be 1.0" in capsys.readouterr().err


# --- config, options and the plugin's usage errors ---------------------------------------------

SEQ_GATE = """
[model]
checkpoint = "a"
[suites.fast]
tasks = ["mlgate_tr_mc"]
{suite_extra}
[gate]
{gate_extra}
[thresholds.mlgate_tr_mc]
acc = {{ min = 0.1, max_drop = 0.02 }}
"""


def _config(tmp_path: Path, suite_extra: str = "", gate_extra: str = "") -> MlgateConfig:
    from pytest_mlgate.config.load import load_config

    path = tmp_path / "thresholds.toml"
    path.write_text(SEQ_GATE.format(suite_extra=suite_extra, gate_extra=gate_extra))
    return load_config(path)


def test_sequential_config_forms(tmp_path: Path) -> None:
    assert _config(tmp_path).suites["fast"].sequential is None
    assert _config(tmp_path, "sequential = false").suites["fast"].sequential is None
    on = _config(tmp_path, "sequential = true").suites["fast"].sequential
    assert on is not None
    assert on.looks == seq.DEFAULT_LOOKS == (0.1, 0.25, 0.5, 1.0)
    custom = _config(tmp_path, "sequential = { looks = [0.2, 0.6, 1] }").suites["fast"].sequential
    assert custom is not None
    assert custom.looks == (0.2, 0.6, 1.0)
    assert _config(tmp_path).gate.record_sequential is False
    assert _config(tmp_path, gate_extra="record_sequential = true").gate.record_sequential


@pytest.mark.parametrize(
    ("suite_extra", "gate_extra", "message"),
    [
        ('sequential = "yes"', "", 'sequential = "yes": expected true, false or a table'),
        ("sequential = { looks = [0.5, 0.2, 1.0] }", "", "not strictly increasing"),
        ("sequential = { looks = [0.25, 0.5] }", "", "the last look must be 1.0"),
        ("sequential = { looks = [0, 1.0] }", "", "not a fraction in (0, 1]"),
        ("sequential = { looks = [] }", "", "looks is empty"),
        ('sequential = { looks = ["half", 1.0] }', "", "expected a list of numbers"),
        ("sequential = { look = [0.5, 1.0] }", "", "unknown key 'look'. Did you mean 'looks'?"),
        ("", 'record_sequential = "no"', 'record_sequential = "no": expected true or false'),
    ],
)
def test_bad_sequential_config_names_file_table_and_key(
    tmp_path: Path, suite_extra: str, gate_extra: str, message: str
) -> None:
    from pytest_mlgate.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, suite_extra, gate_extra)
    text = str(caught.value)
    assert str(tmp_path / "thresholds.toml") in text
    assert message in text
    assert ("[gate]" if gate_extra else "[suites.fast") in text


def test_sequential_options_override_the_suite_and_recording_stays_whole(tmp_path: Path) -> None:
    import argparse

    from pytest_mlgate.config.options import GateOptions, add_options, sequential_looks

    parser = argparse.ArgumentParser()
    add_options(parser.add_argument, "", ("sequential", "no_sequential"))
    assert parser.parse_args([]).sequential is None
    assert parser.parse_args(["--sequential"]).sequential is True
    assert parser.parse_args(["--sequential", "--no-sequential"]).sequential is False  # last wins

    off, on = _config(tmp_path), _config(tmp_path, "sequential = { looks = [0.5, 1.0] }")
    recorder = _config(tmp_path, "sequential = true", "record_sequential = true")

    def looks(cfg: MlgateConfig, **options: Any) -> tuple[float, ...] | None:
        return sequential_looks(cfg.suites["fast"], cfg.gate, GateOptions(cwd=tmp_path, **options))

    assert looks(off) is None
    assert looks(on) == (0.5, 1.0)
    assert looks(off, sequential=True) == seq.DEFAULT_LOOKS
    assert looks(on, sequential=False) is None
    assert looks(on, record=True) is None  # a recorded baseline stays whole ...
    assert looks(recorder, record=True) == seq.DEFAULT_LOOKS  # ... unless asked otherwise
    assert looks(on, shard="1/2", sequential=False) is None
    with pytest.raises(ValueError, match="the sharded full tier runs fixed-n"):
        looks(on, shard="1/2")
    with pytest.raises(ValueError, match=r"drop sequential from \[suites.fast\]"):
        looks(off, shard="1/2", sequential=True)


FAKE_BACKEND = """
from pytest_mlgate.backend.fake import FakeBackend

def pytest_mlgate_make_backend(spec):
    return FakeBackend({"mlgate_tr_mc": {"acc": [1.0] * 90 + [0.0] * 30}})
"""


@pytest.mark.parametrize(
    ("suite_extra", "args"),
    [("sequential = true", ()), ("", ("--mlgate-sequential",))],
)
def test_sharded_sequential_run_is_a_usage_error(
    tmp_path: Path, suite_extra: str, args: tuple[str, ...]
) -> None:
    from tests.gate_run import run_gate

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "config.json").write_text("{}")
    (tmp_path / "conftest.py").write_text(FAKE_BACKEND)
    _config(tmp_path, suite_extra)
    done = run_gate(tmp_path, "--mlgate-shard=1/2", *args)
    assert done.returncode == 4, done.stdout[-2000:] + done.stderr[-2000:]
    assert "the sharded full tier runs fixed-n" in done.stderr
    assert "--mlgate-no-sequential" in done.stderr
    fixed = run_gate(tmp_path, "--mlgate-shard=1/2", *args, "--mlgate-no-sequential")
    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]


LOOKING_BACKEND = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend


class Ignoring(FakeBackend):
    def evaluate(self, request):  # a backend that does not deal looks: every document
        from dataclasses import replace

        return super().evaluate(replace(request, look=None))


def pytest_mlgate_make_backend(spec):
    name = Path(spec.checkpoint).name
    scores = json.loads(Path("scores.json").read_text())[name.removesuffix("-ignoring")]
    kind = Ignoring if name.endswith("-ignoring") else FakeBackend
    return kind({"mlgate_tr_mc": {"acc": scores}})
"""


def _looking_repo(tmp_path: Path, gate_extra: str = "") -> Path:
    """A baseline of 2,000 documents at accuracy 0.70, and candidates: the same answers, a
    10 pp regression, and the same through a backend that ignores looks."""
    rng = np.random.default_rng(11)
    base = (rng.random(2000) < 0.7).astype(float)
    worse = base.copy()
    worse[rng.choice(np.flatnonzero(base == 1.0), 200, replace=False)] = 0.0  # 10 pp
    scores = {"base": base.tolist(), "same": base.tolist(), "worse": worse.tolist()}
    (tmp_path / "scores.json").write_text(json.dumps(scores))
    for name in ("base", "same", "worse", "same-ignoring"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"name": name}))
    (tmp_path / "conftest.py").write_text(LOOKING_BACKEND)
    _config(tmp_path, "sequential = true", gate_extra)
    return tmp_path


def _gate(repo: Path, checkpoint: str, *args: str) -> tuple[Any, dict[str, Any]]:
    from tests.gate_run import run_gate

    done = run_gate(repo, f"--mlgate-checkpoint={checkpoint}", "--mlgate-json=r.json", *args,
                    env={"MLGATE_BRANCH": "main"})  # fmt: skip
    return done, json.loads((repo / "r.json").read_text())


def test_a_sequential_run_stops_at_the_first_look_that_decides(tmp_path: Path) -> None:
    repo = _looking_repo(tmp_path)
    recorded, base = _gate(repo, "base", "--mlgate-record")
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    assert base["manifest"]["tasks"]["mlgate_tr_mc"]["n"] == 2000  # a baseline stays whole
    assert "look" not in base["manifest"]["tasks"]["mlgate_tr_mc"]

    worse, report = _gate(repo, "worse")
    assert worse.returncode == 1, worse.stdout[-3000:]
    [verdict] = report["verdicts"]
    assert verdict["status"] == "fail"
    assert verdict["n"] == 200
    assert "decided after 200 of 2,000 documents (look 1 of 4: margin z =" in verdict["reason"]
    task = report["manifest"]["tasks"]["mlgate_tr_mc"]
    assert (task["n"], task["planned"], task["look"]) == (200, 2000, [1, 4])
    assert "mlgate_tr_mc: decided after 200 of 2,000 documents (look 1 of 4, stopped early)" in (
        worse.stdout
    )

    same, report = _gate(repo, "same")
    assert same.returncode == 0, same.stdout[-3000:]
    [verdict] = report["verdicts"]
    assert verdict["status"] == "pass"
    assert "failure ruled out" in verdict["reason"]
    assert report["manifest"]["tasks"]["mlgate_tr_mc"]["n"] < 2000

    fixed, report = _gate(repo, "worse", "--mlgate-no-sequential")
    assert fixed.returncode == 1
    assert report["verdicts"][0]["n"] == 2000
    assert "decided after" not in report["verdicts"][0]["reason"]


def test_a_reference_is_evaluated_after_the_stop_on_the_same_documents(tmp_path: Path) -> None:
    """With --mlgate-reference the run still stops early: the reference checkpoint is
    evaluated after the candidate, on the looks each task reached (the same documents), and
    its comparisons get their share of alpha (here half: one per item beside the baseline's)."""
    repo = _looking_repo(tmp_path)
    (repo / "base" / "model.safetensors").write_bytes(b"weights")  # a reference has weights
    assert _gate(repo, "base", "--mlgate-record")[0].returncode == 0
    worse, report = _gate(repo, "worse", "--mlgate-reference=base")
    assert worse.returncode == 1, worse.stdout[-3000:]
    assert "every document evaluated" not in worse.stdout
    [verdict] = report["verdicts"]
    assert verdict["n"] == 200
    assert "decided after 200 of 2,000 documents (look 1 of 4" in verdict["reason"]
    assert "reference base" in verdict["reason"], verdict["reason"]
    head = verdict["reference"]
    assert head["paired_n"] == 200  # the reference's documents are the candidate's
    assert head["p_adjusted"] == pytest.approx(2 * head["p_value"])  # its half of alpha
    assert report["manifest"]["tasks"]["mlgate_tr_mc"]["n"] == 200

    same, report = _gate(repo, "same", "--mlgate-reference=base")
    assert same.returncode == 0, same.stdout[-3000:]
    [verdict] = report["verdicts"]
    assert verdict["n"] < 2000
    assert verdict["reference"]["paired_n"] == verdict["n"]


TWO_TASKS = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend


def pytest_mlgate_make_backend(spec):
    scores = json.loads(Path("scores.json").read_text())[Path(spec.checkpoint).name]
    return FakeBackend({"mlgate_tr_mc": {"acc": scores}, "mlgate_tr_math": {"exact_match": scores}})
"""
TWO_TASKS_TOML = """
[model]
checkpoint = "base"
[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
sequential = true
[thresholds.mlgate_tr_mc]
acc = { min = 0.1, max_drop = 0.02 }
[thresholds.mlgate_tr_math]
exact_match = { min = 0.1, max_drop = 0.02, min_ratio = 0.95 }
"""


def test_an_item_that_cannot_stop_early_keeps_only_its_own_task_evaluating(
    tmp_path: Path,
) -> None:
    """min_ratio is gated at the full n: its task is evaluated to the last look and its item
    decided at fixed n there (said in the summary), while the other task stops at look 1. The
    fixed-n comparison gets its share of alpha (half here: one of two comparisons)."""
    repo = _looking_repo(tmp_path)
    (repo / "conftest.py").write_text(TWO_TASKS)
    (repo / "thresholds.toml").write_text(TWO_TASKS_TOML)
    assert _gate(repo, "base", "--mlgate-record")[0].returncode == 0
    worse, report = _gate(repo, "worse")
    assert worse.returncode == 1, worse.stdout[-3000:]
    tasks = report["manifest"]["tasks"]
    assert (tasks["mlgate_tr_mc"]["n"], tasks["mlgate_tr_mc"]["look"]) == (200, [1, 4])
    assert (tasks["mlgate_tr_math"]["n"], tasks["mlgate_tr_math"]["look"]) == (2000, [4, 4])
    assert "sequential: mlgate_tr_math: every document evaluated" in worse.stdout
    assert "min_ratio is gated at the full n" in worse.stdout
    by_task = {v["task"]: v for v in report["verdicts"]}
    assert "decided after 200 of 2,000" in by_task["mlgate_tr_mc"]["reason"]
    waiting = by_task["mlgate_tr_math"]
    assert waiting["n"] == 2000
    assert "decided after" not in waiting["reason"]
    assert waiting["status"] == "fail"  # a 10 pp drop at the full n, at half of alpha
    assert waiting["p_adjusted"] == pytest.approx(min(1.0, 2 * waiting["p_value"]))


def test_a_backend_that_ignores_looks_is_gated_at_fixed_n_and_says_so(tmp_path: Path) -> None:
    repo = _looking_repo(tmp_path)
    assert _gate(repo, "base", "--mlgate-record")[0].returncode == 0
    done, report = _gate(repo, "same-ignoring")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Ignoring evaluated every document of mlgate_tr_mc at once" in done.stdout
    assert "gated at fixed n" in done.stdout
    assert report["verdicts"][0]["n"] == 2000


def test_a_stopped_run_is_recorded_as_partial_and_never_becomes_the_baseline(
    tmp_path: Path,
) -> None:
    repo = _looking_repo(tmp_path, "record_sequential = true")
    assert _gate(repo, "base", "--mlgate-no-sequential", "--mlgate-record")[0].returncode == 0
    stopped, _ = _gate(repo, "worse", "--mlgate-record")
    assert stopped.returncode == 1
    assert "recorded as a partial run, never a baseline or anchor" in stopped.stdout
    index = [
        json.loads(line) for line in (repo / ".mlgate" / "index.jsonl").read_text().splitlines()
    ]
    assert [entry.get("partial", False) for entry in index] == [False, True]
    again, report = _gate(repo, "worse")
    assert again.returncode == 1
    assert report["verdicts"][0]["baseline_run"] == index[0]["run_id"]  # the whole one


def test_no_baseline_or_items_it_cannot_stop_on_mean_fixed_n_said(tmp_path: Path) -> None:
    repo = _looking_repo(tmp_path)
    first, report = _gate(repo, "same")
    assert "sequential: there is no baseline to compare with" in first.stdout
    assert report["manifest"]["tasks"]["mlgate_tr_mc"]["n"] == 2000


# --- the order looks take documents in ----------------------------------------------------------


def test_every_look_is_a_stratified_sample_in_a_seeded_order() -> None:
    import random

    from pytest_mlgate.sampling import look_order, stratified_subset

    for trial in range(40):
        rnd = random.Random(trial)
        labels: list[str | None] = [f"s{k}" for k in range(rnd.randint(1, 12))] + [None]
        strata = [rnd.choice(labels) for _ in range(rnd.randint(1, 600))]
        order = look_order(strata, seed=7, salt="task")
        assert sorted(order) == list(range(len(strata)))  # each document exactly once
        sizes = {s: strata.count(s) for s in set(strata)}
        seen = dict.fromkeys(sizes, 0)
        for k, index in enumerate(order, 1):
            seen[strata[index]] += 1
            for s, size in sizes.items():  # every prefix proportional to within ~one document
                assert abs(seen[s] - k * size / len(strata)) < 1.5
    fixed: list[str | None] = [*(["a"] * 300), *(["b"] * 100)]
    order = look_order(fixed, 1234, "mlgate_tr_mc")
    assert order == look_order(fixed, 1234, "mlgate_tr_mc")  # deterministic
    assert order != look_order(fixed, 1235, "mlgate_tr_mc")  # the seed matters
    assert order != look_order(fixed, 1234, "other_task")  # and the task
    # the first 10 % of the look order is the stratified sample of that size, same seed and task
    assert sorted(order[:40]) == stratified_subset(fixed, 40, 1234, "mlgate_tr_mc")
    # with `sample`, the looks order only the sampled documents
    chosen = stratified_subset(fixed, 100, 1234, "mlgate_tr_mc")
    assert sorted(look_order(fixed, 1234, "mlgate_tr_mc", chosen)) == chosen


def test_flip_models_and_their_limits() -> None:
    assert seq.flip_shares(0.02) == pytest.approx((0.035, 0.015))  # 1.5 % each way plus the drop
    assert seq.flip_shares(0.02, discordance=0.06) == pytest.approx((0.04, 0.02))  # 6 % in all
    with pytest.raises(ValueError, match="not probabilities"):
        seq.flip_shares(0.08, discordance=0.06)  # a net drop larger than all the flips
    # every flip right→wrong (no wrong→right at all): exact power, no log(0)
    assert seq.fixed_n_power(400, 0.06, 0.02, 0.05, discordance=0.06) > 0.99
    # the two models agree where they describe the same documents
    same = seq.fixed_n_power(1_000, 0.03, 0.02, 0.05, flip_rate=0.01)
    assert seq.fixed_n_power(1_000, 0.03, 0.02, 0.05, discordance=0.05) == pytest.approx(same)


# --- several items: Holm's procedure look by look -----------------------------------------------


def _item_paths(
    design: seq.SequentialDesign, drops: list[float], margin: float, reps: int, seed: int
) -> np.ndarray:
    """Per repetition, per item, the margin statistic at each look (independent items)."""
    paths = []
    for offset, drop in enumerate(drops):
        losses, gains, sizes = seq.draw_counts(design, *seq.flip_shares(drop), reps, seed + offset)
        paths.append(seq.paired_margin_z(losses, gains, sizes[None, :], margin))
    return np.stack(paths, axis=1)  # reps × items × looks


def test_holm_sequential_keeps_the_run_level_rate_at_the_margin() -> None:
    n, margin, alpha, reps, items = 2_000, 0.02, 0.05, 3_000, 4
    design = seq.make_design(n, alpha)
    z = _item_paths(design, [margin] * items, margin, reps, seed=31)
    runs_failed = 0
    for rep in range(reps):
        decided = seq.holm_sequential(z[rep].tolist(), [n] * items, alpha)
        runs_failed += any(d.decision == "fail" for d in decided)
    low, _ = stats.wilson_interval(runs_failed, reps)
    assert low <= alpha  # any item failing, all four exactly at the margin: <= alpha
    # each item at the full alpha (no correction) fails the run far more often
    alone = [
        any(design.looks[k].decide(z[rep, i, k]) == "fail" for i in range(items) for k in range(4))
        for rep in range(reps)
    ]
    alone_low, _ = stats.wilson_interval(sum(alone), reps)
    assert alone_low > 2 * alpha


def test_holm_sequential_recycles_a_failed_items_level() -> None:
    n, alpha = 2_000, 0.05
    two = seq.make_design(n, alpha / 2)
    one = seq.make_design(n, alpha)
    between = (one.looks[-1].fail_z + two.looks[-1].fail_z) / 2  # fails at alpha, not at alpha/2
    clear = [0.0, 0.0, 0.0, 9.0]  # a clear regression at the last look
    decided = seq.holm_sequential([clear, [0.0, 0.0, 0.0, between]], [n, n], alpha)
    assert [(d.decision, d.look) for d in decided] == [("fail", 4), ("fail", 4)]
    alone = seq.holm_sequential([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, between]], [n, n], alpha)
    assert [d.decision for d in alone] == ["pass", "pass"]
    # one item: the plain design; decided at the first look its statistic crosses a bound
    early = seq.holm_sequential([[one.looks[0].fail_z + 0.1]], [n], alpha)
    assert early == (seq.ItemDecision("fail", 1),)
    passing = seq.holm_sequential([[0.0, -3.0]], [n], alpha)
    assert passing == (seq.ItemDecision("pass", 2),)


# --- looks through lm-eval ---------------------------------------------------------------------


@pytest.mark.slow
def test_lmeval_looks_join_to_the_whole_run_with_few_shot(
    demo_checkpoints: dict[str, Path],
) -> None:
    """Through lm-eval, 2-shot: the four looks' documents partition the task, and each document
    gets the prompt (few-shot demonstrations included) and the scores of the run that evaluates
    every document at once. lm-eval draws demonstrations from one generator in document order;
    the backend replays the whole run's draws on every look."""
    from dataclasses import replace

    from pytest_mlgate.backend import BackendSpec, EvalRequest
    from pytest_mlgate.backend.lmeval import LmEvalBackend
    from pytest_mlgate.config.schema import ModelConfig

    model = ModelConfig(dtype="float32", batch_size=16, device="cpu")
    backend = LmEvalBackend(BackendSpec(model, str(demo_checkpoints["good"])))
    request = EvalRequest(("mlgate_tr_mc",), num_fewshot=2, sample=None, seed=1)
    try:
        whole = backend.evaluate(request)["mlgate_tr_mc"]
        looks = (0.1, 0.25, 0.5, 1.0)
        parts = [backend.evaluate(replace(request, look=(k, looks))) for k in (1, 2, 3, 4)]
    finally:
        backend.close()
    assert [p.info.planned["mlgate_tr_mc"] for p in parts] == [479] * 4
    tasks = [p["mlgate_tr_mc"] for p in parts]
    ids = [set(t.metric("acc").doc_ids) for t in tasks]
    assert [len(i) for i in ids] == [48, 72, 120, 239]  # 48, 120, 240, 479 in all
    assert set().union(*ids) == set(whole.metric("acc").doc_ids)
    every = dict(zip(whole.metric("acc").doc_ids, whole.metric("acc").scores, strict=True))
    for task in tasks:
        scores = dict(zip(task.metric("acc").doc_ids, task.metric("acc").scores, strict=True))
        assert scores == {d: every[d] for d in scores}
        assert task.prompt_hashes == {d: whole.prompt_hashes[d] for d in task.prompt_hashes}
