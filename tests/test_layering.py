"""The package's layering, read from its imports (every import statement, function-level and
TYPE_CHECKING ones included): no cycles, each stage imports only the stages below it, and pytest /
torch / transformers / lm-eval only where the Layers page (docs/layers.md) allows them."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_mlgate"
LAYERS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "layers.md"

# Who may import what from outside the package.
PYTEST_MODULES = {"pytest", "_pytest"}
HEAVY_MODULES = {"torch", "transformers", "lm_eval", "accelerate", "datasets", "tokenizers"}
# Parts of the package (relative names) allowed to import them.
ALLOWED = {
    # pytest at the edges: the hooks and fixtures, the hook specs; errors.py for the warning
    # classes, which subclass pytest.PytestWarning (docs/layers.md says why).
    "pytest": ("plugin", "hookspec", "errors"),
    # The evaluation stack behind the backend; the demo trains its tiny checkpoints with it.
    "heavy": ("backend", "cli.demo"),
}
# The stages bottom up: a part imports only its own part or parts of a lower rank, so no stage
# reaches back up the flow (config -> backend -> gate -> store -> report -> run -> plugin / cli).
RANKS: tuple[tuple[str, ...], ...] = (
    ("errors", "atomic", "stats", "sampling"),
    ("results", "checkpoint", "tasks", "templates"),
    ("text",),
    ("config",),
    ("manifest", "backend"),
    ("gate",),
    ("store",),
    ("report", "hookspec"),
    ("run",),
    ("plugin", "cli"),
    ("",),  # the package's own __init__: the public API
)
RANK = {part: rank for rank, parts in enumerate(RANKS) for part in parts}


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as a dotted name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    files = {module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    return {name: imports_of(path, name, modules) for name, path in files.items()}


def _reachable(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module in graph and module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Import cycles among the graph's own modules: groups that reach each other."""
    reach = {module: _reachable(graph, module) for module in graph}
    found: list[list[str]] = []
    for module in sorted(graph):
        if module in reach[module] and not any(module in c for c in found):
            found.append(sorted(m for m in graph if m in reach[module] and module in reach[m]))
    return found


def _under(module: str, package: str, names: Iterable[str]) -> bool:
    """Whether ``module`` is one of ``package``'s modules ``names`` (or inside one of them)."""
    return any(module == f"{package}.{n}" or module.startswith(f"{package}.{n}.") for n in names)


def part_of(module: str, package: str) -> str:
    """The stage a module belongs to: its first name below the package ('' for the package)."""
    rest = module[len(package) + 1 :] if module != package else ""
    return rest.split(".")[0]


def _layer_problem(module: str, target: str, package: str) -> str | None:
    source, aim = part_of(module, package), part_of(target, package)
    if source not in RANK or aim not in RANK:
        unknown = source if source not in RANK else aim
        return f"{package}.{unknown} is in no layer: add it to RANKS and to docs/layers.md"
    if source != aim and RANK[aim] >= RANK[source]:
        return f"{module} imports {target}: {source} may not import {aim} (same or higher layer)"
    return None


def violations(graph: Mapping[str, set[str]], package: str) -> list[str]:
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            top = target.split(".")[0]
            if top in PYTEST_MODULES and not _under(module, package, ALLOWED["pytest"]):
                problems.append(f"{module} imports {target}: pytest belongs to the plugin edge")
            if top in HEAVY_MODULES and not _under(module, package, ALLOWED["heavy"]):
                problems.append(f"{module} imports {target}: only backend/ may (lazily)")
            if top == package and target != package and module in graph:
                problem = _layer_problem(module, target, package)
                if problem:
                    problems.append(problem)
    return sorted(set(problems))


def test_the_package_has_no_cycle_and_keeps_its_layers() -> None:
    graph = import_graph(PACKAGE, "pytest_mlgate")
    assert len(graph) > 30  # the walk found the package
    assert "pytest_mlgate.gate.verdicts" in graph["pytest_mlgate.run.session"]
    assert violations(graph, "pytest_mlgate") == []


def test_the_checker_finds_each_kind_of_violation(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    for folder in ("report", "run", "gate"):
        (package / folder).mkdir(parents=True)
    files = {
        "__init__.py": "",
        "errors.py": "def f():\n    from pkg import stats\n",  # a function-level import
        "stats.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.errors import f\n"
        ),
        "gate/__init__.py": "",
        "gate/verdicts.py": "def g():\n    import torch\n",
        "config.py": "import pytest\n",
        "run/__init__.py": "",
        "run/session.py": "",
        "report/__init__.py": "",
        "report/html.py": "from ..run import session\n",  # relative, and report -> run
        "oddity.py": "from pkg import errors\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = import_graph(package, "pkg")
    found = " | ".join(violations(graph, "pkg"))
    assert "import cycle: pkg.errors <-> pkg.stats" in found
    assert "pkg.gate.verdicts imports torch" in found
    assert "pkg.config imports pytest" in found
    assert "pkg.report.html imports pkg.run.session: report may not import run" in found
    assert "pkg.oddity is in no layer" in found


def _listed_modules(page: str) -> set[str]:
    """The dotted module names the Layers page's tables list, in backticks in the first column."""
    return set(re.findall(r"^\| `(pytest_mlgate(?:\.[a-z_]+)*)`", page, flags=re.M))


def test_the_layers_page_lists_every_module_and_no_other() -> None:
    graph = import_graph(PACKAGE, "pytest_mlgate")
    listed = _listed_modules(LAYERS_PAGE.read_text(encoding="utf-8"))
    assert sorted(set(graph) - listed) == []  # a module the page does not describe
    assert sorted(listed - set(graph)) == []  # a page entry for a module that is gone


def test_the_layers_page_states_the_ranks_the_checker_enforces() -> None:
    page = LAYERS_PAGE.read_text(encoding="utf-8")
    for rank, parts in enumerate(RANKS):
        names = ", ".join(f"`{p}`" if p else "`__init__`" for p in parts)
        assert f"| {rank} | {names} |" in page
