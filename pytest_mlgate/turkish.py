"""Turkish text rules: casing (İ/i, I/ı), folding to ASCII, and the ``exact_match_tr`` metric.

Self-contained (the standard library only): ``mlgate tasks --export`` copies this file next to
the exported task YAMLs, whose ``metric: !function mlgate_turkish.exact_match_tr`` then works
with plain ``lm_eval`` too, without pytest-mlgate installed.

Python's own ``str.lower()`` maps ``I`` to ``i`` and ``İ`` to ``i̇`` (i + a combining dot):
wrong for Turkish, where dotted and dotless i are two letters (İ/i and I/ı).
"""

from __future__ import annotations

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
