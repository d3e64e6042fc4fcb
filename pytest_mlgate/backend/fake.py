"""An in-memory backend for tests (the MockTransport pattern): scores in, an EvalRun out.

    backend = FakeBackend({"mlgate_tr_mc": {"acc,none": [1, 0, 1, 1]}})

A list gives per-example scores (the value is their mean); a float gives the value alone.
It keeps every request it served so tests can assert "one batch, these tasks".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pytest_mlgate.backend import EvalRequest
from pytest_mlgate.errors import UnknownTaskError
from pytest_mlgate.results import EvalRun, MetricResult, RunInfo, TaskResult

Scores = Mapping[str, Mapping[str, Sequence[float] | float]]


@dataclass
class FakeBackend:
    scores: Scores
    info: RunInfo = field(default_factory=lambda: RunInfo(backend="fake"))
    requests: list[EvalRequest] = field(default_factory=list)

    def check(self, tasks: Sequence[str]) -> None:
        unknown = [t for t in tasks if t not in self.scores]
        if unknown:
            raise UnknownTaskError(f"unknown task(s) {', '.join(unknown)} (fake backend)")

    def model(self) -> object:
        return self

    def evaluate(self, request: EvalRequest) -> EvalRun:
        self.requests.append(request)
        self.check(request.tasks)
        return EvalRun(
            {task: fake_task_result(task, self.scores[task]) for task in request.tasks},
            self.info,
        )

    def close(self) -> None:
        pass


def fake_task_result(task: str, metrics: Mapping[str, Sequence[float] | float]) -> TaskResult:
    results = {}
    n = 0
    for key, raw in metrics.items():
        full_key = key if "," in key else f"{key},none"
        if isinstance(raw, (int, float)):
            results[full_key] = MetricResult(task, full_key, float(raw), None, 100)
            n = max(n, 100)
            continue
        scores = tuple(float(s) for s in raw)
        value = sum(scores) / len(scores) if scores else float("nan")
        results[full_key] = MetricResult(
            task, full_key, value, None, len(scores), True, tuple(range(len(scores))), scores
        )
        n = max(n, len(scores))
    # Like lm-eval, a hash per document, so runs pair by document and not by position alone.
    hashes = {i: hashlib.sha256(f"{task}\0{i}".encode()).hexdigest() for i in range(n)}
    return TaskResult(task, results, n, doc_hashes=hashes)
