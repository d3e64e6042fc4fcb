"""The codec: records written by pytest-mlgate 0.1 load and re-serialise to the same bytes, and
today's typed outcomes survive a round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_mlgate import stats
from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.config.schema import MetricThreshold
from pytest_mlgate.errors import RecordError
from pytest_mlgate.gate.verdicts import Caveat, GateOutcome, Status, Verdict
from pytest_mlgate.results import EvalRun, RunInfo
from pytest_mlgate.store.codec import (
    decode_entry,
    decode_info,
    dumps_outcome,
    encode_entry,
    encode_info,
    loads_outcome,
)
from pytest_mlgate.store.folder import FolderStore
from tests.outcomes import outcome

# Recorded by pytest-mlgate 0.1 (before typed manifests) on real lm-eval runs of the demo's
# checkpoints: a first run, a regression against it (paired comparisons, flipped examples) and a
# sampled run with per-task n-shot compared although incomparable (on_incomparable = "warn").
HISTORY = Path(__file__).parent / "data" / "history-0.1"
RECORDS = sorted((HISTORY / "runs").glob("*.json"))
# Recorded by the release at commit 7582e61 with tests/data/record_history.py (the fake backend):
# subgroups, a perturbed variant's gap, determinism, a latency probe, an anchor's drift, a
# reference gated with min_ratio, two partial runs of shards and their merged run.
CURRENT = Path(__file__).parent / "data" / "history-7582e61"
HISTORIES = (HISTORY, CURRENT)
EVERY_RECORD = sorted(path for history in HISTORIES for path in (history / "runs").glob("*.json"))
EVERY_INDEX_LINE = [
    (history.name, line)
    for history in HISTORIES
    for line in (history / "index.jsonl").read_text(encoding="utf-8").splitlines()
]


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_a_record_of_the_previous_release_re_serialises_byte_identical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    decoded = loads_outcome(text)
    assert dumps_outcome(decoded) == text
    assert decoded.run_id == path.stem
    assert decoded.manifest.versions.pytest_mlgate == "0.1.0"


@pytest.mark.parametrize("path", EVERY_RECORD, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_checked_in_record_re_serialises_byte_identical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert dumps_outcome(loads_outcome(text)) == text


@pytest.mark.parametrize(("history", "line"), EVERY_INDEX_LINE)
def test_every_checked_in_index_line_round_trips(history: str, line: str) -> None:
    again = encode_entry(decode_entry(json.loads(line)))
    if history == CURRENT.name:  # the folder store's index writer, byte for byte
        assert json.dumps(again, ensure_ascii=False) == line
    else:  # 0.1 wrote fewer fields: those it wrote come back, the newer ones read as unknown
        written = json.loads(line)
        assert {k: again[k] for k in written} == written
        assert {k: again[k] for k in again if k not in written} == {
            "fingerprint": None,
            "status": None,
            "partial": False,
        }


def test_the_current_release_history_holds_each_kind_of_record() -> None:
    lines = (CURRENT / "index.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [decode_entry(json.loads(line)) for line in lines]
    first, versus_anchor, versus_reference, *shards, merged = (
        loads_outcome((CURRENT / "runs" / f"{e.run_id}.json").read_text(encoding="utf-8"))
        for e in entries
    )
    assert [e.partial for e in entries] == [False, False, False, True, True, False]
    assert [s.manifest.suite.shard for s in shards] == [(1, 2), (2, 2)]
    assert not any(s.verdicts for s in shards)
    assert first.manifest.latency is not None
    assert len(first.manifest.latency.samples_ms) == 12
    assert {d.task for d in first.manifest.determinism} >= {"mlgate_tr_mc", "mlgate_tr_mc@upper"}
    by_item = {(v.threshold.task, v.threshold.subgroup): v for v in versus_anchor.verdicts}
    assert by_item[("mlgate_tr_mc", "tarih")].threshold.subgroups
    assert by_item[("mlgate_tr_mc@upper", None)].threshold.max_gap == 0.3
    assert any("vs anchor" in v.reason for v in versus_anchor.verdicts)
    math_ratio = by_item[("mlgate_tr_math", None)]
    assert math_ratio.threshold.min_ratio == 0.9  # the encoder wrote it; 7582e61 did not read it
    assert all(v.reference is not None for v in versus_reference.verdicts)
    assert merged.manifest.suite.shard is None
    assert merged.verdicts
    assert [e.run_id for e in FolderStore(CURRENT).entries()] == [  # partial runs are never listed
        entries[i].run_id for i in (0, 1, 2, 5)
    ]


def test_the_previous_release_history_reads_as_typed_objects() -> None:
    store = FolderStore(HISTORY)
    first, regressed, sampled = (store.load(e.run_id) for e in store.entries())
    assert [v.status for v in regressed.verdicts] == [Status.FAIL, Status.FAIL]
    verdict = regressed.verdicts[0]
    assert verdict.baseline_run == first.run_id
    assert verdict.comparison is not None
    assert verdict.comparison.test == "mcnemar-exact"
    assert verdict.comparison.paired
    assert verdict.comparison.delta < -0.3
    assert verdict.p is not None
    assert verdict.p < 1e-10
    assert regressed.run["mlgate_tr_mc"].examples  # the flipped examples' texts
    assert regressed.run["mlgate_tr_mc"].subgroups
    assert sampled.manifest.suite.sample == 60
    assert sampled.manifest.suite.num_fewshot == {"mlgate_tr_math": 0, "mlgate_tr_mc": 1}
    assert sampled.manifest.tasks["mlgate_tr_mc"].num_fewshot == 1
    assert any("n-shot differs" in note for v in sampled.verdicts for note in v.notes)
    # index lines written by 0.1 have no fingerprint or status: read as unknown, not as errors
    assert all(e.fingerprint is None and e.status is None for e in store.entries())


def test_a_new_outcome_round_trips_with_its_new_fields() -> None:
    run = EvalRun(
        {"t": fake_task_result("t", {"acc": [1.0, 0.0, 1.0, 1.0]})},
        RunInfo(backend="hf", device="cuda", gpus=("NVIDIA H200",), groups={"g": ("t",)}),
    )
    comparison = stats.Comparison(
        "mcnemar-exact", True, 4, 1.0, 0.75, -0.25, (-0.6, 0.1), 0.5, (1, 0)
    )
    verdict = Verdict(
        MetricThreshold("t", "acc", min=0.5, max_drop=0.1, higher_is_better=True),
        Status.WARN,
        "t acc = 0.75 ...",
        0.75,
        4,
        (0.3, 0.95),
        "base",
        comparison,
        0.5,
        ("a note",),
        ((Caveat.INCOMPARABLE, "n-shot differs (0 in the baseline, 5 now)"),),
        (-6.0, 0.045, 4),
    )
    original = outcome("r1", run, checkpoint="/ckpt", fingerprint="sha256:ab", verdicts=[verdict])
    back = loads_outcome(dumps_outcome(original))
    task, before = back.run["t"], run["t"]
    assert task.metrics == before.metrics
    assert task.doc_hashes == {d: h[:16] for d, h in before.doc_hashes.items()}  # 64 bits kept
    [decoded] = back.verdicts
    assert decoded.threshold == verdict.threshold  # higher_is_better kept (0.1 lost it)
    assert decoded.value_ci == (0.3, 0.95)
    assert decoded.caveats == verdict.caveats
    assert decoded.trend == (-6.0, 0.045, 4)
    assert decoded.comparison is not None
    assert decoded.comparison.discordant is None  # not recorded: only the live MDE uses it
    assert decoded.comparison.ci == comparison.ci
    assert back.manifest == original.manifest
    assert dumps_outcome(back) == dumps_outcome(original)


def test_nan_is_written_as_null_and_read_back_as_missing() -> None:
    threshold = MetricThreshold("t", "acc", min=0.5)
    comparison = stats.Comparison("paired-bootstrap", True, 3, math.nan, 0.2, math.nan, (0, 1), 0.1)
    verdict = Verdict(threshold, Status.FAIL, "undefined", math.nan, 3, None, "b", comparison)
    text = dumps_outcome(outcome("r", EvalRun({}), verdicts=[verdict]))
    data = json.loads(text)["verdicts"][0]
    assert data["value"] is None
    assert data["baseline"] is None
    assert data["delta"] is None
    [back] = loads_outcome(text).verdicts
    assert back.value is None
    assert back.comparison is not None
    assert math.isnan(back.comparison.delta)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("verdicts", 0, "status"), "maybe", "verdicts[0].status: expected pass, warn or fail"),
        (("manifest", "git", "dirty"), "yes", "manifest.git.dirty"),
        (("manifest", "run_id"), "other", "is not the record's run id"),
        (("manifest", "model", "batch_size"), [1], "manifest.model.batch_size"),
    ],
)
def test_a_malformed_field_is_named(path: tuple[object, ...], value: object, message: str) -> None:
    data = json.loads(RECORDS[0].read_text(encoding="utf-8"))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        loads_outcome(json.dumps(data))


def test_index_entries_and_run_info_round_trip() -> None:
    line = (HISTORY / "index.jsonl").read_text().splitlines()[0]
    entry = decode_entry(json.loads(line))
    assert decode_entry(encode_entry(entry)) == entry
    info = RunInfo("hf", "cpu", "float32", 16, (), {"grp": ("a", "b")}, from_cache=True)
    assert decode_info(encode_info(info)) == info


def test_an_outcome_is_one_object_live_and_recorded(tmp_path: Path) -> None:
    run = EvalRun({"t": fake_task_result("t", {"acc": [1.0, 0.0]})})
    live = outcome("r9", run, branch="main")
    store = FolderStore(tmp_path)
    store.append(live)
    recorded = store.load("r9")
    assert isinstance(recorded, GateOutcome)
    assert recorded.run_id == live.run_id
    assert recorded.manifest.git == live.manifest.git
