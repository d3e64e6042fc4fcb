"""Independent seeded Turkish personal-data corpus: planted values with exact spans and look-alikes.

Written from the published checksum rules (TC kimlik no, ISO 13616 IBAN mod-97, ISO/IEC 7812
Luhn) without reading the detector, so that scoring the detector on it measures what real texts
contain rather than what the detector's author thought of.  Plain Python, seeded, no network.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"
KINDS = ("tckn", "iban", "phone", "email", "card")


@dataclass(frozen=True)
class PlantedValue:
    """One personal-data value planted in a case: its kind, exact span and the layout used."""

    kind: str
    start: int
    end: int
    text: str
    layout: str


@dataclass(frozen=True)
class CorpusCase:
    """One sentence of the corpus; a negative case has no planted value."""

    text: str
    planted: tuple[PlantedValue, ...]
    context: str
    lookalike: str = ""  #: a negative case's look-alike value


# --------------------------------------------------------------------------- checksum rules


def tckn_check_digits(first_nine: Sequence[int]) -> tuple[int, int]:
    """10th digit: 7 x (odd places) - (even places) mod 10; 11th: the first ten's sum mod 10."""
    odd = sum(first_nine[0:9:2])
    even = sum(first_nine[1:8:2])
    tenth = (odd * 7 - even) % 10
    eleventh = (sum(first_nine) + tenth) % 10
    return tenth, eleventh


def is_valid_tckn(digits: str) -> bool:
    """True when 11 digits, the first non-zero, satisfy both TC kimlik check-digit rules."""
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    values = [int(c) for c in digits]
    return tckn_check_digits(values[:9]) == (values[9], values[10])


def make_tckn(rng: random.Random) -> str:
    first_nine = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    tenth, eleventh = tckn_check_digits(first_nine)
    return "".join(map(str, first_nine)) + f"{tenth}{eleventh}"


def make_invalid_tckn(rng: random.Random) -> str:
    """An 11-digit number starting non-zero that fails the TC kimlik checksum."""
    while True:
        digits = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(10))
        if not is_valid_tckn(digits):
            return digits


def iban_mod97(iban: str) -> int:
    """ISO 13616: move the first four characters to the end, letters to 10..35, remainder mod 97."""
    rearranged = iban[4:] + iban[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged.upper())
    return int(numeric) % 97


# Five-digit bank codes of Turkish banks (BDDK / TCMB EFT codes).
TURKISH_BANK_CODES: tuple[str, ...] = (
    "00010",
    "00012",
    "00015",
    "00046",
    "00062",
    "00064",
    "00067",
    "00111",
)
TURKISH_BANK_CODES += ("00134", "00032", "00059", "00203", "00205", "00206", "00209", "00210")


def make_iban(rng: random.Random) -> str:
    """TR + 2 check digits + 5-digit bank code + reserve digit 0 + 16-digit account = 26 chars."""
    bban = rng.choice(TURKISH_BANK_CODES) + "0" + "".join(str(rng.randint(0, 9)) for _ in range(16))
    check = 98 - iban_mod97("TR00" + bban)
    return f"TR{check:02d}{bban}"


def make_invalid_iban(rng: random.Random) -> str:
    iban = make_iban(rng)
    wrong = (int(iban[2:4]) + rng.randint(1, 96)) % 97
    wrong = wrong if wrong >= 2 else wrong + 2
    candidate = f"TR{wrong:02d}{iban[4:]}"
    return candidate if iban_mod97(candidate) != 1 else make_invalid_iban(rng)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def luhn_complete(prefix_digits: str) -> str:
    """Append the Luhn check digit to a partial number."""
    for check in range(10):
        if luhn_valid(prefix_digits + str(check)):
            return prefix_digits + str(check)
    raise AssertionError("unreachable: one Luhn check digit always fits")


# Issuer ranges (ISO/IEC 7812 IINs): Visa 4, Mastercard 51-55 and 2221-2720, American Express
# 34/37 (15 digits), Troy (Turkey's domestic scheme, BKM) 9792.
CARD_PREFIXES: tuple[tuple[str, Callable[[random.Random], str], int], ...] = (
    ("visa", lambda r: "4" + str(r.randint(10000, 99999)), 16),
    ("mastercard", lambda r: str(r.randint(51, 55)) + str(r.randint(1000, 9999)), 16),
    ("mastercard2", lambda r: str(r.randint(2221, 2720)) + str(r.randint(10, 99)), 16),
    ("troy", lambda r: "9792" + str(r.randint(10, 99)), 16),
    ("amex", lambda r: r.choice(("34", "37")) + str(r.randint(1000, 9999)), 15),
)


def make_card(rng: random.Random) -> tuple[str, str]:
    brand, prefix_of, length = rng.choice(CARD_PREFIXES)
    prefix = prefix_of(rng)
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return brand, luhn_complete(body)


def make_luhn_failing_card(rng: random.Random) -> str:
    """A 16-digit number in a real issuer range whose last digit breaks the Luhn checksum."""
    _, number = make_card(rng)
    while len(number) != 16:
        _, number = make_card(rng)
    return number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)


# --------------------------------------------------------------------------- layouts


def group(digits: str, sizes: Sequence[int], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(digits[pos : pos + size])
        pos += size
    if pos < len(digits):
        parts.append(digits[pos:])
    return sep.join(parts)


SEPARATORS = (" ", "-", ".", NBSP, NARROW_NBSP)


def tckn_layout(rng: random.Random, digits: str) -> tuple[str, str]:
    choice = rng.randrange(7)
    sep = rng.choice(SEPARATORS)
    if choice == 5:
        return " ".join(digits), "spelled digit by digit"
    if choice == 6:
        return group(digits, (3, 3, 3, 2), " - "), "3-3-3-2 ' - '"
    if choice <= 1:
        return digits, "compact"
    if choice <= 3:
        return group(digits, (3, 3, 3, 2), sep), f"3-3-3-2 {sep!r}"
    return group(digits, (4, 4, 3), sep), f"4-4-3 {sep!r}"


def iban_layout(rng: random.Random, iban: str) -> tuple[str, str]:
    choice = rng.randrange(8)
    groups = [iban[i : i + 4] for i in range(0, 26, 4)]
    if choice == 0:
        text, name = iban, "compact"
    elif choice == 1:
        text, name = " ".join(groups), "groups of 4"
    elif choice == 2:
        text, name = f"TR {iban[2:4]} " + " ".join(groups[1:]), "TR apart"
    elif choice == 3:
        sep = rng.choice((NBSP, NARROW_NBSP, "-"))
        text, name = sep.join(groups), f"groups {sep!r}"
    elif choice == 4:
        cut = rng.randint(2, 5)
        text = " ".join(groups[:cut]) + rng.choice(("\n", " \n", "\r\n")) + " ".join(groups[cut:])
        name = "line break"
    elif choice == 5:
        text, name = " ".join(groups).lower(), "lower groups"
    elif choice == 6:
        text, name = iban.lower(), "lower compact"
    else:
        text, name = f"tr {iban[2:4]} " + " ".join(groups[1:]), "lower TR apart"
    return text, name


MOBILE_AREAS = tuple(range(501, 508)) + tuple(range(530, 556))
LANDLINE_AREAS = (212, 216, 312, 232, 224, 242, 322, 262, 352, 462, 412)


def phone_layout(rng: random.Random) -> tuple[str, str]:
    area = str(rng.choice(MOBILE_AREAS if rng.random() < 0.7 else LANDLINE_AREAS))
    sub = str(rng.randint(200, 999)) + "".join(str(rng.randint(0, 9)) for _ in range(4))
    a, b, c = sub[:3], sub[3:5], sub[5:]
    layouts = (
        (f"0 ({area}) {a} {b} {c}", "0 (AAA) XXX XX XX"),
        (f"+90 {area} {a} {sub[3:]}", "+90 AAA XXX XXXX"),
        (f"+90 ({area}) {a} {b} {c}", "+90 (AAA) XXX XX XX"),
        (f"0{area}-{a}-{b}-{c}", "0AAA-XXX-XX-XX"),
        (f"(0{area}) {a} {b} {c}", "(0AAA) XXX XX XX"),
        (f"0{area}{sub}", "compact 0AAAXXXXXXX"),
        (f"+90{area}{sub}", "compact +90"),
        (f"0{area} {a} {b} {c}", "0AAA XXX XX XX"),
        (f"0{area} {a} {sub[3:]}", "0AAA XXX XXXX"),
        (f"0090 {area} {a} {b} {c}", "0090 AAA ..."),
        (f"0{area}.{a}.{b}.{c}", "dotted"),
        (f"0{area}{NBSP}{a}{NBSP}{b}{NBSP}{c}", "NBSP groups"),
        (f"+90-{area}-{a}-{b}-{c}", "+90-AAA-XXX-XX-XX"),
        (f"{area} {a} {b} {c}", "AAA XXX XX XX no trunk 0"),
        (f"+90{NARROW_NBSP}{area}{NARROW_NBSP}{a}{NARROW_NBSP}{sub[3:]}", "narrow NBSP"),
        (f"+90 (0{area}) {a} {b} {c}", "+90 (0AAA) XXX XX XX"),
        (f"0 {area} {a} {b} {c}", "0 AAA XXX XX XX"),
        (f"0({area}){sub}", "0(AAA)XXXXXXX"),
        (f"+90 {area} {sub}", "+90 AAA XXXXXXX"),
        (f"0{area} {sub}", "0AAA XXXXXXX"),
        (f"(0{area}) {a} {b} {c}/{int(c) % 99 + 1:02d}", "alternative last digits XX/YY"),
    )
    return rng.choice(layouts)


def card_layout(rng: random.Random) -> tuple[str, str]:
    brand, number = make_card(rng)
    sizes = (4, 6, 5) if len(number) == 15 else (4, 4, 4, 4)
    choice = rng.randrange(6)
    if choice == 0:
        return number, f"{brand} compact"
    if choice == 1:
        return group(number, sizes, "-"), f"{brand} dashes"
    if choice == 2:
        sep = rng.choice((NBSP, NARROW_NBSP))
        return group(number, sizes, sep), f"{brand} {sep!r}"
    if choice == 3 and len(number) == 16:
        return group(number[:8], (4, 4), " ") + "\n" + group(number[8:], (4, 4), " "), "line break"
    return group(number, sizes, " "), f"{brand} spaces"


LOCAL_PARTS = (
    "ayşe.kılıç",
    "İbrahim_Öz",
    "mehmet.yılmaz+fatura",
    "g.şahin",
    "çağrı-öztürk",
    "zeynep",
    "ali.veli2024",
    "ÖMER.ÇELİK",
    "gülşen",
    "ışıl_erdoğan",
    "hüseyin.güneş",
    "fatma.nur+kargo",
    "s.ağaoğlu",
    "ilknur.çakır",
    "umut",
    "deniz.koç",
    "şule_yıldız",
    "özge-ünal",
)
DOMAINS = (
    "şirket.com.tr",
    "örnek.org",
    "ılık.org",
    "gmail.com",
    "hotmail.com",
    "firma.com.tr",
    "üniversite.edu.tr",
    "belediye.bel.tr",
    "posta.gov.tr",
    "mail.şirket.com.tr",
    "yandex.com.tr",
    "ögrenci.ankara.edu.tr",
    "çiçekçi.net",
    "outlook.com",
    "e-posta.com.tr",
    "mail2.firma.com",
    "FIRMA.COM.TR",
    "iş-bankası.com.tr",
)


def email_value(rng: random.Random) -> tuple[str, str]:
    local = rng.choice(LOCAL_PARTS)
    domain = rng.choice(DOMAINS)
    return f"{local}@{domain}", "turkish" if any(ord(c) > 127 for c in local + domain) else "ascii"


# --------------------------------------------------------------------------- sentence assembly

Piece = str | tuple[str, str, str]  # plain text, or (kind, rendered value, layout)


def assemble(pieces: Sequence[Piece], context: str) -> CorpusCase:
    text_parts: list[str] = []
    planted: list[PlantedValue] = []
    pos = 0
    for piece in pieces:
        if isinstance(piece, str):
            text_parts.append(piece)
            pos += len(piece)
            continue
        kind, value, layout = piece
        planted.append(PlantedValue(kind, pos, pos + len(value), value, layout))
        text_parts.append(value)
        pos += len(value)
    return CorpusCase("".join(text_parts), tuple(planted), context)


SUFFIXES = ("'yi", "'ya", "'a", "'e", "'dan", "'den", "'ye", "'ı", "'nı", "'ten", "’ye", "’a")

# Each template: (context, text with one "{}" where the value goes).  The value may sit at the
# very start or the very end of the text, inside quotes, parentheses or table cells.
TEMPLATES = {
    "tckn": (
        ("form", "T.C. Kimlik No: {}"),
        ("form", "TCKN: {} | Ad Soyad: Ayşe Kılıç | Doğum Tarihi: 12.03.1988"),
        ("chat", "Merhaba, kimlik numaram {} , siparişimi kontrol eder misiniz?"),
        ("chat", "{} numaralı TC ile kayıtlıyım."),
        ("sms", "Sayın müşterimiz, {} T.C. kimlik no ile başvurunuz alınmıştır."),
        ("csv", "Ayşe,Kılıç,{},İstanbul,34710"),
        ("json", '{{"ad": "Mehmet", "tckn": "{}", "il": "Ankara"}}'),
        ("markdown", "| Fatma Nur | {} | Kadıköy/İstanbul |"),
        ("email", "Başvuru formunda TC kimlik numaram ({}) yazılıdır, iyi çalışmalar."),
        ("invoice", "Alıcı: Hüseyin Güneş, VKN/TCKN: {}, Fatura Tarihi: 03.12.2026"),
        ("address", "Kiracı: Deniz Koç (T.C. {}), Moda Cad. No: 12 D: 4, 34710 Kadıköy"),
        ("chat", "tc: {}"),
        ("form", "Kimlik No:\t{}\nTelefon: yok"),
        ("form", "TC{} kimlik numarasıyla"),
    ),
    "iban": (
        ("form", "IBAN: {}"),
        ("chat", "Parayı {} numaralı hesaba gönderebilirsiniz."),
        ("sms", "Iade tutari 1.234,56 TL {} hesabina yatirilmistir."),
        ("email", "Ödemeyi şu IBAN'a yapabilirsiniz:\n{}\nAlıcı: Ayşe Kılıç"),
        ("invoice", "Banka: Ziraat Bankası | IBAN: {} | Tutar: 12.500,00 TL"),
        ("csv", "2026-12-03,Kira,15000,{},ödendi"),
        ("json", '{{"iban": "{}", "alici": "Gülşen Yılmaz"}}'),
        ("markdown", "| Hesap sahibi | Ömer Çelik | {} |"),
        ("chat", "{} ben ömer çelik adına"),
        ("chat", "iban numaram ({}) lütfen kontrol edin"),
        ("email", 'Hesap bilgisi: "{}", açıklamaya fatura numarasını yazınız.'),
    ),
    "phone": (
        ("form", "Telefon: {}"),
        ("chat", "Beni {} numarasından arayabilir misiniz?"),
        ("sms", "Kuryeniz yolda. Iletisim: {} Iyi gunler"),
        ("email", "Saygılarımla,\nAyşe Kılıç\nTel: {}\nFaks: yok"),
        ("csv", "Mehmet,Yılmaz,{},Ankara"),
        ("json", '{{"telefon": "{}", "ad": "Zeynep"}}'),
        ("markdown", "| İletişim | {} |"),
        ("invoice", "Satıcı: Çiçekçi Ltd. Şti. Tel: {} Vergi Dairesi: Kadıköy"),
        ("address", "Adres: Atatürk Mah. 123. Sok. No: 5/7 Çankaya/Ankara ({})"),
        ("chat", "{} bu numaraya whatsapp atın"),
        ("chat", 'cep numaram "{}" yazabilirsiniz'),
        ("form", "GSM:{}"),
    ),
    "email": (
        ("form", "E-posta: {}"),
        ("email", "Kimden: Ayşe Kılıç <{}>"),
        ("email", "Lütfen mailto:{} adresine yazınız."),
        ("chat", "mail adresim {}."),
        ("chat", "{} adresine fatura gönderildi"),
        ("json", '{{"eposta": "{}", "onay": true}}'),
        ("csv", "Ayşe,Kılıç,{},05.03.2026"),
        ("markdown", "| E-posta | {} |"),
        ("sms", "Sifre sifirlama baglantisi ({}) adresine gonderildi."),
        ("email", "Cc: {}, muhasebe birimi"),
        ("chat", 'adres "{}" doğru mu?'),
        ("markdown", "İletişim: [Ayşe Kılıç](mailto:{})"),
        ("form", "E-posta:{}"),
    ),
    "card": (
        ("form", "Kart No: {}"),
        ("chat", "Kart numaram {} , son kullanma 12/27"),
        ("sms", "{} nolu kartinizdan 1.250,00 TL cekilmistir."),
        ("email", "Ödeme bilgileri:\nKart: {}\nSKT: 09/28"),
        ("csv", "2026-11-30,{},Ayşe Kılıç,onaylandı"),
        ("json", '{{"kart": "{}", "cvv": "***"}}'),
        ("markdown", "| Kredi kartı | {} |"),
        ("chat", "kartım ({}) bloke oldu"),
        ("invoice", "Tahsilat: Kredi Kartı {} Taksit: 3 Tutar: 4.500,00 TL"),
    ),
}


def render_value(rng: random.Random, kind: str) -> tuple[str, str]:
    if kind == "tckn":
        return tckn_layout(rng, make_tckn(rng))
    if kind == "iban":
        return iban_layout(rng, make_iban(rng))
    if kind == "phone":
        return phone_layout(rng)
    if kind == "email":
        return email_value(rng)
    text, layout = card_layout(rng)
    if rng.random() < 0.2 and "\n" not in text:  # card followed by its expiry date
        return text, layout + " +expiry"
    return text, layout


def positive_case(rng: random.Random, kind: str) -> CorpusCase:
    context, template = rng.choice(TEMPLATES[kind])
    value, layout = render_value(rng, kind)
    before, after = template.split("{}")
    before, after = before.replace("{{", "{"), after.replace("}}", "}")
    if layout.endswith("+expiry"):
        after = f" {rng.randint(1, 12):02d}/{rng.randint(26, 31)}" + after
    if rng.random() < 0.15 and after[:1] in (" ", ""):  # a Turkish suffix after an apostrophe
        after = rng.choice(SUFFIXES) + after
    return assemble((before, (kind, value, layout), after), context)


def two_value_case(rng: random.Random) -> CorpusCase:
    """A message holding two values and look-alikes next to each other (order, date, price)."""
    kind_a, kind_b = rng.sample(KINDS, 2)
    value_a, layout_a = render_value(rng, kind_a)
    value_b, layout_b = render_value(rng, kind_b)
    order = f"SP-{rng.randint(2020, 2026)}-{rng.randint(100000, 999999)}"
    pieces: list[Piece] = [
        f"Sipariş {order} ({rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026): ",
        (kind_a, value_a, layout_a),
        " ve ",
        (kind_b, value_b, layout_b),
        f" bilgileri kaydedildi, tutar {rng.randint(1, 99)}.{rng.randint(100, 999)},50 TL.",
    ]
    return assemble(pieces, "two values")


# --------------------------------------------------------------------------- look-alikes


def _digits(rng: random.Random, count: int, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(str(rng.randint(0, 9)) for _ in range(count - 1))


def lookalike(rng: random.Random) -> tuple[str, str]:  # noqa: C901 - a flat table of generators
    """One look-alike value and its category; never a valid value of any kind."""
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1950, 2030)
    hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    choice = rng.randrange(30)
    if choice == 0:
        return rng.choice((f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}", f"{d}-{m}-{y}")), "date"
    if choice == 1:
        return rng.choice(
            (f"{y}-{m:02d}-{d:02d}", f"{y}{m:02d}{d:02d}", f"{d:02d}.{m:02d}.{y % 100:02d}")
        ), "date"
    if choice == 2:
        return f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}+03:00", "iso datetime"
    if choice == 3:
        return rng.choice(
            (f"{hh:02d}:{mm:02d}", f"{hh:02d}.{mm:02d}", f"{hh:02d}:{mm:02d}:{ss:02d}")
        ), "time"
    if choice == 4:
        whole = rng.randint(1000, 99_999_999)
        return f"{whole:,}".replace(",", ".") + f",{rng.randint(0, 99):02d} TL", "price"
    if choice == 5:
        whole = rng.randint(1000, 9_999_999)
        return rng.choice(("₺", "")) + f"{whole:,}".replace(
            ",", " "
        ) + f",{rng.randint(0, 99):02d}", "price spaces"
    if choice == 6:
        return (
            f"978-605-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}-{rng.randint(0, 9)}",
            "isbn",
        )
    if choice == 7:
        return "978605" + _digits(rng, 7, "0123456789"), "isbn compact"
    if choice == 8:
        return _digits(rng, 10, "16789"), "order number 10 digits"
    if choice == 26:
        return "869" + _digits(rng, 10, "0123456789"), "EAN-13 barcode (Turkey 869)"
    if choice == 27:
        return rng.choice(("**** **** **** ", "4543 59** **** ", "XXXX-XXXX-XXXX-")) + _digits(
            rng, 4, "0123456789"
        ), "masked card"
    if choice == 28:
        return f"41.{rng.randint(0, 99999):05d}, 28.{rng.randint(0, 99999):05d}", "coordinates"
    if choice == 29:
        return f"{_digits(rng, 5)} {hh:02d}:{mm:02d}", "number then time"
    if choice == 9:
        return f"FTR{y}{_digits(rng, 9, '0123456789')}", "invoice number"
    if choice == 10:
        return _digits(rng, 13), "tracking 13 digits"
    if choice == 11:
        return f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 200)}", "version"
    if choice == 12:
        return ".".join(str(rng.randint(0, 255)) for _ in range(4)), "ipv4"
    if choice == 13:
        return make_invalid_tckn(rng), "tckn bad checksum"
    if choice == 14:
        bad = make_invalid_tckn(rng)
        return group(bad, (3, 3, 3, 2), rng.choice(" -.")), "tckn bad checksum grouped"
    if choice == 15:
        bad = make_invalid_iban(rng)
        return " ".join(bad[i : i + 4] for i in range(0, 26, 4)), "iban bad mod-97"
    if choice == 16:
        return make_invalid_iban(rng), "iban bad mod-97 compact"
    if choice == 17:
        return group(make_luhn_failing_card(rng), (4, 4, 4, 4), rng.choice(" -")), "card bad luhn"
    if choice == 18:
        return make_luhn_failing_card(rng), "card bad luhn compact"
    if choice == 19:
        return (
            f"SN: {rng.choice('ABCXYZ')}{_digits(rng, 3, '0123456789')}-"
            f"{_digits(rng, 4, '0123456789')}-K{rng.randint(10, 99)}",
            "serial",
        )
    if choice == 20:
        sub = _digits(rng, 7, "23456789")
        return rng.choice(
            (f"0532 {sub[:3]} {sub[3:5]} {sub[5]}", f"0532 {sub[:3]} {sub[3:5]} {sub[5:]}8")
        ), "phone wrong length"
    if choice == 21:
        return f"{rng.choice((34, 6, 35, 16, 7))}{rng.randint(0, 999):03d}".zfill(5), "postal code"
    if choice == 22:
        return rng.choice(
            ("@ayse_kilic", "@pytest.fixture", "@types/node", "ayse [at] firma [dot] com")
        ), "not an email"
    if choice == 23:
        return f"{y}{rng.randint(100000, 999999)}{rng.randint(100, 999)}"[
            :12
        ] + " KB", "file size / id"
    if choice == 24:
        luhn_other = luhn_complete("8" + _digits(rng, 14, "0123456789"))
        return group(luhn_other, (4, 4, 4, 4), " "), "luhn-valid no issuer range"
    bad = make_invalid_tckn(rng)
    return f"{bad[:2]}.{bad[2:5]}.{bad[5:8]}.{bad[8:]}", "11-digit dotted amount"


NEGATIVE_TEMPLATES = (
    "Siparişiniz {} tarihinde kargoya verildi.",
    "Fatura No: {} | Tutar: 1.250,00 TL",
    "Toplantı {} saatinde başlayacak, lütfen geç kalmayın.",
    "{}",
    "Kargo takip numaranız: {}",
    "Ürün kodu ({}) stokta yok.",
    '{{"siparis_no": "{}", "durum": "hazırlanıyor"}}',
    "| Sipariş | {} | Teslim edildi |",
    "2026-12-03,{},iade",
    "Referans: {} — bu bir kişisel veri değildir.",
    "Sürüm {} yayımlandı; değişiklik günlüğüne bakınız.",
    "Adres: Bağdat Cad. No: 145 D: 7, {} Kadıköy/İstanbul",
)


def passes_a_check(text: str) -> bool:
    """Whether some digit string in ``text`` (separators dropped) passes a rule by chance: a
    valid TC kimlik no, or a Luhn-valid number of 13-19 digits in a known issuer range. Such a
    look-alike is a finding by design, so it is never planted as a negative."""
    compact = "".join(c for c in text if c.isdigit())
    for length in range(11, 20):
        for start in range(len(compact) - length + 1):
            window = compact[start : start + length]
            if is_valid_tckn(window):
                return True
            issuer = (
                window[0] == "4" or "51" <= window[:2] <= "55" or "2221" <= window[:4] <= "2720"
            )
            issuer = issuer or window[:4] == "9792" or window[:2] in ("34", "37")
            if length >= 13 and issuer and luhn_valid(window):
                return True
    return False


def negative_case(rng: random.Random) -> CorpusCase:
    template = rng.choice(NEGATIVE_TEMPLATES)
    value, category = lookalike(rng)
    while passes_a_check(value):
        value, category = lookalike(rng)
    before, after = template.split("{}")
    before, after = before.replace("{{", "{"), after.replace("}}", "}")
    case = assemble((before, value, after), f"negative: {category}")
    return CorpusCase(case.text, case.planted, case.context, value)


def build_corpus(
    seed: int = 20261203, positives_per_kind: int = 70, two_value: int = 60, negatives: int = 200
) -> tuple[CorpusCase, ...]:
    """The seeded corpus: positives of every kind, two-value messages and look-alike negatives."""
    rng = random.Random(seed)
    cases: list[CorpusCase] = []
    for kind in KINDS:
        cases.extend(positive_case(rng, kind) for _ in range(positives_per_kind))
    cases.extend(two_value_case(rng) for _ in range(two_value))
    cases.extend(negative_case(rng) for _ in range(negatives))
    return tuple(cases)


# --------------------------------------------------------------------------- scoring


class DetectedSpan(Protocol):
    """What scoring needs of a detector's finding: ``kind``, ``start`` and ``end``."""

    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class KindScore:
    """Per kind: planted values, findings, and which of them count."""

    kind: str
    planted: int
    detected: int
    fully_masked: int
    findings: int
    true_findings: int

    @property
    def precision(self) -> float:
        return self.true_findings / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        return self.detected / self.planted if self.planted else 1.0

    @property
    def masked_rate(self) -> float:
        return self.fully_masked / self.planted if self.planted else 1.0


@dataclass(frozen=True)
class Problem:
    """One miss (a planted value not detected or not fully masked) or one false positive."""

    what: str  # "miss", "partly masked" or "false positive"
    kind: str
    layout: str
    value: str
    text: str


@dataclass(frozen=True)
class CorpusScore:
    kinds: tuple[KindScore, ...]
    problems: tuple[Problem, ...]


def _alnum_grams(text: str, size: int = 4) -> set[str]:
    compact = "".join(c for c in text.casefold() if c.isalnum())
    return {compact[i : i + size] for i in range(len(compact) - size + 1)}


def _fully_masked(
    case: CorpusCase, value: PlantedValue, covered: list[bool], redacted: str
) -> bool:
    """Every letter and digit of the value inside some finding, and no 4 of them in a row left
    readable in the redacted text (unless they are readable elsewhere in the text anyway)."""
    if not all(covered[i] for i in range(value.start, value.end) if case.text[i].isalnum()):
        return False
    elsewhere = case.text[: value.start] + " " + case.text[value.end :]
    without_placeholders = re.sub(r"\[[A-Z_]+\]", " ", redacted)  # "[EMAIL]" is not "hotmail"
    leaked = (_alnum_grams(value.text) - _alnum_grams(elsewhere)) & _alnum_grams(
        without_placeholders
    )
    return not leaked


def score(
    find: Callable[[str], Sequence[DetectedSpan]],
    redact: Callable[[str], str],
    cases: Sequence[CorpusCase],
) -> CorpusScore:
    """Score a detector: a planted value is detected when a finding of its kind overlaps it; a
    finding is true when it overlaps a planted value of its kind."""
    counts = {k: [0, 0, 0, 0, 0] for k in KINDS}  # planted, detected, masked, findings, true
    problems: list[Problem] = []
    for case in cases:
        findings = list(find(case.text))
        redacted = redact(case.text)
        covered = [False] * len(case.text)
        for f in findings:
            covered[f.start : f.end] = [True] * (f.end - f.start)
        for value in case.planted:
            hit = any(
                f.kind.lower() == value.kind and f.start < value.end and value.start < f.end
                for f in findings
            )
            full = _fully_masked(case, value, covered, redacted)
            counts[value.kind][0] += 1
            counts[value.kind][1] += hit
            counts[value.kind][2] += full
            if not hit or not full:
                problems.append(
                    Problem(
                        "miss" if not hit else "partly masked",
                        value.kind,
                        value.layout,
                        value.text,
                        case.text,
                    )
                )
        for f in findings:
            kind = f.kind.lower()
            true = any(v.kind == kind and f.start < v.end and v.start < f.end for v in case.planted)
            counts.setdefault(kind, [0, 0, 0, 0, 0])
            counts[kind][3] += 1
            counts[kind][4] += true
            if not true:
                problems.append(
                    Problem(
                        "false positive", kind, case.context, case.text[f.start : f.end], case.text
                    )
                )
    kinds = tuple(KindScore(k, *c) for k, c in counts.items())
    return CorpusScore(kinds, tuple(problems))
