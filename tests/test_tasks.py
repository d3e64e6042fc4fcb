"""The shipped offline Turkish tasks: schema, size, balance, and reproducible from the generator."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pytest_mlgate.tasks import TASKS_DIR, materialize_tasks, shipped_task_names
from tools import author_tasks

TURKISH_LETTERS = set("çğıİöşü")


def load(task: str) -> list[dict[str, object]]:
    lines = (TASKS_DIR / task / "test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_shipped_tasks_are_listed() -> None:
    assert shipped_task_names() == ("mlgate_tr_gen", "mlgate_tr_math", "mlgate_tr_mc")


def test_multiple_choice_items() -> None:
    docs = load("mlgate_tr_mc")
    assert len(docs) >= 200
    categories = Counter(str(d["category"]) for d in docs)
    assert set(categories) == {"genel_kultur", "sozcuk_anlam", "dilbilgisi", "gunluk_akil"}
    assert min(categories.values()) >= 50
    for doc in docs:
        assert list(doc) == ["id", "category", "question", "choices", "answer"]
        choices = doc["choices"]
        assert isinstance(choices, list)
        assert len(choices) == len(set(choices)) == 4, doc
        assert doc["answer"] in range(4), doc
        assert str(doc["question"]).endswith("?"), doc
    positions = Counter(int(str(d["answer"])) for d in docs)
    assert all(0.18 <= positions[i] / len(docs) <= 0.32 for i in range(4)), positions
    assert len({d["question"] for d in docs}) == len(docs)


def test_math_items() -> None:
    docs = load("mlgate_tr_math")
    assert len(docs) >= 200
    categories = Counter(str(d["category"]) for d in docs)
    assert set(categories) == {"toplama", "cikarma", "carpma", "bolme", "iki_adim"}
    for doc in docs:
        assert list(doc) == ["id", "category", "question", "answer"]
        assert str(doc["answer"]).isdigit(), doc
        assert str(doc["question"]).endswith("?"), doc


def test_text_is_turkish() -> None:
    text = "".join(str(d["question"]) for t in shipped_task_names() for d in load(t))
    assert set(text) >= TURKISH_LETTERS
    assert "Istanbul" not in text  # the dotted capital İ


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    author_tasks.write_all(tmp_path)
    for task in shipped_task_names():
        shipped = (TASKS_DIR / task / "test.jsonl").read_bytes()
        assert (tmp_path / task / "test.jsonl").read_bytes() == shipped, task


def test_materialized_yaml_points_at_the_shipped_data(tmp_path: Path) -> None:
    materialize_tasks(tmp_path / "with space")
    text = (tmp_path / "with space" / "mlgate_tr_mc.yaml").read_text()
    assert f'test: "{(TASKS_DIR / "mlgate_tr_mc").as_posix()}/test.jsonl"' in text
    assert "${" not in text


@pytest.mark.slow
def test_lm_eval_loads_the_materialized_tasks(tmp_path: Path) -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(materialize_tasks(tmp_path)), include_defaults=False)
    loaded = manager.load(["mlgate_tr_mc", "mlgate_tr_math"])["tasks"]
    assert len(list(loaded["mlgate_tr_mc"].eval_docs)) == len(load("mlgate_tr_mc"))
    assert len(list(loaded["mlgate_tr_math"].eval_docs)) == len(load("mlgate_tr_math"))
