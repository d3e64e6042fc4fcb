"""Perturbed variants on real lm-eval tasks: only the evaluated document's input text changes,
never its choices, its target or the few-shot demonstrations; the same seed gives the same
prompts; shipped tasks, user tasks and lm-eval built-ins alike."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.backend.lmeval import LmEvalBackend
from pytest_mlgate.config.schema import ModelConfig
from pytest_mlgate.tasks import iter_docs
from pytest_mlgate.text import turkish

pytestmark = pytest.mark.slow


def backend(checkpoint: Path, include: tuple[Path, ...] = ()) -> LmEvalBackend:
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    return LmEvalBackend(
        BackendSpec(ModelConfig(dtype="float32", batch_size=32), str(checkpoint), include)
    )


def split_prompt(prompt: str) -> tuple[str, str]:
    """(the few-shot demonstrations, the evaluated document's own text)."""
    head, _, last = prompt.rpartition("Soru: ")
    return head, "Soru: " + last


@pytest.fixture(scope="module")
def variants(demo_checkpoints: dict[str, Path]) -> dict[str, object]:
    tasks = ("mlgate_tr_mc", "mlgate_tr_mc@ascii", "mlgate_tr_mc@upper", "mlgate_tr_mc@typo")
    request = EvalRequest(tasks, num_fewshot=2, sample=60, seed=3, typo_rate=0.1)
    first = backend(demo_checkpoints["good"]).evaluate(request)
    again = backend(demo_checkpoints["good"]).evaluate(request)
    return {"run": first, "again": again}


@pytest.mark.parametrize("kind", ["ascii", "upper", "typo"])
def test_only_the_evaluated_input_text_changes(variants: dict[str, object], kind: str) -> None:
    run = variants["run"]
    clean, variant = run["mlgate_tr_mc"], run[f"mlgate_tr_mc@{kind}"]  # type: ignore[index]
    docs = list(iter_docs("mlgate_tr_mc"))
    changed = 0
    for doc_id, example in variant.examples.items():
        original = clean.examples[doc_id]
        demos, own = split_prompt(example.prompt)
        clean_demos, clean_own = split_prompt(original.prompt)
        assert demos == clean_demos  # the few-shot demonstrations are never perturbed
        assert example.target == original.target  # nor the answer
        question = str(docs[doc_id]["question"])
        if kind == "ascii":
            assert own == f"Soru: {turkish.fold_ascii(question)}\nCevap:"
        elif kind == "upper":
            assert own == f"Soru: {turkish.upper(question)}\nCevap:"
        changed += own != clean_own
    assert changed > len(variant.examples) / 2
    assert variant.doc_hashes == clean.doc_hashes  # the same documents: pairs with the clean run
    assert variant.task_hash != clean.task_hash
    assert variant.prompt_hashes != clean.prompt_hashes


def test_variants_are_deterministic_and_choices_untouched(variants: dict[str, object]) -> None:
    run, again = variants["run"], variants["again"]
    typo, repeat = run["mlgate_tr_mc@typo"], again["mlgate_tr_mc@typo"]  # type: ignore[index]
    assert typo.prompt_hashes == repeat.prompt_hashes  # byte-identical prompts for one seed
    assert typo.task_hash == repeat.task_hash
    clean = run["mlgate_tr_mc"]  # type: ignore[index]
    assert {ex.response for ex in typo.examples.values()} <= {
        ex.target for ex in clean.examples.values()
    } | {ex.response for ex in clean.examples.values()} | {
        str(c)
        for d in iter_docs("mlgate_tr_mc")
        for c in d["choices"]  # type: ignore[attr-defined]
    }  # the model still chooses among the original, unperturbed choices


def lm_eval_tasks() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def test_a_built_in_task_on_local_data_keeps_its_lettered_choices(
    demo_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """TurkishMMLU's own config: the choices are part of its prompt text, and stay as written."""
    rows = [
        {
            "question": f"Işık {i} hangi organelde enerjiye dönüşür?",
            "choices": ["Kloroplast", "Ribozom", "Çekirdek", "Koful", "Lizozom"],
            "answer": "A",
        }
        for i in range(8)
    ]
    data = tmp_path / "mmlu.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tmmlu_local.yaml").write_text(
        f"include: {lm_eval_tasks() / 'turkishmmlu' / 'config' / 'Biology.yaml'}\n"
        "task: tmmlu_local\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n    dev: {data}\n"
    )
    run = backend(demo_checkpoints["good"], (tasks,)).evaluate(
        EvalRequest(("tmmlu_local", "tmmlu_local@upper", "tmmlu_local@ascii"), num_fewshot=1)
    )
    for kind, text in (("upper", "IŞIK 0 HANGİ ORGANELDE ENERJİYE DÖNÜŞÜR?"),
                       ("ascii", "Isik 0 hangi organelde enerjiye donusur?")):  # fmt: skip
        example = run[f"tmmlu_local@{kind}"].examples[0]
        own = example.prompt.rpartition("Soru: ")[2]
        assert own.startswith(text + "\nA. Kloroplast\nB. Ribozom\nC. Çekirdek"), own
        assert example.target == "A"
        assert run[f"tmmlu_local@{kind}"].n == 8
