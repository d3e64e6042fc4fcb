"""Turkish text rules: casing (İ/i, I/ı), folding to ASCII, and the ``exact_match_tr`` metric.

Self-contained (the standard library only): ``mlgate tasks --export`` copies this file next to
the exported task YAMLs, whose ``metric: !function mlgate_turkish.exact_match_tr`` then works
with plain ``lm_eval`` too, without pytest-mlgate installed.

Python's own ``str.lower()`` maps ``I`` to ``i`` and ``İ`` to ``i̇`` (i + a combining dot):
wrong for Turkish, where dotted and dotless i are two letters (İ/i and I/ı).
"""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Sequence

_TO_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_TO_UPPER = str.maketrans({"i": "İ", "ı": "I"})
_TO_ASCII = str.maketrans(
    {
        "ç": "c", "Ç": "C", "ğ": "g", "Ğ": "G", "ı": "i", "İ": "I",
        "ö": "o", "Ö": "O", "ş": "s", "Ş": "S", "ü": "u", "Ü": "U",
        "â": "a", "Â": "A", "î": "i", "Î": "I", "û": "u", "Û": "U",
    }
)  # fmt: skip
_PUNCTUATION = set(string.punctuation) | {"’", "‘", "“", "”", "«", "»", "…", "–", "—"}


def lower(text: str) -> str:
    """Turkish lowercasing: İ→i, I→ı, then the usual rules for every other letter."""
    return text.translate(_TO_LOWER).lower()


def upper(text: str) -> str:
    """Turkish uppercasing: i→İ, ı→I."""
    return text.translate(_TO_UPPER).upper()


def fold_ascii(text: str) -> str:
    """Turkish letters as people type them without a Turkish keyboard: ş→s, ı→i, ğ→g, ..."""
    return text.translate(_TO_ASCII)


# The letter rows of a Turkish Q keyboard; a typo hits a key next to the one meant.
Q_ROWS = ("qwertyuıopğü", "asdfghjklşi", "zxcvbnmöç")


def _neighbours() -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for r, row in enumerate(Q_ROWS):
        for c, key in enumerate(row):
            near = found.setdefault(key, set())
            for dr, dc in ((0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)):
                if 0 <= r + dr < len(Q_ROWS) and 0 <= c + dc < len(Q_ROWS[r + dr]):
                    near.add(Q_ROWS[r + dr][c + dc])
    return {key: "".join(sorted(near)) for key, near in found.items()}


NEIGHBOURS = _neighbours()


def typo(text: str, rate: float, rng: random.Random) -> str:
    """Each letter, with probability ``rate``, typed as a neighbouring key (case kept)."""
    out = []
    for ch in text:
        key = lower(ch)
        if key in NEIGHBOURS and rng.random() < rate:
            hit = rng.choice(NEIGHBOURS[key])
            ch = upper(hit) if ch != key else hit
        out.append(ch)
    return "".join(out)


def perturb(text: str, kind: str, rate: float, rng: random.Random) -> str:
    """``text`` as a user might type it: folded to ASCII, upper or lower case, with typos."""
    if kind == "ascii":
        return fold_ascii(text)
    if kind == "upper":
        return upper(text)
    if kind == "lower":
        return lower(text)
    if kind == "typo":
        return typo(text, rate, rng)
    raise ValueError(f"unknown perturbation {kind!r}")


def normalize(text: str) -> str:
    """What ``exact_match_tr`` compares: NFC, Turkish lowercase, no punctuation, one space."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(" " if ch in _PUNCTUATION else ch for ch in lower(text))
    return " ".join(kept.split())


def exact_match_tr(references: Sequence[str], predictions: Sequence[str]) -> float:
    """1.0 when the prediction equals the reference after :func:`normalize`, else 0.0.

    The signature is lm-eval's for a metric function (``metric: !function ...`` in a task YAML):
    one reference and one prediction per call.
    """
    return float(normalize(str(predictions[0])) == normalize(str(references[0])))
