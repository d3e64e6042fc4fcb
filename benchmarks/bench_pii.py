"""Benchmark of the personal-data detector: a seeded corpus scored per kind; adversarial timings.

    python -m benchmarks.bench_pii [--seed 2026] [--no-timings] [--detector MODULE]
    PYTHONPATH=/path/to/old/checkout python benchmarks/bench_pii.py --detector pytest_mlgate.pii

The corpus: Turkish sentences of the kinds a model answers with (a customer record, a payment
instruction, a signature, a support reply), each holding one planted value in one of the layouts
people write it in (solid, grouped by 2-4 with spaces, non-breaking spaces, dashes or dots, the
IBAN's ``TR`` apart or in lower case or wrapped, a phone in parentheses, an e-mail address with
Turkish letters), and sentences holding only look-alikes (dates, prices, ISBNs, order numbers,
wrong check digits, version strings, times, IP addresses, 10- and 12-digit numbers, service
numbers). Its templates and layouts are written apart from tests/test_pii*.py.

Printed: per kind the planted count n, precision (findings of that kind that cover a planted
value), recall (planted values any finding touches) and fully masked (planted values none of whose
letters or digits is left outside a finding); then the time of one redaction of 100,000 characters
of digits, letters, base64 and ``a@a.``, its growth from 20,000 to 200,000 characters (linear: 10),
and a 1 MB mixed text. ``--detector`` scores another detector module with the same ``find(text)``
(an older checkout's ``pytest_mlgate.pii``): run this file as a script then, so that checkout's
package is the one imported.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class _Finding(Protocol):
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    text: str
    kind: str | None  #: what was planted, None for a look-alike sentence
    start: int = 0
    end: int = 0


# --- planted values ----------------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _tckn(rng: random.Random) -> str:
    first = [rng.randrange(1, 10), *(rng.randrange(10) for _ in range(8))]
    odd, even = sum(first[0::2]), sum(first[1::2])
    tenth = (7 * odd - even) % 10
    return "".join(map(str, first)) + str(tenth) + str((sum(first) + tenth) % 10)


def _mod97_check(bban: str) -> str:
    return f"{98 - int(bban + '292700') % 97:02d}"


def _luhn(body: str) -> str:
    """``body`` and its Luhn check digit."""
    digits = [int(c) for c in reversed(body)]
    total = sum(sum(divmod(2 * d, 10)) if k % 2 == 0 else d for k, d in enumerate(digits))
    return body + str((10 - total % 10) % 10)


def _grouped(value: str, sizes: Sequence[int], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(value[pos : pos + size])
        pos += size
    return sep.join(parts)


SEPARATORS = (" ", " ", "-", ".", "\u00a0", "\u202f", "\u2007")


def tckn_value(rng: random.Random) -> str:
    value = _tckn(rng)
    layout = rng.choice(("solid", "solid", "3332", "443", "344", "2333"))
    if layout == "solid":
        return value
    return _grouped(value, [int(c) for c in layout], rng.choice(SEPARATORS))


def iban_value(rng: random.Random) -> str:
    bban = _digits(rng, 5) + "0" + _digits(rng, 16)
    iban = "TR" + _mod97_check(bban) + bban
    layout = rng.choice(("solid", "fours", "fours", "apart", "lower", "nbsp", "dash", "wrapped"))
    fours = " ".join(iban[k : k + 4] for k in range(0, 26, 4))
    return {
        "solid": iban,
        "fours": fours,
        "apart": "TR " + fours[2:],
        "lower": rng.choice((iban, fours)).lower(),
        "nbsp": fours.replace(" ", "\u00a0"),
        "dash": fours.replace(" ", "-"),
        "wrapped": fours[:14] + "\n" + fours[15:],
    }[layout]


def phone_value(rng: random.Random) -> str:
    area = rng.choice(("532", "533", "542", "505", "555", "212", "216", "312", "232", "324"))
    sub = str(rng.randrange(2, 10)) + _digits(rng, 6)
    sep = rng.choice((" ", " ", "-", ".", "\u00a0"))
    rest = sep.join((sub[:3], sub[3:5], sub[5:]))
    return rng.choice(
        (
            f"0{area}{sep}{rest}",
            f"0{area}{sub}",
            f"+90 {area} {rest}",
            f"+90{area}{sub}",
            f"0 ({area}) {rest}",
            f"({area}) {rest}",
            f"0090 {area} {rest}",
            f"+90 ({area}) {rest}",
            f"0{area} {sub[:3]} {sub[3:]}",
        )
    )


_TR_LETTERS = "abcçdefgğhıijklmnoöprsştuüvyz"
_NAMES = ("ayşe", "gülşen", "çağrı", "ılgın", "özgür", "şükrü", "ümit", "mehmet", "zeynep", "can")
_DOMAINS = ("şirket.com.tr", "ılık.org", "örnek.com", "posta.net", "belediye.gov.tr", "iş.com")


def email_value(rng: random.Random) -> str:
    first, last = rng.choice(_NAMES), rng.choice(_NAMES)
    local = rng.choice((first, f"{first}.{last}", f"{first}_{last}", f"{first[0]}.{last}"))
    if rng.random() < 0.2:
        local += str(rng.randrange(1, 100))
    domain = rng.choice(_DOMAINS)
    address = f"{local}@{domain}"
    return address.upper() if rng.random() < 0.1 else address


_ISSUERS = (("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("9792", 16))


def card_value(rng: random.Random) -> str:
    prefix, length = rng.choice(_ISSUERS)
    number = _luhn(prefix + _digits(rng, length - len(prefix) - 1))
    sizes = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    layout = rng.choice(("solid", "grouped", "grouped", "dash"))
    if layout == "solid":
        return number
    return _grouped(number, sizes, "-" if layout == "dash" else rng.choice((" ", "\u00a0")))


PLANTED: dict[str, tuple[Callable[[random.Random], str], tuple[str, ...]]] = {
    "TCKN": (
        tckn_value,
        (
            "Müşterinin T.C. kimlik numarası {} olarak sisteme girildi.",
            "Kimlik no: {}",
            "Başvuru sahibinin TCKN bilgisi ({}) doğrulandı.",
            "Lütfen {} numaralı kimlik kartının fotokopisini ekleyin.",
            "TC kimlik numaram {}, doğum yılım 1987.",
        ),
    ),
    "IBAN": (
        iban_value,
        (
            "Ödemeyi {} numaralı hesaba yapabilirsiniz.",
            "IBAN: {}",
            "Kira için IBAN numaram şu: {}. Açıklamaya adınızı yazın.",
            "Alıcı: Ayşe Kılıç, IBAN {}, Ziraat Bankası.",
        ),
    ),
    "PHONE": (
        phone_value,
        (
            "Bana {} numarasından ulaşabilirsiniz.",
            "Tel: {}",
            "Müşteri hizmetleri yerine doğrudan {} hattını arayın.",
            "Cep telefonu ({}) kayıtlara eklendi.",
        ),
    ),
    "EMAIL": (
        email_value,
        (
            "Belgeleri {} adresine gönderin.",
            "E-posta: {}",
            "Sorularınız için {} ile iletişime geçin.",
            "Yanıtı <{}> adresine ilettim.",
        ),
    ),
    "CARD": (
        card_value,
        (
            "Kart numarası {} olan kartınız bloke edildi.",
            "Ödeme {} numaralı kredi kartından alındı.",
            "Kart: {}, son kullanma tarihi 09/27.",
        ),
    ),
}


# --- look-alikes -------------------------------------------------------------------------------


def _look_alike(rng: random.Random) -> str:
    value = _tckn(rng)
    bad_tckn = value[:-1] + str((int(value[-1]) + 3) % 10)
    bban = _digits(rng, 5) + "0" + _digits(rng, 16)
    check = int(_mod97_check(bban))
    bad_iban = f"TR{(check + 1) % 97:02d}{bban}"
    card = _luhn("4" + _digits(rng, 14))
    bad_card = card[:-1] + str((int(card[-1]) + 5) % 10)
    return rng.choice(
        (
            f"Toplantı {rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}.2025 tarihinde.",
            f"Fatura tarihi {rng.randrange(1, 29)}/{rng.randrange(1, 13)}/2024, saat 14:30.",
            f"Fiyatı {rng.randrange(1, 999)}.{_digits(rng, 3)}.{_digits(rng, 3)} TL oldu.",
            f"Toplam ₺{rng.randrange(1, 99)}.{_digits(rng, 3)},{_digits(rng, 2)} ödendi.",
            f"Kitabın ISBN numarası 978-605-{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 1)}.",
            f"Sipariş numaranız {_digits(rng, 14)}.",
            f"Sipariş no SP-2024-{_digits(rng, 6)} kargoya verildi.",
            f"Kimlik numarası {bad_tckn} hatalı görünüyor.",
            f"Girilen numara {_grouped(bad_tckn, (3, 3, 3, 2), ' ')} geçersiz.",
            f"IBAN {bad_iban} doğrulanamadı.",
            f"Kart {_grouped(bad_card, (4, 4, 4, 4), ' ')} reddedildi.",
            f"Uygulama sürümü {rng.randrange(1, 9)}.{rng.randrange(30)}.{rng.randrange(200)}.",
            f"Sunucu {rng.randrange(10, 255)}.{rng.randrange(255)}.{rng.randrange(9)}.1 adresinde.",
            f"Mesai {rng.randrange(8, 10)}:00-{rng.randrange(17, 19)}:30 arasıdır.",
            f"Dosya numarası {_digits(rng, 10)} ile kayıtlı.",
            f"Takip kodu {_digits(rng, 12)}.",
            f"Çağrı merkezi: 444 {_digits(rng, 1)} {_digits(rng, 3)}.",
            f"Ücretsiz hat 0800 {_digits(rng, 3)} {_digits(rng, 2)} {_digits(rng, 2)}.",
            f"Kurumsal hat 0850 {_digits(rng, 3)} {_digits(rng, 2)} {_digits(rng, 2)}.",
            "Almanya IBAN örneği DE89370400440532013000 bizim değil.",
            "Twitter hesabımız @belediye_resmi, e-posta için ali(at)ornek.com yazın.",
        )
    )


def corpus(seed: int, planted: int = 350, look_alikes: int = 190) -> list[Sentence]:
    rng = random.Random(seed)
    sentences = []
    kinds = list(PLANTED)
    for k in range(planted):
        kind = kinds[k % len(kinds)]
        make, templates = PLANTED[kind]
        value, template = make(rng), rng.choice(templates)
        before = template.index("{}")
        text = template.format(value)
        sentences.append(Sentence(text, kind, before, before + len(value)))
    sentences += [Sentence(_look_alike(rng), None) for _ in range(look_alikes)]
    rng.shuffle(sentences)
    return sentences


# --- scoring -----------------------------------------------------------------------------------


@dataclass
class Row:
    n: int = 0
    found: int = 0  #: planted values some finding touches
    masked: int = 0  #: planted values with no letter or digit left outside the findings
    hits: int = 0  #: findings of this kind that cover a planted value
    findings: int = 0  #: findings of this kind

    def line(self, kind: str) -> str:
        precision = self.hits / self.findings if self.findings else float("nan")
        recall = self.found / self.n if self.n else float("nan")
        masked = self.masked / self.n if self.n else float("nan")
        return f"| {kind} | {self.n} | {precision:.3f} | {recall:.3f} | {masked:.3f} |"


def score(find: Callable[[str], Sequence[Any]], sentences: Sequence[Sentence]) -> dict[str, Row]:
    rows = {kind: Row() for kind in [*PLANTED, "all"]}
    for sentence in sentences:
        findings: Sequence[_Finding] = find(sentence.text)
        for finding in findings:
            covers = sentence.kind is not None and (
                finding.start < sentence.end and sentence.start < finding.end
            )
            for row in (rows.setdefault(finding.kind, Row()), rows["all"]):
                row.findings += 1
                row.hits += covers
        if sentence.kind is None:
            continue
        value = range(sentence.start, sentence.end)
        touched = any(f.start < sentence.end and sentence.start < f.end for f in findings)
        readable = [
            k
            for k in value
            if sentence.text[k].isalnum() and not any(f.start <= k < f.end for f in findings)
        ]
        for row in (rows[sentence.kind], rows["all"]):
            row.n += 1
            row.found += touched
            row.masked += not readable
    return rows


def print_table(rows: dict[str, Row]) -> None:
    print("| kind | n | precision | recall | fully masked |")
    print("| --- | --- | --- | --- | --- |")
    for kind, row in rows.items():
        if row.n or row.findings:
            print(row.line(kind))


# --- timings -----------------------------------------------------------------------------------


def adversarial(kind: str, n: int) -> str:
    rng = random.Random(n)
    if kind == "digits":
        return _digits(rng, n)
    if kind == "letters":
        return "".join(rng.choice(_TR_LETTERS) for _ in range(n))
    if kind == "base64":
        return base64.b64encode(rng.randbytes(n)).decode()[:n]
    return ("a@a." * n)[:n]


def best_of_three(redact: Callable[[str], str], text: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        redact(text)
        times.append(time.perf_counter() - started)
    return min(times)


def print_timings(redact: Callable[[str], str], chars: int, seed: int) -> None:
    print(f"\n| input | {chars:,} chars (s) | 20k (s) | 200k (s) | 200k / 20k |")
    print("| --- | --- | --- | --- | --- |")
    for kind in ("digits", "letters", "base64", "a@a."):
        full = best_of_three(redact, adversarial(kind, chars))
        small = best_of_three(redact, adversarial(kind, 20_000))
        large = best_of_three(redact, adversarial(kind, 200_000))
        print(f"| {kind} | {full:.3f} | {small:.4f} | {large:.4f} | {large / small:.1f} |")
    text, sentences = "", corpus(seed)
    pieces, size = [], 0
    while size < 1_000_000:
        for sentence in sentences:
            pieces.append(sentence.text)
            size += len(sentence.text) + 1
    text = " ".join(pieces)[:1_000_000]
    print(f"| 1 MB mixed text ({len(text):,} chars) | {best_of_three(redact, text):.3f} | | | |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--detector", default="pytest_mlgate.text.pii")
    parser.add_argument("--no-timings", action="store_true")
    parser.add_argument("--timing-chars", type=int, default=100_000)
    args = parser.parse_args(argv)
    detector = importlib.import_module(args.detector)
    sentences = corpus(args.seed)
    planted = sum(s.kind is not None for s in sentences)
    print(
        f"{args.detector} ({detector.__file__}): {len(sentences)} sentences, "
        f"{planted} planted values, "
        f"{len(sentences) - planted} look-alike sentences (seed {args.seed})\n"
    )
    print_table(score(detector.find, sentences))
    if not args.no_timings:
        print_timings(detector.redact, args.timing_chars, args.seed)


if __name__ == "__main__":
    main()
