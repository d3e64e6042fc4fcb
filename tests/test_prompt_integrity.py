"""Prompt integrity without a model: config keys, the chance guard's rule, per-document request
fingerprints, Turkish exact match, progress lines, and template files in the trigger matrix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_mlgate.backend.fake import FakeTask, fake_task_result
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.config.triggers import TriggerConfig, kind_of
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.gate.bounds import check_threshold
from pytest_mlgate.gate.decision import gate_all
from pytest_mlgate.gate.verdicts import Caveat, Status
from pytest_mlgate.report.progress import ProgressLine
from pytest_mlgate.results import EvalRun
from pytest_mlgate.text import turkish
from tests.outcomes import outcome


def write(tmp_path: Path, model: str, gate: str = "") -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(
        f'[model]\ncheckpoint = "c"\n{model}\n[gate]\n{gate}\n'
        '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[thresholds.mlgate_tr_mc]\nacc = 0.1\n'
    )
    return path


def test_chat_keys_are_validated_and_multiturn_defaults_to_the_template(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, 'chat_template = "terse"\nsystem_instruction = "Kısa yanıtla."\n'
              'gen_kwargs = { temperature = 0, max_gen_toks = 32 }')
    )  # fmt: skip
    model = config.model
    assert model.chat_template == "terse"
    assert model.multiturn  # lm-eval 0.4.13's default once a template is applied
    assert model.gen_kwargs == {"temperature": 0, "max_gen_toks": 32}
    assert not load_config(write(tmp_path, "")).model.multiturn
    off = load_config(write(tmp_path, "chat_template = true\nfewshot_as_multiturn = false"))
    assert not off.model.multiturn


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ("fewshot_as_multiturn = true", "few-shot examples as chat turns need a chat template"),
        ('chat_template = ""', "expected true, false or the name of one of the tokenizer's"),
        ("chat_template = 3", "expected true, false or the name"),
        ("gen_kwargs = { until = [1] }", "until = [1]: expected a string, number or boolean"),
        ("system_instruction = 1", "[model] system_instruction = 1: expected a string"),
    ],
)
def test_bad_chat_settings_name_the_key(tmp_path: Path, model: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=r"thresholds\.toml") as caught:
        load_config(write(tmp_path, model))
    assert fragment in str(caught.value)


def test_chance_policy_is_validated(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "", 'chance = "warn"')).gate.chance == "warn"
    with pytest.raises(ConfigError, match="must be one of fail, warn, off"):
        load_config(write(tmp_path, "", 'chance = "maybe"'))
    with pytest.raises(ConfigError, match="chance_margin"):
        load_config(write(tmp_path, "", "chance_margin = 1.5"))


def mc(right: int, n: int, choices: int = 4) -> EvalRun:
    scores = [1.0] * right + [0.0] * (n - right)
    kind = FakeTask(output_type="multiple_choice", choices=choices)
    return EvalRun({"t": fake_task_result("t", {"acc": scores}, kind)})


ACC = MetricThreshold("t", "acc", min=0.0)


@pytest.mark.parametrize(
    ("right", "n", "status", "fragment"),
    [
        (110, 440, Status.FAIL, "indistinguishable from chance: its one-sided 95% upper bound"),
        (30, 100, Status.WARN, "not significantly above chance (one-sided p="),
        (160, 400, Status.PASS, "within >= 0"),  # 0.40: clearly above 0.25
    ],
)
def test_the_chance_guard_on_multiple_choice_accuracy(
    right: int, n: int, status: Status, fragment: str
) -> None:
    verdict = check_threshold(ACC, mc(right, n))
    assert verdict.status is status
    assert fragment in verdict.reason
    if status is not Status.PASS:
        assert "chance is 0.2500" in verdict.reason
        assert "chat template" in verdict.reason


def test_chance_policy_warn_and_off() -> None:
    warned = check_threshold(ACC, mc(110, 440), GateConfig(chance="warn"))
    assert warned.status is Status.WARN
    assert [kind for kind, _ in warned.caveats] == [Caveat.CHANCE]
    assert check_threshold(ACC, mc(110, 440), GateConfig(chance="off")).status is Status.PASS
    wide = check_threshold(ACC, mc(110, 440), GateConfig(chance_margin=0.0))
    assert wide.status is Status.WARN  # the bound 0.28 is above chance + 0: only a warning


def test_the_chance_guard_leaves_other_metrics_and_tasks_alone() -> None:
    plain = EvalRun({"t": fake_task_result("t", {"acc": [1.0] * 110 + [0.0] * 330})})
    assert check_threshold(ACC, plain).status is Status.PASS  # no choice count: not guarded
    f1 = MetricThreshold("t", "f1", min=0.0)
    kind = FakeTask(output_type="multiple_choice", choices=4)
    run = EvalRun({"t": fake_task_result("t", {"f1": [1.0] * 110 + [0.0] * 330}, kind)})
    assert check_threshold(f1, run).status is Status.PASS


def test_a_generative_metric_at_zero_everywhere_warns() -> None:
    kind = FakeTask(output_type="generate_until")
    run = EvalRun({"t": fake_task_result("t", {"exact_match": [0.0] * 50}, kind)})
    verdict = check_threshold(MetricThreshold("t", "exact_match", min=0.0), run)
    assert verdict.status is Status.WARN
    assert "every one of the 50 examples scored 0" in verdict.reason


def test_documents_rendered_differently_make_a_baseline_incomparable() -> None:
    scores = [1.0, 0.0] * 50
    base = outcome("b", EvalRun({"t": fake_task_result("t", {"acc": scores}, FakeTask())}))
    same = EvalRun({"t": fake_task_result("t", {"acc": scores}, FakeTask())})
    other = EvalRun({"t": fake_task_result("t", {"acc": scores}, FakeTask(prompt="new"))})
    threshold = MetricThreshold("t", "acc", max_drop=0.05)
    [kept] = gate_all([threshold], same, base, GateConfig()).values()
    assert kept.status is Status.PASS
    [changed] = gate_all([threshold], other, base, GateConfig()).values()
    assert changed.status is Status.FAIL
    assert "rendered requests differ on 100 of 100 shared documents" in changed.reason
    [warned] = gate_all([threshold], other, base, GateConfig(on_incomparable="warn")).values()
    assert warned.passed
    assert [kind for kind, _ in warned.caveats] == [Caveat.INCOMPARABLE]


def test_a_sample_of_the_baseline_compares_on_the_overlap() -> None:
    full = fake_task_result("t", {"acc": [1.0, 0.0] * 50})
    base = outcome("b", EvalRun({"t": full}))
    keep = range(0, 100, 3)
    sampled = dataclasses.replace(
        full,
        metrics={
            k: dataclasses.replace(
                m, doc_ids=tuple(keep), scores=tuple(m.scores[i] for i in keep), n=len(keep)
            )
            for k, m in full.metrics.items()
        },
        doc_hashes={i: full.doc_hashes[i] for i in keep},
        prompt_hashes={i: full.prompt_hashes[i] for i in keep},
        n=len(keep),
    )
    threshold = MetricThreshold("t", "acc", max_drop=0.05)
    [verdict] = gate_all([threshold], EvalRun({"t": sampled}), base, GateConfig()).values()
    assert verdict.status is Status.PASS
    assert verdict.comparison is not None
    assert verdict.comparison.n == 34


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("İstanbul", "istanbul", True),
        ("İstanbul", "İSTANBUL", True),
        ("istanbul", "İSTANBUL", True),
        ("ISTANBUL", "ıstanbul", True),
        ("ISTANBUL", "İstanbul", False),
        ("ıstanbul", "istanbul", False),
        ("  Iğdır. ", "ığdır", True),
        ("soğuk!", "Soğuk", True),
        ("Çiçek  açtı", "çiçek açtı", True),
        ("Ankara", "Ankara'da", False),
    ],
)
def test_exact_match_tr_truth_table(a: str, b: str, same: bool) -> None:
    assert turkish.exact_match_tr([a], [b]) == float(same)
    assert turkish.exact_match_tr([b], [a]) == float(same)


def test_turkish_casing_and_ascii_folding() -> None:
    assert turkish.lower("IĞDIR İZMİR") == "ığdır izmir"
    assert turkish.upper("ığdır izmir") == "IĞDIR İZMİR"
    assert turkish.fold_ascii("Şişli'de ığdırlı öğrenci çalışıyor") == (
        "Sisli'de igdirli ogrenci calisiyor"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_in_a_log_is_a_line_per_tenth_with_rate_and_eta() -> None:
    clock = Clock()
    line = ProgressLine(tty=False, clock=clock)
    shown = []
    for done in range(0, 201):
        clock.now = done * 0.05
        text = line.update("loglikelihood", done, 200)
        if text:
            shown.append(text)
    assert len(shown) == 10
    assert shown[0] == "mlgate: loglikelihood 20/200 (10%), 20.0 requests/s, ETA 9s"
    assert shown[-1] == "mlgate: loglikelihood 200/200 (100%), 20.0 requests/s, 10s"


def test_progress_on_a_terminal_is_rewritten_at_most_five_times_a_second() -> None:
    clock = Clock()
    line = ProgressLine(tty=True, clock=clock)
    shown = []
    for done in range(0, 1001):
        clock.now = done * 0.01
        if text := line.update("generate_until", done, 1000):
            shown.append(text)
    assert 45 <= len(shown) <= 51  # 10 s at most every 0.2 s, the last one always
    assert shown[-1].startswith("mlgate: generate_until 1000/1000 (100%)")


def test_a_quick_evaluation_shows_no_progress() -> None:
    clock = Clock()
    line = ProgressLine(tty=False, clock=clock)
    assert [line.update("t", d, 10) for d in range(11)] == [None] * 11


SLOW = """
from pytest_mlgate.backend.fake import FakeBackend

def pytest_mlgate_make_backend(spec):
    return FakeBackend({"mlgate_tr_mc": {"acc": [1.0] * 150 + [0.0] * 50}}, delay=0.02)
"""


def test_a_slow_evaluation_prints_progress_lines_and_none_with_q(pytester: pytest.Pytester) -> None:
    (pytester.path / "ckpt").mkdir()
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = 0.5\n",
    )
    pytester.makeconftest(SLOW)
    result = pytester.runpytest_subprocess("-m", "eval", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    lines = [ln for ln in result.outlines if ln.startswith("mlgate: mlgate_tr_mc ")]
    print("\n".join(lines))
    assert len(lines) >= 9
    assert lines[-1].startswith("mlgate: mlgate_tr_mc 200/200 (100%)")
    quiet = pytester.runpytest_subprocess("-m", "eval", "-q", "-p", "no:cacheprovider")
    assert not [ln for ln in quiet.outlines if ln.startswith("mlgate: mlgate_tr_mc ")]


@pytest.mark.parametrize(
    "path",
    [
        "checkpoints/latest/chat_template.jinja",
        "models/chat/additional_chat_templates/terse.jinja",
        "chat_template.json",
    ],
)
def test_a_chat_template_file_is_a_prompt_change(path: str) -> None:
    assert kind_of(path, TriggerConfig()) == "prompt"
    assert kind_of("checkpoints/latest/model.safetensors", TriggerConfig()) == "model"
