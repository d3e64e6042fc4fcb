"""Suites on real lm-eval runs: seeded subsets, n-shot, lm-eval's Turkish task configs on local
data, and a clear message when a hub dataset is not available offline."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.backend.lmeval import LmEvalBackend
from pytest_mlgate.config.schema import ModelConfig
from pytest_mlgate.errors import BackendError
from tests.gate_run import run_gate

pytestmark = pytest.mark.slow


def backend(checkpoint: Path, include: tuple[Path, ...] = ()) -> LmEvalBackend:
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    return LmEvalBackend(
        BackendSpec(ModelConfig(dtype="float32", batch_size=32), str(checkpoint), include)
    )


def test_a_sampled_suite_uses_the_same_stratified_subset_in_every_run(
    demo_checkpoints: dict[str, Path],
) -> None:
    request = EvalRequest(("mlgate_tr_mc",), num_fewshot={"mlgate_tr_mc": 2}, sample=40, seed=7)
    baseline = backend(demo_checkpoints["good"]).evaluate(request)["mlgate_tr_mc"]
    pr = backend(demo_checkpoints["regressed"]).evaluate(request)["mlgate_tr_mc"]
    assert pr.metric("acc").doc_ids == baseline.metric("acc").doc_ids  # paired, example by example
    assert pr.n == 40
    assert pr.num_fewshot == 2
    # proportional to the category sizes (140 / 127 / 111 / 101 of 479)
    assert Counter(pr.subgroups.values()) == {
        "dilbilgisi": 12,
        "sozcuk_anlam": 11,
        "genel_kultur": 9,
        "gunluk_akil": 8,
    }
    other_seed = EvalRequest(("mlgate_tr_mc",), sample=40, seed=8)
    moved = backend(demo_checkpoints["good"]).evaluate(other_seed)["mlgate_tr_mc"]
    assert moved.metric("acc").doc_ids != pr.metric("acc").doc_ids


def lm_eval_tasks() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def test_lm_evals_turkish_configs_run_on_local_data(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """`include:` a built-in config and override its dataset: lm-eval's own prompts and metrics."""
    data = tmp_path / "data"
    data.mkdir()
    xcopa = [
        {
            "premise": "Kız bardağı düşürdü.",
            "choice1": "Bardak kırıldı.",
            "choice2": "Bardak doldu.",
            "question": "effect",
            "label": 0,
            "idx": i,
        }
        for i in range(6)
    ]
    mmlu = [
        {
            "question": "Hücrenin enerji merkezi hangisidir?",
            "choices": ["Mitokondri", "Ribozom", "Çekirdek", "Koful", "Lizozom"],
            "answer": "A",
        }
        for _ in range(6)
    ]
    for name, rows in (("xcopa.jsonl", xcopa), ("mmlu.jsonl", mmlu)):
        (data / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "xcopa_tr_local.yaml").write_text(
        f"include: {lm_eval_tasks() / 'xcopa' / 'default_tr.yaml'}\n"
        "task: xcopa_tr_local\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    validation: {data / 'xcopa.jsonl'}\n"
        f"    test: {data / 'xcopa.jsonl'}\n"
    )
    (tasks / "turkishmmlu_biology_local.yaml").write_text(
        f"include: {lm_eval_tasks() / 'turkishmmlu' / 'config' / 'Biology.yaml'}\n"
        "task: turkishmmlu_biology_local\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data / 'mmlu.jsonl'}\n"
        f"    dev: {data / 'mmlu.jsonl'}\n"
    )
    run = backend(demo_checkpoints["good"], (tasks,)).evaluate(
        EvalRequest(("xcopa_tr_local", "turkishmmlu_biology_local"))
    )
    assert run["xcopa_tr_local"].n == 6
    assert 0.0 <= run["xcopa_tr_local"].metric("acc").value <= 1.0
    assert run["turkishmmlu_biology_local"].n == 6
    example = run["turkishmmlu_biology_local"].examples[0]
    assert example.prompt.startswith("Soru: Hücrenin enerji merkezi hangisidir?\nA. Mitokondri")
    assert example.target == "A"


def test_a_hub_dataset_missing_offline_is_named_with_the_fix(
    demo_checkpoints: dict[str, Path],
) -> None:
    with pytest.raises(BackendError) as excinfo:
        backend(demo_checkpoints["good"]).evaluate(EvalRequest(("xcopa_tr",)))
    message = str(excinfo.value)
    assert (
        "task 'xcopa_tr' cannot load the hub dataset 'cambridgeltl/xcopa' (config 'tr')" in message
    )
    assert "offline mode forbids downloading it" in message
    assert "datasets.load_dataset('cambridgeltl/xcopa', 'tr')" in message
    assert "HF_DATASETS_CACHE" in message


def test_init_then_the_fast_tier_on_the_demo_checkpoint(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    init = subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", "init"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote thresholds.toml" in init.stdout
    result = run_gate(
        tmp_path, f"--mlgate-checkpoint={demo_checkpoints['good']}", "--mlgate-record"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout  # init's gates: mlgate_tr_mc acc, mlgate_tr_math
    assert "mlgate: recorded run" in result.stdout
