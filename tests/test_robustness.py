"""Subgroup and robustness gates on real checkpoints: a regression hidden in one category (the
good checkpoint's recorded answers, edited), and the ASCII-typing gap (a short cached fine-tune)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import edited_runs
from tests.gate_run import run_gate

pytestmark = pytest.mark.slow
MAIN = {"MLGATE_BRANCH": "main"}


def write(folder: Path, gated: str, perturb: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thresholds.toml").write_text(
        '[model]\ndtype = "float32"\nbatch_size = 32\n'
        f'[suites.fast]\ntasks = ["mlgate_tr_mc"]\n{perturb}\n'
        f'[gate]\ncache = "{folder / "cache"}"\n{gated}\n'
    )


def verdicts(folder: Path, name: str) -> dict[str, dict[str, Any]]:
    document = json.loads((folder / name).read_text())
    return {str(v["item"]).partition("::")[2]: v for v in document["verdicts"]}


def test_a_regression_in_one_category_fails_its_subgroup_while_the_average_passes(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """The good checkpoint's recorded answers, 20 of dilbilgisi's right ones turned wrong and 8
    wrong ones of the category it gets wrong most often turned right: a net loss of 12 of 479
    (2.5 pp, within max_drop 0.05) hidden behind an improvement, 20 of 140 (14 pp) in one
    category. Built from the record, the change is the same on any machine."""
    write(tmp_path, "[thresholds.mlgate_tr_mc]\nacc = { max_drop = 0.05, subgroups = true }")
    good = f"--mlgate-checkpoint={demo_checkpoints['good']}"
    recorded = run_gate(tmp_path, good, "--mlgate-record", "--mlgate-json=good.json", env=MAIN)
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    baseline = verdicts(tmp_path, "good.json")
    wrong = {
        item.partition("[")[2].rstrip("]"): round((1 - v["value"]) * v["n"])
        for item, v in baseline.items()
        if "[" in item and "dilbilgisi" not in item
    }
    improved = max(wrong, key=lambda group: (wrong[group], group))
    assert wrong[improved] >= 8, f"the good checkpoint gets {wrong} wrong: too few to improve on"
    (tmp_path / "conftest.py").write_text(edited_runs.CONFTEST)
    store = tmp_path / ".mlgate"
    changes = [{"subgroup": "dilbilgisi", "lose": 20}, {"subgroup": improved, "gain": 8}]
    edited_runs.edit(tmp_path, store, edited_runs.recorded_run(store), changes)
    shifted = run_gate(tmp_path, good, "--mlgate-json=r.json", env=MAIN)
    assert shifted.returncode == 1, shifted.stdout[-3000:]
    items = verdicts(tmp_path, "r.json")
    for item, verdict in items.items():
        print(f"{item}: {verdict['status']} - {verdict['reason']}")
    overall = items["mlgate_tr_mc::acc"]
    assert overall["status"] == "pass"
    assert float(overall["delta"]) == pytest.approx(-12 / 479, abs=1e-12)
    grammar = items["mlgate_tr_mc::acc[dilbilgisi]"]
    assert grammar["status"] == "fail"
    assert float(grammar["delta"]) == pytest.approx(-20 / 140, abs=1e-12)
    assert "significant drop of" in str(grammar["reason"])
    assert float(items[f"mlgate_tr_mc::acc[{improved}]"]["delta"]) > 0  # another one improved
    groups = {"dilbilgisi", "genel_kultur", "sozcuk_anlam", "gunluk_akil"}
    assert {f"mlgate_tr_mc::acc[{group}]" for group in groups} <= set(items)


@pytest.mark.parametrize(("name", "passes"), [("good", False), ("robust", True)])
def test_the_ascii_gap(
    demo_checkpoints: dict[str, Path],
    robust_checkpoint: Path,
    tmp_path: Path,
    name: str,
    passes: bool,
) -> None:
    """The good checkpoint learnt its questions only with Turkish letters; the robust one with
    and without them."""
    checkpoint = demo_checkpoints["good"] if name == "good" else robust_checkpoint
    write(
        tmp_path,
        '[thresholds.mlgate_tr_mc]\nacc = 0.5\n[thresholds."mlgate_tr_mc@ascii"]\n'
        "acc = { max_gap = 0.10 }",
        perturb='perturb = ["ascii"]',
    )
    result = run_gate(tmp_path, f"--mlgate-checkpoint={checkpoint}", "--mlgate-json=r.json")
    assert result.returncode == (0 if passes else 1), result.stdout[-3000:]
    variant = verdicts(tmp_path, "r.json")["mlgate_tr_mc@ascii::acc"]
    print(f"{name}: {variant['status']} - {variant['reason']}")
    assert ("within max_gap 0.1" if passes else "significant gap of") in str(variant["reason"])
