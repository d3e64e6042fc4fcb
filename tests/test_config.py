"""thresholds.toml validation: every bad input names file, table, key and value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_mlgate.config.load import load_config
from pytest_mlgate.errors import ConfigError

GOOD = """
[model]
checkpoint = "ckpt"
batch_size = 8

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]
sample = 50

[suites.full]
tasks = ["mlgate_tr_mc", "mlgate_tr_math", "xcopa_tr"]

[gate]
alpha = 0.01

[thresholds.mlgate_tr_mc]
acc = { min = 0.40, max_drop = 0.03 }
acc_norm = 0.3

[thresholds.mlgate_tr_math]
"exact_match,strict-match" = { min = 0.10 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_into_frozen_dataclasses(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.model.checkpoint == "ckpt"
    assert config.model.batch_size == 8
    assert config.suites["fast"].sample == 50
    assert config.gate.alpha == 0.01
    assert config.gate.max_drop == 0.02  # default
    gated = {(t.task, t.metric): t for t in config.thresholds}
    assert gated["mlgate_tr_mc", "acc"].max_drop == 0.03
    assert gated["mlgate_tr_mc", "acc_norm"].min == 0.3  # bare number = min
    assert gated["mlgate_tr_math", "exact_match,strict-match"].min == 0.10
    with pytest.raises(AttributeError):
        config.gate.alpha = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # (replace this, with that) -> message fragments, in order
        (("[gate]", "[gates]"), ["top level", "unknown key 'gates'", "Did you mean 'gate'?"]),
        (("alpha = 0.01", "alpah = 0.01"), ["[gate]", "unknown key 'alpah'", "'alpha'"]),
        (("alpha = 0.01", "alpha = 1.5"), ["[gate] alpha = 1.5", "must be in (0, 1)"]),
        (("alpha = 0.01", "alpha = 0"), ["[gate] alpha = 0", "must be in (0, 1)"]),
        (("alpha = 0.01", 'alpha = "x"'), ['[gate] alpha = "x"', "expected a number"]),
        (("alpha = 0.01", "max_drop = -0.1"), ["[gate] max_drop = -0.1", "must be in [0, inf]"]),
        (("sample = 50", "sample = 0"), ["[suites.fast] sample = 0", "must be >= 1"]),
        (("sample = 50", "sample = 2.5"), ["[suites.fast] sample = 2.5", "expected an integer"]),
        (("batch_size = 8", "batch_size = 0"), ["[model] batch_size = 0", "must be >= 1"]),
        (("batch_size = 8", 'batch_size = "big"'), ["[model] batch_size", '"auto"']),
        (("batch_size = 8", 'dtype = "fp8"'), ['[model] dtype = "fp8"', "must be one of"]),
        (("batch_size = 8", "chekpoint = 'x'"), ["[model]", "'chekpoint'", "'checkpoint'"]),
        (("batch_size = 8", "threads = 0"), ["[model] threads = 0", "a positive integer"]),
        (("batch_size = 8", "threads = true"), ["[model] threads = true", "a positive integer"]),
        (
            ("acc = { min = 0.40, max_drop = 0.03 }", "acc = { mni = 0.40 }"),
            ["[thresholds.mlgate_tr_mc.acc]", "unknown key 'mni'", "Did you mean 'min'?"],
        ),
        (
            ("acc = { min = 0.40, max_drop = 0.03 }", "acc = { min = 0.9, max = 0.5 }"),
            ["[thresholds.mlgate_tr_mc.acc] min = 0.9", "above max"],
        ),
        (
            ("acc = { min = 0.40, max_drop = 0.03 }", 'acc = "high"'),
            ['[thresholds.mlgate_tr_mc] acc = "high"', "expected a table"],
        ),
        (
            ("[thresholds.mlgate_tr_mc]", "[thresholds.mlgate_tr_mcc]"),
            ["[thresholds.mlgate_tr_mcc]", "not in any suite", "Did you mean 'mlgate_tr_mc'?"],
        ),
        (
            (
                'tasks = ["mlgate_tr_mc", "mlgate_tr_math"]',
                'tasks = ["mlgate_tr_mc", "mlgate_tr_mat"]',
            ),
            ["[suites.fast]", "unknown task 'mlgate_tr_mat'", "Did you mean 'mlgate_tr_math'?"],
        ),
        (("[suites.fast]", "[suites.fast]\nseed = -1"), ["[suites.fast] seed = -1", ">= 0"]),
    ],
)
def test_bad_values_name_file_table_key_value(
    tmp_path: Path, edit: tuple[str, str], expected: list[str]
) -> None:
    old, new = edit
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert message.startswith(str(path)), message
    position = 0
    for fragment in expected:
        found = message.find(fragment, position)
        assert found >= 0, f"{fragment!r} not in {message!r}"
        position = found


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[model\ncheckpoint = 1\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_config(path)


def test_missing_include_folder_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[tasks]\ninclude = ["evals/tasks"]\n')
    with pytest.raises(ConfigError, match=r"\[tasks\] include.*'evals/tasks' does not exist"):
        load_config(path)


def test_user_task_folders_are_known_task_names(tmp_path: Path) -> None:
    folder = tmp_path / "evals" / "tasks"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text("task: my_turkish_qa\ndataset_path: json\n")
    (folder / "group.yaml").write_text("tag:\n  - my_tag\ntask: other_task\n")
    path = write(
        tmp_path,
        '[tasks]\ninclude = ["evals/tasks"]\n[suites.fast]\ntasks = ["my_turkish_qa"]\n'
        "[thresholds.my_turkish_qa]\nacc = 0.5\n",
    )
    config = load_config(path)
    assert {"my_turkish_qa", "my_tag", "other_task", "mlgate_tr_mc"} <= config.local_task_names()
    assert config.include == (folder.resolve(),)
    typo = write(
        tmp_path, path.read_text().replace('tasks = ["my_turkish_qa"]', 'tasks = ["my_turkish_q"]')
    )
    with pytest.raises(ConfigError, match="Did you mean 'my_turkish_qa'"):
        load_config(typo)


def test_unknown_suite_is_a_config_error_with_suggestion(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match=r"no suite 'fulll'.*Did you mean 'full'"):
        config.suite("fulll")


def test_threshold_without_any_bound_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("acc_norm = 0.3", "acc_norm = {}"))
    with pytest.raises(ConfigError, match=r"acc_norm = \{\.\.\.\}: declares no bound"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[suites.auto]\ntasks = ["mlgate_tr_mc"]\n', r"\[suites.auto\]: 'auto' is reserved"),
        ('[gate]\nstore = ""\n', r'\[gate\] store = "": must name a folder'),
        (
            '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[thresholds.mlgate_tr_mc]\n',
            r"\[thresholds.mlgate_tr_mc\]: gates no metric",
        ),
        (
            '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[thresholds.mlgate_tr_mc]\n'
            'acc = { min = 0.1, higher_is_better = "yes" }\n',
            "expected true or false",
        ),
    ],
)
def test_holes_that_would_gate_nothing_or_clash_are_rejected(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_presets_expand_in_suites(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path, '[suites.smoke]\ntasks = ["@tr-smoke"]\n[suites.full]\ntasks = ["@tr-full"]\n'
        )
    )
    assert config.suites["smoke"].tasks == ("mlgate_tr_mc", "mlgate_tr_math", "mlgate_tr_gen")
    full = config.suites["full"].tasks
    assert "turkishmmlu_biology" in full
    assert {
        "xcopa_tr",
        "xnli_tr",
        "belebele_tur_Latn",
        "xquad_tr",
        "global_mmlu_full_tr",
        "include_base_44_turkish",
    } <= set(full)
    assert len(full) == 15
    with pytest.raises(ConfigError, match=r"unknown preset '@tr-smok'.*Did you mean '@tr-smoke'"):
        load_config(write(tmp_path, '[suites.s]\ntasks = ["@tr-smok"]\n'))


def test_per_task_fewshot(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[suites.s]\ntasks = ["@tr-smoke"]\nnum_fewshot = { mlgate_tr_mc = 3 }\n')
    )
    assert config.suites["s"].num_fewshot == {"mlgate_tr_mc": 3}
    with pytest.raises(ConfigError, match=r"names 'mlgate_tr_mcc'.*Did you mean 'mlgate_tr_mc'"):
        load_config(
            write(
                tmp_path, '[suites.s]\ntasks = ["@tr-smoke"]\nnum_fewshot = { mlgate_tr_mcc = 3 }\n'
            )
        )


@pytest.mark.parametrize(
    ("triggers", "message"),
    [
        ('[triggers.paths]\n"x/**" = "weights"\n', "kind must be one of"),
        ('[triggers.suites]\ndata = "nightly"\n', "data = 'nightly': no such suite"),
        ('[triggers]\norder = ["full", "huge"]\n', "a list of declared suites"),
        ("[triggers]\nmode = 1\n", "unknown key 'mode'"),
    ],
)
def test_bad_triggers_are_named(tmp_path: Path, triggers: str, message: str) -> None:
    text = '[suites.fast]\ntasks = ["mlgate_tr_mc"]\n[suites.full]\ntasks = ["mlgate_tr_mc"]\n'
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text + triggers))


VLLM = """
[model]
checkpoint = "meta/tiny"
backend = "vllm"
{device}
model_args = {{ {args} }}
[suites.fast]
tasks = ["mlgate_tr_mc"]
[thresholds.mlgate_tr_mc]
acc = 0.1
"""


@pytest.mark.parametrize(
    ("device", "args", "message"),
    [
        (
            "",
            "tensor_parallel_size = 2, data_parallel_size = 2, gpu_memory_utilization = 0.9",
            None,
        ),
        ('device = "cpu"', "tensor_parallel_size = 1", 'backend = "vllm" runs on CUDA GPUs'),
        ("", "tensor_parallel_size = 0", "tensor_parallel_size = 0: expected an integer >= 1"),
        ("", 'data_parallel_size = "2"', "data_parallel_size = '2': expected an integer >= 1"),
        ("", "gpu_memory_utilization = 1.5", "gpu_memory_utilization = 1.5: must be in (0, 1]"),
        ("", 'device_map = "auto"', "device_map: transformers placement options"),
    ],
    ids=["worked", "cpu", "tp-zero", "dp-string", "memory", "device-map"],
)
def test_vllm_config_is_validated(
    tmp_path: Path, device: str, args: str, message: str | None
) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(VLLM.format(device=device, args=args))
    if message is None:
        config = load_config(path)
        assert config.model.backend == "vllm"
        assert config.model.model_args["tensor_parallel_size"] == 2
        assert config.model.model_args["data_parallel_size"] == 2
        return
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)
