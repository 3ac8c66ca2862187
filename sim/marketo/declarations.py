"""The names an imported scenario must declare, gathered while the rules and steps are
mapped: fields (numeric or text), static lists, programs with the statuses seen, and the
my-tokens the flows read.

Marketo names are kept as they are ("Lead Status" stays "Lead Status": sim's names may
hold spaces), so a user finds each one under the name the instance shows. A field is
numeric when a score uses it (Change Score, Score is Changed) or a number comparison reads
it (greater than, at least, between, ...); its default is 0, a text field's "".
A program's statuses are "Not in Program" first, then the others in the order first seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from sim.scenario import model
from sim.scenario.model import Value

#: Where everyone starts in a program (R14); Marketo's own name for it.
NOT_IN_PROGRAM = "Not in Program"

_NUMBER = re.compile(r"^\s*[+-]?\d+(?:\.\d+)?\s*$")


def as_number(text: str) -> int | float | None:
    """``"50"`` -> 50, ``"2.5"`` -> 2.5; None for anything that is not a plain number
    (or one beyond what a scenario may hold)."""
    if not _NUMBER.match(text):
        return None
    number = float(text)
    if abs(number) > model.MAX_NUMBER:
        return None
    return int(number) if number.is_integer() else number


@attrs.define(eq=False, kw_only=True)
class Declarations:
    numeric: set[str] = attrs.field(factory=set)
    fields: dict[str, None] = attrs.field(factory=dict)
    lists: dict[str, None] = attrs.field(factory=dict)
    programs: dict[str, dict[str, None]] = attrs.field(factory=dict)
    tokens: dict[str, dict[str, str]] = attrs.field(factory=dict)

    def field(self, name: str) -> str:
        self.fields.setdefault(name, None)
        return name

    def list(self, name: str) -> str:
        self.lists.setdefault(name, None)
        return name

    def program(self, name: str, statuses: Iterable[str] = ()) -> str:
        known = self.programs.setdefault(name, {NOT_IN_PROGRAM: None})
        for status in statuses:
            known.setdefault(status, None)
        return name

    def token(self, program: str, name: str) -> None:
        self.tokens.setdefault(program, {}).setdefault(name, "")

    def value(self, field: str, text: str) -> Value:
        """A value written to, or compared with, ``field``: a number for a numeric field
        (None when ``text`` is not one), else the text; "NULL" stays "NULL"."""
        if text.strip().upper() == "NULL":
            return "NULL"
        if field in self.numeric:
            return as_number(text)
        return text

    def default(self, field: str) -> Value:
        return 0 if field in self.numeric else ""
