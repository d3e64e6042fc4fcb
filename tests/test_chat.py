"""Chat templates and prompt integrity on real lm-eval runs of tiny offline checkpoints: the
gate formats requests exactly as ``lm_eval --apply_chat_template`` does, a changed template is
never compared silently nor served from the cache, and a model at chance fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.cli.demo import offline_env
from tests.checkpoints import CHAT_TEMPLATE, with_chat_template
from tests.gate_run import run_gate

pytestmark = pytest.mark.slow
MAIN = {"MLGATE_BRANCH": "main"}  # the scratch folders are no git repositories

GATE = """
[model]
checkpoint = "{checkpoint}"
dtype = "float32"
batch_size = 32
chat_template = true
{multiturn}

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_gen"]
num_fewshot = 2
{sample}

[gate]
cache = "{cache}"

[thresholds.mlgate_tr_mc]
acc = {{ min = 0.2 }}
acc_norm = {{ min = 0.0 }}

[thresholds.mlgate_tr_gen]
exact_match_tr = {{ min = 0.0 }}
"""


def write_gate(
    folder: Path, checkpoint: Path, *, multiturn: bool | None = None, sample: int | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "thresholds.toml"
    config.write_text(
        GATE.format(
            checkpoint=checkpoint,
            multiturn=""
            if multiturn is None
            else f"fewshot_as_multiturn = {str(multiturn).lower()}",
            sample="" if sample is None else f"sample = {sample}",
            cache=folder / "cache",
        )
    )
    return config


def gate_values(folder: Path, name: str = "r.json") -> dict[tuple[str, str], float]:
    document = json.loads((folder / name).read_text())
    return {
        (task, key): metric["value"]
        for task, result in document["results"]["tasks"].items()
        for key, metric in result["metrics"].items()
    }


@pytest.fixture(scope="module")
def exported_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tasks = tmp_path_factory.mktemp("exported")
    subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", "tasks", "--export", str(tasks)],
        check=True,
        capture_output=True,
    )
    return tasks


@pytest.mark.parametrize("multiturn", [True, False], ids=["multiturn", "single-turn"])
def test_chat_template_values_equal_the_lm_eval_cli(
    chat_checkpoint: Path, exported_tasks: Path, tmp_path: Path, multiturn: bool
) -> None:
    write_gate(tmp_path, chat_checkpoint, multiturn=multiturn)
    gate = run_gate(tmp_path, "--mlgate-json=r.json", "--mlgate-no-cache")
    assert gate.returncode == 0, gate.stdout[-3000:]
    out = tmp_path / "cli"
    cli = Path(sys.executable).with_name("lm_eval")
    command = [
        str(cli),
        "--model", "hf",
        "--model_args", f"pretrained={chat_checkpoint},dtype=float32",
        "--tasks", "mlgate_tr_mc,mlgate_tr_gen",
        "--include_path", str(exported_tasks),
        "--num_fewshot", "2",
        "--apply_chat_template",
        "--fewshot_as_multiturn", str(multiturn).lower(),
        "--batch_size", "32",
        "--device", "cpu",
        "--output_path", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env=offline_env(), cwd=tmp_path)
    [results_file] = out.rglob("results_*.json")
    oracle = json.loads(results_file.read_text())["results"]
    ours = gate_values(tmp_path)
    compared = [
        ("mlgate_tr_mc", "acc,none"),
        ("mlgate_tr_mc", "acc_norm,none"),
        ("mlgate_tr_gen", "exact_match_tr,none"),
    ]
    for task, key in compared:
        assert ours[(task, key)] == pytest.approx(oracle[task][key], abs=1e-12), (task, key)
    print(
        f"fewshot_as_multiturn={multiturn}: "
        + ", ".join(f"{t} {k} {ours[(t, k)]:.4f}" for t, k in compared)
    )


def test_a_changed_template_makes_the_baseline_incomparable_and_misses_the_cache(
    chat_checkpoint: Path, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(chat_checkpoint, checkpoint)
    write_gate(tmp_path, checkpoint)
    first = run_gate(tmp_path, "--mlgate-record", "--mlgate-json=first.json", env=MAIN)
    assert first.returncode == 0, first.stdout[-3000:]
    cached = run_gate(tmp_path, "--mlgate-json=cached.json", env=MAIN)
    assert cached.returncode == 0, cached.stdout[-3000:]
    assert json.loads((tmp_path / "cached.json").read_text())["results"]["info"]["result_cache"]

    # The same weights, one more line in the template: every prompt changes.
    with_chat_template(checkpoint, checkpoint, "Yanıtı kısa yaz.\n" + CHAT_TEMPLATE)
    changed = run_gate(tmp_path, "--mlgate-json=changed.json", env=MAIN)
    assert changed.returncode == 1, changed.stdout[-3000:]
    info = json.loads((tmp_path / "changed.json").read_text())["results"]["info"]
    assert "result_cache" not in info  # evaluated again: the template is in the cache key
    [line] = [ln for ln in changed.stdout.splitlines() if ln.startswith("mlgate_tr_mc acc: ")]
    print(line)
    assert "not comparable with baseline run" in line
    assert "chat template changed (sha " in line
    first_sha = json.loads((tmp_path / "first.json").read_text())["manifest"]["prompt"][
        "chat_template"
    ]
    assert f"(sha {first_sha[:8]}… → sha " in line
    assert "rendered requests differ on 479 of 479 shared documents" in changed.stdout


def test_a_sampled_run_is_given_the_few_shot_examples_of_the_full_run(
    chat_checkpoint: Path, tmp_path: Path
) -> None:
    """lm-eval draws few-shot examples document after document: a PR's sample must be given
    the same ones as the full baseline, or the two would compare different prompts."""
    full, sampled = tmp_path / "full", tmp_path / "sampled"
    write_gate(full, chat_checkpoint)
    write_gate(sampled, chat_checkpoint, sample=60)
    store = f"--mlgate-store={tmp_path / 'history'}"
    recorded = run_gate(full, store, "--mlgate-record", "--mlgate-no-cache", env=MAIN)
    assert recorded.returncode == 0, recorded.stdout[-3000:]
    pr = run_gate(sampled, store, "--mlgate-json=pr.json", "--mlgate-no-cache", env=MAIN)
    assert pr.returncode == 0, pr.stdout[-3000:]  # comparable: the prompts on the overlap agree
    document = json.loads((sampled / "pr.json").read_text())
    [acc] = [v for v in document["verdicts"] if v["metric"] == "acc"]
    assert acc["test"] == "tango-score"  # paired, against the max_drop margin
    assert acc["paired_n"] == 60
    assert "rendered requests differ" not in acc["reason"]


def test_a_tokenizer_without_a_template_is_a_usage_error(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    write_gate(tmp_path, demo_checkpoints["good"])
    result = run_gate(tmp_path)
    assert result.returncode == 4, result.stdout[-2000:]
    assert "has no chat template" in result.stdout + result.stderr


LETTER_TASK = """
task: mc_letters
dataset_path: json
dataset_kwargs:
  data_files:
    test: "DATA"
test_split: test
output_type: multiple_choice
doc_to_text: >-
  Soru: {{question}}\\nA) {{choices[0]}}\\nB) {{choices[1]}}\\nC) {{choices[2]}}\\nD)
  {{choices[3]}}\\nCevap:
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def test_an_untrained_checkpoint_fails_the_chance_guard(
    untrained_checkpoint: Path, tmp_path: Path
) -> None:
    """The shipped MC items as lettered choices (TurkishMMLU's format, 479 items): a model
    that never learnt anything picks one letter for every question."""
    from pytest_mlgate.tasks import TASKS_DIR

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    data = TASKS_DIR / "mlgate_tr_mc" / "test.jsonl"
    (tasks / "mc_letters.yaml").write_text(LETTER_TASK.replace("DATA", str(data)))
    (tmp_path / "thresholds.toml").write_text(
        f'[model]\ncheckpoint = "{untrained_checkpoint}"\ndtype = "float32"\nbatch_size = 32\n'
        '[tasks]\ninclude = ["tasks"]\n'
        '[suites.fast]\ntasks = ["mc_letters"]\n[thresholds.mc_letters]\nacc = { min = 0.0 }\n'
    )
    result = run_gate(tmp_path, "--mlgate-no-cache")
    assert result.returncode == 1, result.stdout[-3000:]
    [line] = [ln for ln in result.stdout.splitlines() if ln.startswith("mc_letters acc = ")]
    print(line)
    assert "indistinguishable from chance" in line
    assert "chance is 0.2500" in line
    assert "chat template" in line  # the likely causes are named
    assert "BOS" in line


def test_prompts_prints_requests_as_the_model_sees_them(
    chat_checkpoint: Path, tmp_path: Path
) -> None:
    doubled = tmp_path / "doubled"
    with_chat_template(chat_checkpoint, doubled, "{{ bos_token }}" + CHAT_TEMPLATE)
    write_gate(tmp_path, doubled)
    result = subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", "prompts", "mlgate_tr_mc", "--n", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=offline_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    print(result.stdout)
    assert result.stdout.startswith("=== mlgate_tr_mc doc 0 · loglikelihood · ")
    assert (
        result.stdout.count("<s><s>Soru: ") == 1
    )  # two few-shot turns and the question, one context
    assert result.stdout.count("  + continuation ") == 4
    assert "starts with two BOS tokens" in result.stderr
    assert "%|" not in result.stdout + result.stderr  # no progress bars
