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


def _ascii_gap(folder: Path, checkpoint: Path, max_gap: float) -> tuple[int, dict[str, Any], float]:
    """The gate's exit code, its ``mlgate_tr_mc@ascii`` verdict at ``max_gap``, and the gap
    (clean accuracy minus ASCII accuracy, on the same documents)."""
    write(
        folder,
        '[thresholds.mlgate_tr_mc]\nacc = 0.5\n[thresholds."mlgate_tr_mc@ascii"]\n'
        f"acc = {{ max_gap = {max_gap} }}",
        perturb='perturb = ["ascii"]',
    )
    result = run_gate(folder, f"--mlgate-checkpoint={checkpoint}", "--mlgate-json=r.json")
    tasks = json.loads((folder / "r.json").read_text())["results"]["tasks"]
    clean, ascii = (
        tasks[t]["metrics"]["acc,none"]["value"] for t in ("mlgate_tr_mc", "mlgate_tr_mc@ascii")
    )
    variant = verdicts(folder, "r.json")["mlgate_tr_mc@ascii::acc"]
    return result.returncode, variant, float(clean) - float(ascii)


def test_the_ascii_gap(
    demo_checkpoints: dict[str, Path], robust_checkpoint: Path, tmp_path: Path
) -> None:
    """The good checkpoint learnt its questions only with Turkish letters; the robust one with
    and without them. How large each gap comes out is the training's doing and moves from
    machine to machine, so the margin is put halfway between the two measured gaps: the test
    asks that the robust gap be far smaller, and that the gate fail the one gap significantly
    above the margin and pass the one below it."""
    checkpoints = {"good": demo_checkpoints["good"], "robust": robust_checkpoint}
    gaps = {}
    for name, checkpoint in checkpoints.items():
        code, measured, gaps[name] = _ascii_gap(tmp_path / name, checkpoint, 1.0)
        assert code == 0, measured["reason"]
    print(f"ascii gaps: {gaps}")
    assert gaps["good"] - gaps["robust"] > 0.2, gaps  # learning both forms closed most of it
    margin = round((gaps["good"] + gaps["robust"]) / 2, 3)
    for name, passes in (("good", False), ("robust", True)):
        code, variant, _ = _ascii_gap(tmp_path / name, checkpoints[name], margin)  # cached
        print(f"{name}: {variant['status']} - {variant['reason']}")
        assert code == (0 if passes else 1), variant["reason"]
        expected = f"within max_gap {margin:g}" if passes else "significant gap of"
        assert expected in str(variant["reason"])
