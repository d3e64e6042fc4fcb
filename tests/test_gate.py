"""The pure gate: absolute thresholds, fail-closed on missing or NaN metrics."""

from __future__ import annotations

import math

import pytest

from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import MetricNotFound
from pytest_mlgate.gate.bounds import check_threshold
from pytest_mlgate.gate.verdicts import Status
from pytest_mlgate.results import EvalRun


def run_with(**metrics: list[float] | float) -> EvalRun:
    return EvalRun({"t": fake_task_result("t", metrics)})


def test_value_at_or_above_min_passes_with_value_ci_and_n() -> None:
    verdict = check_threshold(MetricThreshold("t", "acc", min=0.5), run_with(acc=[1, 1, 0, 1]))
    assert verdict.status is Status.PASS
    assert verdict.value == 0.75
    assert "t acc = 0.7500, 95% CI" in verdict.reason
    assert "n=4" in verdict.reason


def test_below_min_fails_with_one_line_reason() -> None:
    verdict = check_threshold(MetricThreshold("t", "acc", min=0.8), run_with(acc=[1, 0, 0, 1]))
    assert verdict.status is Status.FAIL
    assert verdict.reason.endswith("below min 0.8")
    assert "\n" not in verdict.reason


def test_above_max_fails_for_lower_is_better_metrics() -> None:
    verdict = check_threshold(MetricThreshold("t", "ppl", max=10.0), run_with(ppl=12.5))
    assert verdict.status is Status.FAIL
    assert "above max 10" in verdict.reason


@pytest.mark.parametrize(
    ("threshold", "run", "fragment"),
    [
        (MetricThreshold("t", "f1", min=0.1), run_with(acc=[1.0]), "metric 'f1' is not in"),
        (MetricThreshold("other", "acc", min=0.1), run_with(acc=[1.0]), "task 'other' is not"),
        (MetricThreshold("t", "acc", min=0.1), run_with(acc=math.nan), "= nan"),
        (MetricThreshold("t", "acc", min=0.1), run_with(acc=[]), "evaluated on no examples"),
    ],
)
def test_missing_nan_or_empty_metric_fails_closed(
    threshold: MetricThreshold, run: EvalRun, fragment: str
) -> None:
    verdict = check_threshold(threshold, run)
    assert verdict.status is Status.FAIL
    assert fragment in verdict.reason


def test_metric_key_resolution_follows_lm_eval_names() -> None:
    task = fake_task_result(
        "m", {"exact_match,strict-match": [1.0, 0.0], "exact_match,flexible-extract": [1.0, 1.0]}
    )
    assert task.metric("exact_match,flexible-extract").value == 1.0
    with pytest.raises(MetricNotFound, match="exists only with a filter; name one"):
        task.metric("exact_match")
    plain = fake_task_result("p", {"acc": [1.0, 0.0]})
    assert plain.metric("acc").key == "acc,none"  # ",none" may be omitted
    assert plain.metric("acc,none").value == 0.5


def test_wilson_interval_for_binary_scores() -> None:
    metric = fake_task_result("t", {"acc": [1.0] * 8 + [0.0] * 2}).metric("acc")
    low, high = metric.ci()
    # Wilson 95% for 8/10: (0.4902, 0.9433)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


# --- against a baseline: the failure modes an independent review found ---------------------

from pytest_mlgate.config.schema import GateConfig  # noqa: E402
from pytest_mlgate.gate.decision import gate_all  # noqa: E402
from pytest_mlgate.results import MetricResult, TaskResult  # noqa: E402
from tests.outcomes import outcome  # noqa: E402


def single(
    value: float, scores: list[float] | None, hib: bool | None, stderr: float | None = None
) -> EvalRun:
    ids = tuple(range(len(scores or [])))
    metric = MetricResult(
        "t", "m,none", value, stderr, len(scores or []) or 100, hib, ids, tuple(scores or ())
    )
    return EvalRun({"t": TaskResult("t", {"m,none": metric}, metric.n)})


def test_unknown_direction_fails_instead_of_guessing() -> None:
    base = single(0.9, [1.0] * 180 + [0.0] * 20, None)
    now = single(0.5, [1.0] * 100 + [0.0] * 100, None)
    [verdict] = gate_all(
        [MetricThreshold("t", "m", max_drop=0.02)], now, outcome("b", base), GateConfig()
    ).values()
    assert verdict.status is Status.FAIL
    assert "does not say whether higher is better" in verdict.reason
    declared = MetricThreshold("t", "m", max_drop=0.02, higher_is_better=True)
    [verdict] = gate_all([declared], now, outcome("b", base), GateConfig()).values()
    assert verdict.status is Status.FAIL
    assert "significant drop" in verdict.reason
    lower_better = MetricThreshold("t", "m", max_drop=0.02, higher_is_better=False)
    [verdict] = gate_all([lower_better], now, outcome("b", base), GateConfig()).values()
    assert verdict.status is Status.PASS  # for an error rate, 0.9 -> 0.5 is an improvement


def test_nan_baseline_fails_and_does_not_mask_other_metrics() -> None:
    base = EvalRun(
        {
            "t": TaskResult(
                "t",
                {
                    "nan,none": MetricResult("t", "nan,none", math.nan, 0.01, 100),
                    "acc,none": MetricResult(
                        "t",
                        "acc,none",
                        0.9,
                        None,
                        200,
                        True,
                        tuple(range(200)),
                        tuple([1.0] * 180 + [0.0] * 20),
                    ),
                },
                200,
            ),
        }
    )
    now = EvalRun(
        {
            "t": TaskResult(
                "t",
                {
                    "nan,none": MetricResult("t", "nan,none", 0.5, 0.01, 100),
                    "acc,none": MetricResult(
                        "t",
                        "acc,none",
                        0.5,
                        None,
                        200,
                        True,
                        tuple(range(200)),
                        tuple([1.0] * 100 + [0.0] * 100),
                    ),
                },
                200,
            ),
        }
    )
    thresholds = [
        MetricThreshold("t", "nan", max_drop=0.02),
        MetricThreshold("t", "acc", max_drop=0.02),
    ]
    verdicts = list(gate_all(thresholds, now, outcome("b", base), GateConfig()).values())
    assert verdicts[0].status is Status.FAIL
    assert "the baseline value is nan" in verdicts[0].reason
    assert verdicts[1].status is Status.FAIL  # the real drop is still caught
    assert "significant drop" in verdicts[1].reason
