"""The ``mlgate`` command's plugin manager: installed pytest11 plugins, the rootdir's conftest."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pluggy

from pytest_mlgate import hookspec
from pytest_mlgate.backend import builtin as builtin_backend
from pytest_mlgate.errors import UsageProblem
from pytest_mlgate.store import builtin as builtin_store

#: files whose folder pytest takes as the rootdir (the first found from the working directory up)
ROOT_MARKERS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", ".git")


class CommandPlugins(pluggy.PluginManager):
    """pluggy's manager, reading a plugin as pytest does: a ``pytest_mlgate_*`` function is a
    hook implementation without a ``@pytest.hookimpl`` marker (a conftest rarely has one)."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        """The marker's options, else the defaults for an unmarked ``pytest_mlgate_*``."""
        opts = super().parse_hookimpl_opts(plugin, name)
        unmarked = opts is None and name.startswith("pytest_mlgate_")
        if unmarked and callable(getattr(plugin, name, None)):
            return {
                "wrapper": False,
                "hookwrapper": False,
                "optionalhook": False,
                "tryfirst": False,
                "trylast": False,
                "specname": None,
            }
        return opts


def find_rootdir(start: Path) -> Path:
    """The folder pytest would most likely take as the rootdir: the first one from ``start``
    upwards holding an ini file or ``.git``; ``start`` when none does."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def load_plugins(rootdir: Path) -> pluggy.PluginManager:
    """A plugin manager with pytest's project name and the ``pytest_mlgate_*`` hooks: every
    installed pytest11 plugin, then ``rootdir/conftest.py``, then the built-in backend and
    stores (consulted last), so a hook answers in the CLI exactly as under pytest."""
    plugins = CommandPlugins(hookspec.PROJECT)
    plugins.add_hookspecs(hookspec)
    plugins.load_setuptools_entrypoints("pytest11")
    conftest = rootdir / "conftest.py"
    if conftest.is_file():
        plugins.register(_import_conftest(conftest), str(conftest))
    plugins.register(builtin_backend, "mlgate-builtin-backend")
    plugins.register(builtin_store, "mlgate-builtin-store")
    return plugins


def _import_conftest(path: Path) -> object:
    """``path`` imported as pytest imports a rootdir conftest (its folder first on sys.path)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("_mlgate_rootdir_conftest", path)
    if spec is None or spec.loader is None:
        raise UsageProblem(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as importlib's recipe does: dataclasses look it up
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any error of the user's code: said with where it is
        sys.modules.pop(spec.name, None)
        raise UsageProblem(
            f"{path}: importing it failed ({type(exc).__name__}: {exc}); the mlgate command "
            "loads the rootdir's conftest.py for its pytest_mlgate_* hooks: fix it, or run "
            "from a folder without one"
        ) from exc
    return module
