"""``mlgate prompts``: a task's requests printed exactly as the model is given them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlgate.cli.common import Commands, command, plugins
from pytest_mlgate.config.load import load_config
from pytest_mlgate.config.options import GateOptions, add_options
from pytest_mlgate.config.schema import DEFAULT_CONFIG_NAME, DEFAULT_SUITE
from pytest_mlgate.errors import BackendError, UsageProblem

if TYPE_CHECKING:
    from pytest_mlgate.backend.lmeval_prompts import RenderedRequest


def run(args: argparse.Namespace) -> int:
    """The first N documents' requests of TASK exactly as the model is given them (not
    redacted: a local tool), with token counts and warnings about doubled BOS tokens or an
    empty system turn."""
    from pytest_mlgate.backend import (
        Backend,
        BackendSpec,
        EvalRequest,
        RendersPrompts,
        has_capability,
    )
    from pytest_mlgate.cli.demo import offline_env
    from pytest_mlgate.run.plan import plan_gate
    from pytest_mlgate.run.resolve import resolve_checkpoint

    os.environ.update({k: v for k, v in offline_env().items() if k.endswith("_OFFLINE")})
    config = load_config(Path(args.config))
    options = GateOptions(cwd=Path.cwd(), checkpoint=args.checkpoint, suite=args.suite)
    plan = plan_gate(config, options)
    suite = plan.suite.suite
    spec = BackendSpec(config.model, resolve_checkpoint(plan.candidate), config.include)
    backend: Backend | None = plugins(args).hook.pytest_mlgate_make_backend(spec=spec, config=None)
    if backend is None:
        raise BackendError("no plugin returned a backend from pytest_mlgate_make_backend")
    request = EvalRequest((args.task,), suite.num_fewshot, None, suite.seed)
    try:
        if not (isinstance(backend, RendersPrompts) and has_capability(backend, RendersPrompts)):
            raise UsageProblem(
                f"mlgate prompts: {type(backend).__name__} (from pytest_mlgate_make_backend) "
                "cannot show its prompts: it has no render(task, request, limit) method"
            )
        rendered = backend.render(args.task, request, args.n)
    finally:
        backend.close()
    show(args.task, rendered)
    return 0


def show(task: str, rendered: list[RenderedRequest]) -> None:
    """Print each request, a document's context once, with the warnings it deserves."""
    shown: tuple[int, str] | None = None
    for item in rendered:
        if (item.doc_id, item.text) != shown:  # a multiple-choice document: its context once
            shown = (item.doc_id, item.text)
            print(f"=== {task} doc {item.doc_id} · {item.kind} · {len(item.tokens)} tokens")
            print(item.text)
        if item.continuation is not None:
            print(f"  + continuation {item.continuation!r}")
        if item.doubled_bos:
            print(
                f"mlgate: warning: doc {item.doc_id} starts with two BOS tokens (the template "
                "writes one and the tokenizer adds one): set model_args = { add_bos_token = "
                "false } or drop the BOS from the template",
                file=sys.stderr,
            )
        if item.empty_system_turn:
            print(
                f"mlgate: warning: doc {item.doc_id} has an empty system turn: set [model] "
                "system_instruction, or use a template that writes no empty system block",
                file=sys.stderr,
            )


def add_parser(commands: Commands) -> None:
    """Declare ``mlgate prompts TASK [--n N] [--config] [--checkpoint] [--suite]``."""
    prompts = command(
        commands, "prompts", "print a task's requests exactly as the model is given them", run
    )
    prompts.add_argument("task", metavar="TASK", help="an lm-eval task name")
    prompts.add_argument("--n", type=int, default=3, help="documents to print (default: 3)")
    add_options(prompts.add_argument, "", ("config", "checkpoint", "suite"))
    prompts.set_defaults(config=DEFAULT_CONFIG_NAME, suite=DEFAULT_SUITE)
