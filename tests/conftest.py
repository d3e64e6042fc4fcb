"""Shared fixtures. Offline hub settings are set before anything can import `datasets`."""

from __future__ import annotations

import os

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_name] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

from pathlib import Path  # noqa: E402

# pytester's in-process runs drop from sys.modules whatever was first imported inside them; a
# C-extension library dropped that way and imported again is a second, broken copy. Import the
# ones the plugin loads lazily (reports, stats) once, before any pytester run.
import jinja2  # noqa: E402, F401
import numpy  # noqa: E402, F401
import pandas  # noqa: E402, F401
import pytest  # noqa: E402

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def demo_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's good and regressed tiny checkpoints, trained once per test session."""
    from pytest_mlgate.demo import build_checkpoints

    return build_checkpoints(tmp_path_factory.mktemp("checkpoints"))
