"""The personal-data detector (KVKK): a table of planted values and look-alikes, its precision
and recall, redaction, and the pii_rate metric."""

from __future__ import annotations

import base64
import itertools
import random
import time

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


def luhn_completed(payload: str) -> str:
    """``payload`` with its Luhn check digit appended (computed here, not by python-stdnum)."""
    total = 0
    for k, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return payload + str(-total % 10)


def card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return luhn_completed(body)


def in_groups(digits: str, sizes: list[int], sep: str) -> str:
    assert sum(sizes) == len(digits)
    cuts = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
    return sep.join(digits[a:b] for a, b in itertools.pairwise(cuts))


NBSP, NNBSP, FIGURE = "\u00a0", "\u202f", "\u2007"


def apart(iban: str) -> str:
    return f"TR {iban[2:4]} {iban[4:]}"


def planted() -> list[tuple[str, str]]:
    """(kind, text) that must be found: the forms people write each kind in."""
    rng = random.Random(7)
    values = [("TCKN", tckn(rng)) for _ in range(6)]
    for sizes in ([3, 3, 3, 2], [4, 4, 3], [3, 4, 4], [2, 3, 3, 3]):
        for sep in (" ", "-", ".", NBSP, NNBSP, FIGURE, " - "):
            values.append(("TCKN", in_groups(tckn(rng), sizes, sep)))
    values += [("IBAN", tr_iban(rng)) for _ in range(4)]
    values += [("IBAN", grouped(tr_iban(rng))) for _ in range(4)]
    values += [
        ("IBAN", iban)
        for iban in (
            tr_iban(rng).lower(),
            grouped(tr_iban(rng)).lower(),
            "TR " + grouped(tr_iban(rng))[2:],  # TR apart from the check digits
            apart(tr_iban(rng)),  # TR, check digits, the rest solid
            grouped(tr_iban(rng)).replace(" ", NBSP),
            grouped(tr_iban(rng)).replace(" ", "-"),
            grouped(tr_iban(rng)).replace(" ", "\n", 1),  # broken across a line
            grouped(tr_iban(rng)).replace(" ", "\r\n", 3),
            "Tr" + grouped(tr_iban(rng))[2:],
        )
    ]
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
            "0532\u00a0123\u00a045\u00a067",
            "+90\u00a0532\u00a0123\u00a045\u00a067",
            "0532\u202f123\u202f45\u202f67",
            "0532 123 4567",
            "0532.123.45.67",
            "+90-532-123-45-67",
            "+90 (0) 532 123 45 67",
            "(+90) 532 123 45 67",
            "(212) 345 67 89",
            "0532 - 123 - 45 - 67",
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
            "ayse.kılıç@şirket.com.tr",
            "zeynep@ılık.org",
            "gülşen.öztürk@örnek.com",
            "İLKER.ÇAĞLAR@ŞİRKET.COM.TR",
            "ömer-ünal@iş.gov.tr",
        )
    ]
    values += [
        ("CARD", number)
        for number in (
            card(rng, "4", 16),
            in_groups(card(rng, "4", 16), [4, 4, 4, 4], " "),
            in_groups(card(rng, "52", 16), [4, 4, 4, 4], "-"),
            in_groups(card(rng, "2720", 16), [4, 4, 4, 4], NBSP),
            in_groups(card(rng, "37", 15), [4, 6, 5], " "),
            in_groups(card(rng, "9792", 16), [4, 4, 4, 4], " "),  # Troy
            in_groups(card(rng, "36", 14), [4, 6, 4], " "),
            in_groups(card(rng, "62", 19), [4, 4, 4, 4, 3], " "),
            in_groups(card(rng, "4", 13), [4, 4, 4, 1], " "),
            in_groups(card(rng, "3530", 16), [4, 4, 4, 4], "."),
        )
    ]
    return values


def look_alikes() -> list[str]:
    """Texts that must not be found: numbers that only resemble personal data."""
    rng = random.Random(8)
    bad_check = []
    for _ in range(8):
        value = tckn(rng)
        bad_check.append(value[:-1] + str((int(value[-1]) + 1) % 10))  # the last check digit off
    iban = tr_iban(rng)
    visa = card(rng, "4", 16)
    return [
        *bad_check,
        in_groups(bad_check[0], [3, 3, 3, 2], " "),
        in_groups(bad_check[1], [4, 4, 3], "-"),
        "09" + tckn(rng)[2:],  # a TCKN never starts with 0 (and 09xx is no area code)
        tckn(rng)[:10],  # 10 digits
        tckn(rng) + "7",  # 12 digits: part of a longer number
        tckn(rng) + ".5",  # a decimal
        "3," + tckn(rng),  # the decimals of a number
        "TCKN: 1234567890",
        "sipariş no 98765432109876",
        "sipariş SP-2024-004512",
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
        "0850 222 33 44",  # a company's national service number
        "444 0 123",  # call-centre number
        "12.03.2024",
        "12/03/2024 14:30",
        "2024-03-12T14:30:00",
        "saat 10:45-11:30",
        "3,14159265358",
        "ISBN 978-605-375-123-4",
        "ISBN 9786053751234",
        "sürüm 2.10.3",
        "v12.4.1021",
        "192.168.100.201",
        "ali@localhost",
        "ayse.yilmaz(at)example.com",
        "@kullanici",
        "fiyat 1.250.000 TL",
        "₺12.345.678,90",
        "TR 90 derece",
        visa[:-1] + str((int(visa[-1]) + 1) % 10),  # wrong Luhn digit
        in_groups(luhn_completed("1" + "0" * 14), [4, 4, 4, 4], " "),  # Luhn-valid, no issuer
        in_groups(luhn_completed("8" + "1" * 14), [4, 4, 4, 4], " "),
        "2 4 6 8 10 12 14 16 18 20",
    ]


def detected(text: str) -> bool:
    return pii.contains(f"Yanıt: {text}.")


def test_the_detector_table_precision_and_recall() -> None:
    positives, negatives = planted(), look_alikes()
    assert len(positives) >= 90
    assert len(negatives) >= 50
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
    row = f"Ayşe;{number};05321234567\nAyşe,{number},0532 123 45 67,a.b@c.com.tr"
    assert pii.redact(row) == "Ayşe;[TCKN];[PHONE]\nAyşe,[TCKN],[PHONE],[EMAIL]"  # CSV rows
    assert pii.redact(f"3,{number} ve 1,{number[:3]},{number[3:6]}") == (
        f"3,{number} ve 1,{number[:3]},{number[3:6]}"  # a decimal comma, thousands commas
    )


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


def adversarial(kind: str, n: int) -> str:
    """``n`` characters that made the old detector quadratic, or might make a scanner so."""
    rng = random.Random(n)
    if kind == "digits":
        return "".join(rng.choice("0123456789") for _ in range(n))
    if kind == "letters":
        return "".join(rng.choice("abcçdefgğhıi") for _ in range(n))
    if kind == "base64":
        return base64.b64encode(rng.randbytes(n)).decode()[:n]
    if kind == "a@a.":
        return ("a@a." * n)[:n]
    if kind == "spaced digits":
        return " ".join(rng.choice("0123456789") for _ in range(n // 2))
    # Many findings: the overlap check must not compare each with all earlier ones.
    number = tckn(rng)
    unit = f"Kimlik {number}, tel 0532 123 45 67, kart 4111 1111 1111 1111, a.b@c.com.tr. "
    return (unit * (n // len(unit) + 1))[:n]


def best_of_three(text: str) -> float:
    """Seconds one redaction of ``text`` takes: the least of 3 runs (a busy machine only ever
    slows a run down), each repeating the call for at least 20 ms so that a text scanned in a
    fraction of a millisecond is not timed by the clock's noise."""
    times = []
    for _ in range(3):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < 0.02 or not calls:
            pii.redact(text)
            calls += 1
        times.append(elapsed / calls)
    return min(times)


@pytest.mark.parametrize(
    "kind", ["digits", "letters", "base64", "a@a.", "spaced digits", "many findings"]
)
def test_the_scan_grows_linearly_with_the_text(kind: str) -> None:
    small, large = adversarial(kind, 20_000), adversarial(kind, 200_000)
    pii.redact(small)  # python-stdnum imported, caches warm
    ratio = best_of_three(large) / best_of_three(small)
    print(f"\n{kind}: time at 200k / time at 20k = {ratio:.1f} (linear: 10, quadratic: 100)")
    assert ratio < 30


def test_protect_scans_each_text_once_for_both_the_rate_and_the_redaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanned: list[str] = []
    real_find = pii.find

    def counting_find(text: str) -> list[pii.Finding]:
        scanned.append(text)
        return real_find(text)

    monkeypatch.setattr(pii, "find", counting_find)
    task = fake_task_result("gen", {"exact_match": [0.0, 1.0]})
    examples = {
        0: Example("Soru 0", "hedef 0", "kart 4111 1111 1111 1111"),
        1: Example("S", "T", "R"),
    }
    task = type(task)(**{**task.__dict__, "output_type": "generate_until", "examples": examples})
    run = pii.protect(EvalRun({"gen": task}), ["gen"], redacting=True)
    texts = [t for e in examples.values() for t in (e.prompt, e.target, e.response)]
    assert sorted(scanned) == sorted(texts)  # 6 texts, once each
    assert run["gen"].metric("pii_rate").scores == (1.0, 0.0)
    assert run["gen"].examples[0].response == "kart [CARD]"
    scanned.clear()
    pii.protect(EvalRun({"gen": task}), ["gen"], redacting=False)
    assert sorted(scanned) == ["R", "kart 4111 1111 1111 1111"]  # the responses only


def test_a_new_detector_version_is_a_result_cache_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mlgate.backend import BackendSpec, EvalRequest
    from pytest_mlgate.config.schema import ModelConfig
    from pytest_mlgate.run import cache

    spec = BackendSpec(ModelConfig(dtype="float32", batch_size=8), "ckpt")
    request = EvalRequest(("gen",), num_fewshot=None, sample=10, seed=1)
    before = cache.cache_key(spec, request, "sha256:a", (("gen",), True))
    monkeypatch.setattr(cache, "DETECTOR_VERSION", pii.DETECTOR_VERSION + 1)
    assert cache.cache_key(spec, request, "sha256:a", (("gen",), True)) != before


def test_the_iban_check_agrees_with_python_stdnum() -> None:
    from stdnum import iban

    from pytest_mlgate.text.identifiers import iban_valid

    rng = random.Random(11)
    for _ in range(2000):
        value = tr_iban(rng)
        if rng.random() < 0.5:  # a wrong digit, or a letter in the account (ISO allows them)
            k = rng.randrange(2, 26)
            new = rng.choice("0123456789ABCXYZ" if k >= 10 else "0123456789")
            value = value[:k] + new + value[k + 1 :]
        assert iban_valid(value) == bool(iban.is_valid(value)), value
