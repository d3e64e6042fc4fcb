"""The personal-data detector scored on the independent seeded corpus (tests/data)."""

from __future__ import annotations

import random

import pytest

from pytest_mlgate.text import pii
from tests.data.pii_independent import (
    KINDS,
    build_corpus,
    iban_mod97,
    is_valid_tckn,
    luhn_valid,
    make_card,
    make_tckn,
    passes_a_check,
    score,
)

SEEDS = (20261203, 7)  # the corpus the benchmark prints, and a second draw of the same generator


@pytest.mark.parametrize("seed", SEEDS)
def test_every_planted_value_is_found_and_fully_masked_and_no_lookalike_is(seed: int) -> None:
    cases = build_corpus(seed)
    result = score(pii.find, pii.redact, cases)
    problems = "\n".join(
        f"{p.what} {p.kind} [{p.layout}] {p.value!r} in {p.text!r}" for p in result.problems
    )
    assert {k.kind for k in result.kinds} == set(KINDS), (
        "a finding of a kind the corpus does not know"
    )
    for kind in result.kinds:
        assert kind.planted >= 60, f"{kind.kind}: the corpus plants too few values to measure"
        assert kind.precision == 1.0, problems
        assert kind.recall == 1.0, problems
        assert kind.masked_rate == 1.0, problems


def test_the_corpus_is_large_and_its_values_and_lookalikes_are_what_they_claim() -> None:
    cases = build_corpus()
    negatives = [c for c in cases if not c.planted]
    assert len(cases) >= 500
    assert len(negatives) >= 180
    assert all(c.lookalike and not passes_a_check(c.lookalike) for c in negatives)
    for case in cases:
        for value in case.planted:
            assert case.text[value.start : value.end] == value.text
            compact = "".join(ch for ch in value.text if ch.isalnum())
            if value.kind == "tckn":
                assert is_valid_tckn(compact)
            elif value.kind == "iban":
                assert len(compact) == 26
                assert iban_mod97(compact) == 1
            elif value.kind == "card":
                assert luhn_valid(compact)


def test_the_scorer_counts_a_partly_masked_value_and_a_false_positive() -> None:
    """The scorer itself can fail: a detector that masks only the digits after the first four
    of every planted value, and one that flags every digit, are scored below 1."""
    cases = build_corpus()[:40] + build_corpus()[-40:]

    def half_find(text: str) -> list[pii.Finding]:
        found = pii.find(text)
        return [pii.Finding(f.kind, f.start + 4, f.end, f.text[4:]) for f in found]

    def half_redact(text: str) -> str:
        return pii.masked(text, half_find(text))

    partial = score(half_find, half_redact, cases)
    assert all(k.masked_rate < 1.0 for k in partial.kinds if k.planted)

    def every_digit(text: str) -> list[pii.Finding]:
        return [pii.Finding("TCKN", i, i + 1, c) for i, c in enumerate(text) if c.isdigit()]

    greedy = score(every_digit, lambda t: pii.masked(t, every_digit(t)), cases)
    assert next(k for k in greedy.kinds if k.kind == "tckn").precision < 1.0


@pytest.mark.parametrize("seed", range(5))
def test_the_layouts_the_corpus_found_missed_are_masked_whole(seed: int) -> None:
    """Each miss category the corpus found in the rewritten detector, on fresh valid numbers."""
    rng = random.Random(seed)
    card = make_card(rng)[1]
    while len(card) != 16:
        card = make_card(rng)[1]
    spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    tckn = make_tckn(rng)
    cases = {
        f"Kart No: {spaced} 04/28": "Kart No: [CARD] 04/28",  # expiry after the number
        f"kartım ({spaced} 08/2027) bloke": "kartım ([CARD] 08/2027) bloke",
        f"{spaced} 14:30 işlem": "[CARD] 14:30 işlem",  # a time after it
        f"2026-11-30,{spaced},Ayşe": "2026-11-30,[CARD],Ayşe",  # a CSV field after a date
        f"2026-11-30,{card},Ayşe": "2026-11-30,[CARD],Ayşe",
        f"Ahmet,30,{spaced},onay": "Ahmet,30,[CARD],onay",
        f"Kart: {spaced[:9]}\n{spaced[10:]} tamam": "Kart: [CARD] tamam",  # wrapped at a line end
        f"TC {tckn[:3]} {tckn[3:6]}\n{tckn[6:9]} {tckn[9:]}": "TC [TCKN]",
        "Tel: (0212) 345 67 89/90": "Tel: [PHONE]",  # a second line's last digits
        "Tel: 0531 724 65 03/04": "Tel: [PHONE]",
    }
    for text, redacted in cases.items():
        assert pii.redact(text) == redacted, text


def test_the_fixes_keep_their_lookalikes_apart() -> None:
    """A decimal comma, a date after a short number, and two numbers on two lines stay apart."""
    rng = random.Random(3)
    tckn = make_tckn(rng)
    assert pii.redact(f"3,{tckn} ve 1,234,567") == f"3,{tckn} ve 1,234,567"  # a decimal
    assert pii.redact("Sipariş 12345 12/27 tarihinde") == "Sipariş 12345 12/27 tarihinde"
    assert pii.redact("0532 123 45\n67 adet") == "0532 123 45\n67 adet"  # no phone across lines
    assert pii.redact(f"{tckn}\n{tckn}") == "[TCKN]\n[TCKN]"
