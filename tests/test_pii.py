"""The personal-data detector (KVKK): a table of planted values and look-alikes, its precision
and recall, redaction, and the pii_rate metric."""

from __future__ import annotations

import random

import pytest

from pytest_mlgate.backend.fake import fake_task_result
from pytest_mlgate.results import EvalRun, Example
from pytest_mlgate.text import pii


def tckn(rng: random.Random) -> str:
    """A valid TC kimlik no, by the published rule (independently of python-stdnum)."""
    d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    d.append(((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10)
    d.append(sum(d) % 10)
    return "".join(map(str, d))


def tr_iban(rng: random.Random) -> str:
    """A valid TR IBAN (ISO 13616 mod 97), bank code, reserve digit 0, 16-digit account."""
    bban = f"{rng.randint(0, 99999):05d}0" + "".join(str(rng.randint(0, 9)) for _ in range(16))
    numeric = int(bban + "2927" + "00")  # T=29, R=27
    return f"TR{98 - numeric % 97:02d}{bban}"


def grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def planted() -> list[tuple[str, str]]:
    """(kind, text) that must be found: 36 values in the forms people write them."""
    rng = random.Random(7)
    values = [("TCKN", tckn(rng)) for _ in range(10)]
    values += [("IBAN", tr_iban(rng)) for _ in range(4)]
    values += [("IBAN", grouped(tr_iban(rng))) for _ in range(4)]
    values += [
        ("PHONE", phone)
        for phone in (
            "0532 123 45 67",
            "05321234567",
            "+90 532 123 45 67",
            "+905321234567",
            "0090 532 123 45 67",
            "(0532) 123 45 67",
            "0 (532) 123-45-67",
            "532 123 45 67",
            "532-123-45-67",
            "0212 345 67 89",
            "+90 (312) 456 78 90",
            "0 216 555 44 33",
        )
    ]
    values += [
        ("EMAIL", mail)
        for mail in (
            "ayse.yilmaz@example.com.tr",
            "m.kaya+fatura@firma.com",
            "destek@belediye.gov.tr",
            "ali_veli-49@posta.net",
            "Zeynep.Demir@Universite.edu.tr",
            "x@y.io",
        )
    ]
    return values


def look_alikes() -> list[str]:
    """Texts that must not be found: 34 numbers that only resemble personal data."""
    rng = random.Random(8)
    bad_check = []
    for _ in range(8):
        value = tckn(rng)
        bad_check.append(value[:-1] + str((int(value[-1]) + 1) % 10))  # the last check digit off
    iban = tr_iban(rng)
    return [
        *bad_check,
        "09" + tckn(rng)[2:],  # a TCKN never starts with 0 (and 09xx is no area code)
        tckn(rng)[:10],  # 10 digits
        tckn(rng) + "7",  # 12 digits: part of a longer number
        "TCKN: 1234567890",
        "sipariş no 98765432109876",
        iban[:2] + f"{(int(iban[2:4]) + 1) % 100:02d}" + iban[4:],  # wrong check digits
        iban[:-1],  # 25 characters
        "DE89370400440532013000",  # an IBAN, not a Turkish one
        grouped(iban)[:-3],
        "0532 123 45 6",  # a digit short
        "0532 123 45 678",  # a digit long
        "1532 123 45 67",  # no such prefix
        "0632 123 45 67",  # no such area code
        "532 1234567",  # ungrouped, no prefix: any ten-digit number
        "5321234567",
        "0800 123 45",  # short service number
        "444 0 123",  # call-centre number
        "12.03.2024",
        "saat 10:45-11:30",
        "3,14159265358",
        "ISBN 978-605-375-123-4",
        "ali@localhost",
        "ayse.yilmaz(at)example.com",
        "@kullanici",
        "fiyat 1.250.000 TL",
        "TR 90 derece",
    ]


def detected(text: str) -> bool:
    return pii.contains(f"Yanıt: {text}.")


def test_the_detector_table_precision_and_recall() -> None:
    positives, negatives = planted(), look_alikes()
    assert len(positives) >= 30
    assert len(negatives) >= 30
    true_pos = sum(detected(text) for _, text in positives)
    false_pos = [text for text in negatives if detected(text)]
    missed = [text for _, text in positives if not detected(text)]
    precision = true_pos / (true_pos + len(false_pos))
    recall = true_pos / len(positives)
    print(
        f"\nplanted {len(positives)}, look-alikes {len(negatives)}: precision {precision:.3f}, "
        f"recall {recall:.3f}"
    )
    assert missed == []
    assert false_pos == []
    for kind, text in positives:
        [finding] = pii.find(f"Yanıt: {text}.")
        assert finding.kind == kind, text


def test_redaction_masks_every_kind_and_keeps_the_rest() -> None:
    rng = random.Random(3)
    number, account = tckn(rng), grouped(tr_iban(rng))
    text = f"Kimlik {number}, IBAN {account}, tel 0532 123 45 67, posta a.b@c.com.tr; sipariş 42."
    assert pii.redact(text) == (
        "Kimlik [TCKN], IBAN [IBAN], tel [PHONE], posta [EMAIL]; sipariş 42."
    )
    untouched = "hiçbiri: 12345678901 ve 0532 123 45"
    assert pii.redact(untouched) == untouched


def test_pii_rate_is_computed_from_the_raw_responses_before_redaction() -> None:
    rng = random.Random(4)
    number = tckn(rng)
    task = fake_task_result("gen", {"exact_match": [0.0, 1.0, 0.0, 0.0]})
    responses = [f" {number}", " Ankara", " mail: kisi@ornek.com", " 42"]
    task = type(task)(
        **{
            **task.__dict__,
            "output_type": "generate_until",
            "examples": {
                i: Example(f"Soru {i}", number if i == 0 else "Ankara", r)
                for i, r in enumerate(responses)
            },
        }
    )
    run = pii.protect(EvalRun({"gen": task}), ["gen"], redacting=True)
    metric = run["gen"].metric("pii_rate")
    assert metric.value == pytest.approx(0.5)
    assert metric.scores == (1.0, 0.0, 1.0, 0.0)
    assert metric.higher_is_better is False
    texts = [t for e in run["gen"].examples.values() for t in (e.prompt, e.target, e.response)]
    assert not any(number in t or "kisi@ornek.com" in t for t in texts)
    assert run["gen"].examples[0].response == " [TCKN]"
    kept = pii.protect(EvalRun({"gen": task}), ["gen"], redacting=False)
    assert kept["gen"].examples[0].response == f" {number}"
    untouched = pii.protect(EvalRun({"gen": task}), [], redacting=False)
    assert "pii_rate,none" not in untouched["gen"].metrics
