"""Seeded, stratified subsets: deterministic, balanced, never the first N."""

from __future__ import annotations

from collections import Counter

import pytest

from pytest_mlgate.sampling import allocate, stratified_subset


def test_same_seed_same_subset_other_seed_other_subset() -> None:
    strata = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    first = stratified_subset(strata, 20, seed=7, salt="task")
    assert first == stratified_subset(strata, 20, seed=7, salt="task")
    assert first != stratified_subset(strata, 20, seed=8, salt="task")
    assert first != list(range(20))  # not lm-eval's first-N limit


def test_subset_is_proportional_to_strata() -> None:
    strata = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    chosen = stratified_subset(strata, 20, seed=1, salt="t")
    assert len(chosen) == len(set(chosen)) == 20
    assert Counter(strata[i] for i in chosen) == {"a": 12, "b": 6, "c": 2}


def test_allocation_sums_to_k_and_respects_sizes() -> None:
    assert allocate([5, 5, 5], 7) in ([3, 2, 2], [2, 3, 2], [2, 2, 3])
    assert sum(allocate([1, 100, 3], 50)) == 50
    assert allocate([2, 2], 10) == [2, 2]


def test_zero_sample_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        stratified_subset(["a"], 0, seed=1, salt="t")
