"""Smart-list logic: whether a filter holds for a person, whether a trigger matches.

String comparisons ignore case, as Marketo's do; numbers compare as numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sim.scenario.model import FieldFilter, Filter, ListFilter, Program, ProgramStatusFilter, Trigger, Value, same_value
from sim.scenario.people import Person


def _fold(value: Value) -> Value:
    return value.casefold() if isinstance(value, str) else value


def _text(value: Value) -> str:
    return "" if value is None else str(value).casefold()


def _number(value: Value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return None


def field_holds(flt: FieldFilter, value: Value) -> bool:
    op = flt.op
    if op == "is empty":
        return value is None or value == ""
    if op == "is not empty":
        return not (value is None or value == "")
    if op == "is":
        for candidate in flt.values:
            if same_value(value, candidate):
                return True
        return False
    if op == "is not":
        return not any(same_value(value, v) for v in flt.values)
    if op == "contains":
        return any(_text(v) in _text(value) for v in flt.values)
    if op == "not contains":
        return not any(_text(v) in _text(value) for v in flt.values)
    if op == "starts with":
        return any(_text(value).startswith(_text(v)) for v in flt.values)
    number = _number(value)
    if number is None:
        return False
    bounds = [b for b in (_number(v) for v in flt.values) if b is not None]
    if op == "greater than":
        return any(number > b for b in bounds)
    if op == "less than":
        return any(number < b for b in bounds)
    if op == "at least":
        return any(number >= b for b in bounds)
    if op == "at most":
        return any(number <= b for b in bounds)
    raise AssertionError(f"unchecked operator {op!r}")


def holds(flt: Filter, person: Person, programs: Mapping[str, Program]) -> bool:
    """Whether one filter holds for the person now (R1, R13)."""
    if isinstance(flt, FieldFilter):
        return field_holds(flt, person.fields.get(flt.field))
    if isinstance(flt, ListFilter):
        return (flt.list in person.lists) == flt.member
    if isinstance(flt, ProgramStatusFilter):
        statuses = programs[flt.program].statuses
        current = statuses[person.statuses.get(flt.program, 0)]
        return (current == flt.status) != flt.negate
    raise AssertionError(f"unknown filter {flt!r}")


def all_hold(filters: Iterable[Filter], person: Person, programs: Mapping[str, Program]) -> bool:
    for flt in filters:  # a loop, not all(generator): this runs for every step's choices
        if not holds(flt, person, programs):
            return False
    return True


def trigger_matches(trigger: Trigger, details: Mapping[str, Any]) -> bool:
    """Whether every constraint of the trigger holds for the activity's attributes."""
    for key, values in trigger.constraints:
        value = details.get(key)
        for candidate in values:
            if same_value(value, candidate):
                break
        else:
            return False
    return True
