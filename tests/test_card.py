"""The model card (`--mlgate-card DIR`, `mlgate card RUN_ID --checkpoint DIR`) read back with
`huggingface_hub`'s own `ModelCard.load`: its eval_results are the run's values, the user's
metadata and model-index rows from other sources are kept, and the body outside the gate's
markers is kept byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlgate.errors import ConfigError
from pytest_mlgate.report.card import END, START
from pytest_mlgate.run.card import with_section
from tests.gate_run import gate_env, run_gate

hub = pytest.importorskip("huggingface_hub")

CONFTEST = """
import json
from pathlib import Path

from pytest_mlgate.backend.fake import FakeBackend


def pytest_mlgate_make_backend(spec):
    name = json.loads((Path(spec.checkpoint) / "config.json").read_text())["name"]
    scores = json.loads(Path("scores.json").read_text())[name]
    return FakeBackend({"mlgate_tr_mc": {"acc": scores}, "mlgate_tr_math": {"exact_match": scores}})
"""

THRESHOLDS = """
[model]
checkpoint = "ckpt/a"

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]

[gate]
cache = ""

[thresholds.mlgate_tr_mc]
acc = { min = 0.5 }

[thresholds.mlgate_tr_math]
exact_match = { min = 0.5 }
"""

SCORES = {"a": [1.0] * 80 + [0.0] * 20, "a2": [1.0] * 75 + [0.0] * 25, "low": [0.0] * 100}

# The user's card: metadata with a result from another source, a body with odd spacing.
USER_CARD = """\
---
license: apache-2.0
language:
- tr
model-index:
- name: tiny-tr
  results:
  - task:
      type: text-generation
    dataset:
      type: xcopa
      name: XCOPA (tr)
    metrics:
    - type: acc
      value: 0.61
    source:
      name: Open LLM Leaderboard
      url: https://example.org/leaderboard
---

# tiny-tr  \t

A *tiny* Turkish model.   Trailing spaces stay.

"""


def mlgate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_mlgate.cli.main", *args],
        cwd=repo,
        env=gate_env({"MLGATE_BRANCH": "main"}),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in SCORES:
        folder = tmp_path / "ckpt" / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"name": name}))
        (folder / "model.safetensors").write_bytes(name.encode() * 100)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "scores.json").write_text(json.dumps(SCORES))
    (tmp_path / "thresholds.toml").write_text(THRESHOLDS)
    return tmp_path


def ours(card: object) -> dict[tuple[str, str], float]:
    results = card.data.eval_results or []  # type: ignore[attr-defined]
    return {
        (r.dataset_type, r.metric_type): r.metric_value
        for r in results
        if r.source_name == "pytest-mlgate"
    }


def body_outside(text: str) -> str:
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start] + text[end:]


def recorded_values(repo: Path, name: str) -> dict[tuple[str, str], float]:
    document = json.loads((repo / name).read_text())
    return {(v["task"], v["metric"]): v["value"] for v in document["verdicts"]}


def test_a_passing_recorded_run_writes_the_card_and_keeps_the_users_content(repo: Path) -> None:
    card_path = repo / "ckpt" / "a" / "README.md"
    card_path.write_text(USER_CARD)
    user_body = hub.ModelCard(USER_CARD).text
    done = run_gate(
        repo, "--mlgate-record", "--mlgate-card", "ckpt/a", "--mlgate-json", "r.json",
        env={"MLGATE_BRANCH": "main"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model card" in done.stdout
    card = hub.ModelCard.load(card_path)
    values = recorded_values(repo, "r.json")
    assert ours(card) == {("mlgate_tr_mc", "acc"): 0.8, ("mlgate_tr_math", "exact_match"): 0.8}
    assert ours(card) == {k: v for k, v in values.items()}
    others = [r for r in card.data.eval_results if r.source_name != "pytest-mlgate"]
    assert [(r.dataset_name, r.metric_value) for r in others] == [("XCOPA (tr)", 0.61)]
    assert card.data.license == "apache-2.0"
    assert card.data.language == ["tr"]
    assert card.data.model_name == "tiny-tr"
    # byte for byte: the user's body, then (the first time) the gate's section appended
    assert card.text.startswith(user_body)
    appended = card.text[len(user_body) :].strip("\n")
    assert appended.startswith(START)
    assert appended.endswith(END)
    section = card.text[card.text.index(START) :]
    assert "| mlgate_tr_mc | acc | 0.8000 | [0.7112, 0.8666] | 100 | pass" in section
    print("\n" + card.text[card.text.index(START) :])
    print("eval_results:", [(r.dataset_type, r.metric_type, r.metric_value, r.source_name)
                            for r in card.data.eval_results])  # fmt: skip

    # The user edits around the section; a later run (the CLI) replaces only the gate's parts.
    edited = card_path.read_text().replace(END, END + "\n\n## Limits\nNot for production.")
    card_path.write_text(edited)
    later = run_gate(repo, "--mlgate-record", "--mlgate-json", "r2.json",
                     env={"MLGATE_BRANCH": "main"})  # fmt: skip
    assert later.returncode == 0
    run_id = json.loads((repo / "r2.json").read_text())["manifest"]["run_id"]
    assert mlgate(repo, "card", run_id, "--checkpoint", "ckpt/a").returncode == 0
    again = hub.ModelCard.load(card_path)
    assert len(again.data.eval_results) == 3  # two of ours, replaced, plus the leaderboard's
    assert body_outside(again.text) == body_outside(hub.ModelCard(edited).text)
    assert again.text.count(START) == 1
    assert run_id in again.text


def test_a_failed_run_or_another_checkpoint_writes_no_card(repo: Path) -> None:
    failed = run_gate(repo, "--mlgate-checkpoint", "ckpt/low", "--mlgate-record",
                      "--mlgate-card", "ckpt/low", "--mlgate-json", "low.json")  # fmt: skip
    assert failed.returncode == 1
    assert "model card" in failed.stdout
    assert "not written: the run did not pass" in failed.stdout
    assert not (repo / "ckpt" / "low" / "README.md").exists()
    low_run = json.loads((repo / "low.json").read_text())["manifest"]["run_id"]
    refused = mlgate(repo, "card", low_run, "--checkpoint", "ckpt/low")
    assert refused.returncode == 1
    assert "--allow-failed" in refused.stderr
    assert (
        mlgate(repo, "card", low_run, "--checkpoint", "ckpt/low", "--allow-failed").returncode == 0
    )
    other = mlgate(repo, "card", low_run, "--checkpoint", "ckpt/a")
    assert other.returncode == 4
    assert "would describe another model" in other.stderr
    assert not (repo / "ckpt" / "a" / "README.md").exists()
    unrecorded = run_gate(repo, "--mlgate-card", "ckpt/a")
    assert unrecorded.returncode == 4
    assert (
        "--mlgate-card writes a recorded run's card: add --mlgate-record"
        in unrecorded.stdout + unrecorded.stderr
    )


def test_only_the_marked_section_changes() -> None:
    section = f"{START}\nnew\n{END}\n"
    body = f"intro\n{START}\nold\n{END}\n  tail \n"
    assert (
        with_section(body, section, Path("README.md")) == f"intro\n{START}\nnew\n{END}\n  tail \n"
    )
    assert with_section("text", section, Path("README.md")) == "text\n\n" + section
    assert with_section("", section, Path("README.md")) == section
    with pytest.raises(ConfigError, match="unpaired or repeated"):
        with_section(f"{END} then {START}", section, Path("README.md"))
    with pytest.raises(ConfigError, match="unpaired or repeated"):
        with_section(f"{START}{END}{START}{END}", section, Path("README.md"))
