"""Shared-context scoring: a question's context through the model once, its choices on its cache.

lm-eval's HFLM scores a multiple-choice question as one forward pass of context + choice per
choice (only one-token choices share a pass). :func:`shared_context_class` makes a subclass of
HFLM that, in ``_loglikelihood_tokens``, takes the requests exactly as lm-eval tokenised them
(its own ``loglikelihood`` / ``_encode_pair`` ran first: whitespace moved to the continuation,
BOS, chat template already in the context text), applies lm-eval's left truncation to
``max_length + 1`` tokens, and groups requests by the context tokens the model would see. Then,
for a batch of questions at a time:

1. one forward pass over the batch's contexts (right-padded, as lm-eval pads) keeps the KV
   cache (a transformers ``DynamicCache``, passed as ``cache``, ``past_key_values`` before
   5.2x) and the log-probabilities of each context's last position, which score every choice's
   first token;
2. one forward pass over all choices of all questions in the batch against that cache: each
   question's choices are laid end to end in one row, with explicit position ids (each choice
   starts right after its context) and an additive 4-D attention mask that lets a choice token
   see its own context and the earlier tokens of its own choice only. The cached context is
   thus read by every choice of its question without being copied per choice.

Requests that cannot gain, or that this path cannot score exactly, go through lm-eval's own
``_loglikelihood_tokens``: see :func:`plan`. Which path scored each request is recorded per task
(:attr:`scored_by`), for the manifest.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

SHARED_CONTEXT = "shared-context"
LMEVAL = "lmeval"
SCORING_PATHS = (SHARED_CONTEXT, LMEVAL)
# A question is worth a shared pass only when its context is at least this many times as long
# as its mean choice: below it the saving ((choices - 1) x context tokens) is small next to the
# second forward pass and the mask the shared path pays for (benchmarks/bench_scoring.py).
MIN_CONTEXT_PER_CHOICE = 2.0
# The self-check: the first shared batch is also scored by lm-eval; a model whose answers differ
# by more than this (a cache or mask it does not honour) is scored by lm-eval from then on.
CHECK_TOLERANCE = {"float32": 1e-4, "float64": 1e-6}
CHECK_TOLERANCE_LOW_PRECISION = 0.1  # bf16/fp16: noise is ~1e-2; a broken mask is off by units

log = logging.getLogger(__name__)

# (request string, context tokens, continuation tokens), as lm-eval hands them to the model.
TokenRequest = tuple[Any, list[int], list[int]]


@dataclass(frozen=True)
class Question:
    """Requests whose model input starts with the same context tokens."""

    context: tuple[int, ...]  #: after lm-eval's left truncation
    members: tuple[int, ...]  #: indices into the requests
    continuations: tuple[tuple[int, ...], ...]

    @property
    def worth_sharing(self) -> bool:
        """The fallback rule: at least two choices, one of them more than a token long (lm-eval
        already scores one-token choices in one pass), and a context at least
        MIN_CONTEXT_PER_CHOICE times the mean choice length."""
        lengths = [len(c) for c in self.continuations]
        if len(lengths) < 2 or max(lengths) < 2:
            return False
        return len(self.context) >= MIN_CONTEXT_PER_CHOICE * sum(lengths) / len(lengths)


def model_context(
    context: Sequence[int], continuation: Sequence[int], max_length: int
) -> tuple[int, ...]:
    """The context tokens the model sees for one request: lm-eval feeds
    ``(context + continuation)[-(max_length + 1):][:-1]``, so an over-long request loses tokens
    from the left of its context (the continuation itself is never cut: lm-eval asserts it
    fits)."""
    overflow = len(context) + len(continuation) - (max_length + 1)
    return tuple(context[overflow:] if overflow > 0 else context)


def plan(requests: Sequence[TokenRequest], max_length: int) -> tuple[list[Question], list[int]]:
    """The questions scored on the shared path, and the indices of the requests lm-eval scores
    (rolling windows, over-long continuations, and questions :attr:`Question.worth_sharing`
    rejects)."""
    grouped: dict[tuple[int, ...], list[int]] = {}
    rest: list[int] = []
    for index, (request, context, continuation) in enumerate(requests):
        if request is None or not context or not continuation or len(continuation) > max_length:
            rest.append(index)  # a rolling window (no request string) or what lm-eval rejects
            continue
        grouped.setdefault(model_context(context, continuation, max_length), []).append(index)
    questions = []
    for shared, members in grouped.items():
        question = Question(shared, tuple(members), tuple(tuple(requests[i][2]) for i in members))
        if question.worth_sharing:
            questions.append(question)
        else:
            rest.extend(members)
    # longest first, as lm-eval orders its batches: an out-of-memory shows on the first batch
    questions.sort(key=lambda q: (-len(q.context) - sum(map(len, q.continuations)), q.context))
    return questions, sorted(rest)


def batches(questions: Sequence[Question], size: int) -> Iterator[Sequence[Question]]:
    for start in range(0, len(questions), max(1, size)):
        yield questions[start : start + max(1, size)]


def continuation_layout(
    batch: Sequence[Question],
) -> tuple[list[list[int]], list[list[int]], list[list[tuple[int, int]]]]:
    """Per question of ``batch``: the tokens of its continuation pass (every choice but its last
    token, end to end), each token's position id, and each choice's (start, length) there."""
    tokens, positions, spans = [], [], []
    for question in batch:
        row: list[int] = []
        where: list[int] = []
        choice_spans = []
        for continuation in question.continuations:
            fed = list(continuation[:-1])
            choice_spans.append((len(row), len(fed)))
            row += fed
            where += range(len(question.context), len(question.context) + len(fed))
        tokens.append(row)
        positions.append(where)
        spans.append(choice_spans)
    return tokens, positions, spans


def _attention_mask(
    torch: Any,
    batch: Sequence[Question],
    spans: list[list[tuple[int, int]]],
    width: int,
    dtype: Any,
) -> Any:
    """Additive mask [batch, 1, width, context width + width] for the continuation pass: a
    choice token sees its own context and its own choice's earlier tokens; padding rows see
    the first context token only (a row of -inf would be NaN). Built with a few tensor ops:
    each fed token is labelled with its choice, and tokens see equal labels at or before them."""
    context_width = max(len(q.context) for q in batch)
    labels = torch.full((len(batch), width), -1, dtype=torch.long)
    for row, choice_spans in enumerate(spans):
        for choice, (start, length) in enumerate(choice_spans):
            labels[row, start : start + length] = choice
    fed = torch.arange(width)
    own = (labels[:, :, None] == labels[:, None, :]) & (fed[None, :, None] >= fed[None, None, :])
    own &= labels[:, :, None] >= 0
    lengths = torch.tensor([len(q.context) for q in batch])
    context = torch.arange(context_width)[None, None, :] < lengths[:, None, None]
    context = context.expand(-1, width, -1).clone()
    context[:, :, 0] = True
    allowed = torch.cat([context, own], dim=2)
    mask = torch.zeros(allowed.shape, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def _padded(torch: Any, rows: list[list[int]], fill: int, device: Any) -> Any:
    width = max(1, max(map(len, rows)))
    out = torch.full((len(rows), width), fill, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out.to(device)


class SharedContextScorer:
    """Scores batches of :class:`Question` on an HFLM's model (torch only inside)."""

    def __init__(self, lm: Any) -> None:
        import torch

        self.torch = torch
        self.lm = lm
        self.model = lm.model
        self.dtype = next(self.model.parameters()).dtype
        self.device = lm.device
        self.pad = int(lm.tokenizer.pad_token_id or 0)
        # transformers 5.2x renamed forward's past_key_values to cache (the old name warns)
        accepted = inspect.signature(self.model.forward).parameters
        self.cache_keyword = "cache" if "cache" in accepted else "past_key_values"

    def _forward(self, **kwargs: Any) -> Any:
        torch = self.torch
        with torch.no_grad():
            return self.model(**kwargs)

    def _context_pass(self, batch: Sequence[Question]) -> tuple[Any, Any]:
        """Log-probabilities at each context's last position [batch, vocab] and the KV cache."""
        torch = self.torch
        from transformers import DynamicCache

        contexts = _padded(torch, [list(q.context) for q in batch], self.pad, self.device)
        last = torch.tensor([[len(q.context) - 1] for q in batch], device=self.device)
        cache = DynamicCache(config=self.model.config)
        out = self._forward(
            input_ids=contexts, use_cache=True, logits_to_keep=last, **{self.cache_keyword: cache}
        )
        logits = out.logits
        if logits.shape[1] != 1:  # a model that ignores logits_to_keep: all positions came back
            logits = logits.gather(1, last[:, :, None].expand(-1, -1, logits.shape[-1]))
        return logits[:, 0], cache  # filled in place by the forward pass

    def score(self, batch: Sequence[Question]) -> list[list[tuple[float, bool]]]:
        """(log-likelihood, greedy) of every choice of every question of ``batch``."""
        torch = self.torch
        first, cache = self._context_pass(batch)
        tokens, positions, spans = continuation_layout(batch)
        logits = first  # [questions, vocab], then every fed token's row after them
        if max(map(len, tokens)):
            ids = _padded(torch, tokens, self.pad, self.device)
            where = _padded(torch, [p or [0] for p in positions], 0, self.device)
            mask = _attention_mask(torch, batch, spans, ids.shape[1], self.dtype).to(self.device)
            rest = self._forward(
                input_ids=ids,
                attention_mask=mask,
                position_ids=where,
                use_cache=True,
                **{self.cache_keyword: cache},
            ).logits
            logits = torch.cat([first, rest.reshape(-1, rest.shape[-1])])
        rows, targets, sizes = _scored_rows(batch, spans, len(batch), max(1, max(map(len, tokens))))
        return self._sums(logits, rows, targets, sizes, [len(q.continuations) for q in batch])

    def _sums(
        self, logits: Any, rows: list[int], targets: list[int], sizes: list[int], per: list[int]
    ) -> list[list[tuple[float, bool]]]:
        """Every choice scored as lm-eval scores it, in one go: log_softmax over the vocabulary
        in ``softmax_dtype``, the continuation's tokens gathered and summed, greedy when every
        position's argmax is the continuation's token."""
        torch = self.torch
        index = torch.tensor(rows, device=logits.device)
        target = torch.tensor(targets, device=logits.device)
        logprobs = torch.nn.functional.log_softmax(
            logits[index], dim=-1, dtype=self.lm.softmax_dtype
        )
        picked = logprobs.gather(1, target[:, None])[:, 0].tolist()
        hits = (logprobs.argmax(dim=-1) == target).tolist()
        answers, at = [], 0
        for size in sizes:
            answers.append((float(sum(picked[at : at + size])), all(hits[at : at + size])))
            at += size
        grouped, at = [], 0
        for count in per:
            grouped.append(answers[at : at + count])
            at += count
        return grouped


def _scored_rows(
    batch: Sequence[Question], spans: list[list[tuple[int, int]]], questions: int, width: int
) -> tuple[list[int], list[int], list[int]]:
    """For every choice token, in order: its row among [context-pass rows (one per question);
    continuation-pass rows, row-major], the token it must predict, and each choice's length.
    A choice's first token is predicted by its context's last position, token t > 0 by the
    continuation pass at the choice's (t - 1)-th fed token."""
    rows: list[int] = []
    targets: list[int] = []
    sizes: list[int] = []
    for row, (question, choice_spans) in enumerate(zip(batch, spans, strict=True)):
        for (start, length), continuation in zip(choice_spans, question.continuations, strict=True):
            rows.append(row)
            rows += range(questions + row * width + start, questions + row * width + start + length)
            targets += continuation
            sizes.append(len(continuation))
    return rows, targets, sizes


def _unsupported(lm: Any) -> str | None:
    """Why this HFLM's model cannot take the shared path at all (None: it may; the self-check
    on the first batch has the last word)."""
    config = getattr(lm.model, "config", None)
    if lm.backend != "causal" or getattr(config, "is_encoder_decoder", False):
        return "not a decoder-only model"
    if getattr(lm, "mixed_precision_dtype", None) is not None:
        return "mixed_precision_dtype autocasts the forward pass"
    window = getattr(config, "sliding_window", None)
    if isinstance(window, int) and 0 < window < lm.max_length:
        return "sliding-window attention"
    if type(lm.model).__name__.startswith("Peft"):
        return "a PEFT adapter (prompt tuning adds virtual tokens)"
    if not getattr(lm.model, "_supports_default_dynamic_cache", lambda: True)():
        return "no dynamic KV cache"
    return None


def _tolerance(dtype: Any) -> float:
    return CHECK_TOLERANCE.get(str(dtype).removeprefix("torch."), CHECK_TOLERANCE_LOW_PRECISION)


class SharedContextMixin:
    """Mixed into lm-eval's HFLM (before it): multiple-choice questions scored on one pass over
    their context; everything else is HFLM's."""

    scoring = SHARED_CONTEXT
    # What the mixin reads from HFLM (declared for the type checker; HFLM defines them).
    max_length: int
    batch_size: int | str
    cache_hook: Any
    model: Any
    _detect_batch_size: Callable[..., int]

    def _lmeval(self) -> Any:
        """HFLM's own methods (the next class in the MRO)."""
        return super()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: per task, how many log-likelihood requests each path scored
        self.scored_by: dict[str, dict[str, int]] = {}
        self._paths: list[str] | None = None
        self._checked = False
        self.disabled: str | None = _unsupported(self)

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> Any:
        self._paths = None
        answers = self._lmeval().loglikelihood(requests, disable_tqdm=disable_tqdm)
        paths = self._paths or [LMEVAL] * len(requests)
        for request, path in zip(requests, paths, strict=True):
            counts = self.scored_by.setdefault(str(request.task_name), {})
            counts[path] = counts.get(path, 0) + 1
        return answers

    def _loglikelihood_tokens(
        self,
        requests: list[TokenRequest],
        disable_tqdm: bool = False,
        override_bs: int | None = None,
    ) -> list[tuple[float, bool]]:
        lmeval = self._lmeval()._loglikelihood_tokens
        if override_bs is not None or self.disabled:  # rolling windows come with override_bs
            whole: list[tuple[float, bool]] = lmeval(
                requests, disable_tqdm=disable_tqdm, override_bs=override_bs
            )
            return whole
        questions, _ = plan(requests, self.max_length)
        if questions and not self._checked:
            self._self_check(requests, questions[0])
        if self.disabled:
            questions = []
        answers: list[tuple[float, bool] | None] = [None] * len(requests)
        paths = [LMEVAL] * len(requests)
        if questions:
            self._score_shared(requests, questions, answers, paths)
        rest = [i for i, answer in enumerate(answers) if answer is None]
        if rest:
            scored = lmeval([requests[i] for i in rest], disable_tqdm=True)
            for index, answer in zip(rest, scored, strict=True):
                answers[index] = answer
        self._paths = paths
        return [answer for answer in answers if answer is not None]

    def _batch_size(self, requests: list[TokenRequest], questions: Sequence[Question]) -> int:
        if isinstance(self.batch_size, int):
            return self.batch_size
        # "auto" (GPUs): lm-eval's probe on the longest question, context + longest choice
        longest = questions[0]
        choice = sorted(longest.continuations, key=len)[-1]
        return int(self._detect_batch_size([(None, list(longest.context), list(choice))], 0))

    def _score_shared(
        self,
        requests: list[TokenRequest],
        questions: Sequence[Question],
        answers: list[tuple[float, bool] | None],
        paths: list[str],
    ) -> None:
        scorer = SharedContextScorer(self)
        for batch in batches(questions, self._batch_size(requests, questions)):
            for question, scored in zip(batch, scorer.score(batch), strict=True):
                for index, answer in zip(question.members, scored, strict=True):
                    answers[index] = answer
                    paths[index] = SHARED_CONTEXT
                    self.cache_hook.add_partial("loglikelihood", requests[index][0], answer)

    def _self_check(self, requests: list[TokenRequest], question: Question) -> None:
        """Score one question both ways (lm-eval's answers not reported to the cache hook:
        the question is scored again with its batch); a model whose answers differ is
        scored by lm-eval from then on."""
        self._checked = True
        unreported = [(None, *requests[i][1:]) for i in question.members]
        expected = self._lmeval()._loglikelihood_tokens(unreported, disable_tqdm=True)
        try:
            got = SharedContextScorer(self).score([question])[0]
            error = max(abs(a[0] - b[0]) for a, b in zip(got, expected, strict=True))
        except Exception as exc:  # any model that cannot take a cache + 4-D mask
            self.disabled = f"the shared-context pass failed ({type(exc).__name__}: {exc})"
        else:
            tolerance = _tolerance(next(self.model.parameters()).dtype)
            if error > tolerance:
                self.disabled = f"its log-likelihoods differ from lm-eval's by {error:.2g}"
        if self.disabled:
            log.warning("shared-context scoring is off for this model: %s", self.disabled)


@functools.cache
def shared_context_class() -> type:
    """HFLM with shared-context log-likelihood scoring (built on first use: lm-eval is heavy)."""
    from lm_eval.models.huggingface import HFLM

    return type("SharedContextHFLM", (SharedContextMixin, HFLM), {})


def scoring_of(lm: Any) -> dict[str, str]:
    """Per task, the path that scored its log-likelihood requests: ``shared-context``,
    ``lmeval``, or ``shared-context+lmeval`` when the fallback rule split them."""
    counts: dict[str, dict[str, int]] = getattr(lm, "scored_by", {})
    return {task: "+".join(p for p in SCORING_PATHS if by.get(p)) for task, by in counts.items()}


def hflm_class(scoring: str) -> type:
    """The HFLM class for ``[model] scoring``: lm-eval's own, or the shared-context one."""
    if scoring == SHARED_CONTEXT:
        return shared_context_class()
    from lm_eval.models.huggingface import HFLM

    return HFLM  # type: ignore[no-any-return]
