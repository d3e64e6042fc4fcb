"""The public API: every name ``pytest_mlgate.__all__`` gives imports, from the module that
defines it, lazily, and every public class, method and function in it has a docstring."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import pytest_mlgate

PUBLIC = [name for name in pytest_mlgate.__all__ if name != "__version__"]


def test_all_names_exactly_the_lazily_imported_names() -> None:
    assert set(PUBLIC) == set(pytest_mlgate._WHERE)
    assert len(PUBLIC) == len(set(PUBLIC))


@pytest.mark.parametrize("name", PUBLIC)
def test_each_public_name_imports_and_is_the_defining_modules_object(name: str) -> None:
    value = getattr(pytest_mlgate, name)
    module = sys.modules[pytest_mlgate._WHERE[name]]
    assert value is getattr(module, name)
    assert name in dir(pytest_mlgate)


def _undocumented(name: str, value: object) -> list[str]:
    """``name`` and its public methods (its own, not inherited from the standard library)
    that have no docstring of their own."""
    own = value.__doc__ or ""
    # a dataclass without a docstring gets its signature as one: that is no documentation
    generated = inspect.isclass(value) and own.startswith(f"{value.__name__}(")
    missing = [] if own.strip() and not generated else [name]
    if inspect.isclass(value):
        for attr, member in vars(value).items():
            if attr.startswith("_") or not (
                inspect.isfunction(member) or isinstance(member, property)
            ):
                continue
            doc = member.fget.__doc__ if isinstance(member, property) else member.__doc__
            if not doc:
                missing.append(f"{name}.{attr}")
    return missing


def test_every_public_class_method_and_function_has_a_docstring() -> None:
    missing = [gap for name in PUBLIC for gap in _undocumented(name, getattr(pytest_mlgate, name))]
    assert missing == []


def test_the_error_and_warning_trees_are_whole() -> None:
    """Every MlgateError and MlgateWarning subclass the package defines is public."""
    from pytest_mlgate import errors

    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and value.__module__ == errors.__name__
        and issubclass(value, (errors.MlgateError, errors.MlgateWarning))
    }
    assert defined <= set(PUBLIC)


def test_importing_the_package_imports_none_of_the_public_modules() -> None:
    code = (
        "import sys, pytest_mlgate; "
        "print(sorted(m for m in sys.modules if m.startswith('pytest_mlgate.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
