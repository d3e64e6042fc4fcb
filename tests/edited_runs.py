"""A recorded real run replayed with a controlled edit of the model's answers.

A checkpoint fine-tuned or nudged to lose "a few" answers loses a different few on every machine
(training and inference differ in the last bits), so a test whose verdict hinges on how many it
lost passes on one machine and fails on another. Instead, a test records the real checkpoint's
run once, then gates a variant built from that record: the same documents, prompts and hashes,
with exactly the answers the test names turned right or wrong. The change is then known to the
example on any machine, and the gate's statistics decide on exactly that change.

Usage: write :data:`CONFTEST` as the repository's ``conftest.py`` and call :func:`edit` before the
run that should see the variant (without ``edits.json`` the built-in lm-eval backend answers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

CONFTEST = '''
import dataclasses
import json
from pathlib import Path

from pytest_mlgate.results import EvalRun
from pytest_mlgate.store.folder import FolderStore

EDITS = Path(__file__).with_name("edits.json")


def _edited(metric, subgroups, change):
    """``metric`` with the first ``lose`` right answers (by doc id) of ``change``'s subgroup
    (every document when it names none) made wrong and the first ``gain`` wrong ones right."""
    scores = dict(zip(metric.doc_ids, metric.scores))
    group = change.get("subgroup")
    docs = sorted(d for d in scores if group is None or subgroups.get(d) == group)
    moves = ((change.get("lose", 0), 1.0, 0.0), (change.get("gain", 0), 0.0, 1.0))
    for wanted, before, after in moves:
        chosen = [d for d in docs if scores[d] == before][:wanted]
        assert len(chosen) == wanted, f"{group}: fewer than {wanted} answers scored {before}"
        scores.update(dict.fromkeys(chosen, after))
    values = tuple(scores[d] for d in metric.doc_ids)
    return dataclasses.replace(metric, scores=values, value=sum(values) / len(values), stderr=None)


class Edited:
    """The recorded run of ``edits.json``, with its answers changed as that file says."""

    def __init__(self):
        self.spec = json.loads(EDITS.read_text())
        self.recorded = FolderStore(Path(self.spec["store"])).load(self.spec["run"]).run

    def check(self, tasks):
        pass

    def model(self):
        return self

    def subgroups(self, request):
        return {task: self.recorded[task].subgroup_sizes() for task in request.tasks}

    def evaluate(self, request):
        task = self.recorded[self.spec["task"]]
        metric = task.metrics[self.spec["metric"]]
        for change in self.spec["changes"]:
            metric = _edited(metric, task.subgroups, change)
        task = dataclasses.replace(task, metrics={**task.metrics, metric.key: metric})
        return EvalRun({task.name: task}, self.recorded.info)

    def close(self):
        pass


def pytest_mlgate_make_backend(spec):
    return Edited() if EDITS.exists() else None  # None: the built-in lm-eval backend
'''


def recorded_run(store: Path) -> str:
    """The id of the one run recorded in the folder store ``store``."""
    [run] = [p.stem for p in (store / "runs").glob("*.json")]
    return run


def edit(
    repo: Path,
    store: Path,
    run: str,
    changes: Sequence[Mapping[str, object]],
    task: str = "mlgate_tr_mc",
    metric: str = "acc,none",
) -> None:
    """Make the next gate run in ``repo`` answer as recorded run ``run`` of ``store`` did, with
    ``changes`` applied to ``metric`` of ``task``: each ``{"subgroup": NAME or None, "lose": K,
    "gain": M}`` turns the first K right answers of that subgroup wrong and the first M wrong
    ones right."""
    spec = {"store": str(store), "run": run, "task": task, "metric": metric, "changes": changes}
    (repo / "edits.json").write_text(json.dumps(spec))
