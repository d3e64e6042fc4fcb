"""Shared-context scoring against lm-eval's own path: ``python -m benchmarks.bench_scoring``.

On a tiny Llama built here (4 layers, 256 wide, ``max_position_embeddings`` 1024 so no context
is truncated; random weights: only the time of a forward pass matters), the same
log-likelihood requests are scored by lm-eval's HFLM and by the shared-context HFLM, alternated
(A, B, A, B, ...), medians of the repeats:

1. 5-shot multiple choice, 4 choices of 5-15 tokens (target <= 0.45);
2. 0-shot short contexts (< 30 tokens), 4 multi-token choices: the fallback rule (<= 1.0);
3. 5-shot, single-token letter choices (" A" .. " D"): lm-eval's own one-pass cache (<= 1.05);
4. the gate (``pytest -m eval``) against the ``lm_eval`` CLI on the demo task repeated
   ``--scale`` times at 5-shot on that model (<= 0.6; ten times on a GPU runner, smaller on
   a shared CPU where 10x at 5-shot takes many minutes per run).

Peak memory of each path is the largest resident set size above the one before the call
(sampled every 2 ms; on CUDA, torch's peak allocated memory).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.__main__ import BIG_TASK, GATE, GATE_COMMAND, dtype_on, lm_eval_command
from benchmarks.__main__ import side_by_side as commands_side_by_side
from pytest_mlgate.cli.demo import build_tokenizer
from pytest_mlgate.tasks import iter_docs

WIDTH, LAYERS, HEADS, POSITIONS = 256, 4, 4, 1024
PROMPT = "Soru: {question}\nCevap:"
FILLER = ("çok", "daha", "sonra", "bütün", "evde", "kalan", "eski", "kitaplar", "yeni", "masanın")


def build_model(folder: Path) -> tuple[Path, int]:
    """The benchmark's model (random weights) and its parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    docs = list(iter_docs("mlgate_tr_mc"))
    texts = [f"{d['question']} {' '.join(map(str, d['choices']))}" for d in docs]  # type: ignore[call-overload]
    letters = [" A) B) C) D) A B C D"] * 200  # one token each: row 3's choices
    tokenizer = build_tokenizer([*texts, " ".join(FILLER), *letters], 512)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=WIDTH,
        intermediate_size=WIDTH * 2,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, sum(p.numel() for p in model.parameters())


def _choice_of_length(rng: random.Random, base: str, tokenizer: Any) -> str:
    """``base`` lengthened with filler words to 5-15 tokens (as the model's tokenizer counts)."""
    target = rng.randint(5, 15)
    text = f" {base}"
    while len(tokenizer.encode(text, add_special_tokens=False)) < target:
        text += f" {rng.choice(FILLER)}"
    tokens = tokenizer.encode(text, add_special_tokens=False)[:target]
    return str(tokenizer.decode(tokens))


def requests(kind: str, shots: int, questions: int, tokenizer: Any, seed: int = 0) -> list[Any]:
    """lm-eval Instances of ``questions`` multiple-choice questions: ``kind`` "words" (choices
    of 5-15 tokens) or "letters" (" A" .. " D" after the choices listed in the prompt)."""
    from lm_eval.api.instance import Instance

    rng = random.Random(seed)
    docs: list[Any] = list(iter_docs("mlgate_tr_mc"))
    out = []
    for index in range(questions):
        doc = docs[index % len(docs)]
        shown = [docs[(index + 1 + k * 7) % len(docs)] for k in range(shots)]
        prefix = "".join(
            PROMPT.format(question=d["question"]) + f" {d['choices'][d['answer']]}\n\n"
            for d in shown
        )
        question = str(doc["question"])
        if kind == "letters":
            listed = " ".join(f"{'ABCD'[i]}) {c}" for i, c in enumerate(doc["choices"]))
            context = prefix + PROMPT.format(question=f"{question} {listed}")
            choices = [" A", " B", " C", " D"]
        else:
            context = prefix + PROMPT.format(question=question)
            choices = [_choice_of_length(rng, str(c), tokenizer) for c in doc["choices"]]
        out += [
            Instance("loglikelihood", doc, (context, choice), i, ("bench", index, 1))
            for i, choice in enumerate(choices)
        ]
    return out


class PeakMemory:
    """The largest memory above the start while a call runs: RSS sampled on the CPU,
    torch's peak allocation on CUDA."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as stat:
            return int(stat.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def measure(self, call: Callable[[], Any]) -> int:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = torch.cuda.memory_allocated()
            call()
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated() - start)
        _return_freed_memory()  # else one path's freed heap hides the next one's allocations
        start, self.peak = self.rss(), 0
        self._stop.clear()

        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, self.rss())
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            call()
        finally:
            self._stop.set()
            sampler.join()
        return max(0, self.peak - start)


def _return_freed_memory() -> None:
    """glibc keeps freed blocks in the process; malloc_trim hands them back to the system."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def compare(shared: Any, lmeval: Any, batch: list[Any], repeat: int) -> tuple[float, float]:
    """Medians of alternated runs: (shared-context seconds, lm-eval seconds)."""
    shared.loglikelihood(batch[:8], disable_tqdm=True)  # warm-up, and the one-time self-check
    lmeval.loglikelihood(batch[:8], disable_tqdm=True)
    fast, slow = [], []
    for _ in range(repeat):
        fast.append(timed(lambda: shared.loglikelihood(batch, disable_tqdm=True)))
        slow.append(timed(lambda: lmeval.loglikelihood(batch, disable_tqdm=True)))
    return statistics.median(fast), statistics.median(slow)


def largest_gap(shared: Any, lmeval: Any, batch: list[Any]) -> float:
    a = shared.loglikelihood(batch, disable_tqdm=True)
    b = lmeval.loglikelihood(batch, disable_tqdm=True)
    return float(max(abs(x[0] - y[0]) for x, y in zip(a, b, strict=True)))


def token_rows(shared: Any, batch: list[Any]) -> tuple[int, int]:
    """Tokens lm-eval's path feeds (context + choice per request) and the shared path's
    (each context once, every choice)."""
    contexts = {r.args[0] for r in batch}
    every = sum(len(shared.tok_encode(r.args[0] + r.args[1])) for r in batch)
    once = sum(len(shared.tok_encode(c)) for c in contexts) + sum(
        len(shared.tok_encode(r.args[1], add_special_tokens=False)) for r in batch
    )
    return every, once


ROWS = (
    ("1. 5-shot MC, 4 choices of 5-15 tokens", "words", 5, "<= 0.45"),
    ("2. 0-shot short contexts, 4 multi-token choices", "words", 0, "<= 1.0"),
    ("3. 5-shot, single-token letter choices", "letters", 5, "<= 1.05"),
)


def loop_rows(checkpoint: Path, device: str, questions: int, repeat: int) -> list[tuple[Any, ...]]:
    import torch
    import transformers
    from lm_eval.models.huggingface import HFLM

    from pytest_mlgate.backend.lmeval_scoring import shared_context_class

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model: Any = transformers.AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=dtype)
    model = model.to(device).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
    common = {"pretrained": model, "tokenizer": tokenizer, "batch_size": 32, "device": device}
    shared, lmeval = shared_context_class()(**common), HFLM(**common)
    memory = PeakMemory(device.startswith("cuda"))
    rows = []
    for name, kind, shots, target in ROWS:
        batch = requests(kind, shots, questions, tokenizer)
        fast, slow = compare(shared, lmeval, batch, repeat)
        peaks = [0, 0]
        for _ in range(2):  # alternated, the larger of two each
            for side, lm in enumerate((shared, lmeval)):
                peak = memory.measure(functools.partial(lm.loglikelihood, batch, True))
                peaks[side] = max(peaks[side], peak)
        gap = largest_gap(shared, lmeval, batch)
        shared.scored_by = {}
        shared.loglikelihood(batch, disable_tqdm=True)
        on_shared = shared.scored_by["bench"].get("shared-context", 0) / len(batch)
        rows.append((name, fast, slow, target, *peaks, gap, *token_rows(shared, batch), on_shared))
    return rows


def scaled_task(folder: Path, copies: int) -> Path:
    """The shipped multiple-choice task ``copies`` times (each copy's questions numbered), as
    benchmarks/__main__.py's row 7 builds it ten times (named mlgate_tr_mc_x10 whatever the
    number of copies)."""
    import json

    folder.mkdir(parents=True)
    data = folder / "copies.jsonl"
    with data.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            for doc in iter_docs("mlgate_tr_mc"):
                doc = {**doc, "question": f"{doc['question']} ({copy + 1})"}
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    (folder / "copies.yaml").write_text(BIG_TASK.format(data=data))
    return folder


def gate_row(
    checkpoint: Path, device: str, scale: int, repeat: int
) -> tuple[str, float, float, str]:
    """The gate against the lm_eval CLI on the demo task ``scale`` times, 5-shot."""
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        tasks = scaled_task(repo / "tasks", scale)
        (repo / "thresholds.toml").write_text(
            GATE.format(checkpoint=checkpoint, device=device, dtype=dtype_on(device))
            .replace(
                'tasks = ["mlgate_tr_mc", "mlgate_tr_math"]',
                'tasks = ["mlgate_tr_mc_x10"]\nnum_fewshot = 5',
            )
            .replace(
                "[thresholds.mlgate_tr_mc]",
                '[tasks]\ninclude = ["tasks"]\n\n[thresholds.mlgate_tr_mc_x10]',
            )
            .replace("acc = 0.1", "acc = 0.0")  # random weights: timing only, no verdict
            .replace('cache = "cache"', 'cache = "cache"\nchance = "off"')
        )
        cli = [
            *lm_eval_command(checkpoint, device, "mlgate_tr_mc_x10", tasks),
            "--num_fewshot",
            "5",
        ]
        gate, raw = commands_side_by_side([*GATE_COMMAND, "--mlgate-no-cache"], cli, repo, repeat)
    return (f"4. {scale}x task, 5-shot: pytest -m eval / lm_eval CLI", gate, raw, "<= 0.6")


EXACTNESS_CASES = (
    ("mlgate_tr_mc", 0, None),
    ("mlgate_tr_mc", 3, None),
    ("mlgate_tr_mc", 5, range(0, 479, 4)),
    ("user_long", 0, None),
    ("user_long", 2, None),
)


def exactness() -> None:
    """The exactness table: every question of the shipped multiple-choice task (and of
    tests/test_scoring.py's user task with sentence-long choices) on the shared path (fallback
    rule off), against lm-eval's HFLM on the same float32 model: the demo's good checkpoint."""
    import dataclasses

    from pytest_mlgate.backend import lmeval_scoring
    from pytest_mlgate.cli import demo
    from pytest_mlgate.tasks import materialize_tasks
    from tests import test_scoring as exact
    from tests.checkpoints import cached_build

    settings = demo.TrainingSettings()
    inputs = {"settings": dataclasses.asdict(settings), "trainer": Path(demo.__file__).read_text()}

    def build(folder: Path) -> None:
        demo.build_checkpoints(folder, settings)

    root = cached_build("demo", inputs, build)  # the test suite's cached demo checkpoints
    tiny = exact.load_tiny(root / "good")
    lmeval_scoring.MIN_CONTEXT_PER_CHOICE = 0.0
    print(
        "| task | n-shot | docs | requests | max abs Δ log-likelihood | greedy equal | acc equal "
        "| acc_norm equal | near ties (docs) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        tasks = Path(folder)
        materialize_tasks(tasks)
        exact.write_long_choice_task(tasks / "user_long")
        for task, shots, docs in EXACTNESS_CASES:
            shared_lm, lmeval_lm = exact.models(tiny)
            a = exact.evaluate(shared_lm, task, tasks, shots, docs)
            b = exact.evaluate(lmeval_lm, task, tasks, shots, docs)
            pairs = [
                (x, y) for d in b.answers for x, y in zip(a.answers[d], b.answers[d], strict=True)
            ]
            gap = max(abs(x[0] - y[0]) for x, y in pairs)
            greedy = all(x[1] == y[1] for x, y in pairs)
            ties = [d for d in b.answers if exact.near_ties(b.answers[d])]
            same = {
                m: all(a.metrics[d][m] == b.metrics[d][m] for d in b.metrics if d not in ties)
                for m in ("acc", "acc_norm")
            }
            print(
                f"| {task} | {shots} | {len(b.answers)} | {len(pairs)} | {gap:.1e} | {greedy} "
                f"| {same['acc']} | {same['acc_norm']} | {ties or 'none'} |"
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--questions", type=int, default=96, help="questions per loop row")
    parser.add_argument("--scale", type=int, default=1, help="copies of the demo task (row 4)")
    parser.add_argument("--gate-repeat", type=int, default=1, help="runs of each row-4 command")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-gate", action="store_true", help="rows 1-3 only")
    parser.add_argument("--gate-only", action="store_true", help="row 4 only")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads, both sides and the CLI's"
    )
    parser.add_argument("--exactness", action="store_true", help="the exactness table only")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.exactness:
        exactness()
        return
    # On a shared machine torch's worker threads spin against other jobs and small kernels
    # take 10x their time; one thread each gives both paths the same, steady conditions.
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint, parameters = build_model(Path(folder) / "model")
        print(
            f"torch threads {args.threads}; model: Llama, {LAYERS} layers, {WIDTH} wide, "
            f"{HEADS} heads, max_position_embeddings {POSITIONS}, {parameters:,} parameters; "
            f"{args.device}, batch size 32; "
            f"{args.questions} questions per row, medians of {args.repeat}"
        )
        rows = (
            []
            if args.gate_only
            else loop_rows(checkpoint, args.device, args.questions, args.repeat)
        )
        print(
            f"{'comparison':50} {'shared':>7} {'lm-eval':>7} {'ratio':>6}  {'target':8} "
            f"{'peak MB':>15} {'max |Δ|':>8} {'tokens fed':>13} {'shared':>6}"
        )
        for name, fast, slow, target, peak_fast, peak_slow, gap, every, once, on_shared in rows:
            print(
                f"{name:50} {fast:7.2f} {slow:7.2f} {fast / slow:6.3f}  {target:8} "
                f"{peak_fast / 1e6:7.1f}/{peak_slow / 1e6:<7.1f} {gap:8.1e} {once:>6}/{every:<6} "
                f"{on_shared:6.0%}"
            )
        if not args.skip_gate:
            name, gate, raw, target = gate_row(
                checkpoint, args.device, args.scale, args.gate_repeat
            )
            print(f"{name:50} {gate:7.2f} {raw:7.2f} {gate / raw:6.3f}  {target}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
