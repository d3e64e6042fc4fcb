"""The package's layering, read from its imports (every import statement, function-level and
TYPE_CHECKING ones included): no cycles, report/ above the session and the plugin, and pytest /
torch / transformers / lm-eval only where DESIGN §7 allows them."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_mlgate"
README = Path(__file__).resolve().parents[1] / "README.md"

# Who may import what from outside the package.
PYTEST_MODULES = {"pytest", "_pytest"}
HEAVY_MODULES = {"torch", "transformers", "lm_eval", "accelerate", "datasets", "tokenizers"}
# Modules of the package (relative names) allowed to import them.
ALLOWED = {
    # pytest at the edges: the hooks, the fixtures, the hook specs; errors.py for the warning
    # classes, which subclass pytest.PytestWarning (the README says why).
    "pytest": ("plugin", "fixtures", "hookspec", "errors"),
    # The evaluation stack behind the backend; the demo trains its tiny checkpoints with it.
    "heavy": ("backend", "demo"),
}
# report/ renders typed results: it never reaches back into the run that produced them.
REPORT_MUST_NOT_IMPORT = ("session", "plugin", "fixtures", "hookspec")


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


def violations(graph: Mapping[str, set[str]], package: str) -> list[str]:
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            top = target.split(".")[0]
            if top in PYTEST_MODULES and not _under(module, package, ALLOWED["pytest"]):
                problems.append(f"{module} imports {target}: pytest belongs to the plugin edge")
            if top in HEAVY_MODULES and not _under(module, package, ALLOWED["heavy"]):
                problems.append(f"{module} imports {target}: only backend/ may (lazily)")
            in_report = _under(module, package, ["report"])
            if in_report and _under(target, package, REPORT_MUST_NOT_IMPORT):
                problems.append(f"{module} imports {target}: report/ renders typed results only")
    return problems


def test_the_package_has_no_cycle_and_keeps_its_layers() -> None:
    graph = import_graph(PACKAGE, "pytest_mlgate")
    assert len(graph) > 30  # the walk found the package
    assert "pytest_mlgate.gate" in graph["pytest_mlgate.session"]
    assert violations(graph, "pytest_mlgate") == []


def test_the_checker_finds_each_kind_of_violation(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "report").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg import b\n",  # a function-level import
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n",
        "gate.py": "def g():\n    import torch\n",
        "config.py": "import pytest\n",
        "session.py": "",
        "report/__init__.py": "",
        "report/html.py": "from ..session import x\n",  # relative, and report -> session
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = import_graph(package, "pkg")
    found = " | ".join(violations(graph, "pkg"))
    assert "import cycle: pkg.a <-> pkg.b" in found
    assert "pkg.gate imports torch" in found
    assert "pkg.config imports pytest" in found
    assert "pkg.report.html imports pkg.session" in found


def test_the_readme_says_why_errors_and_the_demo_are_allowed() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Layers") :]
    assert "errors.py" in section
    assert "demo.py" in section
