"""On a CUDA machine: the GPU defaults a user expects. Skipped where there is no GPU."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.backend.lmeval import LmEvalBackend
from pytest_mlgate.config.schema import ModelConfig

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


@pytest.fixture(scope="module")
def cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")


def test_auto_settings_place_the_model_on_the_gpu_in_bf16(
    cuda: None, demo_checkpoints: dict[str, Path]
) -> None:
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    import torch

    gpu = LmEvalBackend(BackendSpec(ModelConfig(), str(demo_checkpoints["good"])))  # all "auto"
    on_gpu = gpu.evaluate(EvalRequest(("mlgate_tr_mc",)))["mlgate_tr_mc"].metric("acc")
    assert gpu.device == "cuda"
    assert gpu.dtype == ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    assert getattr(gpu.model().model, "hf_device_map", None)  # placed by accelerate
    cpu = LmEvalBackend(
        BackendSpec(
            ModelConfig(dtype="float32", device="cpu", batch_size=32), str(demo_checkpoints["good"])
        )
    )
    on_cpu = cpu.evaluate(EvalRequest(("mlgate_tr_mc",)))["mlgate_tr_mc"].metric("acc")
    assert on_gpu.n == on_cpu.n
    assert abs(on_gpu.value - on_cpu.value) <= 0.02  # bf16 against fp32 on a tiny model


def test_device_map_auto_spreads_over_the_gpus(
    cuda: None, demo_checkpoints: dict[str, Path]
) -> None:
    spec = BackendSpec(
        ModelConfig(model_args={"device_map": "auto"}), str(demo_checkpoints["good"])
    )
    backend = LmEvalBackend(spec)
    run = backend.evaluate(EvalRequest(("mlgate_tr_math",)))
    assert run["mlgate_tr_math"].n == 250
    assert getattr(backend.model().model, "hf_device_map", None)
