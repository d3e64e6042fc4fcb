"""pytest-mlgate: a pytest plugin that gates language-model checkpoints on eval scores.

``__all__`` names what users may import from here: the result types, the backend Protocol and
its capabilities, the history store Protocol and its stable constructors, the gate's outcome,
and the error and warning trees. Each is imported when first asked for: a plain ``pytest``
run loads this package (the plugin is installed) and must not pay for any of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_mlgate.backend import (
        Backend,
        BackendSpec,
        Cacheable,
        EvalRequest,
        ListsSubgroups,
        MeasuresLatency,
        OwnClock,
        RendersPrompts,
        has_capability,
    )
    from pytest_mlgate.errors import (
        AnchorSkippedWarning,
        BackendError,
        BaselineNotFound,
        ChanceWarning,
        CheckpointError,
        ConfigError,
        GitError,
        HistoryUnreachable,
        IncomparableBaselineWarning,
        MetricNotFound,
        MlgateError,
        MlgateWarning,
        ModelStageWarning,
        NoiseExplainedDropWarning,
        NoTrackingUri,
        PowerWarning,
        RecordError,
        RecordSpooled,
        ResultLookupError,
        SkippedRecordWarning,
        StoreError,
        StoreUnreachable,
        TaskNotFound,
        TrendWarning,
        UnknownTaskError,
        UsageProblem,
        WandbWarning,
    )
    from pytest_mlgate.gate.verdicts import GateOutcome, Status, Verdict
    from pytest_mlgate.results import (
        Determinism,
        EvalRun,
        Example,
        Latency,
        MetricResult,
        RunInfo,
        TaskResult,
    )
    from pytest_mlgate.store import FolderStore, HistoryStore, IndexEntry, open_store

__version__ = "0.1.0"

# Each public name and the module that defines it (imported on first access).
_WHERE: dict[str, str] = {
    **dict.fromkeys(
        ["EvalRun", "TaskResult", "MetricResult", "RunInfo", "Example", "Determinism", "Latency"],
        "pytest_mlgate.results",
    ),
    **dict.fromkeys(
        [
            "Backend",
            "BackendSpec",
            "EvalRequest",
            "Cacheable",
            "ListsSubgroups",
            "MeasuresLatency",
            "OwnClock",
            "RendersPrompts",
            "has_capability",
        ],
        "pytest_mlgate.backend",
    ),
    **dict.fromkeys(
        ["HistoryStore", "FolderStore", "IndexEntry", "open_store"], "pytest_mlgate.store"
    ),
    **dict.fromkeys(["GateOutcome", "Verdict", "Status"], "pytest_mlgate.gate.verdicts"),
    **dict.fromkeys(
        [
            # the errors: MlgateError and everything under it
            "MlgateError",
            "UsageProblem",
            "ConfigError",
            "CheckpointError",
            "UnknownTaskError",
            "BaselineNotFound",
            "NoTrackingUri",
            "HistoryUnreachable",
            "BackendError",
            "StoreError",
            "StoreUnreachable",
            "RecordSpooled",
            "RecordError",
            "ResultLookupError",
            "TaskNotFound",
            "MetricNotFound",
            "GitError",
            # the warnings: MlgateWarning and everything under it (``-W`` filters)
            "MlgateWarning",
            "NoiseExplainedDropWarning",
            "PowerWarning",
            "IncomparableBaselineWarning",
            "ChanceWarning",
            "TrendWarning",
            "AnchorSkippedWarning",
            "SkippedRecordWarning",
            "ModelStageWarning",
            "WandbWarning",
        ],
        "pytest_mlgate.errors",
    ),
}

__all__ = [
    "AnchorSkippedWarning",
    "Backend",
    "BackendError",
    "BackendSpec",
    "BaselineNotFound",
    "Cacheable",
    "ChanceWarning",
    "CheckpointError",
    "ConfigError",
    "Determinism",
    "EvalRequest",
    "EvalRun",
    "Example",
    "FolderStore",
    "GateOutcome",
    "GitError",
    "HistoryStore",
    "HistoryUnreachable",
    "IncomparableBaselineWarning",
    "IndexEntry",
    "Latency",
    "ListsSubgroups",
    "MeasuresLatency",
    "MetricNotFound",
    "MetricResult",
    "MlgateError",
    "MlgateWarning",
    "ModelStageWarning",
    "NoTrackingUri",
    "NoiseExplainedDropWarning",
    "OwnClock",
    "PowerWarning",
    "RecordError",
    "RecordSpooled",
    "RendersPrompts",
    "ResultLookupError",
    "RunInfo",
    "SkippedRecordWarning",
    "Status",
    "StoreError",
    "StoreUnreachable",
    "TaskNotFound",
    "TaskResult",
    "TrendWarning",
    "UnknownTaskError",
    "UsageProblem",
    "Verdict",
    "WandbWarning",
    "__version__",
    "has_capability",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module when first asked for (then kept here)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_mlgate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, with the module's own."""
    return sorted({*globals(), *__all__})
