"""Progress of an lm-eval evaluation, counted request by request, without tqdm bars.

lm-eval batches every task's requests of one type (log-likelihood, generation) into one call
of the model; the model reports each answered request to its cache hook. Counting there gives
done/total per request type; the bars lm-eval and HFLM would draw are turned off (they would
land in pytest's captured output).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from pytest_mlgate.backend import Progress

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


@contextlib.contextmanager
def counted(lm: Any, report: Progress | None) -> Iterator[None]:
    """While evaluating: each request type's total is known when lm-eval hands it to the model,
    each answer is counted as the model reports it; the model's own bars are off."""
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
            kwargs["disable_tqdm"] = True
            try:
                answers = method(requests, *args, **kwargs)
            except TypeError as exc:  # a model class whose method takes no disable_tqdm
                if "disable_tqdm" not in str(exc):
                    raise
                kwargs.pop("disable_tqdm")
                answers = method(requests, *args, **kwargs)
            hook.report(name, len(requests), len(requests))  # some types report only at the end
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
