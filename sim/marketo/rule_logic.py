"""A smart list's filter logic ("all", "any", or custom such as "1 and (2 or 3)") and the
conjunction sim keeps of it.

sim ANDs a campaign's filters (docs/scenarios.md, "Filters"). An OR has no exact
equivalent, so the importer keeps, of every OR, its first branch: the filters kept imply
the original logic, so the imported campaign admits a subset of the people Marketo's
would (never someone Marketo's would turn away). "any" is "1 or 2 or ...": filter 1 alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

_TOKEN = re.compile(r"\s*(?:(\d+)|(and)\b|(or)\b|(\()|(\)))", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class Logic:
    """An expression over filter numbers: a number, or ``op`` ("and"/"or") over parts."""

    number: int = 0
    op: str = ""
    parts: tuple[Logic, ...] = ()

    def numbers(self) -> list[int]:
        """Every filter number it names, in order."""
        if not self.op:
            return [self.number]
        return [n for part in self.parts for n in part.numbers()]

    def kept(self) -> list[int]:
        """The filters of the conjunction that stands for it: each OR by its first branch."""
        if not self.op:
            return [self.number]
        if self.op == "or":
            return self.parts[0].kept()
        return [n for part in self.parts for n in part.kept()]

    def exact(self) -> bool:
        """Whether it has no OR (then the conjunction is the logic itself)."""
        return self.op != "or" and all(part.exact() for part in self.parts)


def parse_logic(text: str) -> Logic:
    """``"1 and (2 or 3)"`` -> its Logic; ValueError with what is wrong. As in Marketo's
    UI, "and" binds tighter than "or"."""
    tokens = _tokens(text)
    logic, rest = _or(tokens, text)
    if rest:
        raise ValueError(f'unexpected "{rest[0]}" in "{text}"')
    return logic


def match_logic(match: str, count: int, custom: str | None) -> Logic:
    """The logic of ``count`` filters under ``filterMatchType`` ``match``."""
    if match == "custom" and custom:
        logic = parse_logic(custom)
        beyond = sorted({n for n in logic.numbers() if not 1 <= n <= count})
        if beyond:
            shown = ", ".join(map(str, beyond))
            raise ValueError(
                f'"{custom}" names filter{"s" if len(beyond) > 1 else ""} {shown}, but the smart list has '
                f"{count} filter{'s' if count != 1 else ''}"
            )
        return logic
    op = "or" if match == "any" and count > 1 else "and"
    return Logic(op=op, parts=tuple(Logic(number=n) for n in range(1, count + 1)))


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ValueError(f'cannot read "{text[at:].strip()}" in "{text}"; write e.g. "1 and (2 or 3)"')
        tokens.append(match.group(0).strip().lower())
        at = match.end()
    if not tokens:
        raise ValueError('the logic is empty; write e.g. "1 and (2 or 3)"')
    return tokens


def _or(tokens: list[str], text: str) -> tuple[Logic, list[str]]:
    return _chain("or", _and, tokens, text)


def _and(tokens: list[str], text: str) -> tuple[Logic, list[str]]:
    return _chain("and", _atom, tokens, text)


def _chain(
    op: str, read: Callable[[list[str], str], tuple[Logic, list[str]]], tokens: list[str], text: str
) -> tuple[Logic, list[str]]:
    """Parts read by ``read`` joined by ``op``: one part is itself, more an ``op`` node."""
    part, tokens = read(tokens, text)
    parts = [part]
    while tokens and tokens[0] == op:
        part, tokens = read(tokens[1:], text)
        parts.append(part)
    return (parts[0] if len(parts) == 1 else Logic(op=op, parts=tuple(parts))), tokens


def _atom(tokens: list[str], text: str) -> tuple[Logic, list[str]]:
    if not tokens:
        raise ValueError(f'"{text}" ends too early; write e.g. "1 and (2 or 3)"')
    head = tokens[0]
    if head.isdigit():
        return Logic(number=int(head)), tokens[1:]
    if head == "(":
        inner, rest = _or(tokens[1:], text)
        if not rest or rest[0] != ")":
            raise ValueError(f'a "(" is not closed in "{text}"')
        return inner, rest[1:]
    raise ValueError(f'unexpected "{head}" in "{text}"; write e.g. "1 and (2 or 3)"')
