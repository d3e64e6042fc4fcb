"""pytest-mlgate: a pytest plugin that gates language-model checkpoints on eval scores."""

from __future__ import annotations

from pytest_mlgate.results import EvalRun, MetricResult, TaskResult

__all__ = ["EvalRun", "MetricResult", "TaskResult", "__version__"]
__version__ = "0.1.0"
