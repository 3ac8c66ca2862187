"""Reading a campaign's smart list: its triggers (with their constraints) and filters.

Filters also stand in the ``if`` of a flow step's choices (`sim.scenario.read_flows`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.model import Filter, Value
from sim.scenario.read_problems import Reader, is_number, kind_of, suggest
from sim.scenario.units import show


def read_trigger(r: Reader, raw: object) -> model.Trigger:
    """One ``triggers`` entry: ``{ trigger = "NAME", CONSTRAINT = VALUE(S) ... }``."""
    if not isinstance(raw, dict):
        raise r.fail(f'a trigger must be a table like {{ trigger = "fills_out_form" }}, not {kind_of(raw)}')
    name = r.get(raw, "trigger", str)
    if name not in model.TRIGGER_ACTIVITIES:
        raise r.fail(f'unknown trigger "{name}"{suggest(name, model.TRIGGER_ACTIVITIES)}')
    allowed = model.TRIGGER_CONSTRAINTS[name]
    r.check_keys(raw, ("trigger", *allowed), f'trigger "{name}"')
    constraints = []
    for key in allowed:
        if key in raw:
            values = r.values(raw[key], f'constraint "{key}"')
            if key in ("new_value", "old_value"):
                values = tuple(None if v == "NULL" else v for v in values)  # "NULL": the empty value
            for value in values:
                _check_constraint(r, raw, key, value)
            constraints.append((key, values))
    return model.Trigger(name=name, constraints=tuple(constraints))


def _check_constraint(r: Reader, trigger: Mapping[str, Any], key: str, value: Value) -> None:
    """The names a constraint value gives (field, list, program, status, source) are known."""
    if key == "field":
        r.field_name(value)
    elif key == "list":
        r.name("list", value, r.lists)
    elif key == "program":
        r.name("program", value, r.programs)
    elif key in ("new_status", "old_status"):
        program = trigger.get("program")
        if isinstance(program, str) and program in r.programs:
            r.name("status", value, r.programs[program].statuses, of=f'of program "{program}"')
        else:
            known = dict.fromkeys(s for p in r.programs.values() for s in p.statuses)
            r.name("status", value, known, of="of any program")
    elif key == "source" and value not in model.REQUEST_SOURCES:
        raise r.fail(f'source "{value}" is not a request source; use one of {", ".join(model.REQUEST_SOURCES)}')


def read_filter(r: Reader, raw: object) -> Filter:
    """One filter: on a field (op and value), on list membership, or on a program status."""
    if not isinstance(raw, dict):
        raise r.fail(
            f'a filter must be a table like {{ field = "country", op = "is", value = "US" }}, not {kind_of(raw)}'
        )
    if "list" in raw:
        r.check_keys(raw, ("list", "member"), "a list filter")
        return model.ListFilter(list=r.name("list", raw["list"], r.lists), member=r.get(raw, "member", bool, True))
    if "program" in raw:
        r.check_keys(raw, ("program", "status", "op"), "a program status filter")
        program = r.name("program", raw["program"], r.programs)
        status = r.name("status", r.get(raw, "status", str), r.programs[program].statuses, of=f'of program "{program}"')
        op = r.get(raw, "op", str, "is")
        if op not in ("is", "is not"):
            raise r.fail(f'op "{op}" is not a program status comparison; use "is" or "is not"')
        return model.ProgramStatusFilter(program=program, status=status, negate=op == "is not")
    if "field" in raw:
        r.check_keys(raw, ("field", "op", "value"), "a field filter")
        field = r.field_name(raw["field"])
        op = r.get(raw, "op", str)
        if op not in model.FIELD_OPERATORS:
            raise r.fail(f'op "{op}" is not a comparison{suggest(op, model.FIELD_OPERATORS)}')
        if op in ("is empty", "is not empty"):
            if "value" in raw:
                raise r.fail(f'op "{op}" takes no "value"')
            return model.FieldFilter(field=field, op=op)
        values = r.values(r.get(raw, "value", (str, int, float, bool, list)), '"value"')
        if op in ("greater than", "less than", "at least", "at most") and not all(is_number(v) for v in values):
            raise r.fail(f'op "{op}" compares numbers; {show(raw["value"])} is not a number')
        return model.FieldFilter(field=field, op=op, values=values)
    needs = 'a filter needs "field" (with op and value), "list", or "program" (with status)'
    raise r.fail(f"{needs}; got keys {show(sorted(raw))}")
