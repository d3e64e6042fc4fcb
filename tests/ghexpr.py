"""A small evaluator of GitHub Actions expressions, for checking the workflows' ``if:`` rules.

It covers what job conditions use: literals, context paths (``a.b``, ``a['b']``, the ``.*``
object filter), ``!``, ``==``/``!=`` (strings compared ignoring case, as GitHub does), ``&&``
and ``||`` (returning an operand, as GitHub does), parentheses, and ``contains``,
``startsWith``, ``endsWith``. Anything else raises, so a rule it cannot read fails the test
instead of being guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!().,\[\]*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
FUNCTIONS = {"contains", "startswith", "endswith"}


def tokens(text: str) -> list[tuple[str, str]]:
    found, at = [], 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match or match.end() == at:
            raise ValueError(f"cannot read the expression at {text[at:]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        at = match.end()
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and value == value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return bool(a == b)


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any]) -> None:
        self.tokens = tokens(text)
        self.at = 0
        self.context = context

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ValueError("the expression ends too early")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        if self.at != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            other = self.both()
            value = value if truthy(value) else other
        return value

    def both(self) -> Any:
        value = self.unary()
        while self.peek() == "&&":
            self.take()
            other = self.unary()
            value = other if truthy(value) else value
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        value = self.primary()
        if self.peek() in ("==", "!="):
            op = self.take()[1]
            other = self.primary()
            return _equal(value, other) if op == "==" else not _equal(value, other)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.either()
            self.take(")")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == "(":
            return self.call(text)
        return self.path(self.context.get(text))

    def call(self, name: str) -> Any:
        if name.lower() not in FUNCTIONS:
            raise ValueError(f"function {name} is not supported here")
        self.take("(")
        args = [self.either()]
        while self.peek() == ",":
            self.take()
            args.append(self.either())
        self.take(")")
        haystack, needle = args
        if name.lower() == "contains":
            if isinstance(haystack, list):
                return any(_equal(item, needle) for item in haystack)
            return str(needle).casefold() in str(haystack or "").casefold()
        text, part = str(haystack or "").casefold(), str(needle).casefold()
        return text.startswith(part) if name.lower() == "startswith" else text.endswith(part)

    def path(self, value: Any) -> Any:
        filtered = False
        while self.peek() in (".", "["):
            if self.take()[1] == "[":
                key = self.either()
                self.take("]")
            elif self.peek() == "*":
                self.take()
                value = list(value.values()) if isinstance(value, Mapping) else value or []
                filtered = True
                continue
            else:
                key = self.take()[1]
            if filtered:
                value = [v.get(key) for v in value if isinstance(v, Mapping)]
            else:
                value = value.get(key) if isinstance(value, Mapping) else None
        return value


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of an ``if:`` (with or without ``${{ }}``) in ``context``."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return _Parser(text, context).parse()
