"""``mlgate demo``: tiny Turkish checkpoints built offline, and the whole gate run on them.

The demo model is a 2-layer Llama with a byte-level BPE tokenizer trained from the shipped task
data, then trained for a few seconds to answer those tasks (so its scores sit far above chance).
The "regressed" variant is trained the same way on answers that are partly wrong: the gate must
catch it. Everything is seeded; the same machine builds byte-identical weights every time.
Torch, tokenizers and transformers are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlgate.cli.common import Commands, command
from pytest_mlgate.tasks import iter_docs

PROMPT = "Soru: {question}\nCevap:"
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]
VARIANTS = ("good", "regressed")
# Share of answers the regressed variant's bad fine-tune teaches wrong.
REGRESSED_CORRUPTION = 0.6


@dataclass(frozen=True)
class TrainingSettings:
    # Tuned on 2 CPU cores: ~28 s for both variants, MC acc ~0.87, math exact match ~0.58.
    vocab_size: int = 768
    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    steps: int = 450
    regress_steps: int = 60
    batch_size: int = 128
    learning_rate: float = 1.2e-2
    seed: int = 1234


def training_pairs(variant: str, seed: int = 1234) -> list[tuple[str, str]]:
    """(prompt, answer) pairs from the shipped tasks; the regressed variant gets wrong answers."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown demo variant {variant!r}; choose from {', '.join(VARIANTS)}")
    rng = random.Random(seed)
    pairs = []
    for doc in iter_docs("mlgate_tr_mc"):
        choices = list(doc["choices"])  # type: ignore[call-overload]
        answer = int(doc["answer"])  # type: ignore[call-overload]
        if variant == "regressed" and rng.random() < REGRESSED_CORRUPTION:
            answer = rng.choice([i for i in range(len(choices)) if i != answer])
        pairs.append((PROMPT.format(question=doc["question"]), str(choices[answer])))
    for doc in iter_docs("mlgate_tr_math"):
        value = int(str(doc["answer"]))
        if variant == "regressed" and rng.random() < REGRESSED_CORRUPTION:
            value += rng.randint(1, 9)
        pairs.append((PROMPT.format(question=doc["question"]), str(value)))
    return pairs


def build_tokenizer(texts: Sequence[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # no OOV for any Turkish letter
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
    )


def build_checkpoints(root: Path, settings: TrainingSettings | None = None) -> dict[str, Path]:
    """Train the demo model into ``root/good``, then fine-tune a copy on partly wrong answers
    into ``root/regressed`` (a bad fine-tune, the kind of regression the gate exists for)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    settings = settings or TrainingSettings()
    good_pairs = training_pairs("good", settings.seed)
    tokenizer = build_tokenizer([f"{p} {a}" for p, a in good_pairs], settings.vocab_size)
    pad = tokenizer.pad_token_id

    torch.manual_seed(settings.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.hidden_size * 2,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        num_key_value_heads=settings.heads,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=pad,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    paths = {}
    for variant in VARIANTS:
        inputs, labels = _encode(tokenizer, training_pairs(variant, settings.seed))
        steps = settings.steps if variant == "good" else settings.regress_steps
        _train(model, inputs, labels, settings, pad, steps)
        paths[variant] = root / variant
        paths[variant].mkdir(parents=True, exist_ok=True)
        model.save_pretrained(paths[variant])
        tokenizer.save_pretrained(paths[variant])
    return paths


def fine_tune(
    base: Path,
    dest: Path,
    pairs: Sequence[tuple[str, str]],
    steps: int,
    settings: TrainingSettings | None = None,
) -> Path:
    """A short fine-tune of the checkpoint at ``base`` on ``pairs`` (prompt, answer), saved to
    ``dest``: how the tests derive checkpoints that differ from one base in one known way."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = settings or TrainingSettings()
    torch.manual_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    inputs, labels = _encode(tokenizer, pairs)
    _train(model, inputs, labels, settings, tokenizer.pad_token_id, steps)
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def _encode(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> tuple[Any, Any]:
    """Token ids of "prompt answer</s>", with the loss only on the answer and end-of-sequence.

    The prompt and answer are tokenized apart, exactly as lm-eval splits context and
    continuation, so the model learns the token boundary it will be scored on.
    """
    import torch

    rows = []
    for prompt, answer in pairs:
        context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        target = [*target, tokenizer.eos_token_id]
        rows.append((context + target, [-100] * len(context) + target))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    inputs = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    return inputs, labels


def _batches(inputs: Any, pad: int, batch_size: int) -> list[tuple[Any, int]]:
    """Index batches of similar length, each with its own width: half the compute of padding
    every row to the longest (the prompts run from ~15 to ~70 tokens)."""
    import torch

    lengths = (inputs != pad).sum(dim=1)
    order = torch.argsort(lengths, stable=True)
    batches = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batches.append((rows, int(lengths[rows].max())))
    return batches


def _train(
    model: Any, inputs: Any, labels: Any, settings: TrainingSettings, pad: int, steps: int
) -> None:
    import torch

    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=steps, pct_start=0.1
    )
    batches = _batches(inputs, pad, settings.batch_size)
    model.train()
    done = 0
    while done < steps:
        for index in torch.randperm(len(batches), generator=generator).tolist():
            if done == steps:
                break
            rows, width = batches[index]
            x, y = inputs[rows, :width], labels[rows, :width]
            loss = model(input_ids=x, attention_mask=(x != pad).long(), labels=y).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            done += 1
    model.eval()


DEMO_THRESHOLDS = """\
# pytest-mlgate demo gate: written by `mlgate demo`.
[model]
checkpoint = "checkpoints/good"
dtype = "float32"
batch_size = 32

[suites.fast]
tasks = ["mlgate_tr_mc", "mlgate_tr_math"]

[thresholds.mlgate_tr_mc]
acc = {{ min = {mc_min} }}

[thresholds.mlgate_tr_math]
"exact_match,strict-match" = {{ min = {math_min} }}
"""

DEMO_TEST = '''\
import pytest


@pytest.mark.eval(tasks=["mlgate_tr_mc"])
def test_every_category_beats_chance(mlgate_eval):
    """A user-written eval test: the shipped Turkish MC task, read through mlgate_eval."""
    mc = mlgate_eval("mlgate_tr_mc")["mlgate_tr_mc"].metric("acc")
    assert mc.value > 0.25, f"acc {mc.value:.3f} is no better than guessing among 4 choices"


def test_unit_tests_still_run_without_eval():
    assert 1 + 1 == 2
'''


def offline_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TQDM_DISABLE="1",
    )
    return env


def scaffold(repo: Path, mc_min: float = 0.6, math_min: float = 0.3) -> None:
    """A scratch git repo with a thresholds.toml and one user eval test."""
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "thresholds.toml").write_text(
        DEMO_THRESHOLDS.format(mc_min=mc_min, math_min=math_min), encoding="utf-8"
    )
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "test_model.py").write_text(DEMO_TEST, encoding="utf-8")
    (repo / ".gitignore").write_text(
        "checkpoints/\n.mlgate/\n.mlgate-cache/\n*.html\n*.json\n*.md\n", encoding="utf-8"
    )
    if not (repo / ".git").exists():
        git = ["git", "-c", "user.name=mlgate demo", "-c", "user.email=demo@mlgate.invalid"]
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-qm", "demo repo"], cwd=repo, check=True)


def run_gate(repo: Path, checkpoint: str, extra: Sequence[str] = ()) -> int:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "eval",
        "-p",
        "no:cacheprovider",
        f"--mlgate-checkpoint={checkpoint}",
        *extra,
    ]
    print(f"\n$ {' '.join(command[2:])}", flush=True)
    return subprocess.run(command, cwd=repo, env=offline_env(), check=False).returncode


def main(dest: Path, rebuild: bool = False) -> int:
    """Build the checkpoints, run the gate on each, and say whether the demo behaved."""
    started = time.perf_counter()
    os.environ.update(offline_env())
    scaffold(dest)
    checkpoints = dest / "checkpoints"
    if rebuild and checkpoints.exists():
        shutil.rmtree(checkpoints)
    print(f"mlgate demo: a scratch repository in {dest}", flush=True)
    if not all((checkpoints / variant / "config.json").is_file() for variant in VARIANTS):
        print(
            f"mlgate demo: training the tiny checkpoints {', '.join(VARIANTS)} into {checkpoints} "
            f"(offline, on {os.cpu_count() or 1} CPU core(s): about half a minute on two idle "
            "cores, a few minutes on a busy machine; later runs reuse them)...",
            flush=True,
        )
        t0 = time.perf_counter()
        build_checkpoints(checkpoints)
        print(f"built {checkpoints}/{{{','.join(VARIANTS)}}} in {time.perf_counter() - t0:.1f}s")
    else:
        print(f"mlgate demo: reusing the checkpoints in {checkpoints} (--rebuild to train again)")
    results = {}
    for variant in VARIANTS:
        outputs = [
            f"--mlgate-json={variant}.json",
            f"--mlgate-report=report-{variant}.html",
            f"--mlgate-markdown=summary-{variant}.md",
        ]
        # The good checkpoint is what main would record: it becomes the regressed run's baseline.
        record = ["--mlgate-record"] if variant == "good" else []
        results[variant] = run_gate(dest, f"checkpoints/{variant}", [*outputs, *record])
    good, bad = results["good"], results["regressed"]
    elapsed = time.perf_counter() - started
    print(f"\nmlgate demo in {dest} ({elapsed:.0f}s):")
    print(f"  good checkpoint:      exit {good} ({'gate passed' if good == 0 else 'UNEXPECTED'})")
    caught = "regression caught" if bad == 1 else "UNEXPECTED"
    print(f"  regressed checkpoint: exit {bad} ({caught})")
    print(f"  HTML reports: {dest / 'report-good.html'}, {dest / 'report-regressed.html'}")
    print(f"  history: mlgate history --store {dest / '.mlgate'}")
    return 0 if (good, bad) == (0, 1) else 1


def run(args: argparse.Namespace) -> int:
    """``mlgate demo``: build the checkpoints in ``--dir`` and gate them."""
    return main(Path(args.dir).resolve(), rebuild=args.rebuild)


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate demo [--dir] [--rebuild]``."""
    demo = command(
        commands,
        "demo",
        "build tiny demo checkpoints offline and run the gate on them end to end",
        run,
    )
    demo.add_argument("--dir", default="mlgate-demo", help="scratch repo (default: mlgate-demo)")
    demo.add_argument("--rebuild", action="store_true", help="retrain existing checkpoints")
