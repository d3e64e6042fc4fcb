"""Numbers that identify a person (TC kimlik no, TR IBAN, payment card, phone), in every layout.

A person writes such a number solid or in groups: ``123 456 789 01``, ``1234-5678-901``,
``TR26 0006 …``, ``0 (532) 123-45-67``, with spaces, non-breaking spaces (U+00A0, U+202F,
U+2007, U+2009), dashes or dots between the groups. The scanner reads the text once: every
maximal run of ASCII digits is a *group*, and two groups are *linked* when what stands between
them is a separator (one space, one dash or dot, optionally spaced, a parenthesis around an
area code). A value is a window of whole groups of one run; it is checked only where its
layout is one a person writes:

- a solid value is one group; a grouped TC kimlik no or card is a whole stretch of groups joined
  by one kind of separator, so a window never cuts a longer grouped number (a table row of
  numbers, a date range) in the middle;
- a value never continues into a number glued to it (``12345678901.5``, ``3,14159265358``) nor
  into a neighbour joined by the separator it uses itself.

The checksums then decide: TC kimlik no (two check digits), IBAN (ISO 13616 mod 97), card
(Luhn, and the issuer ranges below). All work is bounded per group, so the scan is linear in the
length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

#: Spaces a separator may hold: the ASCII space, and the non-breaking and fixed-width spaces
#: typesetting and word processors put between digit groups. Not a tab, nor two spaces: those
#: separate the columns of a table, not the groups of one number.
SPACES = " \u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008"
#: Dashes between groups: hyphen-minus, Unicode hyphen, non-breaking hyphen, figure dash, en dash,
#: minus sign.
DASHES = "-\u2010\u2011\u2012\u2013\u2212"

_S = f"[{SPACES}]"
_D = f"[{re.escape(DASHES)}]"
# What may stand between two digit groups, by kind. Tight links (no space: ``-``, ``.``, ``,``,
# ``/``, ``:``) glue numbers together; a value never continues into one.
_LINK = re.compile(
    rf"(?P<space>{_S})"
    rf"|(?P<dash>{_D})"
    r"|(?P<dot>\.)"
    rf"|(?P<sdash>{_S}{_D}{_S})"
    rf"|(?P<sdot>{_S}\.{_S})"
    r"|(?P<comma>,)|(?P<slash>/)|(?P<colon>:)"
    rf"|(?P<close>\){_S}?(?:{_D}{_S}?)?)"
    rf"|(?P<open>(?:{_S}?{_D})?{_S}?\()"
    rf"|(?P<both>\){_S}?\()"
    # A long number wraps at the end of a line (a card or TC kimlik no in a narrow column).
    rf"|(?P<wrap>{_S}?\r?\n{_S}?)"
)
_TIGHT = frozenset({"dash", "dot", "comma", "slash", "colon"})
_NEVER_INSIDE = frozenset({"comma", "slash", "colon"})
_PARENS = frozenset({"close", "open", "both"})
_WRAP = "wrap"  #: a line break between groups: it continues a stretch of any one separator
#: The space before a month/year or a time: it ends a card's or TC kimlik no's stretch (the date
#: is not its last group) but not a phone's window (``0531 724 65 03/04``: two last digits).
_BEFORE_DATE = "before_date"
_ENDS_STRETCH = _NEVER_INSIDE | {_BEFORE_DATE}
_GROUP = re.compile(r"[0-9]+")
_LONGEST_LINK = 6
_LONGEST_VALUE = 19  #: digits of the longest payment card
_CURRENCY_AFTER = re.compile(rf"{_S}?(?:TL|₺|TRY|USD|EUR|lira|\$|€)", re.IGNORECASE)
_CURRENCY_BEFORE = "₺$€£"

# Turkish geographic area codes (BTK national numbering plan; the list in Wikipedia's
# "Telephone numbers in Turkey", one or two per province). Mobile numbers are 5xx.
AREA_CODES = frozenset(
    str(code)
    for code in (
        212,
        216,
        222,
        224,
        226,
        228,
        232,
        236,
        242,
        246,
        248,
        252,
        256,
        258,
        262,
        264,
        266,
        272,
        274,
        276,
        282,
        284,
        286,
        288,
        312,
        318,
        322,
        324,
        326,
        328,
        332,
        338,
        342,
        344,
        346,
        348,
        352,
        354,
        356,
        358,
        362,
        364,
        366,
        368,
        370,
        372,
        374,
        376,
        378,
        380,
        382,
        384,
        386,
        388,
        412,
        414,
        416,
        422,
        424,
        426,
        428,
        432,
        434,
        436,
        438,
        442,
        446,
        452,
        454,
        456,
        458,
        462,
        464,
        466,
        472,
        474,
        476,
        478,
        482,
        484,
        486,
        488,
    )
)

# Payment card issuer ranges: (network, lowest prefix, highest prefix, lengths). From the issuer
# identification number table of ISO/IEC 7812 as published in Wikipedia's "Payment card number"
# (retrieved 2024), and BKM's Troy range 9792 (Troy, Turkey's domestic scheme, 16 digits).
# Lengths below 13 are left out on purpose: a 12-digit Maestro number is indistinguishable from
# an order number.
CARD_RANGES: tuple[tuple[str, str, str, tuple[int, ...]], ...] = (
    ("Visa", "4", "4", (13, 16, 19)),
    ("Mastercard", "51", "55", (16,)),
    ("Mastercard", "2221", "2720", (16,)),
    ("American Express", "34", "34", (15,)),
    ("American Express", "37", "37", (15,)),
    ("Troy", "9792", "9792", (16,)),
    ("Discover", "6011", "6011", (16, 17, 18, 19)),
    ("Discover", "644", "649", (16, 17, 18, 19)),
    ("Discover", "65", "65", (16, 17, 18, 19)),
    ("UnionPay", "62", "62", (16, 17, 18, 19)),
    ("JCB", "3528", "3589", (16, 17, 18, 19)),
    ("Diners Club", "36", "36", (14, 15, 16, 17, 18, 19)),
    ("Diners Club", "300", "305", (16, 17, 18, 19)),
    ("Diners Club", "3095", "3095", (16, 17, 18, 19)),
    ("Diners Club", "38", "39", (16, 17, 18, 19)),
    ("Mir", "2200", "2204", (16, 17, 18, 19)),
    *(
        ("Maestro", p, p, (13, 14, 15, 16, 17, 18, 19))
        for p in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")
    ),
)


@dataclass(frozen=True)
class Span:
    kind: str  #: TCKN, IBAN, CARD, PHONE, EMAIL or NOT_IBAN (an IBAN shape that fails its check)
    start: int
    end: int


@dataclass(frozen=True)
class _Run:
    """Digit groups of the text joined by links: ``links[k]`` joins groups k and k+1."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    links: tuple[str, ...]

    def digits(self, i: int, j: int) -> str:
        return "".join(self.text[self.starts[k] : self.ends[k]] for k in range(i, j + 1))

    def sizes(self, i: int, j: int) -> list[int]:
        return [self.ends[k] - self.starts[k] for k in range(i, j + 1)]

    def before(self) -> str:
        start = self.starts[0]
        return self.text[start - 1] if start else ""

    def after(self) -> str:
        end = self.ends[-1]
        return self.text[end] if end < len(self.text) else ""


@lru_cache(maxsize=256)
def _link(gap: str) -> str | None:
    """The kind of separator ``gap`` is, or None when the groups around it are not joined."""
    match = _LINK.fullmatch(gap)
    return match.lastgroup if match else None


def _runs(text: str) -> Iterator[_Run]:
    starts: list[int] = []
    ends: list[int] = []
    links: list[str] = []
    for match in _GROUP.finditer(text):
        start, end = match.span()
        kind = _link(text[ends[-1] : start]) if ends and start - ends[-1] <= _LONGEST_LINK else None
        if kind == "comma" and _list_comma(text, starts, ends, end - start, end):
            kind = None  # a list (12345678901,05321234567), not a decimal or thousands comma
        elif kind is not None and kind not in _TIGHT and _date_or_time_follows(text, start):
            kind = _BEFORE_DATE  # ``4111 1111 1111 1111 12/27``: the expiry is not the card's
        if kind is None and starts:
            yield _Run(text, tuple(starts), tuple(ends), tuple(links))
            starts, ends, links = [], [], []
        elif kind is not None:
            links.append(kind)
        starts.append(start)
        ends.append(end)
    if starts:
        yield _Run(text, tuple(starts), tuple(ends), tuple(links))


def _list_comma(text: str, starts: list[int], ends: list[int], after: int, end: int) -> bool:
    """Whether the comma before a group of ``after`` digits ending at ``end`` separates fields
    of a list or CSV line rather than a number's decimals: a decimal comma is followed by a
    short fraction (``1.234,56``), or is the only link of a plain decimal (``3,14159265358``,
    read as a decimal, not a TC kimlik no). Four or more digits after it are a field when the
    group before is also long, ends a field of its own (``2026-11-30,4547 3607 …``), or the
    digits go on in groups (``30,4547 3607 …``)."""
    if after < 4:
        return False
    grouped_on = (
        end + 1 < len(text)
        and (text[end] in SPACES or text[end] in DASHES)
        and text[end + 1].isdigit()
    )
    return ends[-1] - starts[-1] >= 4 or len(starts) > 1 or grouped_on


_DATE_OR_TIME = re.compile(
    r"(?:0?[1-9]|1[0-2])/(?:[0-9]{4}|[0-9]{2})(?![0-9])|(?:[01]?[0-9]|2[0-3]):[0-5][0-9]"
)


def _date_or_time_follows(text: str, start: int) -> bool:
    """Whether the group at ``start`` begins a month/year or a time (``12/27``, ``09/2028``,
    ``14:30``): after a card or a TC kimlik no that is its expiry date or a time stamp, not
    its last group."""
    return _DATE_OR_TIME.match(text, start) is not None


def _bounded(run: _Run, i: int, j: int, phone: bool = False) -> bool:
    """Whether groups i..j stand alone: not glued to a neighbouring number (``12345678901.5``,
    ``3,14159265358``), not continued by a neighbour joined the way the window joins its own
    groups, and (but for a phone) not after a ``+``. Letters may touch it: ``TC12345678901``
    is written too."""
    if i == 0:
        if run.before() == "+" and not phone:
            return False
    else:
        link = run.links[i - 1]
        if link in _TIGHT or (i < j and link == run.links[i]):
            return False
    if j == len(run.starts) - 1 or (phone and _alternative_ending(run, j)):
        return True
    link = run.links[j]
    return not (link in _TIGHT or (i < j and link == run.links[j - 1]))


def _alternative_ending(run: _Run, j: int) -> bool:
    """Whether group j is followed by ``/`` and another group of its size that ends the run or
    stands apart: a second line's last digits (``0212 345 67 89/90``), masked with the phone."""
    if j + 1 >= len(run.starts) or run.links[j] != "slash":
        return False
    if run.ends[j + 1] - run.starts[j + 1] != run.ends[j] - run.starts[j]:
        return False
    return j + 2 == len(run.starts) or run.links[j + 1] not in _TIGHT


def _plausible_groups(sizes: list[int]) -> bool:
    """Groups a person writes an 11-19 digit number in: solid; spelled digit by digit; for a TC
    kimlik no groups of 2-6 digits with at most one pair (3-3-3-2, 4-4-3, 2-3-3-3, 5-6: not a
    version string's 12.34.567.8901); for a card groups of three or more, the last one shorter
    if need be (4-4-4-4, 4-6-5, 4-4-4-1)."""
    if len(sizes) == 1 or all(s == 1 for s in sizes):
        return True
    if sum(sizes) == 11:
        return all(2 <= s <= 6 for s in sizes) and sizes.count(2) <= 1
    return all(s >= 3 for s in sizes[:-1])


def _money_or_address(run: _Run, i: int, j: int) -> bool:
    """Thousands groups next to a currency (``12.345.678.901 TL``) or an IPv4 address."""
    sizes = run.sizes(i, j)
    start, end = run.starts[i], run.ends[j]
    # 3-3-3-2 is how a TC kimlik no is grouped, so it is read as one even where it could be an
    # address (about 1 in 100 such numbers would pass the check digits).
    if (
        len(sizes) == 4
        and set(run.links[i:j]) == {"dot"}
        and max(sizes) <= 3
        and sizes != [3, 3, 3, 2]
    ):
        return all(int(run.text[run.starts[k] : run.ends[k]]) <= 255 for k in range(i, j + 1))
    thousands = sizes[0] <= 3 and all(s == 3 for s in sizes[1:]) and len(sizes) > 1
    money = (start > 0 and run.text[start - 1] in _CURRENCY_BEFORE) or bool(
        _CURRENCY_AFTER.match(run.text, end)
    )
    return thousands and money


def tckn_valid(digits: str) -> bool:
    from stdnum.tr import tckimlik

    return len(digits) == 11 and bool(tckimlik.is_valid(digits))


def card_network(digits: str) -> str | None:
    """The network a Luhn-valid card number of a known issuer range belongs to, else None."""
    for network, low, high, lengths in CARD_RANGES:
        if len(digits) in lengths and low <= digits[: len(low)] <= high:
            from stdnum import luhn

            return network if luhn.is_valid(digits) else None
    return None


def _number_kind(run: _Run, i: int, j: int) -> str | None:
    """TCKN or CARD for groups i..j (a whole stretch of one separator, or one group)."""
    sizes = run.sizes(i, j)
    if not 11 <= sum(sizes) <= _LONGEST_VALUE or not _plausible_groups(sizes):
        return None
    if not _bounded(run, i, j) or _money_or_address(run, i, j):
        return None
    digits = run.digits(i, j)
    if tckn_valid(digits):
        return "TCKN"
    return "CARD" if card_network(digits) else None


def _stretches(run: _Run) -> Iterator[tuple[int, int]]:
    """Each group alone, and each maximal stretch of groups joined by one kind of separator."""
    count = len(run.starts)
    yield from ((k, k) for k in range(count))
    i = 0
    while i < count - 1:
        j = i
        while j < count - 1 and run.links[j] == run.links[i] and run.links[i] not in _PARENS:
            j += 1
        if j > i and run.links[i] not in _ENDS_STRETCH:
            yield i, j
        i = max(j, i + 1)
    yield from _wrapped_stretches(run)


def _wrapped_stretches(run: _Run) -> Iterator[tuple[int, int]]:
    """Each maximal stretch of one separator that a line break continues (``5150 6806\n6435
    4293``): the line break is read as that stretch's separator."""
    count, i = len(run.starts), 0
    while i < count - 1:
        kind, j, wrapped = None, i, False
        while j < count - 1 and run.links[j] not in _PARENS and run.links[j] not in _ENDS_STRETCH:
            link = run.links[j]
            if link != _WRAP and kind is None:
                kind = link
            elif link != _WRAP and link != kind:
                break
            wrapped = wrapped or link == _WRAP
            j += 1
        if wrapped and j > i:
            yield i, j
        i = max(j, i + 1)


def _phone_prefix(digits: str, plus: bool) -> tuple[str, str] | None:
    """(prefix, national number) of a Turkish phone number's digits, else None."""
    if plus:
        prefix = "90" if digits.startswith("90") else ""
        if not prefix:
            return None
    elif digits.startswith("0090"):
        prefix = "0090"
    else:
        prefix = "0" if digits.startswith("0") else ""
    national = digits[len(prefix) :]
    if prefix in ("90", "0090") and len(national) == 11 and national.startswith("0"):
        prefix, national = prefix + "0", national[1:]  # +90 (0) 532 …: the trunk zero kept
    if len(national) != 10 or national[0] not in "2345":
        return None
    return prefix, national


def _phone_layout(sizes: list[int], links: tuple[str, ...], prefix: str, national: str) -> bool:
    """Whether the groups cut the number where people cut it: after the prefix (or glued to
    the area code), after the area code, and the subscriber's 7 digits as 7, 3-4, 3-2-2, …"""
    cuts = [sum(sizes[: k + 1]) for k in range(len(sizes) - 1)]
    p, area = len(prefix), len(prefix) + 3
    if any(c < p and c not in (2, 4) for c in cuts) or any(p < c < area for c in cuts):
        return False
    for cut, link in zip(cuts, links, strict=True):
        if (link == "close" and cut > area) or (link in ("open", "both") and cut > p):
            return False
    subscriber = [c - area for c in cuts if c > area]
    if area not in cuts and (p == 0 or subscriber):
        return False  # solid from the area code on is only read after a prefix
    groups = [b - a for a, b in zip([0, *subscriber], [*subscriber, 7], strict=True)]
    if not prefix:
        return groups in ([3, 2, 2], [3, 4]) and (
            national[0] == "5" or national[:3] in AREA_CODES or "close" in links
        )
    return area not in cuts or all(g >= 2 for g in groups)


def _phone(run: _Run, i: int, j: int) -> bool:
    # The country code after a ``+``, or as a group of its own: ``90 532 123 45 67``.
    plus = (i == 0 and run.before() == "+") or (i < j and run.digits(i, i) == "90")
    found = _phone_prefix(run.digits(i, j), plus)
    if found is None or not _bounded(run, i, j, phone=True):
        return False
    links = run.links[i:j]
    if any(link in _NEVER_INSIDE or link == _WRAP for link in links):
        return False
    return _phone_layout(run.sizes(i, j), links, *found)


def _phones(run: _Run) -> Iterator[tuple[int, int]]:
    count = len(run.starts)
    for i in range(count):
        first = run.text[run.starts[i]]
        if first not in "023459" or (
            first == "9" and run.digits(i, i) != "90" and run.before() != "+"
        ):
            continue
        total = 0
        for j in range(i, min(count, i + 8)):
            total += run.ends[j] - run.starts[j]
            if total > 15:
                break
            if total >= 10 and _phone(run, i, j):
                yield i, j


def number_spans(text: str) -> Iterator[Span]:
    """Every TC kimlik no, card and phone number candidate in ``text`` (they may overlap)."""
    for run in _runs(text):
        for i, j in _stretches(run):
            kind = _number_kind(run, i, j)
            if kind is not None:
                yield Span(kind, run.starts[i], run.ends[j])
        for i, j in _phones(run):
            end = run.ends[j + 1] if _alternative_ending(run, j) else run.ends[j]
            yield Span("PHONE", _phone_start(run, i, j), end)


def _phone_start(run: _Run, i: int, j: int) -> int:
    """A phone's first character: its ``+``, or the ``(`` its area code (or prefix) opens with."""
    start = run.starts[i] - (i == 0 and run.before() == "+")
    opened = start > 0 and run.text[start - 1] == "("
    parens = [link for link in run.links[i:j] if link in _PARENS]
    closed = bool(parens) and parens[0] != "open"  # the ``(`` is closed inside the number
    return start - 1 if opened and closed else start


# IBAN: "TR" at the start of a word, then 24 letters or digits with separators between them:
# the same spaces and dashes as above, a dot, or a line break (a long IBAN wraps).
_IBAN_SEP_PATTERN = rf"{_S}{{0,3}}(?:{_D}|\.)?(?:\r?\n)?{_S}{{0,3}}"
# No look-behind: one before the first character would cost the engine its fast skip to a T.
_IBAN_START = re.compile(rf"[Tt][Rr](?={_IBAN_SEP_PATTERN}[0-9])")
_IBAN_SEP = re.compile(_IBAN_SEP_PATTERN)
NOT_IBAN = "NOT_IBAN"  #: the kind of an IBAN-shaped span with wrong check digits
_IBAN_LENGTH = 24  #: characters after "TR": 2 check digits, 5 bank, 1 reserve, 16 account


def _iban_end(text: str, pos: int) -> tuple[int, str] | None:
    """Where an IBAN starting with ``TR`` before ``pos`` ends, and its compact form."""
    chars: list[str] = []
    while len(chars) < _IBAN_LENGTH:
        if pos < len(text) and text[pos].isascii() and text[pos].isalnum():
            if len(chars) < 8 and not text[pos].isdigit():
                return None  # check digits, bank code and reserve digit are digits
            chars.append(text[pos].upper())
            pos += 1
            continue
        gap = _IBAN_SEP.match(text, pos)
        if gap is None or gap.end() == pos:
            return None
        pos = gap.end()
    if pos < len(text) and (text[pos].isalnum() or text[pos] == "_"):
        return None
    return pos, "TR" + "".join(chars)


def iban_valid(compact: str) -> bool:
    """The ISO 13616 check of an upper-case IBAN: the country code and check digits moved to the
    end, letters as numbers (A = 10 … Z = 35), the whole number mod 97 is 1. (python-stdnum's
    ``stdnum.iban`` computes the same; this skips its per-country table lookup, the bulk of the
    cost when a long text holds thousands of IBANs.)"""
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def iban_spans(text: str) -> Iterator[Span]:
    """Every TR IBAN in ``text``; one shaped like an IBAN whose check digits are wrong is a
    ``NOT_IBAN`` span: a mistyped IBAN, not a card or a TC kimlik no in its digits."""
    for match in _IBAN_START.finditer(text):
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            continue  # inside a word
        found = _iban_end(text, match.end())
        if found is not None:
            kind = "IBAN" if iban_valid(found[1]) else NOT_IBAN
            yield Span(kind, start, found[0])
