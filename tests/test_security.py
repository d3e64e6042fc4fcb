"""Security invariants: history is data only; remote code never runs unless the user says so."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.backend import BackendSpec
from pytest_mlgate.backend.lmeval import LmEvalBackend
from pytest_mlgate.config.schema import ModelConfig

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_mlgate"
UNSAFE_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle"}
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}


@pytest.mark.parametrize(
    "module",
    sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")),
)
def test_no_module_can_execute_what_it_reads(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & UNSAFE_MODULES, module
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in UNSAFE_MODULES, module
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in UNSAFE_CALLS, f"{module}:{node.lineno}"


class Captured(Exception):
    pass


@pytest.mark.parametrize(
    ("model_args", "expected"), [({}, False), ({"trust_remote_code": True}, True)]
)
def test_trust_remote_code_is_off_unless_the_user_sets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_args: dict[str, Any], expected: bool
) -> None:
    import transformers

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"0")
    seen: dict[str, Any] = {}

    def from_pretrained(path: str, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise Captured

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", from_pretrained)
    spec = BackendSpec(ModelConfig(device="cpu", model_args=model_args), str(tmp_path))
    with pytest.raises(Exception, match="cannot load checkpoint"):
        LmEvalBackend(spec).model()
    assert seen["trust_remote_code"] is expected
