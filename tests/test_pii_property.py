"""Property tests of the personal-data detector: any valid value of each kind, in any layout a
person writes it in, inside random Turkish text with random punctuation around it, is found and
masked whole; generated look-alikes are left alone.

The generators are written from how people write these values (bank statements, forms, e-mail
signatures, phone listings), not from the detector's rules; the check digits are computed here by
the published algorithms, independently of python-stdnum.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from pytest_mlgate.text import pii

NBSP, NNBSP, FIGURE, THIN = "\u00a0", "\u202f", "\u2007", "\u2009"
GROUP_SEPARATORS = (" ", NBSP, NNBSP, FIGURE, THIN, "-", "–", ".", " - ")

WORDS = (
    "müşterinin",
    "kimlik",
    "numarası",
    "şudur",
    "lütfen",
    "kaydı",
    "güncelleyin",
    "hesap",
    "ödeme",
    "için",
    "aşağıdaki",
    "bilgileri",
    "kullanın",
    "iletişim",
    "telefonu",
    "adresi",
    "yazışma",
    "kartınızın",
    "bilgisi",
    "bankamız",
    "şubesine",
    "başvurunuz",
    "alınmıştır",
    "teşekkür",
    "ederiz",
    "sayın",
    "Ayşe",
    "Yılmaz",
    "Çağrı",
    "Öztürk",
    "İzmir",
    "Şişli",
    "Ümraniye",
    "ığdır",
    "ödendi",
    "gönderildi",
    "faturası",
    "kargo",
    "sipariş",
    "teslim",
    "edildi",
    "yarın",
    "görüşelim",
)
LEFT_MARKS = ("", "(", '"', "“", "«", ":", "'", "\n", "\t", "  ")
RIGHT_MARKS = (
    "",
    ".",
    ",",
    ";",
    ":",
    "!",
    "?",
    ")",
    '"',
    "”",
    "»",
    "'dır",
    "'e",
    "'ya",
    "...",
    "\t",
    "  ",
    ").",
)


def tckn(rng: random.Random) -> str:
    d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    d.append(((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10)
    d.append(sum(d) % 10)
    return "".join(map(str, d))


def iban_check(bban: str) -> int:
    """ISO 13616 check digits of a TR IBAN with this BBAN."""
    return 98 - int(bban + "2927" + "00") % 97  # T=29, R=27


def luhn_completed(payload: str) -> str:
    total = 0
    for k, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return payload + str(-total % 10)


def digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def in_groups(value: str, sizes: list[int], sep: str) -> str:
    out, pos = [], 0
    for size in sizes:
        out.append(value[pos : pos + size])
        pos += size
    assert pos == len(value)
    return sep.join(out)


# How people group an 11-digit TC kimlik no: forms print 3-3-3-2, bank letters 4-4-3, people
# reading it out 3-4-4 or 2-3-3-3, and a model may spell it digit by digit.
TCKN_GROUPS = ([11], [3, 3, 3, 2], [4, 4, 3], [3, 4, 4], [2, 3, 3, 3], [1] * 11)


def tckn_layout(rng: random.Random, value: str) -> str:
    sizes = rng.choice(TCKN_GROUPS)
    sep = " " if sizes[0] == 1 else rng.choice(GROUP_SEPARATORS)
    return in_groups(value, sizes, sep)


def tr_iban(rng: random.Random) -> str:
    bban = digits(rng, 5) + "0" + digits(rng, 16)
    return f"TR{iban_check(bban):02d}{bban}"


def iban_layout(rng: random.Random, iban: str) -> str:
    """Solid or in fours (as banks print it), TR apart or not, any case, wrapped or not."""
    sep = rng.choice((" ", NBSP, NNBSP, "-", ""))
    body = in_groups(iban[4:], [4, 4, 4, 4, 4, 2], sep) if sep else iban[4:]
    head = rng.choice((iban[:4] + sep, f"TR {iban[2:4]} ", f"TR{iban[2:4]} ", f"TR-{iban[2:4]}-"))
    text = head + body
    if sep and rng.random() < 0.3:  # broken across a line at a group boundary
        cut = rng.choice([k for k, c in enumerate(text) if c == sep])
        text = text[:cut] + rng.choice(("\n", "\r\n", " \n", "\n  ")) + text[cut + 1 :]
    return rng.choice((str.upper, str.lower, str.title, lambda s: s))(text)


MOBILE_OPERATORS = ("50", "53", "54", "55")
AREA_CODES = ("212", "216", "312", "232", "224", "242", "322", "262", "462", "412", "352")


def phone_layout(rng: random.Random) -> str:
    """A mobile (5xx) or landline number as listings, signatures and forms write it."""
    mobile = rng.random() < 0.6
    area = (
        rng.choice(MOBILE_OPERATORS) + str(rng.randint(0, 9)) if mobile else rng.choice(AREA_CODES)
    )
    sub = str(rng.randint(2, 9)) + digits(rng, 6)
    sep = rng.choice((" ", " ", NBSP, NNBSP, "-", "."))
    subscriber = in_groups(sub, rng.choice(([3, 2, 2], [3, 4])), sep)
    with_prefix = rng.choice(
        (
            f"0{area}{sep}",
            f"0 {area} ",
            f"0 ({area}) ",
            f"(0{area}) ",
            f"+90 {area} ",
            f"+90{sep}{area}{sep}",
            f"+90 ({area}) ",
            f"+90 (0) {area} ",
            f"(+90) {area} ",
            f"0090 {area} ",
            f"90 {area} ",
        )
    )
    solid = rng.choice((f"0{area}{sub}", f"+90{area}{sub}", f"+90 {area}{sub}", f"0090{area}{sub}"))
    bare = f"({area}) " if not mobile or rng.random() < 0.3 else f"{area}{sep}"
    return rng.choice(
        (with_prefix + subscriber, with_prefix + subscriber, solid, bare + subscriber)
    )


# (issuer prefixes, length, grouping): how each network prints its numbers on the card.
CARD_FORMS = (
    (("4",), 16, [4, 4, 4, 4]),
    (("4",), 19, [4, 4, 4, 4, 3]),
    (("51", "52", "53", "54", "55", "2221", "2500", "2720"), 16, [4, 4, 4, 4]),
    (("34", "37"), 15, [4, 6, 5]),
    (("9792",), 16, [4, 4, 4, 4]),  # Troy
    (("6011", "65"), 16, [4, 4, 4, 4]),
    (("3528", "3540", "3589"), 16, [4, 4, 4, 4]),
    (("62",), 16, [4, 4, 4, 4]),
    (("36",), 14, [4, 6, 4]),
)


def card_layout(
    rng: random.Random, forms: tuple[tuple[tuple[str, ...], int, list[int]], ...] = CARD_FORMS
) -> str:
    prefixes, length, sizes = rng.choice(forms)
    prefix = rng.choice(prefixes)
    number = luhn_completed(prefix + digits(rng, length - len(prefix) - 1))
    sep = rng.choice((" ", NBSP, "-", ".", ""))
    return in_groups(number, sizes, sep) if sep else number


TURKISH = "abcçdefgğhıijklmnoöprsştuüvyz"


def word(rng: random.Random, low: int = 2, high: int = 9) -> str:
    return "".join(rng.choice(TURKISH) for _ in range(rng.randint(low, high)))


def email_layout(rng: random.Random) -> str:
    local = rng.choice(".-_").join(word(rng) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.2:
        local += str(rng.randint(1, 99))
    if rng.random() < 0.1:
        local += "+" + word(rng, 3, 6)
    labels = [word(rng, 2, 10) for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.2:
        labels[0] += "-" + word(rng, 2, 5)
    tld = rng.choice(("com", "com.tr", "org", "net", "gov.tr", "edu.tr", "org.tr", "info", "tr"))
    address = f"{local}@{'.'.join(labels)}.{tld}"
    case = rng.choice((lambda s: s, str.upper, str.title, turkish_upper))
    return case(address)


def turkish_upper(text: str) -> str:
    return text.replace("i", "İ").replace("ı", "I").upper()


def valid_value(rng: random.Random, kind: str) -> str:
    if kind == "TCKN":
        return tckn_layout(rng, tckn(rng))
    if kind == "IBAN":
        return iban_layout(rng, tr_iban(rng))
    if kind == "PHONE":
        return phone_layout(rng)
    if kind == "CARD":
        return card_layout(rng)
    return email_layout(rng)


def context(rng: random.Random) -> tuple[str, str]:
    """Random Turkish text before and after a value, with the punctuation that touches it."""
    before = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))
    after = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))
    left_mark, right_mark = rng.choice(LEFT_MARKS), rng.choice(RIGHT_MARKS)
    left = (before + " " if before else "") + left_mark
    right = right_mark + (" " + after if after else "")
    return left, right


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(pii.KINDS), st.randoms(use_true_random=False))
def test_any_valid_value_in_any_layout_is_found_and_masked_whole(
    kind: str, rng: random.Random
) -> None:
    value = valid_value(rng, kind)
    left, right = context(rng)
    text = left + value + right
    note(repr(text))
    assert pii.redact(text) == f"{left}[{kind}]{right}"


def isbn13(rng: random.Random) -> str:
    body = rng.choice(("978605", "978975", "979")) + digits(rng, 0)
    body += digits(rng, 12 - len(body))
    check = -sum(int(c) * (1 if k % 2 == 0 else 3) for k, c in enumerate(body)) % 10
    number = body + str(check)
    return rng.choice((number, in_groups(number, [3, 3, 3, 3, 1], "-"), "ISBN " + number))


def wrong_tckn(rng: random.Random) -> str:
    value = tckn(rng)
    return tckn_layout(rng, value[:-1] + str((int(value[-1]) + rng.randint(1, 9)) % 10))


def wrong_iban(rng: random.Random) -> str:
    iban = tr_iban(rng)
    right = int(iban[2:4])
    wrong = rng.choice([c for c in range(100) if c % 97 != right % 97])
    return iban_layout(rng, f"TR{wrong:02d}{iban[4:]}")


def wrong_card(rng: random.Random) -> str:
    """In an issuer range with a wrong check digit, or Luhn-valid in no issuer's range."""
    if rng.random() < 0.5:
        number = card_layout(rng)
        return number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return card_layout(rng, ((("1", "7", "8"), 16, [4, 4, 4, 4]),))


def date_or_time(rng: random.Random) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1950, 2030)
    hh, mm = rng.randint(0, 23), rng.randint(0, 59)
    return rng.choice(
        (
            f"{d:02d}.{m:02d}.{y}",
            f"{d}/{m}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d:02d}.{m:02d}.{y} {hh:02d}:{mm:02d}",
            f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:00",
            f"{d:02d}.{m:02d}.{y} - {d:02d}.{m:02d}.{y + 1}",
            f"saat {hh:02d}:{mm:02d}-{hh:02d}:{mm:02d}",
            f"{hh:02d}.{mm:02d}",
        )
    )


def amount(rng: random.Random) -> str:
    value = f"{rng.randint(1, 10**12):,}".replace(",", ".")
    return rng.choice(
        (f"{value} TL", f"₺{value}", f"{value},{rng.randint(0, 99):02d} TL", f"{value} ₺")
    )


def version(rng: random.Random) -> str:
    parts = [rng.randint(0, 15), rng.randint(0, 30), rng.randint(0, 300), rng.randint(0, 99999)]
    text = ".".join(map(str, parts[: rng.randint(2, 4)]))
    return rng.choice((text, "v" + text, "sürüm " + text))


def service_number(rng: random.Random) -> str:
    return rng.choice(
        (
            f"0850 {digits(rng, 3)} {digits(rng, 2)} {digits(rng, 2)}",
            f"0800 {digits(rng, 3)} {digits(rng, 2)} {digits(rng, 2)}",
            f"444 {digits(rng, 1)} {digits(rng, 3)}",
            f"444 {digits(rng, 2)} {digits(rng, 2)}",
            rng.choice(("112", "155", "183")),
        )
    )


def wrong_phone(rng: random.Random) -> str:
    """A digit short or long, an area code no Turkish number has, or ten digits ungrouped."""
    sub = digits(rng, 7)
    area = rng.choice(("532", "212", "505"))
    return rng.choice(
        (
            f"0{area} {sub[:3]} {sub[3:5]} {sub[5]}",
            f"0{area} {sub[:3]} {sub[3:5]} {sub[5:]}{rng.randint(0, 9)}",
            f"0{rng.choice('1679')}{digits(rng, 2)} {sub[:3]} {sub[3:5]} {sub[5:]}",
            f"5{digits(rng, 9)}",
            f"5{digits(rng, 2)} {digits(rng, 7)}",
        )
    )


def plain_number(rng: random.Random) -> str:
    """Ten or twelve digits, an order code, an address."""
    ip = [rng.randint(0, 255) for _ in range(4)]
    ip[3] = rng.choice((rng.randint(0, 9), rng.randint(100, 255)))  # 3-3-3-2 reads as a TCKN
    return rng.choice(
        (
            str(rng.randint(10**9, 10**10 - 1)),
            str(rng.randint(10**11, 10**12 - 1)),
            "SP" + digits(rng, 10),
            f"SP-{rng.randint(2000, 2030)}-{digits(rng, 6)}",
            "#" + digits(rng, 8),
            ".".join(map(str, ip)),
        )
    )


def not_an_email(rng: random.Random) -> str:
    name = word(rng)
    return rng.choice(
        (
            f"{name}@localhost",
            f"{name}(at){word(rng)}.com",
            f"@{name}",
            f"{name}@",
            f"{name}@{word(rng)}.c",
        )
    )


LOOK_ALIKES = (
    wrong_tckn,
    wrong_iban,
    wrong_card,
    date_or_time,
    amount,
    version,
    service_number,
    wrong_phone,
    plain_number,
    not_an_email,
    isbn13,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LOOK_ALIKES), st.randoms(use_true_random=False))
def test_generated_look_alikes_are_not_personal_data(make: object, rng: random.Random) -> None:
    assert callable(make)
    left, right = context(rng)
    text = left + make(rng) + right
    note(repr(text))
    assert pii.find(text) == []
