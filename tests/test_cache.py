"""The result cache: keyed by everything that moves a score, and nothing else."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_mlgate import manifest as manifest_module
from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.checkpoint import CheckpointInfo
from pytest_mlgate.config.schema import ModelConfig
from pytest_mlgate.results import EvalRun, RunInfo
from pytest_mlgate.run.cache import ResultCache, cache_key

SPEC = BackendSpec(ModelConfig(dtype="float32", batch_size=8), "ckpt")
REQUEST = EvalRequest(("mlgate_tr_mc",), num_fewshot=None, sample=100, seed=1)


def test_key_is_stable_and_moves_with_every_score_moving_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = cache_key(SPEC, REQUEST, "sha256:a")
    assert base == cache_key(SPEC, REQUEST, "sha256:a")
    variants = [
        cache_key(SPEC, REQUEST, "sha256:b"),  # other weights
        cache_key(SPEC, dataclasses.replace(REQUEST, sample=50), "sha256:a"),
        cache_key(SPEC, dataclasses.replace(REQUEST, seed=2), "sha256:a"),
        cache_key(SPEC, dataclasses.replace(REQUEST, num_fewshot=5), "sha256:a"),
        cache_key(SPEC, dataclasses.replace(REQUEST, tasks=("mlgate_tr_math",)), "sha256:a"),
        cache_key(
            dataclasses.replace(SPEC, model=ModelConfig(dtype="bfloat16", batch_size=8)),
            REQUEST,
            "sha256:a",
        ),
        cache_key(
            dataclasses.replace(
                SPEC,
                model=ModelConfig(dtype="float32", batch_size=8, model_args={"max_length": 512}),
            ),
            REQUEST,
            "sha256:a",
        ),
    ]
    assert len({base, *variants}) == len(variants) + 1
    monkeypatch.setattr(manifest_module, "package_version", lambda package: "9.9")  # new lm-eval
    assert cache_key(SPEC, REQUEST, "sha256:a") != base


def test_key_moves_when_a_users_task_files_change(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "mine.yaml").write_text("task: mine\n")
    spec = dataclasses.replace(SPEC, include=(folder,))
    before = cache_key(spec, REQUEST, "sha256:a")
    (folder / "data.jsonl").write_text('{"q": 1}\n')
    assert cache_key(spec, REQUEST, "sha256:a") != before


def test_fingerprint_is_memoized_until_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "model.safetensors").write_bytes(b"1" * 1000)
    hashed: list[str] = []
    from pytest_mlgate.checkpoint import fingerprint_checkpoint as real

    def counting(path: str, revision: str | None = None) -> CheckpointInfo:
        hashed.append(path)
        return real(path, revision)

    monkeypatch.setattr("pytest_mlgate.run.cache.fingerprint_checkpoint", counting)
    store = ResultCache(tmp_path / "cache")
    first = store.fingerprint(str(checkpoint))
    assert store.fingerprint(str(checkpoint)) == first
    assert len(hashed) == 1
    (checkpoint / "model.safetensors").write_bytes(b"2" * 1001)
    assert store.fingerprint(str(checkpoint)) != first
    assert len(hashed) == 2


def test_round_trip_and_unreadable_entries_are_misses(tmp_path: Path) -> None:
    store = ResultCache(tmp_path)
    run = EvalRun({"t": fake_task_result("t", {"acc": [1.0, 0.0, 1.0]})}, RunInfo(device="cpu"))
    store.put("k", run)
    hit = store.get("k")
    assert hit is not None
    assert hit["t"].metric("acc").scores == (1.0, 0.0, 1.0)
    assert hit.info.from_cache
    assert hit.info.device == "cpu"
    (tmp_path / "bad.json").write_text("{")
    assert store.get("bad") is None
    assert store.get("absent") is None


CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend

CALLS = []


class Cacheable(FakeBackend):
    def cacheable(self):
        return True

    def evaluate(self, request):
        CALLS.append(request)
        return super().evaluate(request)


def pytest_mlgate_make_backend(spec):
    return Cacheable({"mlgate_tr_mc": {"acc": [1, 1, 0, 1]}})


def pytest_sessionfinish(session):
    Path("calls.txt").write_text(str(len(CALLS)))
"""


def test_an_unchanged_rerun_is_served_from_the_cache(pytester: pytest.Pytester) -> None:
    checkpoint = pytester.path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model.safetensors").write_bytes(b"weights")
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = 0.5\n",
    )
    pytester.makeconftest(CONFTEST)

    def calls(*args: str) -> int:
        pytester.runpytest("-m", "eval", "--mlgate-json=r.json", *args).assert_outcomes(passed=1)
        return int((pytester.path / "calls.txt").read_text())

    assert calls() == 1
    assert calls() == 0  # served from .mlgate-cache
    document = json.loads((pytester.path / "r.json").read_text())
    assert document["results"]["info"]["result_cache"] == "hit"
    assert calls("--mlgate-no-cache") == 1
    (checkpoint / "model.safetensors").write_bytes(b"new weights")
    assert calls() == 1  # other weights, other key


def test_per_task_fewshot_suites_are_cached_too(pytester: pytest.Pytester) -> None:
    (pytester.path / "ckpt").mkdir()
    (pytester.path / "ckpt" / "model.safetensors").write_bytes(b"weights")
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "num_fewshot = { mlgate_tr_mc = 2 }\n[thresholds.mlgate_tr_mc]\nacc = 0.5\n",
    )
    pytester.makeconftest(CONFTEST)
    for expected_calls in (1, 0):
        pytester.runpytest("-m", "eval").assert_outcomes(passed=1)
        assert int((pytester.path / "calls.txt").read_text()) == expected_calls
