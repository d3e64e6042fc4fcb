"""pytest-mlgate: a pytest plugin that gates language-model checkpoints on eval scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_mlgate.results import EvalRun, MetricResult, TaskResult

__all__ = ["EvalRun", "MetricResult", "TaskResult", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The result types, imported when first asked for: a plain `pytest` run loads this package
    (the plugin) and should not pay for them."""
    if name in ("EvalRun", "MetricResult", "TaskResult"):
        from pytest_mlgate import results

        return getattr(results, name)
    raise AttributeError(f"module 'pytest_mlgate' has no attribute {name!r}")
