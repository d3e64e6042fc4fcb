"""Fixed, seeded, stratified subsets of a task's documents (never lm-eval's first-N ``limit``).

The order inside each stratum comes from a keyed hash of (seed, task, doc index), not from
Python's ``random``: the same seed picks the same documents on every machine and Python version,
so a PR run and its baseline are compared on the same examples.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence


def _rank(seed: int, salt: str, index: int) -> bytes:
    return hashlib.blake2b(f"{seed}\0{salt}\0{index}".encode(), digest_size=8).digest()


def allocate(sizes: Sequence[int], k: int) -> list[int]:
    """Split ``k`` across strata in proportion to their sizes (largest remainder, capped)."""
    total = sum(sizes)
    if k >= total:
        return list(sizes)
    shares = [k * size / total for size in sizes]
    counts = [min(int(share), size) for share, size in zip(shares, sizes, strict=True)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (counts[i] - shares[i], i))
    left = k - sum(counts)
    while left > 0:
        for i in by_remainder:
            if left and counts[i] < sizes[i]:
                counts[i] += 1
                left -= 1
    return counts


def stratified_subset(strata: Sequence[str | None], k: int, seed: int, salt: str) -> list[int]:
    """Indices of ``k`` documents, balanced over ``strata`` (one label per document), sorted."""
    if k <= 0:
        raise ValueError(f"sample size must be positive, got {k}")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index, stratum in enumerate(strata):
        groups[stratum].append(index)
    keys = sorted(groups, key=lambda s: (s is None, str(s)))
    counts = allocate([len(groups[key]) for key in keys], k)
    chosen: list[int] = []
    for key, count in zip(keys, counts, strict=True):
        ranked = sorted(groups[key], key=lambda i: _rank(seed, salt, i))
        chosen.extend(ranked[:count])
    return sorted(chosen)


def shard(chosen: Sequence[int], strata: Sequence[str | None], k: int, n: int) -> list[int]:
    """Shard ``k`` of ``n`` (1-based) of the documents ``chosen`` (indices into ``strata``):
    each stratum dealt round-robin across the shards, so every shard holds about 1/n of every
    stratum. Deterministic; the n shards are disjoint and together are ``chosen``."""
    if not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: expected 1 <= K <= N")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index in chosen:
        groups[strata[index]].append(index)
    dealt = [i for key in sorted(groups, key=lambda s: (s is None, str(s))) for i in groups[key]]
    return sorted(dealt[k - 1 :: n])


def look_order(
    strata: Sequence[str | None], seed: int, salt: str, chosen: Sequence[int] | None = None
) -> list[int]:
    """The documents ``chosen`` (default: all; indices into ``strata``) in the order a sequential
    run evaluates them, so that every prefix (every look) is itself a stratified sample.

    Inside a stratum the order is the seeded hash order of :func:`stratified_subset`; the strata
    are interleaved in proportion to their sizes: the i-th document (0-based) of a stratum of m
    documents is due at (i + 1/2) / m, the strata's due times merged (ties by stratum name). Any
    prefix then holds each stratum's proportional share to within about one document.
    """
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index in range(len(strata)) if chosen is None else chosen:
        groups[strata[index]].append(index)
    keys = sorted(groups, key=lambda s: (s is None, str(s)))
    due: list[tuple[float, int, int]] = []
    for position, key in enumerate(keys):
        ranked = sorted(groups[key], key=lambda i: _rank(seed, salt, i))
        size = len(ranked)
        due.extend(((i + 0.5) / size, position, index) for i, index in enumerate(ranked))
    return [index for _, _, index in sorted(due)]


def look_sizes(n_docs: int, looks: Sequence[float]) -> tuple[int, ...]:
    """Documents evaluated by the end of each look of a sequential run: ``ceil(fraction * n)``,
    looks that add no document dropped (a small task has fewer looks)."""
    sizes: list[int] = []
    for fraction in looks:
        size = min(n_docs, max(1, math.ceil(fraction * n_docs - 1e-9)))
        if not sizes or size > sizes[-1]:
            sizes.append(size)
    return tuple(sizes)


def look_documents(
    chosen: Sequence[int], strata: Sequence[str | None], seed: int, salt: str, look: int,
    looks: Sequence[float],
) -> list[int]:  # fmt: skip
    """The documents look ``look`` (1-based) of a sequential run adds to the ones before it:
    its slice of :func:`look_order` over ``chosen``, sorted (empty past a small task's last
    look). Every backend that evaluates look by look deals them this way."""
    if not chosen:
        return []
    order = look_order(strata, seed, salt, chosen)
    sizes = look_sizes(len(order), looks)
    if look > len(sizes):
        return []
    start = sizes[look - 2] if look > 1 else 0
    return sorted(order[start : sizes[look - 1]])
