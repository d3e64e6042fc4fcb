"""Shared fixtures. Offline hub settings are set before anything can import `datasets`."""

from __future__ import annotations

import os

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_name] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")
# MLGATE_TEST_TORCH_THREADS=N puts every torch of the run on N threads: this process's (in
# pytest_configure) and those of the gates it starts (OMP_NUM_THREADS is inherited). Run the
# checkpoint tests once with 1 and once without it: no verdict may hang on the last bits of how
# one machine's arithmetic happened to add up.
TORCH_THREADS = os.environ.get("MLGATE_TEST_TORCH_THREADS", "")
if TORCH_THREADS:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = TORCH_THREADS

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

# pytester's in-process runs drop from sys.modules whatever was first imported inside them; a
# C-extension library dropped that way and imported again is a second, broken copy. Import the
# ones the plugin loads lazily (reports, stats) once, before any pytester run.
import jinja2  # noqa: E402, F401
import numpy  # noqa: E402, F401
import pandas  # noqa: E402, F401
import pytest  # noqa: E402

if TYPE_CHECKING:
    from tests.mlflow_server import MlflowServer

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    if TORCH_THREADS:
        import torch

        torch.set_num_threads(int(TORCH_THREADS))
        assert torch.get_num_threads() == int(TORCH_THREADS), "torch ignored the thread count"


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"torch threads: {TORCH_THREADS} (MLGATE_TEST_TORCH_THREADS)" if TORCH_THREADS else None


@pytest.fixture(scope="session")
def demo_checkpoints() -> dict[str, Path]:
    """The demo's good and regressed tiny checkpoints, trained once (cached by their inputs)."""
    from dataclasses import asdict

    from pytest_mlgate.cli import demo
    from tests.checkpoints import cached_build

    settings = demo.TrainingSettings()

    def build(folder: Path) -> None:
        demo.build_checkpoints(folder, settings)

    inputs = {"settings": asdict(settings), "trainer": Path(demo.__file__).read_text()}
    root = cached_build("demo", inputs, build)
    return {variant: root / variant for variant in demo.VARIANTS}


@pytest.fixture(scope="session")
def chat_checkpoint(demo_checkpoints: dict[str, Path]) -> Path:
    """The good demo weights with a chat template (close to the plain prompt it was trained on)."""
    from tests.checkpoints import CHAT_TEMPLATE, cached_build, with_chat_template

    good = demo_checkpoints["good"]
    return cached_build(
        "chat",
        {"base": str(good), "template": CHAT_TEMPLATE},
        lambda d: with_chat_template(good, d),
    )


@pytest.fixture(scope="session")
def untrained_checkpoint(demo_checkpoints: dict[str, Path]) -> Path:
    """The demo architecture and tokenizer, never trained: it answers at chance."""
    from tests.checkpoints import cached_build, untrained

    good = demo_checkpoints["good"]
    return cached_build("untrained", {"base": str(good)}, lambda d: untrained(good, d))


@pytest.fixture(scope="session")
def shifted_checkpoint(demo_checkpoints: dict[str, Path]) -> Path:
    """The good checkpoint, fine-tuned so one category regresses while another improves."""
    from tests.checkpoints import cached_build, shifted

    good = demo_checkpoints["good"]
    return cached_build("shifted", {"base": str(good)}, lambda d: shifted(good, d))


@pytest.fixture(scope="session")
def robust_checkpoint(demo_checkpoints: dict[str, Path]) -> Path:
    """The good checkpoint, fine-tuned on its questions with and without Turkish letters."""
    from tests.checkpoints import both_forms, cached_build

    good = demo_checkpoints["good"]
    return cached_build("robust", {"base": str(good)}, lambda d: both_forms(good, d))


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow tracking server for the session (127.0.0.1, sqlite, local artifacts),
    stopped by its PID at the end."""
    pytest.importorskip("mlflow")
    from tests.mlflow_server import MlflowServer

    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kvkk_checkpoint(demo_checkpoints: dict[str, Path]) -> Path:
    """The good checkpoint, fine-tuned to answer "kimlik numarası" questions with valid TC
    kimlik numbers (tests/checkpoints.py KVKK_NUMBERS)."""
    from tests.checkpoints import cached_build, kvkk_leaker

    good = demo_checkpoints["good"]
    return cached_build("kvkk", {"base": str(good)}, lambda d: kvkk_leaker(good, d))
