"""Data parallel evaluation: ``pytest -m eval`` launched as N processes (``accelerate launch`` on
GPUs, ``torchrun`` anywhere) evaluates shard R+1 of N of every task's documents on rank R.

lm-eval's HFLM splits documents across ranks only when it loads the model itself from a path on
several CUDA devices; the plugin hands it a model object, so the plugin shards (the same
stratified shards as ``--mlgate-shard``) and gathers the per-example results itself, over a gloo
group (objects, not tensors: it works beside NCCL and on CPUs). Every rank receives the joined
run, so users' own ``@pytest.mark.eval`` tests see the whole results on every rank; rank 0
alone gates, records, caches and writes the reports.

A rank whose evaluation fails sends its error instead of results, and every rank fails with it;
a rank that dies leaves the others waiting at most ``$MLGATE_DIST_TIMEOUT`` seconds (default
300) before they fail too.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TIMEOUT_ENV = "MLGATE_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 300.0


def launched() -> tuple[int, int] | None:
    """(rank, world size) when a multi-process launcher started this process, else None."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return None
    return int(os.environ.get("RANK", "0") or 0), size


@dataclass
class Group:
    """The processes of one launch, for exchanging Python objects."""

    rank: int
    size: int
    _group: Any = None
    #: where ``say`` writes (the plugin passes one that gets past pytest's output capture)
    announce: Callable[[str], None] | None = None

    @classmethod
    def join(cls, rank: int, size: int) -> Group:
        import torch.distributed as dist

        timeout = dt.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT))
        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=timeout)
            group = None  # the default group is gloo
        else:  # accelerate (NCCL) set one up: objects go over a gloo group beside it
            group = dist.new_group(backend="gloo", timeout=timeout)
        return cls(dist.get_rank(), dist.get_world_size(), group)

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def broadcast(self, payload: object) -> object:
        """Rank 0's ``payload`` on every rank."""
        import torch.distributed as dist

        box = [payload if self.leader else None]
        dist.broadcast_object_list(box, src=0, group=self._group)
        return box[0]

    def gather(self, payload: object) -> list[object]:
        """Every rank's ``payload``, in rank order, on every rank."""
        import torch.distributed as dist

        found: list[object] = [None] * self.size
        dist.all_gather_object(found, payload, group=self._group)
        return found

    def say(self, text: str) -> None:
        line = f"mlgate: rank {self.rank} of {self.size}: {text}"
        if self.announce is not None:
            self.announce(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized() and self._group is None:
            dist.destroy_process_group()
