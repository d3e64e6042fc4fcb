"""Beyond the average: subgroup items, disparity, perturbed variants and their gap, and the
subgroup family's own multiple-comparison correction."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pytest_mlgate.backend.fake import FakeTask, fake_task_result
from pytest_mlgate.cli.main import main
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.schema import GateConfig, MetricThreshold
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.gate.decision import gate_all
from pytest_mlgate.gate.verdicts import Status
from pytest_mlgate.results import EvalRun
from tests.outcomes import outcome

GROUPS = ["dilbilgisi"] * 40 + ["genel_kultur"] * 40 + ["gunluk_akil"] * 40 + ["nadir"] * 10

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend, FakeTask

GROUPS = {groups!r}


def pytest_mlgate_make_backend(spec):
    data = json.loads(Path("scores.json").read_text())
    tasks = {{name: FakeTask(subgroups=dict(enumerate(GROUPS))) for name in data}}
    return FakeBackend(data, tasks=tasks)
"""


def scores(**rates: float) -> list[float]:
    """Per document, right (1.0) for the first share of each subgroup given."""
    out = []
    for group in dict.fromkeys(GROUPS):
        size = GROUPS.count(group)
        right = round(rates.get(group, 0.8) * size)
        out += [1.0] * right + [0.0] * (size - right)
    return out


class Repo:
    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makeconftest(CONFTEST.format(groups=GROUPS))
        (pytester.path / "ckpt").mkdir()

    def configure(self, gated: str, perturb: str = "", extra: str = "") -> None:
        self.pytester.makefile(
            ".toml",
            thresholds=f'[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mc"]\n{perturb}\n'
            f"[gate]\nmax_drop = 0.05\n{extra}\n{gated}\n",
        )

    def run(self, data: dict[str, dict[str, list[float]]], *args: str) -> pytest.RunResult:
        (self.pytester.path / "scores.json").write_text(json.dumps(data))
        return self.pytester.runpytest("-m", "eval", "-rA", "-W", "default", *args)


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.setenv("MLGATE_BRANCH", "main")
    return Repo(pytester)


def test_each_big_enough_subgroup_is_an_item_and_a_hidden_regression_fails(repo: Repo) -> None:
    repo.configure("[thresholds.mc]\nacc = { min = 0.5, subgroups = true }")
    base = scores()
    first = repo.run({"mc": {"acc": base}}, "--mlgate-record")
    assert first.ret == 0, first.stdout.str()
    for line in [
        "PASSED thresholds.toml::mc::acc",
        "PASSED thresholds.toml::mc::acc[dilbilgisi]",
        "PASSED thresholds.toml::mc::acc[genel_kultur]",
        "PASSED thresholds.toml::mc::acc[gunluk_akil]",
        "mlgate: mc acc[nadir]: 10 examples (< min_subgroup_n 30): reported, not gated",
    ]:
        assert line in first.stdout.lines
    # dilbilgisi falls 0.8 -> 0.4 (16 of 40 lost) while gunluk_akil rises 0.8 -> 1.0 (8 of 40
    # gained): the whole task loses 8 of 130 = 0.0615, within a max_drop of 0.07.
    repo.configure("[thresholds.mc]\nacc = { min = 0.5, max_drop = 0.07, subgroups = true }")
    shifted = scores(dilbilgisi=0.4, gunluk_akil=1.0)
    result = repo.run({"mc": {"acc": shifted}}, "--mlgate-json=r.json")
    assert result.ret == 1
    summary = [ln.partition(" - ")[0] for ln in result.stdout.lines]
    for line in [
        "PASSED thresholds.toml::mc::acc",
        "FAILED thresholds.toml::mc::acc[dilbilgisi]",
        "PASSED thresholds.toml::mc::acc[genel_kultur]",
        "PASSED thresholds.toml::mc::acc[gunluk_akil]",
    ]:
        assert line in summary
    [line] = [ln for ln in result.stdout.lines if ln.startswith("mc acc[dilbilgisi] = ")]
    assert "vs baseline 0.8000" in line
    assert "delta -0.4000" in line
    assert "significant drop of 0.4000 > max_drop 0.07" in line
    document = json.loads((repo.pytester.path / "r.json").read_text())
    items = {v["item"].rpartition("::")[2]: v for v in document["verdicts"]}
    assert items["acc[dilbilgisi]"]["subgroup"] == "dilbilgisi"
    assert items["acc[gunluk_akil]"]["delta"] == pytest.approx(0.2)
    markdown = repo.run({"mc": {"acc": shifted}}, "--mlgate-markdown=s.md")
    assert markdown.ret == 1
    rows = [
        ln for ln in (repo.pytester.path / "s.md").read_text().splitlines() if ln.startswith("| ")
    ]
    assert "acc\\[dilbilgisi\\]" in rows[1]  # the failing subgroup first (after the header)


def test_min_subgroup_and_max_disparity_are_bounds_on_point_estimates(repo: Repo) -> None:
    repo.configure("[thresholds.mc]\nacc = { min_subgroup = 0.6, max_disparity = 0.15 }")
    result = repo.run({"mc": {"acc": scores(dilbilgisi=0.5, gunluk_akil=0.9)}})
    assert result.ret == 1
    [overall] = [ln for ln in result.stdout.lines if ln.startswith("mc acc = ")]
    assert "disparity 0.4000 between subgroups 'gunluk_akil' (0.9000, 95% CI" in overall
    assert "and 'dilbilgisi' (0.5000, 95% CI" in overall
    assert overall.endswith("> max_disparity 0.15")
    [grammar] = [ln for ln in result.stdout.lines if ln.startswith("mc acc[dilbilgisi] = ")]
    assert "below min 0.6" in grammar
    assert "nadir" not in overall  # a subgroup under min_subgroup_n does not define the gap


def test_a_variant_gates_its_gap_against_the_clean_task(repo: Repo) -> None:
    repo.configure(
        '[thresholds.mc]\nacc = 0.5\n[thresholds."mc@ascii"]\nacc = { max_gap = 0.05 }',
        perturb='perturb = ["ascii", "upper"]',
    )
    clean = scores()
    data = {"mc": {"acc": clean}, "mc@ascii": {"acc": scores(dilbilgisi=0.2, genel_kultur=0.4)}}
    data["mc@upper"] = {"acc": clean}
    result = repo.run(data)
    assert result.ret == 1
    assert "FAILED thresholds.toml::mc@ascii::acc" in [
        ln.partition(" - ")[0] for ln in result.stdout.lines
    ]
    [line] = [ln for ln in result.stdout.lines if ln.startswith("mc@ascii acc = ")]
    # 64 of 130 right with ASCII-folded questions against 104 of 130: paired by document
    assert "vs clean mc 0.8000, delta -0.3077 [95% CI" in line
    # the gap is tested against its margin (before: mcnemar-exact, a test of "gap > 0")
    assert "(tango-score, n=130): significant gap of 0.3077 > max_gap 0.05: gap 30.8 pp" in line
    result.stdout.no_fnmatch_line("*mc@upper::acc*")  # reported, not gated
    robust = {**data, "mc@ascii": {"acc": clean}}
    assert repo.run(robust).ret == 0


def test_variant_configuration_errors_name_the_fix(tmp_path: Path) -> None:
    base = '[model]\ncheckpoint = "c"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n{perturb}\n{gated}'
    path = tmp_path / "thresholds.toml"
    path.write_text(
        base.format(perturb="", gated="[thresholds.mlgate_tr_mc]\nacc = { max_gap = 0.05 }")
    )
    with pytest.raises(
        ConfigError, match=r'bounds a perturbed variant.*\[thresholds."mlgate_tr_mc@ascii"\]'
    ):
        load_config(path)
    path.write_text(base.format(perturb="", gated='[thresholds."mlgate_tr_mc@ascii"]\nacc = 0.3'))
    with pytest.raises(ConfigError, match="no suite runs the 'ascii' variant of 'mlgate_tr_mc'"):
        load_config(path)
    path.write_text(base.format(perturb='perturb = ["asci"]', gated=""))
    with pytest.raises(ConfigError, match=r"unknown perturbation 'asci'\. Did you mean 'ascii'"):
        load_config(path)


def test_check_says_which_variants_are_reported_not_gated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(
        '[suites.fast]\ntasks = ["mlgate_tr_mc"]\nperturb = ["ascii", "typo"]\n'
        '[thresholds."mlgate_tr_mc@ascii"]\nacc = { max_gap = 0.05 }\n'
    )
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 task(s), 2 perturbed variant(s), 1 gate(s)" in out
    assert (
        'mlgate_tr_mc@typo: reported, not gated (no [thresholds."mlgate_tr_mc@typo"] table)' in out
    )


def _null_run(rng: random.Random, groups: list[str], rate: float = 0.75) -> EvalRun:
    scores = [1.0 if rng.random() < rate else 0.0 for _ in groups]
    kind = FakeTask(subgroups=dict(enumerate(groups)))
    return EvalRun({"t": fake_task_result("t", {"acc": scores}, kind)})


@pytest.mark.parametrize(("correction", "controlled"), [("holm", True), ("none", False)])
def test_the_subgroup_family_false_alarm_rate(correction: str, controlled: bool) -> None:
    """Null simulation: baseline and run independent draws of the same model quality, six
    subgroups of 60, max_drop 0. With Holm the family fails at most alpha of the time; without
    it (the control) clearly more often."""
    rng = random.Random(20261201)
    groups = [f"g{i}" for i in range(6) for _ in range(60)]
    base_threshold = MetricThreshold("t", "acc", max_drop=0.0, subgroups=True)
    thresholds = [base_threshold.for_subgroup(f"g{i}") for i in range(6)]
    settings = GateConfig(correction=correction, max_drop=0.0)
    repetitions, alarms = 2000, 0
    for rep in range(repetitions):
        baseline = outcome(f"b{rep}", _null_run(rng, groups))
        verdicts = gate_all(thresholds, _null_run(rng, groups), baseline, settings)
        alarms += any(v.status is Status.FAIL for v in verdicts.values())
    rate = alarms / repetitions
    print(f"correction={correction}: subgroup-family false-alarm rate {rate:.4f} of {repetitions}")
    if controlled:
        assert rate <= settings.alpha
    else:
        assert rate > settings.alpha
