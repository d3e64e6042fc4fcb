"""What the plugin refuses or explains: eval-only input without `-m eval`; nothing to gate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_mlgate.config.options import OPTIONS, flag
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME

#: every --mlgate-NAME option: each one acts only on a run that gates (`-m eval`)
EVAL_ONLY_FLAGS = frozenset(flag(name, "mlgate-") for name in OPTIONS)
#: what ends the search for thresholds.toml, as pytest's rootdir search ends at its ini files
ROOT_MARKERS = (".git", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def typed_eval_only_flags(args: Sequence[str]) -> list[str]:
    """The ``--mlgate-*`` options in ``args``, once each, in the order written.

    ``args`` is the command line as typed (pytest's ``invocation_params.args``): options that
    come from ``addopts`` or ``PYTEST_ADDOPTS`` are not in it, so a repository can keep its gate
    options there and still run plain ``pytest``.
    """
    found: list[str] = []
    for arg in args:
        name = arg.partition("=")[0]
        if name in EVAL_ONLY_FLAGS and name not in found:
            found.append(name)
    return found


def named_paths(args: Sequence[str], cwd: Path) -> list[Path]:
    """The file and folder arguments of ``args`` (node ids cut to their file), resolved."""
    paths = []
    for arg in args:
        if arg.startswith("-"):
            continue
        path = Path(arg.partition("::")[0])
        path = path if path.is_absolute() else cwd / path
        if path.exists():
            paths.append(path.resolve())
    return paths


def refusal_without_eval(args: Sequence[str], cwd: Path, config: Path) -> str | None:
    """Why a run that selects no eval item must not start with ``args``, or None.

    Without ``-m eval`` no threshold is collected, so ``pytest --mlgate-suite full`` would run the
    unit tests, exit 0 and gate nothing: a CI step written that way is green forever. Naming the
    thresholds file itself (``pytest thresholds.toml``) asks for its items just as clearly.
    """
    flags = typed_eval_only_flags(args)
    if flags == ["--mlgate-record"]:
        return "--mlgate-record records an eval run: add -m eval"
    if flags:
        verb = "acts" if len(flags) == 1 else "act"
        return (
            f"{', '.join(flags)} {verb} only on an eval run, and this run selects no eval item: "
            "add -m eval (without it pytest runs the unit tests alone and gates nothing)"
        )
    if config.resolve() in named_paths(args, cwd):
        return (
            f"{config} holds the gate's eval items, which run only with -m eval: "
            f"pytest -m eval {config.name}"
        )
    return None


@dataclass(frozen=True)
class ConfigSearch:
    """Where thresholds.toml was looked for: from ``start`` up to ``stop``."""

    start: Path
    stop: Path  #: the last folder looked in
    found: Path | None

    @property
    def path(self) -> Path:
        """The file found, or where it would be: in the folder the search stopped at."""
        return self.found or self.stop / DEFAULT_CONFIG_NAME

    def describe(self) -> str:
        markers = [m for m in ROOT_MARKERS if (self.stop / m).exists()]
        why = f"it holds {markers[0]}" if markers else "pytest's rootdir or the filesystem root"
        where = f"from {self.start} up to {self.stop}"
        if self.stop == self.start:
            where = f"in {self.start}"
        return f"no {DEFAULT_CONFIG_NAME} {where} (the search stops there: {why})"


def search_config(start: Path, rootpath: Path) -> ConfigSearch:
    """The repository's thresholds.toml: from ``start`` up to the first folder that holds one,
    or that marks a repository or a pytest project root (ROOT_MARKERS), as pytest finds its
    rootdir. Not pytest's rootdir alone: without an ini file that is the folder pytest ran in
    (or the common ancestor of every path-like argument, ``--mlgate-checkpoint /models/x``
    included), and a run from a subfolder would miss the root's file.
    """
    start = start.resolve()
    folder = start
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG_NAME
        if candidate.is_file():
            return ConfigSearch(start, folder, candidate)
        above_start = folder != start and folder == rootpath
        if above_start or any((folder / marker).exists() for marker in ROOT_MARKERS):
            break
    return ConfigSearch(start, folder, None)


def nothing_gated(
    search: ConfigSearch | None,
    config: Path | None,
    empty_suite: tuple[str, Sequence[str]] | None,
    paths: Sequence[Path],
) -> str:
    """Why ``-m eval`` ran nothing (exit 5): what was looked for, where, and what to change.

    ``search``: how the file was found (None: named by --mlgate-config / ini); ``config``: the
    loaded file (None: there is none); ``empty_suite``: the chosen suite and its tasks when the
    file gates none of them; ``paths``: the paths given on the command line.
    """
    if config is None:
        where = search.describe() if search is not None else "no thresholds file"
        return (
            f"-m eval found nothing to gate: {where}; create one with `mlgate init`, "
            "run from the repository, or pass --mlgate-config PATH"
        )
    if empty_suite is not None:
        suite, tasks = empty_suite
        return (
            f"-m eval found nothing to gate: {config} declares no threshold for the tasks of "
            f"suite {suite!r} ({', '.join(tasks) or 'none'}); add a [thresholds.TASK] table"
        )
    if paths and not any(p == config or p in config.parents for p in paths):
        given = ", ".join(str(p) for p in paths)
        return (
            f"-m eval found nothing to gate: {config} was not collected, the paths given "
            f"({given}) do not include it; run without paths or add {config.name} to them"
        )
    return f"-m eval ran nothing: every item of {config} was deselected (-k, or node ids)"
