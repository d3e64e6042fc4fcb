"""Error types users can meet, each documented in the README's troubleshooting section.

The plugin maps :class:`UsageProblem` subclasses to pytest's usage-error exit code (4); a
:class:`BackendError` met while evaluating fails the gated items (exit code 1), never passes them.
"""

from __future__ import annotations

import pytest


class MlgateWarning(pytest.PytestWarning):
    """Base of every warning pytest-mlgate emits (a gate that passes with a caveat, a history
    record that cannot be read, a threshold too tight for the sample size...)."""


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


class BackendError(MlgateError):
    """The evaluation backend failed while evaluating (the gated items fail, closed)."""


class StoreError(MlgateError):
    """The history store cannot be written (or a named run cannot be read); nothing is lost."""


class RecordError(MlgateError):
    """One history record is malformed; readers warn and skip it, nothing is rewritten."""


class BaselineNotFound(UsageProblem):
    """``--mlgate-baseline`` names neither a recorded run id nor a branch with recorded runs."""
