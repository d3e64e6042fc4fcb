"""The constraints file the eval workflows install with: exact versions of what moves scores.

Two runs of "the same" gate must run the same code: another lm-eval changes prompts and
metrics (and makes every baseline incomparable), another transformers, tokenizers or torch can
move scores. ``mlgate init`` and ``mlgate pin`` write ``.github/mlgate-constraints.txt`` from
the environment they run in; the workflows install with ``pip install -c`` on it. Upgrading is
a deliberate change of that file, followed by a new baseline on main.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["CONSTRAINTS_PATH", "PINNED", "constraints", "installed_pins", "warn_unpinned"]

CONSTRAINTS_PATH = Path(".github") / "mlgate-constraints.txt"
PINNED = (
    "pytest-mlgate",
    "lm-eval",
    "transformers",
    "tokenizers",
    "torch",
    "accelerate",
    "datasets",
)


def installed_pins() -> tuple[dict[str, str], list[str]]:
    """(package -> exact installed version, packages not installed here). A local version label
    (``2.13.0+cpu``) is dropped: the GPU runner must resolve its own build of that release."""
    pins: dict[str, str] = {}
    missing: list[str] = []
    for name in PINNED:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        pins[name] = version.split("+", 1)[0]
    return pins, missing


def constraints() -> tuple[str, list[str]]:
    """The constraints file's text, and the packages it could not pin."""
    pins, missing = installed_pins()
    lines = [
        "# Exact versions for the mlgate eval workflows (pip install -c this-file ...), written by",
        f"# `mlgate pin` from an environment with Python {platform.python_version()}.",
        "# Another lm-eval, transformers, tokenizers or torch can move scores, and another lm-eval",
        "# makes every recorded baseline incomparable. Upgrade deliberately: install the new",
        "# versions, rerun `mlgate pin`, and record a new baseline on main after the merge.",
        *(f"{name}=={version}" for name, version in pins.items()),
    ]
    lines += [f"# {name}: not installed where `mlgate pin` ran; not pinned" for name in missing]
    return "\n".join(lines) + "\n", missing


def warn_unpinned(missing: list[str]) -> None:
    """Say on stderr which pinned packages are not installed here, so the file leaves them out."""
    if missing:
        print(
            f"mlgate: warning: not installed here, so not pinned: {', '.join(missing)}; the "
            "workflows would install their newest releases. Run `mlgate pin` where "
            "pytest-mlgate[hf] is installed.",
            file=sys.stderr,
        )
