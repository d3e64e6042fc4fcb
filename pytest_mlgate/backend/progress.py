"""Progress of an lm-eval evaluation, counted request by request, without tqdm bars.

lm-eval batches every task's requests of one type (log-likelihood, generation) into one call
of the model; the model reports each answered request to its cache hook. Counting there gives
done/total per request type; the bars lm-eval and HFLM would draw are turned off (they would
land in pytest's captured output).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from pytest_mlgate.backend import Progress
from pytest_mlgate.results import Throughput

REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until")


class _CountingHook:
    """Stands in for lm-eval's cache hook: told of every answered request."""

    def __init__(self, report: Progress, totals: dict[str, int]) -> None:
        self.report = report
        self.totals = totals
        self.done: dict[str, int] = {}

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        self.done[attr] = self.done.get(attr, 0) + 1
        total = self.totals.get(attr, 0)
        if total:
            self.report(attr, min(self.done[attr], total), total)


def _tokens(lm: Any, name: str, requests: list[Any], answers: Any) -> int:
    """Tokens of one call: those scored (log-likelihood: context + continuation; rolling: the
    text) or, for generation, those generated. 0 when the model has no tokenizer to ask."""
    encode = getattr(lm, "tok_encode", None)
    if encode is None:
        return 0
    try:
        if name == "generate_until":
            return sum(len(encode(str(answer))) for answer in answers or [])
        return sum(len(encode(str(piece))) for req in requests for piece in tuple(req.args)[:2])
    except Exception:  # a model class whose requests look otherwise: tokens unknown
        return 0


def _without_bars(
    method: Callable[..., Any], requests: list[Any], *args: Any, **kwargs: Any
) -> Any:
    """``method(requests, ...)`` with its tqdm bar off, where it takes ``disable_tqdm``."""
    try:
        return method(requests, *args, **kwargs, disable_tqdm=True)
    except TypeError as exc:  # a model class whose method takes no disable_tqdm
        if "disable_tqdm" not in str(exc):
            raise
        return method(requests, *args, **kwargs)


@contextlib.contextmanager
def counted(
    lm: Any,
    report: Progress | None,
    meter: dict[str, Throughput] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[None]:
    """While evaluating: each request type's total is known when lm-eval hands it to the model,
    each answer is counted as the model reports it; the model's own bars are off. ``meter``
    receives each request type's throughput (requests, tokens, seconds by ``clock``)."""
    saved = {name: getattr(lm, name) for name in REQUEST_TYPES if hasattr(lm, name)}
    own = {name for name in saved if name in vars(lm)}  # set on the instance already
    totals: dict[str, int] = {}
    hook = _CountingHook(report or (lambda kind, done, total: None), totals)
    previous_hook = getattr(lm, "cache_hook", None)

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
            totals[name] = len(requests)
            hook.done[name] = 0
            hook.report(name, 0, len(requests))
            started = clock()
            answers = _without_bars(method, requests, *args, **kwargs)
            seconds = clock() - started
            hook.report(name, len(requests), len(requests))  # some types report only at the end
            if meter is not None:
                tokens = _tokens(lm, name, requests, answers)
                figure = Throughput(name, len(requests), tokens, seconds)
                meter[name] = meter[name].plus(figure) if name in meter else figure
            return answers

        return call

    for name, method in saved.items():
        setattr(lm, name, wrap(name, method))
    if previous_hook is not None:
        lm.cache_hook = hook
    try:
        with quiet_task_building():
            yield
    finally:
        for name, method in saved.items():
            if name in own:
                setattr(lm, name, method)
            else:
                delattr(lm, name)  # the class's method is back
        if previous_hook is not None:
            lm.cache_hook = previous_hook


@contextlib.contextmanager
def quiet_task_building() -> Iterator[None]:
    """lm-eval draws a bar while it builds each task's requests: not in pytest's output."""
    from lm_eval.api import task as task_module

    bar = task_module.tqdm
    task_module.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        task_module.tqdm = bar
