"""Task YAMLs and data shipped with pytest-mlgate: offline Turkish suites written for this project.

Each task lives in ``<name>/task.yaml.in`` next to its ``test.jsonl``. lm-eval resolves relative
``data_files`` against the current directory, so the templates are materialised into a folder of
real YAML files whose data paths are absolute (:func:`materialize_tasks`); that folder is what the
backend indexes, and what ``mlgate tasks --export`` hands to the raw ``lm_eval`` CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
TEMPLATE_NAME = "task.yaml.in"
PLACEHOLDER = "${MLGATE_TASK_DIR}"
# Python that the shipped YAMLs name with `!function`, copied next to them under these names.
HELPERS = {"mlgate_turkish.py": TASKS_DIR.parent / "text" / "turkish.py"}


def shipped_task_names() -> tuple[str, ...]:
    return tuple(sorted(p.parent.name for p in TASKS_DIR.glob(f"*/{TEMPLATE_NAME}")))


def materialize_tasks(dest: Path) -> Path:
    """Write each shipped task as ``dest/<name>.yaml`` with absolute data paths, and the helper
    modules they name with ``!function``; return dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for template in sorted(TASKS_DIR.glob(f"*/{TEMPLATE_NAME}")):
        # json.dumps gives a double-quoted YAML scalar that survives any character in the path.
        folder = json.dumps(template.parent.as_posix())[1:-1]
        text = template.read_text(encoding="utf-8").replace(PLACEHOLDER, folder)
        (dest / f"{template.parent.name}.yaml").write_text(text, encoding="utf-8")
    for name, source in HELPERS.items():
        (dest / name).write_bytes(source.read_bytes())
    return dest


def iter_docs(task: str) -> Iterator[dict[str, object]]:
    """The documents of a shipped task, in file order (used by the demo to train its model)."""
    with (TASKS_DIR / task / "test.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                doc = json.loads(line)
                assert isinstance(doc, dict)
                yield doc
