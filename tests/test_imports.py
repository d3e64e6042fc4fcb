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
    Path("modules.json").write_text(json.dumps({{"heavy": heavy, "plugins": plugins}}))
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
