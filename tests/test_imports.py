"""A plain `pytest` run in a user's repo must not pay for torch, transformers, datasets, lm-eval."""

from __future__ import annotations

import json

import pytest

HEAVY = (
    "torch",
    "transformers",
    "datasets",
    "lm_eval",
    "pandas",
    "accelerate",
    "tokenizers",
    "numpy",
    "jinja2",
)

REPORTER = """
import json, sys
from pathlib import Path

def pytest_unconfigure(config):
    heavy = sorted(m for m in {heavy!r} if m in sys.modules)
    plugins = sorted(str(n) for n, _ in config.pluginmanager.list_name_plugin())
    ours = sorted(m for m in sys.modules if m.split(".")[0] == "pytest_mlgate")
    Path("modules.json").write_text(
        json.dumps({{"heavy": heavy, "plugins": plugins, "ours": ours}})
    )
"""


@pytest.mark.parametrize(
    ("args", "deselected"),
    [((), 1), (("-m", "not eval"), 1), (("-m", "not slow"), 1)],  # no eval run: nothing evaluated
)
def test_plain_pytest_imports_no_heavy_module(
    pytester: pytest.Pytester, args: tuple[str, ...], deselected: int
) -> None:
    pytester.makefile(
        ".toml",
        thresholds='[model]\ncheckpoint = "ckpt"\n[suites.fast]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = 0.5\n",
    )
    pytester.makeconftest(REPORTER.format(heavy=HEAVY))
    pytester.makepyfile(
        """
        import pytest

        def test_unit():
            assert True

        @pytest.mark.eval
        def test_eval(mlgate_eval):
            mlgate_eval("mlgate_tr_mc")
        """
    )
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, deselected=deselected)

    seen = json.loads((pytester.path / "modules.json").read_text())
    assert any("mlgate" in name for name in seen["plugins"]), "the plugin was not loaded"
    assert seen["heavy"] == []
    # What validating thresholds.toml and wiring the hooks need, and nothing of the later stages.
    assert "pytest_mlgate.config.load" in seen["ours"]  # thresholds.toml is still validated
    assert [m for m in seen["ours"] if not _needed_by_a_plain_run(m)] == []


# The parts a plain run may import: the pytest-facing code, the config's data model and loader,
# the error tree, the hook specs and the shipped task names (the config checks them). Not the
# trigger matcher (a [triggers] table loads it), the task preflight (-m eval), the backends
# (the built-in one is registered when a gate first makes a backend); results, gating,
# history, reports, the run pipeline, the codec and the CLI load only when an eval runs.
PLAIN_RUN_PARTS = ("pytest_mlgate.plugin", "pytest_mlgate.config")
PLAIN_RUN_MODULES = {
    "pytest_mlgate",
    "pytest_mlgate.errors",
    "pytest_mlgate.hookspec",
    "pytest_mlgate.tasks",
}
NOT_IN_A_PLAIN_RUN = {"pytest_mlgate.config.triggers", "pytest_mlgate.config.preflight"}


def _needed_by_a_plain_run(module: str) -> bool:
    if module in NOT_IN_A_PLAIN_RUN:
        return False
    return module in PLAIN_RUN_MODULES or any(
        module == part or module.startswith(f"{part}.") for part in PLAIN_RUN_PARTS
    )
