"""Every error and warning pytest-mlgate raises on purpose, each on the Troubleshooting page.

Errors::

    MlgateError
    ├── UsageProblem              bad configuration or options: exit code 4, before any eval
    │   ├── ConfigError           thresholds.toml or an option; names file, table, key, value
    │   ├── CheckpointError       no checkpoint, no weights, or it cannot be loaded
    │   ├── UnknownTaskError      a task neither shipped, in [tasks] include, nor in lm-eval
    │   ├── BaselineNotFound      --mlgate-baseline names no recorded run and no branch
    │   ├── NoTrackingUri         [gate] store = "mlflow" with $MLFLOW_TRACKING_URI unset
    │   └── HistoryUnreachable    the history's server did not answer the baseline lookup
    ├── BackendError              the evaluation failed while running: gated items fail
    ├── StoreError                the history cannot be written, or a named run is absent
    │   └── StoreUnreachable      the history's server (MLflow) did not answer
    ├── RecordSpooled             the server was down: the record waits in the local spool
    ├── RecordError               one history record is malformed (readers skip it, warned)
    ├── ResultLookupError         (also a KeyError) a task or metric is not in the results
    │   ├── TaskNotFound
    │   └── MetricNotFound
    └── GitError                  git could not answer (the trigger matrix, --changed-from)

Warnings, all under ``MlgateWarning`` so ``-W error::pytest_mlgate.errors.MlgateWarning`` (or one
subclass) turns them into failures::

    MlgateWarning (pytest.PytestWarning)
    ├── NoiseExplainedDropWarning  a drop beyond the margin that the paired test calls noise
    ├── PowerWarning               max_drop is below what n examples can detect
    ├── IncomparableBaselineWarning  compared anyway (on_incomparable = "warn"), with the reason
    ├── ChanceWarning              a score not clearly above guessing (or 0 on every example)
    ├── TrendWarning               a significant downward trend over the recorded history
    ├── AnchorSkippedWarning       the anchor was made differently: not compared, re-anchor
    └── SkippedRecordWarning       an unreadable history record or index line was skipped

This module imports pytest (besides plugin, fixtures and hookspec) for one reason: the warnings
subclass ``pytest.PytestWarning``, so pytest's ``-W`` filters and warning summary know them.
"""

from __future__ import annotations

import pytest


class MlgateWarning(pytest.PytestWarning):
    """Base of every warning pytest-mlgate emits."""


class NoiseExplainedDropWarning(MlgateWarning):
    """A metric dropped by more than its margin, but not significantly: the item passes."""


class PowerWarning(MlgateWarning):
    """A threshold's margin is smaller than the sample size can detect."""


class IncomparableBaselineWarning(MlgateWarning):
    """The baseline differs in what moves scores and ``on_incomparable = "warn"`` compared it."""


class ChanceWarning(MlgateWarning):
    """A multiple-choice accuracy not significantly above chance, or a generative metric that
    is 0 on every example: usually a prompt, template, BOS or backend problem."""


class TrendWarning(MlgateWarning):
    """The metric has been falling over the recorded comparable runs (the trend's CUSUM passed
    its threshold at this run): each step may be within its margin while the path is not."""


class AnchorSkippedWarning(MlgateWarning):
    """The anchor was made under another lm-eval, template or task version: it is not compared
    (it would fail every PR); re-anchor to a run recorded with today's setup."""


class ModelStageWarning(MlgateWarning):
    """A ``models:/NAME/STAGE`` URI or ``--mlgate-register-stage``: MLflow deprecated stages in
    favour of aliases (the warning says which alias to use)."""


class WandbWarning(MlgateWarning):
    """The run could not be logged to Weights & Biases (the gate's verdict is unchanged)."""


class SkippedRecordWarning(MlgateWarning):
    """A history record or index line could not be read and was skipped (never rewritten)."""


class MlgateError(Exception):
    """Base class of every error pytest-mlgate raises on purpose."""


class UsageProblem(MlgateError):
    """Bad configuration or options: the run stops before evaluating, with exit code 4."""


class ConfigError(UsageProblem):
    """``thresholds.toml`` (or an option) is invalid: the message names file, table, key, value."""


class CheckpointError(UsageProblem):
    """The checkpoint is missing, has no weights, or cannot be loaded."""


class UnknownTaskError(UsageProblem):
    """A task name that neither the shipped tasks, ``[tasks] include`` nor lm-eval knows."""


class BaselineNotFound(UsageProblem):
    """``--mlgate-baseline`` names neither a recorded run id nor a branch with recorded runs."""


class NoTrackingUri(UsageProblem):
    """``[gate] store = "mlflow"`` and ``$MLFLOW_TRACKING_URI`` is unset (or empty): recording or
    reading the history has nowhere to go. A gated run without ``--mlgate-record`` gates its
    thresholds only instead (a fork PR gets no secrets)."""


class HistoryUnreachable(UsageProblem):
    """The history's server did not answer while the baseline was looked up: exit 4, naming it
    (a gate without its baseline would pass what it cannot compare)."""


class BackendError(MlgateError):
    """The evaluation backend failed while evaluating (the gated items fail, closed)."""


class StoreError(MlgateError):
    """The history store cannot be written (or a named run cannot be read); nothing is lost."""


class StoreUnreachable(StoreError):
    """The history's server (an MLflow tracking server) refused, timed out or dropped the
    connection."""


class RecordSpooled(MlgateError):
    """The run could not be uploaded and was written to the local spool instead; `mlgate history
    sync` uploads it (exactly once). Not a failure: the session exits per its verdicts."""


class RecordError(MlgateError):
    """One history record is malformed; readers warn and skip it, nothing is rewritten."""


class ResultLookupError(MlgateError, KeyError):
    """A task or metric asked for is not in a run's results (a KeyError too, for ``in``-style
    code that catches that)."""

    def __str__(self) -> str:  # KeyError's str() would quote the message
        return str(self.args[0]) if self.args else ""


class TaskNotFound(ResultLookupError):
    """A task is not in a run."""


class MetricNotFound(ResultLookupError):
    """A metric is not in a task's results."""


class GitError(MlgateError):
    """git could not answer (not a repository, an unknown ref, git missing)."""
