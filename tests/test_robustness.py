"""Subgroup and robustness gates on real checkpoints derived from the demo's good one by short
cached fine-tunes: a regression hidden in one category, and the ASCII-typing gap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
    demo_checkpoints: dict[str, Path], shifted_checkpoint: Path, tmp_path: Path
) -> None:
    write(tmp_path, "[thresholds.mlgate_tr_mc]\nacc = { max_drop = 0.05, subgroups = true }")
    good = f"--mlgate-checkpoint={demo_checkpoints['good']}"
    recorded = run_gate(tmp_path, good, "--mlgate-record", env=MAIN)
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    shifted = run_gate(
        tmp_path, f"--mlgate-checkpoint={shifted_checkpoint}", "--mlgate-json=r.json", env=MAIN
    )
    assert shifted.returncode == 1, shifted.stdout[-3000:]
    items = verdicts(tmp_path, "r.json")
    for item, verdict in items.items():
        print(f"{item}: {verdict['status']} - {verdict['reason']}")
    overall = items["mlgate_tr_mc::acc"]
    assert overall["status"] == "pass"
    assert -0.05 < float(overall["delta"]) < 0  # a small loss on average, within max_drop
    grammar = items["mlgate_tr_mc::acc[dilbilgisi]"]
    assert grammar["status"] == "fail"
    assert "significant drop of" in str(grammar["reason"])
    assert float(items["mlgate_tr_mc::acc[gunluk_akil]"]["delta"]) > 0  # another one improved
    assert {"mlgate_tr_mc::acc[genel_kultur]", "mlgate_tr_mc::acc[sozcuk_anlam]"} <= set(items)


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
