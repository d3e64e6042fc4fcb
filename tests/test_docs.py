"""The docs: the README stays a short front page that opens with the two set-up commands, every
heading the README had before the docs site existed lives on as a page or section of the site,
every dotted ``pytest_mlgate.…`` name and hook the docs give still imports, and the README's links
land on pages that exist."""

from __future__ import annotations

import importlib
import importlib.util
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from pytest_mlgate.config.load import load_config
from pytest_mlgate.tasks import TASKS_DIR, TEMPLATE_NAME, shipped_task_names

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"
README_MAX_LINES = 200

# The README's first lines: the demo gate, then the test suite (the second is what .ci/run runs).
SETUP_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 -e '.[hf]' "
    "&& .venv/bin/mlgate demo",
    "python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 -e '.[dev]' "
    "&& .venv/bin/python -m pytest",
)

# Every `##` / `###` heading of the README at commit 3157402, the last one before the docs site
# (`git show 3157402:README.md`, code blocks left out). Kept here, not read from git, so the test
# runs in any checkout; each must still be a page title or a section heading in docs/.
README_HEADINGS_BEFORE_THE_SITE = (
    "Use it in your repo",
    "Running",
    "Suites, tiers and the trigger matrix",
    "GitHub Actions",
    "Security model of the workflows",
    "Pinned versions, and upgrading them",
    "Baselines: noise is not a regression",
    "The report",
    "Your own eval tests",
    "Shipped Turkish tasks",
    "Baseline and anchor: slow erosion",
    "MLflow: history, registry and head to head",
    "Beyond the average: subgroups and robustness",
    "Chat models and prompt integrity",
    "Long evals: shards and concurrent publishing",
    "Serving properties: determinism, latency, throughput, personal data (KVKK)",
    "Other backends",
    "Troubleshooting",
    "Development",
    "Layers",
    "Performance",
    "The result cache",
    "GPUs",
)

DOTTED_NAME = re.compile(r"\bpytest_mlgate(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
HOOK_NAME = re.compile(r"\bpytest_mlgate_[a-z][a-z0-9_]*")
# `-W error::pytest_mlgate.errors.PowerWarning`: what pytest's -W filter resolves to a class.
WARNING_FILTER = re.compile(r"-W\s+(?:error|ignore|default|always|module|once)::([\w.]+)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def outside_code_blocks(text: str) -> Iterator[str]:
    """The Markdown lines that are not inside a fenced code block (indented fences included)."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield line


def headings(text: str) -> list[str]:
    """Every ATX heading's text (`# Title`, `## Section`, ...), code blocks left out."""
    found = []
    for line in outside_code_blocks(text):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            found.append(match.group(1))
    return found


def slug(heading: str) -> str:
    """The anchor mkdocs (Python-Markdown's toc) gives a heading."""
    ascii_text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_text).strip().lower())


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def documentation() -> dict[str, str]:
    """The README and every page of the site, by path relative to the repository."""
    files = [README, *doc_pages()]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files}


def resolve(name: str) -> object:
    """Import a dotted name as Python would for `-W` or an import: the longest module prefix,
    then attributes. Raises ImportError / AttributeError for a name that no longer exists."""
    parts = name.split(".")
    target: object = importlib.import_module(parts[0])
    for depth, part in enumerate(parts[1:], start=2):
        prefix = ".".join(parts[:depth])
        is_package = isinstance(target, ModuleType) and hasattr(target, "__path__")
        if is_package and importlib.util.find_spec(prefix) is not None:
            target = importlib.import_module(prefix)
            continue
        target = getattr(target, part)
    return target


def stale(names: Iterable[str]) -> dict[str, str]:
    problems = {}
    for name in sorted(set(names)):
        try:
            resolve(name)
        except (ImportError, AttributeError) as error:
            problems[name] = f"{type(error).__name__}: {error}"
    return problems


def nav_pages(nav: object) -> set[str]:
    """The pages mkdocs.yml's nav lists (paths relative to docs/)."""
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(nav_pages(item) for item in nav))
    if isinstance(nav, dict):
        return set().union(*(nav_pages(value) for value in nav.values()))
    return set()


def test_the_readme_is_a_short_front_page_that_opens_with_the_set_up_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    assert lines[:5] == ["# pytest-mlgate", "", "```bash", *SETUP_COMMANDS]
    assert lines[5] == "```"
    # "The second command runs the test suite (what .ci/run runs)": keep them the same command.
    assert SETUP_COMMANDS[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_heading_the_readme_had_is_a_page_or_a_section_of_the_site() -> None:
    on_the_site = {h for page in doc_pages() for h in headings(page.read_text(encoding="utf-8"))}
    missing = [h for h in README_HEADINGS_BEFORE_THE_SITE if h not in on_the_site]
    assert missing == []


def test_headings_are_read_outside_code_blocks_only() -> None:
    text = "# Title\n\n```toml\n# a comment\n```\n\n- item\n\n  ```\n  ## not a heading\n  ```\n"
    assert headings(text + "### Section ###\n") == ["Title", "Section"]
    assert slug("Serving properties: determinism, latency (KVKK)") == (
        "serving-properties-determinism-latency-kvkk"
    )


def test_every_dotted_name_the_docs_give_still_imports() -> None:
    names = {n for text in documentation().values() for n in DOTTED_NAME.findall(text)}
    # The scan found what the docs are known to name, so an empty scan cannot pass.
    assert {
        "pytest_mlgate.backend.fake.FakeBackend",
        "pytest_mlgate.errors.MlgateWarning",
        "pytest_mlgate.results.EvalRun",
        "pytest_mlgate.hookspec",
    } <= names
    assert stale(names) == {}


def test_a_stale_dotted_name_is_caught() -> None:
    assert set(stale(["pytest_mlgate.errors.NoSuchWarning", "pytest_mlgate.gone.Thing"])) == {
        "pytest_mlgate.errors.NoSuchWarning",
        "pytest_mlgate.gone.Thing",
    }
    assert stale(["pytest_mlgate.store.mlflow.store.parse_metric_key"]) == {}


def test_every_warning_filter_the_docs_give_names_a_warning_class() -> None:
    filters = {n for text in documentation().values() for n in WARNING_FILTER.findall(text)}
    assert "pytest_mlgate.errors.MlgateWarning" in filters
    for name in filters:
        target = resolve(name)
        assert isinstance(target, type), name
        assert issubclass(target, Warning), name


def test_every_hook_the_docs_name_is_declared() -> None:
    hookspec = importlib.import_module("pytest_mlgate.hookspec")
    hooks = {h for text in documentation().values() for h in HOOK_NAME.findall(text)}
    assert "pytest_mlgate_make_backend" in hooks
    undeclared = sorted(h for h in hooks if not callable(getattr(hookspec, h, None)))
    assert undeclared == []


def test_the_readme_links_only_to_pages_and_anchors_that_exist() -> None:
    nav = nav_pages(yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))["nav"])
    links = LINK.findall(README.read_text(encoding="utf-8"))
    local = [link for link in links if not re.match(r"[a-z]+:", link) and link[0] != "#"]
    assert len(local) > 10  # the README links into the site
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), link
        if target.suffix == ".md" and target.parent != ROOT:
            page = str(target.relative_to(DOCS))
            assert page in nav, f"{link}: a page mkdocs.yml's nav does not list"
        if anchor:
            slugs = {slug(h) for h in headings(target.read_text(encoding="utf-8"))}
            assert anchor in slugs, link


def test_every_page_of_the_docs_folder_is_in_the_nav() -> None:
    nav = nav_pages(yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))["nav"])
    assert {str(p.relative_to(DOCS)) for p in doc_pages()} == nav


def _quickstart_thresholds(text: str) -> str:
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert blocks, "no thresholds.toml in the quickstart"
    return str(blocks[0])


def test_the_quickstart_thresholds_are_valid_and_the_same_in_the_readme_and_the_site(
    tmp_path: Path,
) -> None:
    readme = _quickstart_thresholds(README.read_text(encoding="utf-8"))
    home = _quickstart_thresholds((DOCS / "index.md").read_text(encoding="utf-8"))
    assert readme == home
    path = tmp_path / "thresholds.toml"
    path.write_text(readme, encoding="utf-8")
    config = load_config(path)  # raises ConfigError on any key the plugin would refuse
    assert set(config.suites["fast"].tasks) <= set(shipped_task_names())
    gated = {(t.task, t.metric) for t in config.thresholds}
    assert gated
    assert [(task, m) for task, m in sorted(gated) if m not in _shipped_metric_keys(task)] == []


def _shipped_metric_keys(task: str) -> set[str]:
    """`metric[,filter]` keys a shipped task's YAML gives (",none" left out, as thresholds may)."""
    text = (TASKS_DIR / task / TEMPLATE_NAME).read_text(encoding="utf-8")
    metrics = re.findall(r"- metric: (?:!function [\w.]*\.)?(\w+)", text)
    filters = re.findall(r"- name: ([\w-]+)", text)
    return {f"{m},{f}" for m in metrics for f in filters} if filters else set(metrics)


@pytest.mark.parametrize("task", shipped_task_names())
def test_the_readme_gives_each_shipped_tasks_metric_keys(task: str) -> None:
    rows = [
        line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| ")
    ]
    row = next((r for r in rows if r.startswith(f"| `{task}` |")), None)
    assert row is not None, f"the README's task table has no row for {task}"
    keys = set(re.findall(r"`\"?([\w,-]+)\"?`", row.split("|")[3]))
    assert keys == _shipped_metric_keys(task)
