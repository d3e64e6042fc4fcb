"""Shared-context scoring (``[model] scoring``): the log-likelihoods of lm-eval's own path.

The planning rules are plain Python and tested without torch. The slow tests score real tasks
with lm-eval's HFLM and with the shared-context HFLM on the same tiny model object and compare
every request: |Δ log-likelihood| ≤ 1e-4 in float32, the greedy flag equal, and per-document
``acc`` / ``acc_norm`` equal except where a document's two best choices lie within 1e-4.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate import manifest
from pytest_mlgate.backend import BackendSpec, EvalRequest
from pytest_mlgate.backend import lmeval_scoring as scoring
from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.backend.lmeval_scoring import Question, continuation_layout, model_context, plan
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.schema import ModelConfig
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.results import EvalRun, RunInfo
from pytest_mlgate.run.cache import cache_key
from pytest_mlgate.store.codec import decode_info, dumps_outcome, encode_info, loads_outcome
from tests.outcomes import outcome

TOLERANCE = 1e-4


# -- planning (no torch) --------------------------------------------------------------------
def test_requests_sharing_a_context_form_one_question_in_lmeval_order() -> None:
    context = list(range(10, 30))
    requests = [("a", context, [1, 2, 3]), ("b", [5, 6, 7], [1]), ("c", context, [4, 5])]
    questions, rest = plan(requests, max_length=100)
    assert questions == [Question(tuple(context), (0, 2), ((1, 2, 3), (4, 5)))]
    assert rest == [1]  # one choice: nothing to share


def test_left_truncation_is_lmevals_and_splits_a_question_by_choice_length() -> None:
    context = list(range(100, 120))  # 20 tokens; max_length 16 keeps 17 of context + choice
    assert model_context(context, [1, 2], 16) == tuple(context[5:])  # 20 + 2 - 17 cut
    assert model_context(context, [1, 2, 3], 16) == tuple(context[6:])
    assert model_context(context[:10], [1, 2, 3], 16) == tuple(context[:10])  # fits: untouched
    requests = [("a", context, [1, 2]), ("b", context, [3, 4]), ("c", context, [1, 2, 3])]
    questions, rest = plan(requests, max_length=16)
    assert [q.members for q in questions] == [(0, 1)]  # same truncated context
    assert rest == [2]  # alone with its own truncated context


@pytest.mark.parametrize(
    ("context_len", "choices", "shared"),
    [
        (40, [[1], [2], [3], [4]], False),  # one-token choices: lm-eval's cache does it in 1 pass
        (40, [[1, 2], [3]], True),
        (10, [[1] * 6, [2] * 6], False),  # context < 2 x mean choice: the saving cannot pay
        (12, [[1] * 6, [2] * 6], True),
        (40, [[1, 2, 3]], False),  # a single choice
    ],
)
def test_the_fallback_rule(context_len: int, choices: list[list[int]], shared: bool) -> None:
    requests = [(f"r{i}", list(range(50, 50 + context_len)), c) for i, c in enumerate(choices)]
    questions, rest = plan(requests, max_length=1000)
    assert bool(questions) is shared
    assert sorted(rest) == ([] if shared else list(range(len(choices))))


def test_rolling_windows_and_overlong_continuations_go_to_lmeval() -> None:
    requests = [(None, [1, 2, 3], [4, 5]), (None, [1, 2, 3], [6, 7]), ("x", [1], list(range(9)))]
    assert plan(requests, max_length=8) == ([], [0, 1, 2])


def test_continuations_are_laid_end_to_end_after_their_context() -> None:
    question = Question((9, 9, 9), (0, 1, 2), ((1, 2, 3), (4,), (5, 6)))
    tokens, positions, spans = continuation_layout([question])
    assert tokens == [[1, 2, 5]]  # every choice but its last token (which is only predicted)
    assert positions == [[3, 4, 3]]  # each choice starts right after the context
    assert spans == [[(0, 2), (2, 0), (2, 1)]]


# -- configuration, manifest, cache ---------------------------------------------------------
def _config(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(
        f'[model]\ncheckpoint = "c"\n{model}\n[suites.pr]\ntasks = ["mlgate_tr_mc"]\n'
        "[thresholds.mlgate_tr_mc]\nacc = { min = 0.5 }\n"
    )
    return path


def test_scoring_defaults_to_shared_context_and_is_validated(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path, "")).model.scoring == "shared-context"
    assert load_config(_config(tmp_path, 'scoring = "lmeval"')).model.scoring == "lmeval"
    with pytest.raises(ConfigError, match=r"scoring.*must be one of shared-context, lmeval"):
        load_config(_config(tmp_path, 'scoring = "shared_context"'))


def test_the_scoring_path_keys_the_result_cache_only_for_the_hf_backend() -> None:
    request = EvalRequest(("mlgate_tr_mc",))

    def key(**model: Any) -> str:
        return cache_key(BackendSpec(ModelConfig(**model), "ckpt"), request, "sha256:x")

    assert key(scoring="lmeval") != key(scoring="shared-context")
    assert key(backend="vllm", scoring="lmeval") == key(backend="vllm")


def _recorded(scoring: Mapping[str, str]) -> Any:
    run = EvalRun(
        {"t": fake_task_result("t", {"acc": [1.0, 0.0, 1.0]})},
        RunInfo(backend="hf", scoring=scoring),
    )
    base = outcome("r", run)
    tasks = {"t": manifest.task_info(run["t"], scoring.get("t"))}
    return dataclasses.replace(base, manifest=dataclasses.replace(base.manifest, tasks=tasks))


def test_the_manifest_records_the_path_and_round_trips() -> None:
    recorded = _recorded({"t": "shared-context+lmeval"})
    text = dumps_outcome(recorded)
    assert json.loads(text)["manifest"]["tasks"]["t"]["scoring"] == "shared-context+lmeval"
    back = loads_outcome(text)
    assert back.manifest.tasks["t"].scoring == "shared-context+lmeval"
    assert dumps_outcome(back) == text
    info = RunInfo("hf", "cpu", "float32", 16, scoring={"t": "lmeval"})
    assert decode_info(encode_info(info)) == info


def test_a_record_without_the_field_reads_as_unknown_and_keeps_its_bytes() -> None:
    text = dumps_outcome(_recorded({}))
    assert "scoring" not in text
    back = loads_outcome(text)
    assert back.manifest.tasks["t"].scoring is None
    assert dumps_outcome(back) == text


def test_another_scoring_path_does_not_make_a_baseline_incomparable() -> None:
    now = _recorded({"t": "shared-context"}).manifest
    then = _recorded({"t": "lmeval"}).manifest
    assert manifest.incomparable(now, then, "t") == []


def test_shards_joined_keep_every_path_their_tasks_were_scored_by() -> None:
    from pytest_mlgate.run.merge import join_runs, joined_scoring

    assert joined_scoring(["lmeval", "shared-context"]) == "shared-context+lmeval"
    assert joined_scoring(["shared-context+lmeval", "lmeval", None]) == "shared-context+lmeval"
    assert joined_scoring([None, None]) == ""
    whole = fake_task_result("t", {"acc": [1.0, 0.0, 1.0, 1.0]})
    shards = [
        EvalRun({"t": whole.restricted(docs)}, RunInfo(backend="hf", scoring={"t": path}))
        for docs, path in (({0, 1}, "shared-context"), ({2, 3}, "lmeval"))
    ]
    assert join_runs(shards).info.scoring == {"t": "shared-context+lmeval"}


# -- exactness on real tasks (slow) ---------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Scored:
    """One evaluation's per-document answers: (log-likelihood, greedy) per choice, metrics."""

    answers: dict[int, list[tuple[float, bool]]]
    metrics: dict[int, dict[str, float]]
    paths: dict[str, dict[str, int]]


@pytest.fixture(scope="module")
def tiny(demo_checkpoints: dict[str, Path]) -> tuple[Any, Any]:
    return load_tiny(demo_checkpoints["good"])


def load_tiny(path: Path) -> tuple[Any, Any]:
    """The model object (float32, CPU) and tokenizer both paths score with."""
    import transformers

    model: Any = transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype="float32")
    return model.eval(), transformers.AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pytest_mlgate.tasks import materialize_tasks

    folder = tmp_path_factory.mktemp("tasks")
    materialize_tasks(folder)
    write_long_choice_task(folder / "user_long")
    return folder


def write_long_choice_task(folder: Path) -> None:
    """A user's task whose choices are whole sentences (10+ tokens each)."""
    folder.mkdir()
    endings = [
        "çünkü yağmur bütün gece durmadan yağdı ve yollar su doldu",
        "ama kimse bunun neden olduğunu o gün tam olarak anlayamadı",
        "ve sonunda herkes evine dönüp sıcak bir çorba içmeye karar verdi",
        "fakat otobüs yine geç geldiği için toplantıya yetişemedik",
    ]
    openings = ["Sabah erkenden dışarı çıktık", "Okulun bahçesi bugün boştu", "Akşam eve döndük"]
    with (folder / "test.jsonl").open("w", encoding="utf-8") as out:
        for i in range(24):
            choices = endings[i % 4 :] + endings[: i % 4]
            doc = {"text": f"{openings[i % 3]} ({i}).", "choices": choices, "answer": i % 4}
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    (folder / "user_long.yaml").write_text(
        "task: user_long\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {folder / 'test.jsonl'}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "{{text}} Devamı:"\ndoc_to_choice: "{{choices}}"\ndoc_to_target: answer\n'
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
        "  - metric: acc_norm\n    aggregation: mean\n    higher_is_better: true\n"
    )


def evaluate(
    lm: Any, task: str, folder: Path, shots: int, docs: Sequence[int] | None = None
) -> Scored:
    from lm_eval import evaluator
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(folder), include_defaults=False)
    out = evaluator.simple_evaluate(
        model=lm,
        tasks=[task],
        task_manager=manager,
        num_fewshot=shots,
        samples={task: list(docs)} if docs is not None else None,
        log_samples=True,
        bootstrap_iters=0,
    )
    samples = out["samples"][task]
    return Scored(
        answers={s["doc_id"]: [tuple(r[0]) for r in s["resps"]] for s in samples},
        metrics={s["doc_id"]: {m: float(s[m]) for m in ("acc", "acc_norm")} for s in samples},
        paths=dict(getattr(lm, "scored_by", {})),
    )


def near_ties(answers: Sequence[tuple[float, bool]]) -> bool:
    best = sorted((a[0] for a in answers), reverse=True)
    return len(best) > 1 and best[0] - best[1] <= TOLERANCE


def assert_same(shared: Scored, lmeval: Scored) -> list[int]:
    """Per request within 1e-4 and the same greedy flag; metrics equal per document except
    documents with a near tie between their two best choices (returned, to be listed)."""
    assert shared.answers.keys() == lmeval.answers.keys()
    ties = []
    for doc, expected in lmeval.answers.items():
        got = shared.answers[doc]
        assert len(got) == len(expected)
        for (ll, greedy), (want, want_greedy) in zip(got, expected, strict=True):
            assert abs(ll - want) <= TOLERANCE, (doc, ll, want)
            assert greedy == want_greedy, doc
        if near_ties(expected):
            ties.append(doc)
        else:
            assert shared.metrics[doc] == lmeval.metrics[doc], doc
    return ties


def models(tiny: tuple[Any, Any], batch_size: int = 16, **args: Any) -> tuple[Any, Any]:
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = tiny
    shared_class = scoring.shared_context_class()
    return (
        shared_class(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, **args),
        HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, **args),
    )


@pytest.fixture
def share_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback rule off: every question with a multi-token choice is scored shared."""
    monkeypatch.setattr(scoring, "MIN_CONTEXT_PER_CHOICE", 0.0)


CASES = [
    ("mlgate_tr_mc", 0, None),  # the shipped multiple-choice task, all of it, as shipped
    ("mlgate_tr_mc", 3, range(0, 479, 8)),  # few-shot: most tokens are the shared context
    ("user_long", 0, None),
    ("user_long", 2, None),
]


@pytest.mark.slow
@pytest.mark.parametrize(("task", "shots", "docs"), CASES, ids=lambda c: str(c))
def test_shared_context_scores_equal_lmevals(
    tiny: tuple[Any, Any],
    task_dir: Path,
    share_everything: None,
    task: str,
    shots: int,
    docs: range | None,
) -> None:
    shared_lm, lmeval_lm = models(tiny)
    shared = evaluate(shared_lm, task, task_dir, shots, docs)
    reference = evaluate(lmeval_lm, task, task_dir, shots, docs)
    ties = assert_same(shared, reference)
    assert len(ties) <= len(reference.answers) // 20, ties  # near ties are rare, and listed
    assert shared.paths[task].get("shared-context", 0) > 0.9 * sum(shared.paths[task].values())
    assert not shared_lm.disabled


@pytest.mark.slow
def test_over_long_contexts_are_left_truncated_as_lmeval_does(
    tiny: tuple[Any, Any], task_dir: Path
) -> None:
    shared_lm, lmeval_lm = models(tiny, max_length=48)  # 3-shot prompts are ~150 tokens
    docs = range(0, 479, 20)
    assert_same(
        evaluate(shared_lm, "mlgate_tr_mc", task_dir, 3, docs),
        evaluate(lmeval_lm, "mlgate_tr_mc", task_dir, 3, docs),
    )
    assert shared_lm.scored_by["mlgate_tr_mc"].get("shared-context", 0) > 0


@pytest.mark.slow
def test_the_batch_size_does_not_change_scores(
    tiny: tuple[Any, Any], task_dir: Path, share_everything: None
) -> None:
    docs = range(0, 24, 2)
    by_batch = [evaluate(models(tiny, size)[0], "user_long", task_dir, 2, docs) for size in (1, 5)]
    assert_same(*by_batch)


class RecordingHook:
    """A cache hook that records every request the model says it answered."""

    def __init__(self) -> None:
        self.answered: list[Any] = []

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        self.answered.append((attr, req))


@pytest.mark.slow
def test_every_request_is_reported_once_to_progress(
    tiny: tuple[Any, Any], task_dir: Path, share_everything: None
) -> None:
    from lm_eval.api.instance import Instance

    shared_lm, _ = models(tiny)
    hook = RecordingHook()
    shared_lm.cache_hook = hook
    contexts = ["Soru: Türkiye'nin başkenti neresidir?\nCevap:", "Soru: Bir yıl kaç aydır?\nCevap:"]
    choices = [" Ankara şehridir", " İstanbul şehridir", " on iki aydır", " x"]
    requests = [
        Instance("loglikelihood", {}, (context, choice), i, ("user_long", 0, 1))
        for context in contexts
        for i, choice in enumerate(choices)
    ]
    shared_lm.loglikelihood(requests, disable_tqdm=True)
    assert sorted(req for _, req in hook.answered) == sorted(r.args for r in requests)
    assert shared_lm.scored_by["user_long"] == {"shared-context": len(requests)}


@pytest.mark.slow
def test_rolling_log_likelihood_is_lmevals_own(tiny: tuple[Any, Any]) -> None:
    from lm_eval.api.instance import Instance

    shared_lm, lmeval_lm = models(tiny)
    texts = ["Sabah erkenden dışarı çıktık ve yağmur yağdı. " * 12, "Kısa bir metin."]
    requests = [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)]
    assert shared_lm.loglikelihood_rolling(requests, disable_tqdm=True) == (
        lmeval_lm.loglikelihood_rolling(requests, disable_tqdm=True)
    )


@pytest.mark.slow
def test_a_model_the_shared_pass_gets_wrong_is_scored_by_lmeval(
    tiny: tuple[Any, Any], task_dir: Path, share_everything: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = scoring.SharedContextScorer.score

    def off_by_one(self: Any, batch: Any) -> list[list[tuple[float, bool]]]:
        return [[(ll - 1.0, g) for ll, g in question] for question in real(self, batch)]

    monkeypatch.setattr(scoring.SharedContextScorer, "score", off_by_one)
    shared_lm, lmeval_lm = models(tiny)
    docs = range(6)
    shared = evaluate(shared_lm, "user_long", task_dir, 1, docs)
    assert "differ from lm-eval's by 1" in str(shared_lm.disabled)
    assert shared.paths == {"user_long": {"lmeval": sum(map(len, shared.answers.values()))}}
    assert_same(shared, evaluate(lmeval_lm, "user_long", task_dir, 1, docs))


@pytest.mark.slow
def test_the_backend_records_which_path_scored_each_task(
    demo_checkpoints: dict[str, Path], share_everything: None
) -> None:
    from pytest_mlgate.backend.lmeval import LmEvalBackend

    request = EvalRequest(("mlgate_tr_mc", "mlgate_tr_gen"), sample=12)
    paths = {}
    for path in ("shared-context", "lmeval"):
        cfg = ModelConfig(dtype="float32", device="cpu", batch_size=8, scoring=path)
        backend = LmEvalBackend(BackendSpec(cfg, str(demo_checkpoints["good"])))
        paths[path] = backend.evaluate(request).info.scoring
        backend.close()
    assert paths["shared-context"]["mlgate_tr_mc"].startswith("shared-context")
    assert paths["lmeval"] == {"mlgate_tr_mc": "lmeval", "mlgate_tr_gen": "lmeval"}
    assert paths["shared-context"]["mlgate_tr_gen"] == "lmeval"  # generation is lm-eval's


@pytest.mark.slow
@pytest.mark.gpu
def test_bf16_on_a_gpu_agrees_with_lmeval(demo_checkpoints: dict[str, Path]) -> None:
    import torch
    import transformers

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    path = demo_checkpoints["good"]
    model: Any = transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.bfloat16)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    shared_lm, lmeval_lm = models((model.to("cuda").eval(), tokenizer), 32, device="cuda")
    with tempfile.TemporaryDirectory() as folder:
        from pytest_mlgate.tasks import materialize_tasks

        materialize_tasks(Path(folder))
        shared = evaluate(shared_lm, "mlgate_tr_mc", Path(folder), 3)
        reference = evaluate(lmeval_lm, "mlgate_tr_mc", Path(folder), 3)
    assert not shared_lm.disabled
    gaps = [
        abs(a[0] - b[0])
        for doc in reference.answers
        for a, b in zip(shared.answers[doc], reference.answers[doc], strict=True)
    ]
    gaps.sort()
    # bf16 keeps ~3 significant digits: per-request noise, never a systematic offset
    assert gaps[len(gaps) // 2] <= 0.05, gaps[len(gaps) // 2]
    assert gaps[-1] <= 0.5, gaps[-10:]
    flipped = [
        d for d in reference.metrics if shared.metrics[d]["acc"] != reference.metrics[d]["acc"]
    ]
    assert len(flipped) <= 0.02 * len(reference.metrics), flipped
