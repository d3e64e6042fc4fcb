"""Deterministic generator for the shipped offline Turkish benchmark data.

Builds ``mlgate_tr_mc/test.jsonl`` (four-way multiple choice) and ``mlgate_tr_math/test.jsonl``
(arithmetic word problems) from the fact tables and templates in this module. Every fact table,
template and wording here was written for pytest-mlgate; no text is copied from another dataset.
Randomness comes only from ``random.Random`` with fixed seeds, so a rerun is byte-identical.

A development tool: it lives outside the package (the wheel ships only the data it wrote).
Regenerate the shipped files with::

    python -m tools.author_tasks

Suffixed forms of names, cities and nouns are written out by hand in the tables; the small
morphology helpers below re-derive them and ``_self_check`` fails loudly if the two disagree.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

MC_SEED = 20_241_124
MATH_SEED = 20_241_125
MC_TASK = "mlgate_tr_mc"
MATH_TASK = "mlgate_tr_math"

# ---------------------------------------------------------------------------------------------
# Turkish morphology helpers (vowel harmony, consonant assimilation)
# ---------------------------------------------------------------------------------------------

BACK_VOWELS = "aıou"
FRONT_VOWELS = "eiöü"
VOWELS = BACK_VOWELS + FRONT_VOWELS
VOICELESS = "çfhkpsşt"
_FOUR_WAY = {"a": "ı", "ı": "ı", "o": "u", "u": "u", "e": "i", "i": "i", "ö": "ü", "ü": "ü"}
# For a correct four-way vowel, the three wrong ones ordered from most to least tempting.
_WRONG_FOUR = {"ı": "iuü", "i": "ıüu", "u": "üıi", "ü": "uiı"}
# Loanwords whose suffixes take front vowels although their last vowel is back.
_FRONT_EXCEPTIONS = frozenset({"saat", "kalp"})


def _lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


def _cap(text: str) -> str:
    """Capitalise the first letter the Turkish way (i -> İ, ı -> I)."""
    if not text:
        return text
    first = {"i": "İ", "ı": "I"}.get(text[0], text[0].upper())
    return first + text[1:]


def _last_vowel(word: str) -> str:
    low = _lower(word)
    if low in _FRONT_EXCEPTIONS:
        return "i"
    for char in reversed(low):
        if char in VOWELS:
            return char
    raise ValueError(f"no vowel in {word!r}")


def _v2(word: str) -> str:
    return "a" if _last_vowel(word) in BACK_VOWELS else "e"


def _v4(word: str) -> str:
    return _FOUR_WAY[_last_vowel(word)]


def _ends_with_vowel(word: str) -> bool:
    return _lower(word)[-1] in VOWELS


def _ends_voiceless(word: str) -> bool:
    return _lower(word)[-1] in VOICELESS


def _swap_front(vowel: str) -> str:
    return {"a": "e", "e": "a", "ı": "i", "i": "ı", "u": "ü", "ü": "u", "o": "ö", "ö": "o"}[vowel]


def _soften(word: str) -> str:
    """The softened stem a learner might (wrongly or rightly) produce: p>b, ç>c, t>d, k>ğ/g."""
    last = word[-1]
    if last == "k":
        return word[:-1] + ("g" if word[-2:-1] == "n" else "ğ")
    return word[:-1] + {"p": "b", "ç": "c", "t": "d"}.get(last, last)


def _proper_genitive(name: str) -> str:
    vowel = _v4(name)
    return f"{name}'n{vowel}n" if _ends_with_vowel(name) else f"{name}'{vowel}n"


def _proper_dative(name: str) -> str:
    vowel = _v2(name)
    return f"{name}'y{vowel}" if _ends_with_vowel(name) else f"{name}'{vowel}"


def _proper_locative(name: str) -> str:
    return f"{name}'{'t' if _ends_voiceless(name) else 'd'}{_v2(name)}"


def _proper_ablative(name: str) -> str:
    return f"{_proper_locative(name)}n"


def _plural(word: str) -> str:
    return f"{word}l{_v2(word)}r"


def _locative(word: str) -> str:
    return f"{word}{'t' if _ends_voiceless(word) else 'd'}{_v2(word)}"


def _accusative(word: str, stem: str) -> str:
    """``stem`` is the form a vowel-initial suffix attaches to (kitap -> kitab)."""
    return f"{word}y{_v4(word)}" if _ends_with_vowel(word) else f"{stem}{_v4(word)}"


def _possessive(word: str, stem: str, person: str) -> str:
    vowel = _v4(word)
    if _ends_with_vowel(word):
        return {
            "1sg": f"{word}m",
            "2sg": f"{word}n",
            "3sg": f"{word}s{vowel}",
            "1pl": f"{word}m{vowel}z",
        }[person]
    return {
        "1sg": f"{stem}{vowel}m",
        "2sg": f"{stem}{vowel}n",
        "3sg": f"{stem}{vowel}",
        "1pl": f"{stem}{vowel}m{vowel}z",
    }[person]


# ---------------------------------------------------------------------------------------------
# Multiple choice: shared machinery
# ---------------------------------------------------------------------------------------------


class _MC(NamedTuple):
    category: str
    question: str
    answer: str
    distractors: tuple[str, str, str]


def _three(candidates: Sequence[str], answer: str) -> tuple[str, str, str]:
    """The first three distinct candidates that differ from the answer."""
    picked: list[str] = []
    for cand in candidates:
        if cand != answer and cand not in picked:
            picked.append(cand)
        if len(picked) == 3:
            return picked[0], picked[1], picked[2]
    raise ValueError(f"not enough distractors for {answer!r}: {candidates!r}")


def _sample_three(rng: random.Random, pool: Sequence[str], answer: str) -> tuple[str, str, str]:
    options = sorted({p for p in pool if p != answer})
    chosen = rng.sample(options, 3)
    return chosen[0], chosen[1], chosen[2]


# ---------------------------------------------------------------------------------------------
# genel_kultur
# ---------------------------------------------------------------------------------------------

# (country with genitive suffix, capital, hand-picked wrong cities of the same country or ()).
_CAPITALS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Türkiye'nin", "Ankara", ("İstanbul", "İzmir", "Bursa")),
    ("Fransa'nın", "Paris", ("Lyon", "Marsilya", "Nice")),
    ("Almanya'nın", "Berlin", ("Münih", "Hamburg", "Frankfurt")),
    ("İtalya'nın", "Roma", ("Milano", "Napoli", "Venedik")),
    ("İspanya'nın", "Madrid", ("Barselona", "Sevilla", "Valensiya")),
    ("Japonya'nın", "Tokyo", ("Osaka", "Kyoto", "Yokohama")),
    ("Rusya'nın", "Moskova", ("Kazan", "Novosibirsk", "Soçi")),
    ("Kanada'nın", "Ottawa", ("Toronto", "Montreal", "Vancouver")),
    ("Avustralya'nın", "Canberra", ("Sidney", "Melbourne", "Perth")),
    ("Brezilya'nın", "Brasília", ("Rio de Janeiro", "São Paulo", "Salvador")),
    ("Amerika Birleşik Devletleri'nin", "Washington", ("New York", "Los Angeles", "Chicago")),
    ("Çin'in", "Pekin", ("Şanghay", "Hong Kong", "Kanton")),
    ("Hindistan'ın", "Yeni Delhi", ("Mumbai", "Kalküta", "Bangalor")),
    ("Mısır'ın", "Kahire", ("İskenderiye", "Luksor", "Asvan")),
    ("Yunanistan'ın", "Atina", ("Selanik", "Patras", "Larisa")),
    ("Azerbaycan'ın", "Bakü", ("Gence", "Sumgayıt", "Şeki")),
    ("İran'ın", "Tahran", ("İsfahan", "Tebriz", "Şiraz")),
    ("Irak'ın", "Bağdat", ("Musul", "Basra", "Erbil")),
    ("Portekiz'in", "Lizbon", ("Porto", "Braga", "Faro")),
    ("Avusturya'nın", "Viyana", ("Salzburg", "Graz", "Innsbruck")),
    ("İsviçre'nin", "Bern", ("Zürih", "Cenevre", "Basel")),
    ("Polonya'nın", "Varşova", ("Krakov", "Gdansk", "Poznan")),
    ("Bulgaristan'ın", "Sofya", ("Filibe", "Varna", "Burgaz")),
    ("Gürcistan'ın", "Tiflis", ("Batum", "Kutaisi", "Rustavi")),
    ("Norveç'in", "Oslo", ("Bergen", "Trondheim", "Stavanger")),
    ("İsveç'in", "Stockholm", ("Göteborg", "Malmö", "Uppsala")),
    ("Güney Kore'nin", "Seul", ("Busan", "İncheon", "Daegu")),
    ("Arjantin'in", "Buenos Aires", ("Córdoba", "Rosario", "Mendoza")),
    ("Fas'ın", "Rabat", ("Kazablanka", "Marakeş", "Fes")),
    ("Pakistan'ın", "İslamabad", ("Karaçi", "Lahor", "Peşaver")),
    ("Nijerya'nın", "Abuja", ("Lagos", "Kano", "İbadan")),
    ("Hollanda'nın", "Amsterdam", ("Rotterdam", "Utrecht", "Eindhoven")),
    ("Belçika'nın", "Brüksel", ("Anvers", "Gent", "Brugge")),
    ("İngiltere'nin", "Londra", ("Manchester", "Liverpool", "Birmingham")),
    ("Özbekistan'ın", "Taşkent", ("Semerkant", "Buhara", "Hive")),
    ("Macaristan'ın", "Budapeşte", ("Debrecen", "Segedin", "Miskolc")),
    ("Bosna-Hersek'in", "Saraybosna", ("Mostar", "Banja Luka", "Tuzla")),
    ("Finlandiya'nın", "Helsinki", ("Turku", "Tampere", "Oulu")),
    ("Danimarka'nın", "Kopenhag", ("Aarhus", "Odense", "Aalborg")),
    ("Romanya'nın", "Bükreş", ("Köstence", "Temeşvar", "Yaş")),
    ("Sırbistan'ın", "Belgrad", ("Niş", "Novi Sad", "Kragujevac")),
    ("Arnavutluk'un", "Tiran", ("Dıraç", "İşkodra", "Avlonya")),
)

# (question, correct answer, three wrong answers)
_GENERAL_FACTS: tuple[tuple[str, str, tuple[str, str, str]], ...] = (
    (
        "Türkiye'nin en yüksek dağı hangisidir?",
        "Ağrı Dağı",
        ("Erciyes Dağı", "Uludağ", "Süphan Dağı"),
    ),
    (
        "Türkiye'nin en büyük gölü hangisidir?",
        "Van Gölü",
        ("Tuz Gölü", "Beyşehir Gölü", "Eğirdir Gölü"),
    ),
    (
        "Tamamı Türkiye topraklarında akan en uzun nehir hangisidir?",
        "Kızılırmak",
        ("Sakarya Nehri", "Yeşilırmak", "Büyük Menderes"),
    ),
    (
        "İstanbul Boğazı hangi iki denizi birbirine bağlar?",
        "Karadeniz ile Marmara",
        ("Ege ile Akdeniz", "Marmara ile Ege", "Karadeniz ile Ege"),
    ),
    (
        "Çanakkale Boğazı hangi iki denizi birbirine bağlar?",
        "Marmara ile Ege",
        ("Karadeniz ile Marmara", "Ege ile Akdeniz", "Karadeniz ile Akdeniz"),
    ),
    ("Türkiye kaç coğrafi bölgeye ayrılır?", "7", ("5", "6", "8")),
    ("Türkiye'de kaç il vardır?", "81", ("67", "76", "91")),
    ("Yüz ölçümü en büyük ilimiz hangisidir?", "Konya", ("Sivas", "Ankara", "Erzurum")),
    ("Türkiye'nin en kalabalık şehri hangisidir?", "İstanbul", ("Ankara", "İzmir", "Bursa")),
    (
        "Karadeniz, Türkiye'nin hangi yönündedir?",
        "kuzeyinde",
        ("güneyinde", "doğusunda", "batısında"),
    ),
    (
        "Akdeniz, Türkiye'nin hangi yönündedir?",
        "güneyinde",
        ("kuzeyinde", "doğusunda", "batısında"),
    ),
    (
        "Ege Denizi, Türkiye'nin hangi yönündedir?",
        "batısında",
        ("doğusunda", "kuzeyinde", "güneyinde"),
    ),
    (
        "Türkiye topraklarının büyük kısmı hangi kıtadadır?",
        "Asya",
        ("Avrupa", "Afrika", "Avustralya"),
    ),
    ("Pamukkale travertenleri hangi ildedir?", "Denizli", ("Muğla", "Antalya", "Konya")),
    ("Anıtkabir hangi şehirdedir?", "Ankara", ("İstanbul", "İzmir", "Samsun")),
    ("Ayasofya hangi şehirdedir?", "İstanbul", ("Ankara", "Bursa", "Konya")),
    ("Efes Antik Kenti hangi ildedir?", "İzmir", ("Muğla", "Antalya", "Manisa")),
    ("Sümela Manastırı hangi ildedir?", "Trabzon", ("Rize", "Artvin", "Giresun")),
    (
        "Nemrut Dağı'ndaki dev heykeller hangi ildedir?",
        "Adıyaman",
        ("Malatya", "Şanlıurfa", "Diyarbakır"),
    ),
    ("Rize ili en çok hangi tarım ürünüyle tanınır?", "çay", ("pamuk", "muz", "zeytin")),
    ("Dünyada en çok fındık hangi ülkede üretilir?", "Türkiye", ("İtalya", "İspanya", "Brezilya")),
    ("Türkiye Cumhuriyeti hangi yıl ilan edilmiştir?", "1923", ("1919", "1920", "1938")),
    ("Türkiye Büyük Millet Meclisi hangi yıl açılmıştır?", "1920", ("1919", "1923", "1930")),
    ("İstanbul hangi yıl fethedilmiştir?", "1453", ("1071", "1299", "1517")),
    ("Malazgirt Meydan Muharebesi hangi yıl yapılmıştır?", "1071", ("1453", "1176", "1299")),
    (
        "Türkiye Cumhuriyeti'nin ilk cumhurbaşkanı kimdir?",
        "Mustafa Kemal Atatürk",
        ("İsmet İnönü", "Celal Bayar", "Fevzi Çakmak"),
    ),
    (
        "İstanbul'u fetheden Osmanlı padişahı kimdir?",
        "Fatih Sultan Mehmet",
        ("Kanuni Sultan Süleyman", "Yavuz Sultan Selim", "Yıldırım Bayezid"),
    ),
    (
        "İstiklal Marşı'nın şairi kimdir?",
        "Mehmet Akif Ersoy",
        ("Namık Kemal", "Ziya Gökalp", "Yahya Kemal Beyatlı"),
    ),
    (
        "Nutuk adlı eserin yazarı kimdir?",
        "Mustafa Kemal Atatürk",
        ("İsmet İnönü", "Ziya Gökalp", "Namık Kemal"),
    ),
    ("Türk alfabesinde kaç harf vardır?", "29", ("26", "28", "31")),
    (
        "Cumhuriyet Bayramı hangi tarihte kutlanır?",
        "29 Ekim",
        ("23 Nisan", "19 Mayıs", "30 Ağustos"),
    ),
    (
        "Ulusal Egemenlik ve Çocuk Bayramı hangi tarihte kutlanır?",
        "23 Nisan",
        ("29 Ekim", "19 Mayıs", "30 Ağustos"),
    ),
    ("Zafer Bayramı hangi tarihte kutlanır?", "30 Ağustos", ("29 Ekim", "23 Nisan", "19 Mayıs")),
    (
        "Atatürk'ü Anma, Gençlik ve Spor Bayramı hangi tarihte kutlanır?",
        "19 Mayıs",
        ("29 Ekim", "23 Nisan", "30 Ağustos"),
    ),
    ("Türkiye'nin para birimi nedir?", "Türk lirası", ("avro", "dolar", "dinar")),
    ("Japonya'nın para birimi nedir?", "yen", ("yuan", "won", "rupi")),
    ("Suyun kimyasal formülü nedir?", "H2O", ("CO2", "NaCl", "O2")),
    ("Deniz seviyesinde saf su kaç santigrat derecede kaynar?", "100", ("0", "50", "212")),
    ("Deniz seviyesinde saf su kaç santigrat derecede donar?", "0", ("100", "10", "32")),
    ("Güneş sistemindeki en büyük gezegen hangisidir?", "Jüpiter", ("Mars", "Venüs", "Merkür")),
    ("Güneş'e en yakın gezegen hangisidir?", "Merkür", ("Venüs", "Mars", "Neptün")),
    ("Kızıl gezegen olarak bilinen gezegen hangisidir?", "Mars", ("Jüpiter", "Venüs", "Satürn")),
    ("Dünya'nın tek doğal uydusu hangisidir?", "Ay", ("Güneş", "Mars", "Titan")),
    (
        "Bitkiler fotosentez için havadan hangi gazı alır?",
        "karbon dioksit",
        ("oksijen", "helyum", "azot"),
    ),
    (
        "Hücrelerimizin solunum için ihtiyaç duyduğu gaz hangisidir?",
        "oksijen",
        ("karbon dioksit", "helyum", "hidrojen"),
    ),
    ("Vücutta kanı pompalayan organ hangisidir?", "kalp", ("akciğer", "böbrek", "mide")),
    ("İnsan vücudunun en büyük organı hangisidir?", "deri", ("kalp", "beyin", "mide")),
    (
        "Dünya'nın en büyük okyanusu hangisidir?",
        "Büyük Okyanus",
        ("Atlas Okyanusu", "Hint Okyanusu", "Arktik Okyanusu"),
    ),
    ("Yüz ölçümü en büyük kıta hangisidir?", "Asya", ("Afrika", "Avrupa", "Avustralya")),
    (
        "Dünyanın en yüksek dağı hangisidir?",
        "Everest Dağı",
        ("Ağrı Dağı", "Kilimanjaro", "Mont Blanc"),
    ),
    ("Eyfel Kulesi hangi şehirdedir?", "Paris", ("Londra", "Roma", "Berlin")),
    ("Kolezyum hangi şehirdedir?", "Roma", ("Atina", "Paris", "Madrid")),
    ("Sahra Çölü hangi kıtadadır?", "Afrika", ("Asya", "Avustralya", "Güney Amerika")),
    ("Bir üçgenin iç açılarının toplamı kaç derecedir?", "180", ("90", "270", "360")),
    ("Bir dörtgenin iç açılarının toplamı kaç derecedir?", "360", ("180", "90", "270")),
    ("Altıgenin kaç kenarı vardır?", "6", ("5", "7", "8")),
    ("Kimyasal sembolü Fe olan element hangisidir?", "demir", ("bakır", "kurşun", "çinko")),
    ("Kimyasal sembolü Au olan element hangisidir?", "altın", ("gümüş", "alüminyum", "bakır")),
    ("Mıknatısın çektiği metal hangisidir?", "demir", ("bakır", "alüminyum", "altın")),
    ("Ses hangi ortamda yayılamaz?", "boşlukta", ("suda", "havada", "demirde")),
    (
        "Penisilini keşfeden bilim insanı kimdir?",
        "Alexander Fleming",
        ("Louis Pasteur", "Isaac Newton", "Marie Curie"),
    ),
    ("Balina hangi hayvan sınıfındadır?", "memeliler", ("balıklar", "sürüngenler", "kuşlar")),
    ("Yarasa hangi hayvan sınıfındadır?", "memeliler", ("kuşlar", "sürüngenler", "böcekler")),
    (
        "Kurbağa hangi hayvan sınıfındadır?",
        "iki yaşamlılar",
        ("sürüngenler", "balıklar", "memeliler"),
    ),
    ("Penguen hangi hayvan sınıfındadır?", "kuşlar", ("memeliler", "balıklar", "sürüngenler")),
    ("Timsah hangi hayvan sınıfındadır?", "sürüngenler", ("memeliler", "iki yaşamlılar", "kuşlar")),
    ("Yaz Olimpiyat Oyunları kaç yılda bir düzenlenir?", "4", ("2", "3", "5")),
    ("Bir futbol takımı maça sahada kaç oyuncuyla başlar?", "11", ("9", "10", "12")),
    ("Satranç tahtasında kaç kare vardır?", "64", ("36", "49", "81")),
)


def _genel_kultur(rng: random.Random) -> list[_MC]:
    items: list[_MC] = []
    all_capitals = [capital for _, capital, _ in _CAPITALS]
    for country, capital, wrong in _CAPITALS:
        distractors = _three(wrong, capital) if wrong else _sample_three(rng, all_capitals, capital)
        items.append(_MC("genel_kultur", f"{country} başkenti neresidir?", capital, distractors))
    for question, answer, wrong3 in _GENERAL_FACTS:
        items.append(_MC("genel_kultur", question, answer, wrong3))
    return items


# ---------------------------------------------------------------------------------------------
# sozcuk_anlam
# ---------------------------------------------------------------------------------------------

# (word, synonym, part of speech, meaning group). Distractors come from other groups only.
_SYNONYMS: tuple[tuple[str, str, str, str], ...] = (
    ("siyah", "kara", "s", "renk"),
    ("beyaz", "ak", "s", "renk"),
    ("fakir", "yoksul", "s", "varlık"),
    ("zengin", "varlıklı", "s", "varlık"),
    ("ihtiyar", "yaşlı", "s", "yaş"),
    ("özgür", "hür", "s", "özgürlük"),
    ("hızlı", "çabuk", "s", "hız"),
    ("cevap", "yanıt", "i", "soru"),
    ("okul", "mektep", "i", "okul"),
    ("öğrenci", "talebe", "i", "okul"),
    ("hediye", "armağan", "i", "hediye"),
    ("kelime", "sözcük", "i", "dil"),
    ("cümle", "tümce", "i", "dil"),
    ("isim", "ad", "i", "dil"),
    ("misafir", "konuk", "i", "misafir"),
    ("doktor", "hekim", "i", "sağlık"),
    ("imkân", "olanak", "i", "olanak"),
    ("hayat", "yaşam", "i", "hayat"),
    ("millet", "ulus", "i", "ülke"),
    ("şehir", "kent", "i", "ülke"),
    ("yurt", "vatan", "i", "ülke"),
    ("yıl", "sene", "i", "zaman"),
    ("rüya", "düş", "i", "rüya"),
    ("kalp", "yürek", "i", "kalp"),
    ("ırmak", "nehir", "i", "su"),
    ("duygu", "his", "i", "duygu"),
    ("deneyim", "tecrübe", "i", "deneyim"),
    ("tanık", "şahit", "i", "hukuk"),
    ("kanıt", "delil", "i", "hukuk"),
    ("savaş", "harp", "i", "savaş"),
    ("anı", "hatıra", "i", "anı"),
    ("konu", "mevzu", "i", "konu"),
    ("ilgi", "alaka", "i", "istek"),
    ("istek", "arzu", "i", "istek"),
    ("eser", "yapıt", "i", "eser"),
    ("doğa", "tabiat", "i", "doğa"),
    ("neden", "sebep", "i", "neden"),
    ("örnek", "misal", "i", "örnek"),
    ("sınav", "imtihan", "i", "okul"),
    ("kuvvet", "güç", "i", "kuvvet"),
)

# (word, antonym, part of speech, meaning group)
_ANTONYMS: tuple[tuple[str, str, str, str], ...] = (
    ("büyük", "küçük", "s", "boyut"),
    ("uzun", "kısa", "s", "boyut"),
    ("geniş", "dar", "s", "boyut"),
    ("kalın", "ince", "s", "boyut"),
    ("derin", "sığ", "s", "boyut"),
    ("yüksek", "alçak", "s", "boyut"),
    ("yakın", "uzak", "s", "boyut"),
    ("sıcak", "soğuk", "s", "ısı"),
    ("ağır", "hafif", "s", "ağırlık"),
    ("hızlı", "yavaş", "s", "hız"),
    ("erken", "geç", "s", "zaman"),
    ("yeni", "eski", "s", "yaş"),
    ("genç", "yaşlı", "s", "yaş"),
    ("dolu", "boş", "s", "doluluk"),
    ("temiz", "kirli", "s", "temizlik"),
    ("kolay", "zor", "s", "güçlük"),
    ("iyi", "kötü", "s", "değer"),
    ("doğru", "yanlış", "s", "değer"),
    ("ıslak", "kuru", "s", "nem"),
    ("sert", "yumuşak", "s", "sertlik"),
    ("cesur", "korkak", "s", "cesaret"),
    ("çalışkan", "tembel", "s", "çalışma"),
    ("ucuz", "pahalı", "s", "fiyat"),
    ("zengin", "fakir", "s", "fiyat"),
    ("gece", "gündüz", "i", "zaman"),
    ("dost", "düşman", "i", "dostluk"),
    ("savaş", "barış", "i", "savaş"),
    ("giriş", "çıkış", "i", "yön"),
    ("başlangıç", "son", "i", "süreç"),
    ("zafer", "yenilgi", "i", "yarış"),
    ("gelmek", "gitmek", "f", "hareket"),
    ("girmek", "çıkmak", "f", "hareket"),
    ("almak", "vermek", "f", "alışveriş"),
    ("gülmek", "ağlamak", "f", "duygu"),
    ("unutmak", "hatırlamak", "f", "bellek"),
    ("kazanmak", "kaybetmek", "f", "yarış"),
    ("başlamak", "bitmek", "f", "süreç"),
    ("açmak", "kapamak", "f", "süreç"),
)

# (idiom, meaning, meaning group). Meanings in one group are never used as each other's
# distractors, so no wrong choice can be argued to be right.
_IDIOMS: tuple[tuple[str, str, str], ...] = (
    ("kulak asmamak", "önemsememek", "ilgisiz"),
    ("göz yummak", "görmezden gelmek", "ilgisiz"),
    ("burun kıvırmak", "beğenmemek", "ilgisiz"),
    ("burnu havada olmak", "kibirli olmak", "kibir"),
    ("hava atmak", "gösteriş yapmak", "kibir"),
    ("eli açık olmak", "cömert olmak", "para"),
    ("eli sıkı olmak", "cimri olmak", "para"),
    ("etekleri zil çalmak", "çok sevinmek", "sevinç"),
    ("küplere binmek", "çok öfkelenmek", "öfke"),
    ("kulak kesilmek", "dikkatle dinlemek", "dikkat"),
    ("kılı kırk yarmak", "çok titiz davranmak", "dikkat"),
    ("dört gözle beklemek", "sabırsızlıkla beklemek", "bekleme"),
    ("el ele vermek", "yardımlaşmak", "birlik"),
    ("yüzü kızarmak", "utanmak", "utanç"),
    ("ipe un sermek", "bahane uydurmak", "bahane"),
    ("ağzı sıkı olmak", "sır saklamak", "konuşma"),
    ("ağzından kaçırmak", "istemeden söylemek", "konuşma"),
    ("çenesi düşük olmak", "geveze olmak", "konuşma"),
    ("diken üstünde olmak", "tedirgin olmak", "kaygı"),
    ("yerinde saymak", "ilerleme kaydetmemek", "ilerleme"),
    ("kulağına küpe olmak", "ders almak", "ders"),
    ("tabanları yağlamak", "kaçmak", "kaçma"),
    ("el üstünde tutmak", "çok değer vermek", "değer"),
    ("bel bağlamak", "güvenmek", "güven"),
    ("kafa yormak", "çok düşünmek", "düşünme"),
    ("kafasına koymak", "kesin karar vermek", "düşünme"),
    ("göz atmak", "kısaca bakmak", "bakma"),
    ("gözü kara olmak", "korkusuz olmak", "cesaret"),
)

# (definition, word) for people by occupation; the words are pairwise unrelated.
_OCCUPATIONS: tuple[tuple[str, str], ...] = (
    ("Ekmek yapıp satan kişiye ne denir?", "fırıncı"),
    ("Kumaştan elbise diken kişiye ne denir?", "terzi"),
    ("Et satan kişiye ne denir?", "kasap"),
    ("Erkeklerin saçını ve sakalını kesen kişiye ne denir?", "berber"),
    ("Binaların planını çizen kişiye ne denir?", "mimar"),
    ("Uçak kullanan kişiye ne denir?", "pilot"),
    ("Mektupları adreslerine dağıtan kişiye ne denir?", "postacı"),
    ("Yangın söndüren kişiye ne denir?", "itfaiyeci"),
    ("Resim yapan sanatçıya ne denir?", "ressam"),
    ("Şiir yazan kişiye ne denir?", "şair"),
    ("Arı yetiştirip bal üreten kişiye ne denir?", "arıcı"),
    ("Mahkemede karar veren kişiye ne denir?", "hâkim"),
    ("Dişleri tedavi eden kişiye ne denir?", "diş hekimi"),
    ("Tarlada ürün yetiştiren kişiye ne denir?", "çiftçi"),
    ("Denizden balık tutan kişiye ne denir?", "balıkçı"),
)

# (animal with genitive suffix, name of its young)
_YOUNG: tuple[tuple[str, str], ...] = (
    ("Koyunun", "kuzu"),
    ("İneğin", "buzağı"),
    ("Keçinin", "oğlak"),
    ("Atın", "tay"),
    ("Tavuğun", "civciv"),
    ("Eşeğin", "sıpa"),
)


def _grouped_distractors(
    rng: random.Random,
    rows: Sequence[tuple[str, str, str, str]],
    index: int,
    use_word_too: bool,
) -> tuple[str, str, str]:
    word, answer, pos, group = rows[index]
    pool: set[str] = set()
    for other_word, other_answer, other_pos, other_group in rows:
        if other_group == group or other_pos != pos:
            continue
        pool.add(other_answer)
        if use_word_too:
            pool.add(other_word)
    pool.discard(word)
    return _sample_three(rng, sorted(pool), answer)


def _sozcuk_anlam(rng: random.Random) -> list[_MC]:
    items: list[_MC] = []
    cat = "sozcuk_anlam"
    for i, (word, syn, _, _) in enumerate(_SYNONYMS):
        distractors = _grouped_distractors(rng, _SYNONYMS, i, use_word_too=False)
        question = f'"{_cap(word)}" sözcüğünün eş anlamlısı nedir?'
        items.append(_MC(cat, question, syn, distractors))
    for i, (word, ant, _, _) in enumerate(_ANTONYMS):
        distractors = _grouped_distractors(rng, _ANTONYMS, i, use_word_too=True)
        question = f'"{_cap(word)}" sözcüğünün zıt anlamlısı nedir?'
        items.append(_MC(cat, question, ant, distractors))
    idiom_rows = [(idiom, meaning, "d", group) for idiom, meaning, group in _IDIOMS]
    for i, (idiom, meaning, _, _) in enumerate(idiom_rows):
        distractors = _grouped_distractors(rng, idiom_rows, i, use_word_too=False)
        question = f'"{_cap(idiom)}" deyiminin anlamı nedir?'
        items.append(_MC(cat, question, meaning, distractors))
    jobs = [job for _, job in _OCCUPATIONS]
    for question, job in _OCCUPATIONS:
        items.append(_MC(cat, question, job, _sample_three(rng, jobs, job)))
    young = [y for _, y in _YOUNG]
    for animal_gen, y in _YOUNG:
        question = f"{animal_gen} yavrusuna ne denir?"
        items.append(_MC(cat, question, y, _sample_three(rng, young, y)))
    return items


# ---------------------------------------------------------------------------------------------
# dilbilgisi
# ---------------------------------------------------------------------------------------------

_PLURAL_WORDS: tuple[tuple[str, str], ...] = (
    ("ev", "evler"),
    ("kitap", "kitaplar"),
    ("göz", "gözler"),
    ("okul", "okullar"),
    ("kuş", "kuşlar"),
    ("gül", "güller"),
    ("kız", "kızlar"),
    ("çiçek", "çiçekler"),
    ("masa", "masalar"),
    ("kalem", "kalemler"),
    ("yol", "yollar"),
    ("köprü", "köprüler"),
    ("ağaç", "ağaçlar"),
    ("saat", "saatler"),
    ("kalp", "kalpler"),
    ("ülke", "ülkeler"),
    ("bulut", "bulutlar"),
    ("deniz", "denizler"),
    ("söz", "sözler"),
    ("kapı", "kapılar"),
)

_LOCATIVE_WORDS: tuple[tuple[str, str], ...] = (
    ("kitap", "kitapta"),
    ("ağaç", "ağaçta"),
    ("sokak", "sokakta"),
    ("sepet", "sepette"),
    ("park", "parkta"),
    ("mutfak", "mutfakta"),
    ("ev", "evde"),
    ("bahçe", "bahçede"),
    ("deniz", "denizde"),
    ("köy", "köyde"),
    ("otobüs", "otobüste"),
    ("dolap", "dolapta"),
    ("masa", "masada"),
    ("göl", "gölde"),
    ("yatak", "yatakta"),
    ("saat", "saatte"),
    ("okul", "okulda"),
    ("köşk", "köşkte"),
)

# (city, locative form) used in "Ben ___ doğdum."
_CITY_LOCATIVES: tuple[tuple[str, str], ...] = (
    ("Sinop", "Sinop'ta"),
    ("Muş", "Muş'ta"),
    ("Kars", "Kars'ta"),
    ("Tokat", "Tokat'ta"),
    ("Bitlis", "Bitlis'te"),
    ("Sivas", "Sivas'ta"),
    ("Ankara", "Ankara'da"),
    ("İzmir", "İzmir'de"),
    ("Bursa", "Bursa'da"),
    ("Van", "Van'da"),
    ("Rize", "Rize'de"),
    ("Erzurum", "Erzurum'da"),
    ("Edirne", "Edirne'de"),
    ("Bingöl", "Bingöl'de"),
)

# (city, genitive form) used in "___ havası bugün çok güzel."
_CITY_GENITIVES: tuple[tuple[str, str], ...] = (
    ("Ankara", "Ankara'nın"),
    ("İzmir", "İzmir'in"),
    ("Sinop", "Sinop'un"),
    ("Tokat", "Tokat'ın"),
    ("Ordu", "Ordu'nun"),
    ("Muş", "Muş'un"),
    ("Bingöl", "Bingöl'ün"),
    ("Bolu", "Bolu'nun"),
    ("Düzce", "Düzce'nin"),
    ("Iğdır", "Iğdır'ın"),
    ("Çorum", "Çorum'un"),
    ("Rize", "Rize'nin"),
)

# (word, stem before a vowel-initial suffix, accusative form)
_ACCUSATIVE_WORDS: tuple[tuple[str, str, str], ...] = (
    ("kitap", "kitab", "kitabı"),
    ("ağaç", "ağac", "ağacı"),
    ("renk", "reng", "rengi"),
    ("kanat", "kanad", "kanadı"),
    ("dolap", "dolab", "dolabı"),
    ("çorap", "çorab", "çorabı"),
    ("ayak", "ayağ", "ayağı"),
    ("kulak", "kulağ", "kulağı"),
    ("çiçek", "çiçeğ", "çiçeği"),
    ("köpek", "köpeğ", "köpeği"),
    ("bıçak", "bıçağ", "bıçağı"),
    ("ev", "ev", "evi"),
    ("göz", "göz", "gözü"),
    ("okul", "okul", "okulu"),
    ("masa", "masa", "masayı"),
    ("kapı", "kapı", "kapıyı"),
    ("köprü", "köprü", "köprüyü"),
    ("kuzu", "kuzu", "kuzuyu"),
    ("ütü", "ütü", "ütüyü"),
    ("süt", "süt", "sütü"),
    ("top", "top", "topu"),
    ("saç", "saç", "saçı"),
    ("saat", "saat", "saati"),
    ("kalp", "kalb", "kalbi"),
)

# (word, stem before a vowel-initial suffix) for "Benim/Senin/Onun/Bizim ___ burada."
_POSSESSIVE_WORDS: tuple[tuple[str, str], ...] = (
    ("kitap", "kitab"),
    ("çorap", "çorab"),
    ("kalem", "kalem"),
    ("çanta", "çanta"),
    ("defter", "defter"),
    ("köpek", "köpeğ"),
    ("bıçak", "bıçağ"),
    ("ayakkabı", "ayakkabı"),
    ("gözlük", "gözlüğ"),
    ("anahtar", "anahtar"),
    ("top", "top"),
    ("kedi", "kedi"),
    ("ütü", "ütü"),
    ("saat", "saat"),
    ("araba", "araba"),
    ("palto", "palto"),
)
_POSSESSORS: tuple[tuple[str, str], ...] = (
    ("Benim", "1sg"),
    ("Senin", "2sg"),
    ("Onun", "3sg"),
    ("Bizim", "1pl"),
)

# Questions with a blank where the question particle goes; the particle follows the last word.
_PARTICLE_SENTENCES: tuple[str, ...] = (
    "Çay sıcak ___?",
    "Kapı açık ___?",
    "Hava soğuk ___?",
    "Yemek güzel ___?",
    "Bu ev büyük ___?",
    "Sınav zor ___?",
    "Çocuklar okulda ___?",
    "Ödevini bitirdin ___?",
    "Annen evde ___?",
    "Otobüs geldi ___?",
    "Kedi uyuyor ___?",
    "Yol uzun ___?",
    "Süt taze ___?",
    "Saat üç ___?",
    "Kardeşin üzgün ___?",
    "Pasta tatlı ___?",
    "Kitabı okudun ___?",
    "Çorba soğudu ___?",
    "Bu gömlek ütülü ___?",
    "Sen de gördün ___?",
    "Maç başladı ___?",
    "Bebek uyudu ___?",
    "Dükkân açık ___?",
    "Bu köprü sağlam ___?",
)

# Names for "{name} ___ bizimle gelecek." with the conjunction de/da.
_CONJ_NAMES: tuple[str, ...] = (
    "Ahmet",
    "Murat",
    "Zeynep",
    "Burak",
    "Elif",
    "Umut",
    "Ayşe",
    "Can",
    "Selin",
    "Oğuz",
    "Gül",
    "Yusuf",
)


def _wrong_vowel_forms(prefix: str, vowel: str, suffix_after: str = "") -> list[str]:
    return [f"{prefix}{w}{suffix_after}" for w in _WRONG_FOUR[vowel]]


def _dilbilgisi(rng: random.Random) -> list[_MC]:
    items: list[_MC] = []
    cat = "dilbilgisi"

    for word, plural in _PLURAL_WORDS:
        other = f"{word}l{_swap_front(_v2(word))}r"
        cands = [other]
        if _ends_voiceless(word) and _soften(word) != word:
            cands += [_soften(word) + plural[len(word) :], _soften(word) + other[len(word) :]]
        wrong_i = "ı" if _v2(word) == "e" else "i"
        cands += [f"{word}l{wrong_i}r", f"{word}l{_v4(word)}r"]
        question = f'"{_cap(word)}" sözcüğünün çoğul biçimi hangisidir?'
        items.append(_MC(cat, question, plural, _three(cands, plural)))

    for word, loc in _LOCATIVE_WORDS:
        cands = [f"{word}{c}{v}" for c in ("d", "t") for v in ("a", "e")]
        question = f'"{_cap(word)}" sözcüğünün bulunma hâli eki almış biçimi hangisidir?'
        items.append(_MC(cat, question, loc, _three(cands, loc)))

    for city, loc in _CITY_LOCATIVES:
        cands = [f"{city}'{c}{v}" for c in ("d", "t") for v in ("a", "e")]
        question = f'"Ben ___ doğdum." cümlesinde boşluğa "{city}" adının hangi biçimi gelir?'
        items.append(_MC(cat, question, loc, _three(cands, loc)))

    for city, gen in _CITY_GENITIVES:
        vowel = _v4(city)
        if _ends_with_vowel(city):
            cands = [f"{city}n{vowel}n", f"{city}'n{_swap_front(vowel)}n", f"{city}'{vowel}n"]
        else:
            cands = [f"{city}{vowel}n", f"{city}'{_swap_front(vowel)}n", f"{city}'n{vowel}n"]
        question = (
            f'"___ havası bugün çok güzel." cümlesinde boşluğa "{city}" adının hangi biçimi gelir?'
        )
        items.append(_MC(cat, question, gen, _three(cands, gen)))

    for word, stem, acc in _ACCUSATIVE_WORDS:
        vowel = _v4(word)
        if _ends_with_vowel(word):
            cands = [f"{word}y{_WRONG_FOUR[vowel][0]}", f"{word}{vowel}"]
            cands += _wrong_vowel_forms(f"{word}y", vowel)
        else:
            cands = []
            if stem != word:
                cands.append(f"{word}{vowel}")
            elif _ends_voiceless(word) and _soften(word) != word:
                cands.append(f"{_soften(word)}{vowel}")
            cands += _wrong_vowel_forms(stem, vowel) + _wrong_vowel_forms(word, vowel)
        question = f'"{_cap(word)}" sözcüğünün belirtme hâli eki almış biçimi hangisidir?'
        items.append(_MC(cat, question, acc, _three(cands, acc)))

    for word, stem in _POSSESSIVE_WORDS:
        possessor, person = rng.choice(_POSSESSORS)
        form = _possessive(word, stem, person)
        vowel = _v4(word)
        cands = []
        if stem != word:
            cands.append(_possessive(word, word, person))
        if _ends_with_vowel(word):
            if person == "3sg":
                cands += _wrong_vowel_forms(f"{word}s", vowel)
            elif person == "1pl":
                cands += _wrong_vowel_forms(f"{word}m", vowel, "z")
            else:
                cands += [f"{word}{vowel}{form[-1]}"]
                cands += _wrong_vowel_forms(word, vowel, form[-1])
        else:
            tail = form[len(stem) + 1 :]
            cands += [f"{stem}{w}{tail.replace(vowel, w)}" for w in _WRONG_FOUR[vowel]]
        question = (
            f'"{possessor} ___ burada." cümlesinde boşluğa "{word}" sözcüğünün hangi biçimi gelir?'
        )
        items.append(_MC(cat, question, form, _three(cands, form)))

    particles = ["mı", "mi", "mu", "mü"]
    for sentence in _PARTICLE_SENTENCES:
        last_word = sentence.replace(" ___?", "").split()[-1]
        particle = f"m{_v4(last_word)}"
        question = f'"{sentence}" sorusunda boşluğa hangi soru eki yazılmalıdır?'
        items.append(_MC(cat, question, particle, _three(particles, particle)))

    conjunctions = ["da", "de", "ta", "te"]
    for name in _CONJ_NAMES:
        conj = f"d{_v2(name)}"
        question = (
            f'"{name} ___ bizimle gelecek." cümlesinde boşluğa "da/de" bağlacının '
            "hangi biçimi yazılır?"
        )
        items.append(_MC(cat, question, conj, _three(conjunctions, conj)))
    return items


# ---------------------------------------------------------------------------------------------
# gunluk_akil
# ---------------------------------------------------------------------------------------------

DAYS = ("pazartesi", "salı", "çarşamba", "perşembe", "cuma", "cumartesi", "pazar")
MONTHS = (
    "ocak",
    "şubat",
    "mart",
    "nisan",
    "mayıs",
    "haziran",
    "temmuz",
    "ağustos",
    "eylül",
    "ekim",
    "kasım",
    "aralık",
)
ORDINALS = (
    "birinci",
    "ikinci",
    "üçüncü",
    "dördüncü",
    "beşinci",
    "altıncı",
    "yedinci",
    "sekizinci",
    "dokuzuncu",
    "onuncu",
    "on birinci",
    "on ikinci",
)
SEASONS = ("kış", "ilkbahar", "yaz", "sonbahar")
# Only months in the middle of a season, so the answer is the same by any convention.
_MONTH_SEASON: tuple[tuple[str, str], ...] = (
    ("ocak", "kış"),
    ("şubat", "kış"),
    ("nisan", "ilkbahar"),
    ("mayıs", "ilkbahar"),
    ("temmuz", "yaz"),
    ("ağustos", "yaz"),
    ("ekim", "sonbahar"),
    ("kasım", "sonbahar"),
)
_MONTH_DAYS: tuple[tuple[str, int], ...] = (
    ("Ocak ayı kaç gündür?", 31),
    ("Nisan ayı kaç gündür?", 30),
    ("Haziran ayı kaç gündür?", 30),
    ("Eylül ayı kaç gündür?", 30),
    ("Aralık ayı kaç gündür?", 31),
    ("Artık yıl olmayan bir yılda şubat ayı kaç gündür?", 28),
)
# (offset in days, template)
_DAY_TEMPLATES: tuple[tuple[int, str], ...] = (
    (1, "Bugün {d} ise yarın hangi gündür?"),
    (-1, "Bugün {d} ise dün hangi gündü?"),
    (2, "Bugün {d} ise iki gün sonra hangi gün olur?"),
    (-2, "Bugün {d} ise iki gün önce hangi gündü?"),
    (3, "Bugün {d} ise üç gün sonra hangi gün olur?"),
    (7, "Bugün {d} ise bir hafta sonra hangi gün olur?"),
)
# Hour words and their locative forms ("saat üçte").
_HOURS: tuple[tuple[str, str], ...] = (
    ("bir", "birde"),
    ("iki", "ikide"),
    ("üç", "üçte"),
    ("dört", "dörtte"),
    ("beş", "beşte"),
    ("altı", "altıda"),
    ("yedi", "yedide"),
    ("sekiz", "sekizde"),
    ("dokuz", "dokuzda"),
    ("on", "onda"),
    ("on bir", "on birde"),
    ("on iki", "on ikide"),
)
_EVENTS = ("film", "toplantı", "konser", "yolculuk", "sınav")

# (question, answer, three wrong answers)
_UNITS: tuple[tuple[str, str, tuple[str, str, str]], ...] = (
    ("Bir saatte kaç dakika vardır?", "60", ("30", "100", "24")),
    ("Bir dakikada kaç saniye vardır?", "60", ("100", "30", "12")),
    ("Bir günde kaç saat vardır?", "24", ("12", "60", "48")),
    ("Bir haftada kaç gün vardır?", "7", ("5", "10", "6")),
    ("Bir yılda kaç ay vardır?", "12", ("10", "24", "52")),
    ("Bir kilogram kaç gramdır?", "1000", ("100", "10", "500")),
    ("Bir metre kaç santimetredir?", "100", ("10", "1000", "60")),
    ("Bir kilometre kaç metredir?", "1000", ("100", "10", "10000")),
    ("Bir litre kaç mililitredir?", "1000", ("100", "10", "500")),
    ("Bir düzine kaç tanedir?", "12", ("10", "6", "20")),
    ("Bir deste kaç tanedir?", "10", ("12", "5", "20")),
    ("Yarım saat kaç dakikadır?", "30", ("15", "45", "50")),
    ("Çeyrek saat kaç dakikadır?", "15", ("25", "30", "45")),
    ("Bir buçuk saat kaç dakikadır?", "90", ("60", "120", "150")),
    ("Bir asır kaç yıldır?", "100", ("10", "50", "1000")),
    ("Artık yıl olmayan bir yıl kaç gündür?", "365", ("360", "366", "364")),
    ("Bir ton kaç kilogramdır?", "1000", ("100", "10", "500")),
    ("Bir santimetre kaç milimetredir?", "10", ("100", "1000", "5")),
    ("Bir lira kaç kuruştur?", "100", ("10", "50", "1000")),
    ("Yarım kilogram kaç gramdır?", "500", ("50", "250", "5000")),
    ("Bir çift eldivende kaç eldiven vardır?", "2", ("1", "3", "4")),
)

_EVERYDAY: tuple[tuple[str, str, tuple[str, str, str]], ...] = (
    (
        "Dondurma sıcak bir günde güneşte bırakılırsa ne olur?",
        "erir",
        ("donar", "büyür", "sertleşir"),
    ),
    (
        "Su dondurucuda uzun süre bekletilirse ne olur?",
        "buza dönüşür",
        ("kaynar", "buharlaşır", "ısınır"),
    ),
    (
        "Saksıdaki bir bitki haftalarca sulanmazsa ne olur?",
        "kurur",
        ("hızla büyür", "meyve verir", "çoğalır"),
    ),
    ("Ocaktaki su uzun süre ısıtılırsa ne olur?", "kaynar", ("donar", "buz tutar", "soğur")),
    (
        "Yağmurlu bir günde ıslanmamak için ne kullanılır?",
        "şemsiye",
        ("güneş kremi", "yelpaze", "mayo"),
    ),
    (
        "Karanlık bir odada etrafı görmek için ne yapılır?",
        "ışık yakılır",
        ("perde çekilir", "gözler kapatılır", "kapı kilitlenir"),
    ),
    (
        "Trafik ışığı kırmızı yandığında sürücüler ne yapmalıdır?",
        "durmalıdır",
        ("hızlanmalıdır", "korna çalmalıdır", "geri gitmelidir"),
    ),
    (
        "Cam bir bardak taş zemine düşerse genellikle ne olur?",
        "kırılır",
        ("erir", "büyür", "esner"),
    ),
    ("Çok üşüyen biri ne giymelidir?", "kalın bir mont", ("ince bir tişört", "şort", "mayo")),
    (
        "Telefonun şarjı bittiğinde ne yapılmalıdır?",
        "şarj edilmelidir",
        ("suya konmalıdır", "buzdolabına konmalıdır", "boyanmalıdır"),
    ),
    (
        "Çok susayan biri ne yapmalıdır?",
        "su içmelidir",
        ("tuzlu yemelidir", "koşmalıdır", "uyumalıdır"),
    ),
    ("Kar yağdıktan sonra yerler hangi renge bürünür?", "beyaz", ("kırmızı", "mavi", "yeşil")),
    ("Güneş hangi yönden doğar?", "doğudan", ("batıdan", "kuzeyden", "güneyden")),
    ("Güneş hangi yönde batar?", "batıda", ("doğuda", "kuzeyde", "güneyde")),
    ("Güneşte asılan ıslak çamaşırlara ne olur?", "kurur", ("ıslanır", "erir", "donar")),
    ("Türkiye'de yılın en soğuk mevsimi hangisidir?", "kış", ("yaz", "ilkbahar", "sonbahar")),
    (
        "Fil, fare, kedi ve tavşan arasında en ağır olan hangisidir?",
        "fil",
        ("fare", "kedi", "tavşan"),
    ),
    (
        "Çita, kaplumbağa, salyangoz ve inek arasında en hızlı olan hangisidir?",
        "çita",
        ("kaplumbağa", "salyangoz", "inek"),
    ),
    (
        "Karınca, köpek, at ve fil arasında en küçük olan hangisidir?",
        "karınca",
        ("köpek", "at", "fil"),
    ),
    (
        "Karpuz, üzüm, kiraz ve çilek arasında en büyük olan hangisidir?",
        "karpuz",
        ("üzüm", "kiraz", "çilek"),
    ),
    (
        "Zürafa, tavşan, kedi ve tavuk arasında boyu en uzun olan hangisidir?",
        "zürafa",
        ("tavşan", "kedi", "tavuk"),
    ),
    (
        "Saniye, dakika, saat ve gün arasında en uzun süre hangisidir?",
        "gün",
        ("saniye", "dakika", "saat"),
    ),
    (
        "Kilometre, metre, santimetre ve milimetre arasında en kısa olanı hangisidir?",
        "milimetre",
        ("kilometre", "metre", "santimetre"),
    ),
)


class _Name(NamedTuple):
    nom: str
    gen: str
    dat: str
    abl: str


_NAMES: tuple[_Name, ...] = (
    _Name("Ayşe", "Ayşe'nin", "Ayşe'ye", "Ayşe'den"),
    _Name("Ali", "Ali'nin", "Ali'ye", "Ali'den"),
    _Name("Mehmet", "Mehmet'in", "Mehmet'e", "Mehmet'ten"),
    _Name("Zeynep", "Zeynep'in", "Zeynep'e", "Zeynep'ten"),
    _Name("Can", "Can'ın", "Can'a", "Can'dan"),
    _Name("Elif", "Elif'in", "Elif'e", "Elif'ten"),
    _Name("Murat", "Murat'ın", "Murat'a", "Murat'tan"),
    _Name("Fatma", "Fatma'nın", "Fatma'ya", "Fatma'dan"),
    _Name("Emre", "Emre'nin", "Emre'ye", "Emre'den"),
    _Name("Selin", "Selin'in", "Selin'e", "Selin'den"),
    _Name("Burak", "Burak'ın", "Burak'a", "Burak'tan"),
    _Name("Deniz", "Deniz'in", "Deniz'e", "Deniz'den"),
    _Name("Umut", "Umut'un", "Umut'a", "Umut'tan"),
    _Name("Özge", "Özge'nin", "Özge'ye", "Özge'den"),
    _Name("Yusuf", "Yusuf'un", "Yusuf'a", "Yusuf'tan"),
    _Name("Gül", "Gül'ün", "Gül'e", "Gül'den"),
    _Name("Oğuz", "Oğuz'un", "Oğuz'a", "Oğuz'dan"),
    _Name("Hülya", "Hülya'nın", "Hülya'ya", "Hülya'dan"),
    _Name("Ahmet", "Ahmet'in", "Ahmet'e", "Ahmet'ten"),
    _Name("Ece", "Ece'nin", "Ece'ye", "Ece'den"),
    _Name("Kerem", "Kerem'in", "Kerem'e", "Kerem'den"),
    _Name("Büşra", "Büşra'nın", "Büşra'ya", "Büşra'dan"),
    _Name("Tolga", "Tolga'nın", "Tolga'ya", "Tolga'dan"),
    _Name("Nur", "Nur'un", "Nur'a", "Nur'dan"),
)

# (comparative statement, question for the top, question for the bottom)
_ORDERINGS: tuple[tuple[str, str, str], ...] = (
    ("daha uzundur", "En uzun olan kimdir?", "En kısa olan kimdir?"),
    ("daha hızlı koşar", "En hızlı koşan kimdir?", "En yavaş koşan kimdir?"),
    ("yaşça daha büyüktür", "Yaşça en büyük olan kimdir?", "Yaşça en küçük olan kimdir?"),
    ("daha ağırdır", "En ağır olan kimdir?", "En hafif olan kimdir?"),
)


def _gunluk_akil(rng: random.Random) -> list[_MC]:
    items: list[_MC] = []
    cat = "gunluk_akil"

    combos = [(offset, tmpl, day) for offset, tmpl in _DAY_TEMPLATES for day in range(7)]
    for offset, tmpl, day in rng.sample(combos, 12):
        answer = DAYS[(day + offset) % 7]
        near = [DAYS[(day + offset + k) % 7] for k in (1, -1, 2, -2, 3)]
        if offset != 7:
            near.insert(0, DAYS[day])
        items.append(_MC(cat, tmpl.format(d=DAYS[day]), answer, _three(near, answer)))

    month_combos = [(kind, m) for kind in ("next", "prev", "ord") for m in range(12)]
    for kind, m in rng.sample(month_combos, 9):
        if kind == "next":
            question = f"{_cap(MONTHS[m])} ayından sonra hangi ay gelir?"
            answer = MONTHS[(m + 1) % 12]
        elif kind == "prev":
            question = f"{_cap(MONTHS[m])} ayından önce hangi ay gelir?"
            answer = MONTHS[(m - 1) % 12]
        else:
            question = f"Yılın {ORDINALS[m]} ayı hangisidir?"
            answer = MONTHS[m]
        near = [MONTHS[(m + k) % 12] for k in (0, 1, -1, 2, -2, 3)]
        items.append(_MC(cat, question, answer, _three(near, answer)))

    for month, season in _MONTH_SEASON:
        question = f"Türkiye'de {month} ayı hangi mevsimdedir?"
        items.append(_MC(cat, question, season, _three(SEASONS, season)))

    for question, days in _MONTH_DAYS:
        answer = str(days)
        items.append(_MC(cat, question, answer, _three(["28", "29", "30", "31"], answer)))

    for question, answer, wrong3 in _UNITS:
        items.append(_MC(cat, question, answer, wrong3))

    time_combos = [
        (start, dur, event)
        for start in range(1, 10)
        for dur in range(1, 4)
        for event in range(len(_EVENTS))
        if start + dur <= 12
    ]
    for start, dur, event in rng.sample(time_combos, 5):
        question = (
            f"Saat {_HOURS[start - 1][1]} başlayan ve {_HOURS[dur - 1][0]} saat süren "
            f"bir {_EVENTS[event]} saat kaçta biter?"
        )
        end = start + dur
        answer = f"saat {_HOURS[end - 1][1]}"
        near = [
            f"saat {_HOURS[h - 1][1]}"
            for h in (end - 1, end + 1, start, end - 2, end + 2)
            if 1 <= h <= 12
        ]
        items.append(_MC(cat, question, answer, _three(near, answer)))
    clock_combos = [(s, d) for s in range(1, 10) for d in range(2, 5) if s + d <= 12]
    for start, dur in rng.sample(clock_combos, 4):
        question = (
            f"Saat şu an {_HOURS[start - 1][0]}. {_cap(_HOURS[dur - 1][0])} saat sonra "
            "saat kaç olur?"
        )
        end = start + dur
        answer = _HOURS[end - 1][0]
        near = [
            _HOURS[h - 1][0] for h in (end - 1, end + 1, start, end - 2, end + 2) if 1 <= h <= 12
        ]
        items.append(_MC(cat, question, answer, _three(near, answer)))

    for which in ("en büyüğü", "en küçüğü", "en büyüğü", "en küçüğü", "en büyüğü"):
        nums = rng.sample(range(10, 100), 4)
        answer = str(max(nums) if which == "en büyüğü" else min(nums))
        listed = ", ".join(str(n) for n in nums[:3]) + f" ve {nums[3]}"
        question = f"{listed} sayılarından {which} hangisidir?"
        items.append(_MC(cat, question, answer, _three([str(n) for n in nums], answer)))

    for k in range(8):
        statement, top_q, bottom_q = _ORDERINGS[k % len(_ORDERINGS)]
        a, b, c, d = rng.sample(_NAMES, 4)
        question_end = top_q if k % 2 == 0 else bottom_q
        answer = a.nom if k % 2 == 0 else c.nom
        question = f"{a.nom}, {b.abl} {statement}. {b.nom} ise {c.abl} {statement}. {question_end}"
        names = [a.nom, b.nom, c.nom, d.nom]
        items.append(_MC(cat, question, answer, _three(names, answer)))

    for question, answer, wrong3 in _EVERYDAY:
        items.append(_MC(cat, question, answer, wrong3))
    return items


# ---------------------------------------------------------------------------------------------
# Multiple choice: assembly
# ---------------------------------------------------------------------------------------------


def _check_mc(item: _MC) -> None:
    choices = [item.answer, *item.distractors]
    if len(set(choices)) != 4:
        raise ValueError(f"choices not distinct: {item}")
    if not item.question.endswith("?"):
        raise ValueError(f"question must end with '?': {item.question!r}")
    for choice in choices:
        if not choice or choice != choice.strip() or len(choice.split()) > 4:
            raise ValueError(f"bad choice {choice!r} in {item.question!r}")


def build_mc() -> list[dict[str, object]]:
    """The multiple-choice rows, ids ``mc-0001``... in a seeded, category-interleaved order."""
    _self_check()
    rng = random.Random(MC_SEED)
    items = _genel_kultur(rng) + _sozcuk_anlam(rng) + _dilbilgisi(rng) + _gunluk_akil(rng)
    seen: set[str] = set()
    for item in items:
        _check_mc(item)
        if item.question in seen:
            raise ValueError(f"duplicate question: {item.question!r}")
        seen.add(item.question)
    # Balanced answer positions within every category: 0,1,2,3 repeated, then shuffled.
    placed: list[tuple[_MC, int]] = []
    for category in dict.fromkeys(item.category for item in items):
        members = [item for item in items if item.category == category]
        positions = [i % 4 for i in range(len(members))]
        rng.shuffle(positions)
        placed.extend(zip(members, positions, strict=True))
    rng.shuffle(placed)
    rows: list[dict[str, object]] = []
    for number, (item, position) in enumerate(placed, start=1):
        wrong = list(item.distractors)
        rng.shuffle(wrong)
        choices = [*wrong[:position], item.answer, *wrong[position:]]
        rows.append(
            {
                "id": f"mc-{number:04d}",
                "category": item.category,
                "question": item.question,
                "choices": choices,
                "answer": position,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Arithmetic word problems
# ---------------------------------------------------------------------------------------------


class _Thing(NamedTuple):
    nom: str  # "kitap"
    poss: str  # third-person possessive: "kitabı"
    acc: str  # accusative: "kitabı"


_OWNED: tuple[_Thing, ...] = (
    _Thing("kalem", "kalemi", "kalemi"),
    _Thing("kitap", "kitabı", "kitabı"),
    _Thing("bilye", "bilyesi", "bilyeyi"),
    _Thing("pul", "pulu", "pulu"),
    _Thing("oyuncak", "oyuncağı", "oyuncağı"),
    _Thing("misket", "misketi", "misketi"),
    _Thing("balon", "balonu", "balonu"),
    _Thing("defter", "defteri", "defteri"),
    _Thing("kart", "kartı", "kartı"),
    _Thing("çıkartma", "çıkartması", "çıkartmayı"),
    _Thing("boncuk", "boncuğu", "boncuğu"),
    _Thing("fotoğraf", "fotoğrafı", "fotoğrafı"),
)
_SHAREABLE: tuple[_Thing, ...] = (
    _Thing("elma", "elması", "elmayı"),
    _Thing("ceviz", "cevizi", "cevizi"),
    _Thing("kurabiye", "kurabiyesi", "kurabiyeyi"),
    _Thing("mandalina", "mandalinası", "mandalinayı"),
    _Thing("kalem", "kalemi", "kalemi"),
    _Thing("bilye", "bilyesi", "bilyeyi"),
    _Thing("kestane", "kestanesi", "kestaneyi"),
)
_COLLECTED = ("elma", "armut", "ceviz", "çiçek", "mantar", "kestane", "deniz kabuğu")
_PRODUCE = ("domates", "patates", "elma", "portakal", "soğan", "biber", "mandalina")
_SACKS = ("un", "şeker", "pirinç", "mercimek", "bulgur")
# (item, item with genitive suffix)
_PRICED: tuple[tuple[str, str], ...] = (
    ("defter", "defterin"),
    ("kalem", "kalemin"),
    ("simit", "simidin"),
    ("dondurma", "dondurmanın"),
    ("gazete", "gazetenin"),
    ("bilet", "biletin"),
    ("kitap", "kitabın"),
    ("silgi", "silginin"),
)
_BOUGHT = ("kitap", "top", "defter", "oyuncak", "şapka", "kalem kutusu", "yapboz")
# (vehicle with locative, capitalised locative, stop with locative)
_VEHICLES: tuple[tuple[str, str, str], ...] = (
    ("Bir otobüste", "Otobüste", "İlk durakta"),
    ("Bir trende", "Trende", "İlk istasyonda"),
    ("Bir vapurda", "Vapurda", "İlk iskelede"),
    ("Bir minibüste", "Minibüste", "İlk durakta"),
)
# (container with locative, contents that fit it)
_CONTAINERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kutu", "kutuda", ("kalem", "çikolata", "kurabiye")),
    ("paket", "pakette", ("bisküvi", "peçete", "kurabiye")),
    ("sepet", "sepette", ("elma", "yumurta", "portakal")),
    ("kasa", "kasada", ("domates", "şeftali", "limon")),
    ("koli", "kolide", ("kitap", "bardak", "defter")),
)
# (object, container, container + plural + dative) for exact packing problems
_PACKING: tuple[tuple[str, str, str, str], ...] = (
    ("yumurta", "yumurtayı", "koli", "kolilere"),
    ("kalem", "kalemi", "kutu", "kutulara"),
    ("elma", "elmayı", "kasa", "kasalara"),
    ("kurabiye", "kurabiyeyi", "paket", "paketlere"),
    ("kitap", "kitabı", "koli", "kolilere"),
    ("bardak", "bardağı", "kutu", "kutulara"),
)
# (animal with genitive suffix, number of legs)
_LEGS: tuple[tuple[str, int], ...] = (
    ("kedinin", 4),
    ("köpeğin", 4),
    ("atın", 4),
    ("ineğin", 4),
    ("tavuğun", 2),
    ("kazın", 2),
    ("örümceğin", 8),
    ("karıncanın", 6),
    ("arının", 6),
)
# (fact, question template with {n}, multiplier)
_UNIT_FACTS: tuple[tuple[str, str, int], ...] = (
    ("Bir haftada 7 gün vardır.", "{n} haftada kaç gün vardır?", 7),
    ("Bir saatte 60 dakika vardır.", "{n} saatte kaç dakika vardır?", 60),
    ("Bir düzine yumurta 12 tanedir.", "{n} düzine yumurta kaç tanedir?", 12),
    ("Bir yılda 12 ay vardır.", "{n} yılda kaç ay vardır?", 12),
)
# (place with locative, capitalised place with locative, three kinds, common noun)
_TRIPLES: tuple[tuple[str, str, tuple[str, str, str], str], ...] = (
    ("Bir çiftlikte", "Çiftlikte", ("tavuk", "ördek", "kaz"), "hayvan"),
    ("Bir bahçede", "Bahçede", ("elma ağacı", "armut ağacı", "erik ağacı"), "ağaç"),
    ("Bir kütüphanede", "Kütüphanede", ("roman", "hikâye kitabı", "ansiklopedi"), "kitap"),
    ("Bir hayvanat bahçesinde", "Hayvanat bahçesinde", ("aslan", "zebra", "maymun"), "hayvan"),
)
_DAY_PAIRS: tuple[tuple[str, str], ...] = (
    ("pazartesi", "salı"),
    ("çarşamba", "perşembe"),
    ("cumartesi", "pazar"),
    ("cuma", "cumartesi"),
)
_VEHICLE_SPEED = ("otobüs", "tren", "araba", "kamyon")

_Template = Callable[[random.Random], tuple[str, int]]


def _two_names(rng: random.Random) -> tuple[_Name, _Name]:
    first, second = rng.sample(_NAMES, 2)
    return first, second


# --- toplama ---------------------------------------------------------------------------------


def _add_collect(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    thing = rng.choice(_COLLECTED)
    a, b = rng.randint(5, 60), rng.randint(5, 60)
    return (
        f"{name.nom} sabah {a} {thing} topladı, öğleden sonra {b} {thing} daha topladı. "
        f"{name.nom} toplam kaç {thing} topladı?",
        a + b,
    )


def _add_vehicle(rng: random.Random) -> tuple[str, int]:
    vehicle, inside, stop = rng.choice(_VEHICLES)
    a, b = rng.randint(10, 60), rng.randint(3, 30)
    return (
        f"{vehicle} {a} yolcu vardı. {stop} {b} yolcu daha bindi, inen olmadı. "
        f"{inside} şimdi kaç yolcu var?",
        a + b,
    )


def _add_gift(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    thing = rng.choice(_OWNED)
    giver = rng.choice(("Annesi", "Babası", "Dedesi", "Ablası", "Teyzesi"))
    a, b = rng.randint(5, 80), rng.randint(2, 40)
    return (
        f"{name.gen} {a} {thing.poss} vardı. {giver} ona {b} {thing.nom} daha aldı. "
        f"{name.gen} şimdi kaç {thing.poss} var?",
        a + b,
    )


def _add_market(rng: random.Random) -> tuple[str, int]:
    produce = rng.choice(_PRODUCE)
    a, b = rng.randint(20, 300), rng.randint(20, 300)
    return (
        f"Bir manav sabah {a} kilogram {produce}, öğleden sonra {b} kilogram {produce} sattı. "
        f"Manav o gün toplam kaç kilogram {produce} sattı?",
        a + b,
    )


def _add_people(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(100, 450), rng.randint(100, 450)
    if rng.random() < 0.5:
        return (
            f"Bir okulda {a} kız ve {b} erkek öğrenci var. Okulda toplam kaç öğrenci var?",
            a + b,
        )
    return (
        f"Bir konseri {a} kadın ve {b} erkek izledi. Konseri toplam kaç kişi izledi?",
        a + b,
    )


def _add_pages(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    first, second = rng.choice(_DAY_PAIRS)
    a, b = rng.randint(10, 90), rng.randint(10, 90)
    return (
        f"{name.nom} {first} günü {a} sayfa, {second} günü {b} sayfa kitap okudu. "
        "İki günde toplam kaç sayfa okudu?",
        a + b,
    )


def _add_three(rng: random.Random) -> tuple[str, int]:
    place, place_cap, kinds, noun = rng.choice(_TRIPLES)
    a, b, c = rng.randint(3, 60), rng.randint(3, 60), rng.randint(3, 60)
    return (
        f"{place} {a} {kinds[0]}, {b} {kinds[1]} ve {c} {kinds[2]} var. "
        f"{place_cap} toplam kaç {noun} var?",
        a + b + c,
    )


def _add_savings(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    a, b = rng.randint(20, 400), rng.randint(20, 400)
    return (
        f"{name.nom} geçen hafta {a} lira, bu hafta {b} lira biriktirdi. "
        f"{name.nom} toplam kaç lira biriktirdi?",
        a + b,
    )


# --- cikarma ---------------------------------------------------------------------------------


def _sub_give(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    thing = rng.choice(_OWNED)
    a = rng.randint(15, 90)
    b = rng.randint(2, a - 2)
    friend = rng.choice(("arkadaşına", "kardeşine", "kuzenine"))
    return (
        f"{name.gen} {a} {thing.poss} vardı. {b} tanesini {friend} verdi. "
        f"Geriye kaç {thing.poss} kaldı?",
        a - b,
    )


def _sub_vehicle(rng: random.Random) -> tuple[str, int]:
    vehicle, inside, stop = rng.choice(_VEHICLES)
    a = rng.randint(20, 80)
    b = rng.randint(2, a - 3)
    return (
        f"{vehicle} {a} yolcu vardı. {stop} {b} yolcu indi, binen olmadı. "
        f"{inside} kaç yolcu kaldı?",
        a - b,
    )


def _sub_money(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    item = rng.choice(_BOUGHT)
    a = rng.randint(50, 500)
    b = rng.randint(10, a - 5)
    return (
        f"{name.gen} {a} lirası vardı. {b} liraya bir {item} aldı. Geriye kaç lirası kaldı?",
        a - b,
    )


def _sub_pages(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    a = rng.randint(80, 600)
    b = rng.randint(10, a - 10)
    return (
        f"Bir kitap {a} sayfadır. {name.nom} kitabın {b} sayfasını okudu. "
        "Kitabı bitirmek için kaç sayfa daha okuması gerekir?",
        a - b,
    )


def _sub_sacks(rng: random.Random) -> tuple[str, int]:
    sack = rng.choice(_SACKS)
    a = rng.randint(40, 900)
    b = rng.randint(10, a - 10)
    return (
        f"Bir depoda {a} çuval {sack} vardı. Depodan {b} çuval {sack} satıldı. "
        f"Depoda kaç çuval {sack} kaldı?",
        a - b,
    )


def _sub_birds(rng: random.Random) -> tuple[str, int]:
    a = rng.randint(12, 70)
    b = rng.randint(2, a - 2)
    return (
        f"Bir ağaçta {a} kuş vardı. Bunlardan {b} tanesi uçup gitti. Ağaçta kaç kuş kaldı?",
        a - b,
    )


def _sub_age(rng: random.Random) -> tuple[str, int]:
    older, younger = _two_names(rng)
    a = rng.randint(20, 75)
    b = rng.randint(5, a - 2)
    return (
        f"{older.nom} {a} yaşında, {younger.nom} ise {b} yaşında. "
        f"{older.nom}, {younger.abl} kaç yaş büyüktür?",
        a - b,
    )


# --- carpma ----------------------------------------------------------------------------------


def _mul_boxes(rng: random.Random) -> tuple[str, int]:
    _, container_loc, contents = rng.choice(_CONTAINERS)
    thing = rng.choice(contents)
    a, b = rng.randint(4, 30), rng.randint(2, 12)
    return (
        f"Bir {container_loc} {a} {thing} var. {b} {container_loc} toplam kaç {thing} vardır?",
        a * b,
    )


def _mul_rows(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(4, 25), rng.randint(4, 30)
    if rng.random() < 0.5:
        return (
            f"Bir sinema salonunda {a} sıra koltuk var ve her sırada {b} koltuk bulunuyor. "
            "Salonda toplam kaç koltuk vardır?",
            a * b,
        )
    return (
        f"Bir bahçede {a} sıra ağaç var ve her sırada {b} ağaç bulunuyor. "
        "Bahçede toplam kaç ağaç vardır?",
        a * b,
    )


def _mul_reading(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    a, b = rng.randint(5, 40), rng.randint(3, 20)
    return (
        f"{name.nom} her gün {a} sayfa kitap okuyor. {b} günde toplam kaç sayfa okur?",
        a * b,
    )


def _mul_price(rng: random.Random) -> tuple[str, int]:
    item, item_gen = rng.choice(_PRICED)
    price, n = rng.randint(3, 60), rng.randint(2, 15)
    return (f"Bir {item_gen} fiyatı {price} liradır. {n} {item} kaç lira eder?", price * n)


def _mul_legs(rng: random.Random) -> tuple[str, int]:
    animal_gen, legs = rng.choice(_LEGS)
    n = rng.randint(3, 40)
    return (
        f"Bir {animal_gen} {legs} bacağı vardır. {n} {animal_gen} toplam kaç bacağı vardır?",
        legs * n,
    )


def _mul_units(rng: random.Random) -> tuple[str, int]:
    fact, question, factor = rng.choice(_UNIT_FACTS)
    n = rng.randint(2, min(40, 999 // factor))
    return (f"{fact} {question.format(n=n)}", factor * n)


# --- bolme -----------------------------------------------------------------------------------


def _div_share(rng: random.Random) -> tuple[str, int]:
    thing = rng.choice(_SHAREABLE)
    per, people = rng.randint(2, 25), rng.randint(2, 12)
    total = per * people
    if rng.random() < 0.5:
        name = rng.choice(_NAMES)
        return (
            f"{name.nom}, {total} {thing.acc} {people} arkadaşına eşit olarak paylaştırdı. "
            f"Her arkadaşı kaç {thing.nom} aldı?",
            per,
        )
    return (
        f"Öğretmen {total} {thing.acc} {people} öğrenciye eşit olarak dağıttı. "
        f"Her öğrenci kaç {thing.nom} aldı?",
        per,
    )


def _div_groups(rng: random.Random) -> tuple[str, int]:
    size, groups = rng.randint(2, 10), rng.randint(2, 15)
    total = size * groups
    if rng.random() < 0.5:
        return (
            f"Bir etkinliğe katılan {total} öğrenci {size} kişilik gruplara ayrıldı. "
            "Kaç grup oluştu?",
            groups,
        )
    return (
        f"Bir okul gezisine {total} öğrenci katıldı. Her minibüse {size} öğrenci bindi ve "
        "bütün minibüsler tam doldu. Kaç minibüs kullanıldı?",
        groups,
    )


def _div_packing(rng: random.Random) -> tuple[str, int]:
    thing, thing_acc, container, container_dat_pl = rng.choice(_PACKING)
    per, count = rng.randint(4, 30), rng.randint(2, 20)
    total = per * count
    return (
        f"Bir işçi {total} {thing_acc}, her birine {per} {thing} sığan {container_dat_pl} "
        f"yerleştirdi ve hepsi tam doldu. Kaç {container} kullandı?",
        count,
    )


def _div_unit_price(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    item, _ = rng.choice(_PRICED)
    price, n = rng.randint(3, 60), rng.randint(2, 12)
    return (
        f"{name.nom} {n} {item} aldı ve toplam {price * n} lira ödedi. Hepsi aynı fiyattaydı. "
        f"Bir {item} kaç liradır?",
        price,
    )


def _div_book(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    per_day, days = rng.randint(5, 40), rng.randint(3, 20)
    return (
        f"{name.nom}, {per_day * days} sayfalık bir kitabı her gün {per_day} sayfa okuyarak "
        "bitirdi. Kitabı kaç günde bitirdi?",
        days,
    )


def _div_speed(rng: random.Random) -> tuple[str, int]:
    vehicle = rng.choice(_VEHICLE_SPEED)
    speed = rng.choice((40, 50, 60, 70, 80, 90, 100, 120))
    hours = rng.randint(2, min(12, 999 // speed))
    return (
        f"Saatte {speed} kilometre hızla giden bir {vehicle}, {speed * hours} kilometrelik "
        "yolu kaç saatte alır?",
        hours,
    )


# --- iki_adim --------------------------------------------------------------------------------


def _two_gift_give(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    thing = rng.choice(_OWNED)
    giver = rng.choice(("Babası", "Annesi", "Dedesi", "Ablası"))
    a, b = rng.randint(10, 60), rng.randint(3, 30)
    c = rng.randint(2, a + b - 1)
    return (
        f"{name.gen} {a} {thing.poss} vardı. {giver} ona {b} {thing.nom} daha aldı. "
        f"{name.nom} daha sonra {c} tanesini kardeşine verdi. "
        f"{name.gen} şimdi kaç {thing.poss} var?",
        a + b - c,
    )


def _two_change(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    item, item_gen = rng.choice(_PRICED)
    price, n = rng.randint(3, 40), rng.randint(2, 9)
    total = price * n
    paid = next(p for p in (50, 100, 200, 500, 1000) if p > total)
    return (
        f"Bir {item_gen} fiyatı {price} liradır. {name.nom} {n} {item} aldı ve kasiyere "
        f"{paid} lira verdi. {name.nom} kaç lira para üstü alır?",
        paid - total,
    )


def _two_boxes_eat(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    container, container_loc, contents = rng.choice(_CONTAINERS[:2])
    thing = rng.choice(contents)
    per, boxes = rng.randint(6, 30), rng.randint(2, 8)
    c = rng.randint(1, per * boxes - 1)
    verb = rng.choice(("arkadaşlarına verdi", "kardeşine verdi", "komşusuna verdi"))
    return (
        f"Bir {container_loc} {per} {thing} var. {name.nom} {boxes} {container} {thing} aldı ve "
        f"bunlardan {c} tanesini {verb}. {name.gen} elinde kaç {thing} kaldı?",
        per * boxes - c,
    )


def _two_vehicle(rng: random.Random) -> tuple[str, int]:
    vehicle, inside, stop = rng.choice(_VEHICLES)
    a = rng.randint(15, 70)
    b = rng.randint(2, a - 1)
    c = rng.randint(2, 30)
    return (
        f"{vehicle} {a} yolcu vardı. {stop} {b} yolcu indi, {c} yolcu bindi. "
        f"{inside} şimdi kaç yolcu var?",
        a - b + c,
    )


def _two_sport(rng: random.Random) -> tuple[str, int]:
    first, second = _two_names(rng)
    a, b, weeks = rng.randint(2, 12), rng.randint(2, 12), rng.randint(2, 10)
    return (
        f"{first.nom} haftada {a} saat, {second.nom} ise haftada {b} saat spor yapıyor. "
        f"İkisi {weeks} haftada toplam kaç saat spor yapar?",
        (a + b) * weeks,
    )


def _two_crates(rng: random.Random) -> tuple[str, int]:
    produce = rng.choice(_PRODUCE)
    per, crates = rng.randint(5, 25), rng.randint(4, 30)
    sold = rng.randint(1, crates - 1)
    return (
        f"Bir çiftçi {per * crates} kilogram {produce} topladı. Hepsini {per} kilogramlık "
        f"kasalara doldurdu ve {sold} kasayı sattı. Çiftçinin elinde kaç kasa kaldı?",
        crates - sold,
    )


def _two_savings(rng: random.Random) -> tuple[str, int]:
    name = rng.choice(_NAMES)
    item = rng.choice(("kitap", "defter", "oyuncak", "tişört"))
    price, n = rng.randint(10, 90), rng.randint(2, 6)
    saved = rng.randint(price * n, min(999, price * n + 300))
    return (
        f"{name.nom} {saved} lira biriktirdi. Tanesi {price} lira olan {n} {item} aldı. "
        f"{name.gen} geriye kaç lirası kaldı?",
        saved - price * n,
    )


def _two_class(rng: random.Random) -> tuple[str, int]:
    groups, per = rng.randint(3, 10), rng.randint(3, 8)
    absent = rng.randint(1, max(1, groups * per // 4))
    return (
        f"Bir sınıfta {groups} grup var ve her grupta {per} öğrenci bulunuyor. Bugün "
        f"{absent} öğrenci okula gelmedi. Bugün sınıfta kaç öğrenci var?",
        groups * per - absent,
    )


_MATH_TEMPLATES: dict[str, tuple[_Template, ...]] = {
    "toplama": (
        _add_collect,
        _add_vehicle,
        _add_gift,
        _add_market,
        _add_people,
        _add_pages,
        _add_three,
        _add_savings,
    ),
    "cikarma": (
        _sub_give,
        _sub_vehicle,
        _sub_money,
        _sub_pages,
        _sub_sacks,
        _sub_birds,
        _sub_age,
    ),
    "carpma": (_mul_boxes, _mul_rows, _mul_reading, _mul_price, _mul_legs, _mul_units),
    "bolme": (
        _div_share,
        _div_groups,
        _div_packing,
        _div_unit_price,
        _div_book,
        _div_speed,
    ),
    "iki_adim": (
        _two_gift_give,
        _two_change,
        _two_boxes_eat,
        _two_vehicle,
        _two_sport,
        _two_crates,
        _two_savings,
        _two_class,
    ),
}
MATH_PER_CATEGORY = 50


def build_math() -> list[dict[str, object]]:
    """The word-problem rows, ids ``math-0001``... in a seeded, category-interleaved order."""
    _self_check()
    rng = random.Random(MATH_SEED)
    problems: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    for category, templates in _MATH_TEMPLATES.items():
        made = 0
        attempts = 0
        while made < MATH_PER_CATEGORY:
            attempts += 1
            if attempts > 100 * MATH_PER_CATEGORY:
                raise RuntimeError(f"cannot make enough distinct {category} problems")
            template = templates[made % len(templates)]
            question, answer = template(rng)
            if not 0 <= answer <= 999 or question in seen:
                continue
            if not question.endswith("?"):
                raise ValueError(f"question must end with '?': {question!r}")
            seen.add(question)
            problems.append((category, question, answer))
            made += 1
    rng.shuffle(problems)
    return [
        {"id": f"math-{n:04d}", "category": cat, "question": q, "answer": str(ans)}
        for n, (cat, q, ans) in enumerate(problems, start=1)
    ]


# ---------------------------------------------------------------------------------------------
# mlgate_tr_gen: short generated answers in Turkish words (scored with exact_match_tr)
# ---------------------------------------------------------------------------------------------

GEN_SEED = 20_261_201
GEN_TASK = "mlgate_tr_gen"

# Antonym pairs, both directions asked.
_GEN_ANTONYMS = (
    ("sıcak", "soğuk"), ("büyük", "küçük"), ("uzun", "kısa"), ("açık", "kapalı"),
    ("güzel", "çirkin"), ("hızlı", "yavaş"), ("zengin", "yoksul"), ("genç", "yaşlı"),
    ("ıslak", "kuru"), ("ağır", "hafif"), ("iyi", "kötü"), ("doğru", "yanlış"),
    ("içeri", "dışarı"), ("erken", "geç"), ("kolay", "zor"), ("aydınlık", "karanlık"),
    ("dolu", "boş"), ("ince", "kalın"), ("yüksek", "alçak"), ("temiz", "kirli"),
)  # fmt: skip
# Nouns whose plural the model writes out (the suffix follows vowel harmony).
_PLURAL_NOUNS = (
    "kitap", "ağaç", "göz", "kuş", "çiçek", "ev", "kapı", "okul", "şehir", "ülke",
    "insan", "köprü", "ırmak", "çocuk", "gün", "yıldız", "kalem", "dağ", "göl", "iğne",
    "şarkı", "öğretmen", "ışık", "bulut", "köy", "masa", "kedi", "balık", "yüzük", "oda",
)  # fmt: skip
# Licence plate codes of Turkish provinces (public facts).
_PLATES = (
    ("01", "Adana"), ("04", "Ağrı"), ("06", "Ankara"), ("07", "Antalya"), ("09", "Aydın"),
    ("10", "Balıkesir"), ("16", "Bursa"), ("20", "Denizli"), ("21", "Diyarbakır"),
    ("25", "Erzurum"), ("26", "Eskişehir"), ("27", "Gaziantep"), ("31", "Hatay"),
    ("33", "Mersin"), ("34", "İstanbul"), ("35", "İzmir"), ("38", "Kayseri"), ("42", "Konya"),
    ("44", "Malatya"), ("45", "Manisa"), ("55", "Samsun"), ("61", "Trabzon"), ("63", "Şanlıurfa"),
    ("65", "Van"), ("76", "Iğdır"), ("81", "Düzce"),
)  # fmt: skip


def build_gen() -> list[dict[str, object]]:
    """Questions whose answer is one Turkish word, in three categories, seeded order."""
    _self_check()
    rows: list[tuple[str, str, str]] = []
    for word, other in _GEN_ANTONYMS:
        rows.append(("zit_anlam", f"'{_cap(word)}' kelimesinin zıt anlamlısı nedir?", other))
        rows.append(("zit_anlam", f"'{_cap(other)}' kelimesinin zıt anlamlısı nedir?", word))
    for noun in _PLURAL_NOUNS:
        rows.append(("cogul", f"'{_cap(noun)}' kelimesinin çoğulu nedir?", _plural(noun)))
    for code, province in _PLATES:
        rows.append(("plaka", f"Plaka kodu {code} olan il hangisidir?", province))
    rng = random.Random(GEN_SEED)
    rng.shuffle(rows)
    if len({q for _, q, _ in rows}) != len(rows):
        raise ValueError("mlgate_tr_gen: a question is written twice")
    return [
        {"id": f"gen-{n:04d}", "category": cat, "question": q, "answer": a}
        for n, (cat, q, a) in enumerate(rows, start=1)
    ]


# ---------------------------------------------------------------------------------------------
# Consistency checks between the hand-written tables and the morphology helpers
# ---------------------------------------------------------------------------------------------


def _expect(got: str, want: str) -> None:
    if got != want:
        raise AssertionError(f"morphology mismatch: derived {got!r}, table says {want!r}")


def _self_check() -> None:
    for name in _NAMES:
        _expect(_proper_genitive(name.nom), name.gen)
        _expect(_proper_dative(name.nom), name.dat)
        _expect(_proper_ablative(name.nom), name.abl)
    for country, _, _ in _CAPITALS:
        base = country.rsplit("'", 1)[0]
        _expect(_proper_genitive(base), country)
    for city, loc in _CITY_LOCATIVES:
        _expect(_proper_locative(city), loc)
    for city, gen in _CITY_GENITIVES:
        _expect(_proper_genitive(city), gen)
    for word, plural in _PLURAL_WORDS:
        _expect(_plural(word), plural)
    for word, loc in _LOCATIVE_WORDS:
        _expect(_locative(word), loc)
    for word, stem, acc in _ACCUSATIVE_WORDS:
        _expect(_accusative(word, stem), acc)
    for item, item_gen in _PRICED:
        stem = _soften(item) if item in {"simit", "kitap"} else item
        vowel = _v4(item)
        _expect(f"{item}n{vowel}n" if _ends_with_vowel(item) else f"{stem}{vowel}n", item_gen)
    soft = {"kitap", "oyuncak", "boncuk", "bardak"}
    for thing in (*_OWNED, *_SHAREABLE):
        stem = _soften(thing.nom) if thing.nom in soft else thing.nom
        _expect(_possessive(thing.nom, stem, "3sg"), thing.poss)
        _expect(_accusative(thing.nom, stem), thing.acc)
    for obj, obj_acc, _, _ in _PACKING:
        stem = _soften(obj) if obj in soft else obj
        _expect(_accusative(obj, stem), obj_acc)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: Sequence[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes(text.encode("utf-8"))


def write_all(tasks_dir: Path) -> None:
    """Write every dataset under ``tasks_dir`` (``<task>/test.jsonl``)."""
    _write_jsonl(tasks_dir / MC_TASK / "test.jsonl", build_mc())
    _write_jsonl(tasks_dir / MATH_TASK / "test.jsonl", build_math())
    _write_jsonl(tasks_dir / GEN_TASK / "test.jsonl", build_gen())


if __name__ == "__main__":
    from pytest_mlgate.tasks import TASKS_DIR

    write_all(TASKS_DIR)
