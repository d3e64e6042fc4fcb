"""How lm-eval formats a checkpoint's requests: chat templates, BOS, few-shot draws.

All of it goes through lm-eval's own code (HFLM's ``chat_template``, ``apply_chat_template``,
``tok_encode``), so what is fingerprinted and printed is what the model is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_mlgate.config.schema import ModelConfig
from pytest_mlgate.errors import CheckpointError
from pytest_mlgate.results import PromptInfo


def tokenizer_templates(tokenizer: Any) -> dict[str, str]:
    """The chat templates a tokenizer carries, by name ("default" for a single one)."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, Mapping):
        return {str(name): str(text) for name, text in template.items()}
    return {"default": str(template)} if template else {}


def check_chat_template(tokenizer: Any, model: ModelConfig, checkpoint: str) -> str | None:
    """The template text ``[model] chat_template`` selects (None: no template applied);
    :class:`CheckpointError` (exit 4) when the tokenizer has no such template."""
    setting = model.chat_template
    if setting is False:
        return None
    templates = tokenizer_templates(tokenizer)
    if not templates:
        raise CheckpointError(
            f"[model] chat_template = {setting!r}, but the tokenizer of {checkpoint!r} has no "
            "chat template (no chat_template.jinja and none in tokenizer_config.json): give the "
            "checkpoint its template, or set chat_template = false"
        )
    if setting is True:
        if len(templates) > 1 and "default" not in templates:
            raise CheckpointError(
                f"the tokenizer of {checkpoint!r} has several chat templates and none named "
                f"'default': set [model] chat_template to one of {', '.join(sorted(templates))}"
            )
        return templates.get("default") or next(iter(templates.values()))
    if setting not in templates:
        raise CheckpointError(
            f"[model] chat_template = {setting!r}: the tokenizer of {checkpoint!r} has no template "
            f"by that name (it has: {', '.join(sorted(templates))})"
        )
    return templates[setting]


def template_args(model: ModelConfig, template: str | None) -> dict[str, str]:
    """What HFLM passes to the tokenizer's apply_chat_template: the named template's text (for
    ``true``, nothing: the tokenizer's default, exactly as ``lm_eval --apply_chat_template``)."""
    return {"chat_template": template} if isinstance(model.chat_template, str) and template else {}


def prompt_info(lm: Any, model: ModelConfig, template: str | None) -> PromptInfo:
    tokenizer = lm.tokenizer
    bos = getattr(tokenizer, "bos_token_id", None)
    adds_bos = None
    if bos is not None:
        adds_bos = bool(tokenizer("x").input_ids[:1] == [bos])
    return PromptInfo(
        chat_template=None if template is None else hashlib.sha256(template.encode()).hexdigest(),
        system_instruction=model.system_instruction,
        fewshot_as_multiturn=model.multiturn,
        gen_kwargs=dict(model.gen_kwargs),
        add_bos_token=getattr(lm, "add_bos_token", None),
        tokenizer_adds_bos=adds_bos,
    )


def tokenizer_only_lm(tokenizer: Any, model: ModelConfig, template: str | None) -> Any:
    """An HFLM with a tokenizer and no weights: lm-eval's own methods format the requests
    (chat template, BOS, token ids) exactly as for a run, without loading the model."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM.__new__(HFLM)
    lm.tokenizer = tokenizer
    lm.chat_template_args = template_args(model, template)
    lm.add_bos_token = model.model_args.get("add_bos_token")
    lm.custom_prefix_token_id = None
    lm.backend = "causal"
    return lm


def replay_fewshot_draws(
    task: Any,
    sampled: Sequence[int],
    draws: dict[tuple[int, bool], list[Any]] | None = None,
    docs: Sequence[Any] | None = None,
) -> None:
    """With a sample of the documents, draw each one's few-shot examples as the full run does.

    lm-eval draws few-shot examples from one generator, document after document: evaluated
    alone, a subset would get other examples than the same documents in a full run (and a PR's
    sample would not compare with its full baseline). Here the full run's draws are made once,
    in its order, and each sampled document is given its own. ``draws`` (and the task's
    ``docs``) may be kept by the caller between evaluations of the same task, as a sequential
    run's looks do: the draws depend only on the task's documents and its few-shot seed.
    """
    sampler = getattr(task, "sampler", None)
    if sampler is None or not sampled:
        return
    original = sampler.sample
    every = list(task.eval_docs) if docs is None else docs
    order: Iterator[int] = iter(sampled)
    draws = {} if draws is None else draws

    def sample(n: int, eval_doc: Any = None, df: Any = None, **kwargs: Any) -> Any:
        doc_id = next(order)
        if n == 0:
            return original(n, eval_doc=eval_doc, df=df, **kwargs)
        key = (n, eval_doc is not None)
        if key not in draws:  # every document's draw, in the full run's order
            draws[key] = [
                original(n, eval_doc=doc if eval_doc is not None else None, df=df, **kwargs)
                for doc in every
            ]
        return draws[key][doc_id]

    sampler.sample = sample


@dataclass(frozen=True)
class RenderedRequest:
    """One request as the model is given it."""

    doc_id: int
    kind: str  #: loglikelihood, generate_until, ...
    text: str  #: the context (the rendered prompt)
    continuation: str | None  #: multiple choice: the answer scored after the context
    tokens: tuple[int, ...]  #: the context's token ids
    doubled_bos: bool = False  #: the ids start with two BOS tokens
    empty_system_turn: bool = False  #: the template wrote a system turn with nothing in it


SENTINEL = "\x00mlgate-system\x00"


def empty_system_turn(tokenizer: Any, args: Mapping[str, str]) -> str | None:
    """The text the template writes for a system turn with no content (None when it writes
    none): found by rendering a sentinel system message and removing the sentinel."""
    try:
        with_system = tokenizer.apply_chat_template(
            [{"role": "system", "content": SENTINEL}, {"role": "user", "content": "x"}],
            tokenize=False,
            add_generation_prompt=True,
            **args,
        )
        without = tokenizer.apply_chat_template(
            [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True, **args
        )
    except Exception:  # a template that rejects a system role has no empty system turn
        return None
    if SENTINEL not in with_system:
        return None
    empty = with_system.replace(SENTINEL, "")
    if empty == without:
        return None
    head = _shared_length(empty, without)
    tail = _shared_length(empty[head:][::-1], without[head:][::-1])
    return empty[head : len(empty) - tail] or None


def _shared_length(a: str, b: str) -> int:
    """How many leading characters two strings share."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def build_requests(
    task: Any, lm: Any, model: ModelConfig, template: str | None, limit: int
) -> list[Any]:
    """lm-eval's request instances for the first ``limit`` documents of ``task``, with the run's
    chat template, system instruction and few-shot settings."""
    applied = template is not None
    task.build_all_requests(
        limit=limit,
        rank=0,
        world_size=1,
        system_instruction=model.system_instruction,
        apply_chat_template=applied,
        fewshot_as_multiturn=model.multiturn,
        chat_template=lm.apply_chat_template if applied else None,
        tokenizer_name=lm.tokenizer_name if applied else "",
    )
    return list(task.instances)


def render_requests(
    task: Any,
    lm: Any,
    model: ModelConfig,
    template: str | None,
    limit: int,
) -> list[RenderedRequest]:
    """The first ``limit`` documents' requests of a loaded lm-eval task, built by lm-eval with
    the run's settings (n-shot and fewshot seed already set on the task)."""
    applied = template is not None
    build_requests(task, lm, model, template, limit)
    bos = getattr(lm.tokenizer, "bos_token_id", None)
    empty = empty_system_turn(lm.tokenizer, lm.chat_template_args) if applied else None
    rendered = []
    for instance in task.instances:
        context = str(instance.args[0])
        tokens = tuple(lm.tok_encode(context))
        continuation = instance.args[1] if instance.request_type == "loglikelihood" else None
        rendered.append(
            RenderedRequest(
                doc_id=int(instance.doc_id),
                kind=str(instance.request_type),
                text=context,
                continuation=None if continuation is None else str(continuation),
                tokens=tokens,
                doubled_bos=bos is not None and tokens[:2] == (bos, bos),
                empty_system_turn=empty is not None and empty in context,
            )
        )
    return sorted(rendered, key=lambda r: r.doc_id)
