"""Reading who a scenario simulates: ``lists``, ``[fields]``, ``[people]`` and ``[[person]]``.

These come first: every later section checks the field and list names it uses, and the
people its activities are for, against what is read here (kept on the `Reader`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.read_problems import Reader, is_number, kind_of, number_problem
from sim.scenario.units import show

#: More people than any machine holds (they would need terabytes). Below it, whether a
#: population fits is measured against this machine's memory (`sim.scenario.estimate`).
MAX_PEOPLE = 1_000_000_000


def read_lists(r: Reader, data: Mapping[str, Any]) -> tuple[str, ...]:
    """``lists``: the names of the static lists people can be on (kept on the reader too)."""
    with r.at("lists"):
        raw_lists: list[Any] = r.guard(lambda: r.get(data, "lists", list, []), [])
        names = []
        for item in raw_lists:
            if isinstance(item, str):
                names.append(item)
            else:
                r.problem(f"list names must be strings, not {kind_of(item)} ({show(item)})")
        r.lists = tuple(dict.fromkeys(names))
    return r.lists


def read_fields(r: Reader, data: Mapping[str, Any]) -> dict[str, model.FieldSpec]:
    """``[fields]``: each field's default, or the values (and weights) people draw from;
    by name, kept on the reader too, with "score" added if the file has none."""
    raw = r.section(data, "fields", dict, "[fields]")
    for name, spec in raw.items():
        before = len(r.problems)
        with r.at(f'field "{name}"'):
            if isinstance(spec, dict):
                r.check_keys(spec, ("default", "values", "weights"), f'field "{name}"')
                values = r.values(r.get(spec, "values", list, []), "a field value")
                weights = tuple(r.get(spec, "weights", list, []))
                if weights and (
                    len(weights) != len(values)
                    or not all(is_number(w) and w >= 0 and number_problem(w) is None for w in weights)
                ):
                    raise r.fail(
                        f'"weights" needs one number from 0 to {model.MAX_NUMBER:,} per value ({len(values)} '
                        f"values), not {show(list(weights))}"
                    )
                if weights and sum(weights) <= 0:
                    raise r.fail('"weights" must not all be zero')
                default = r.value(spec["default"], '"default"') if "default" in spec else (values[0] if values else "")
                if not values and "default" not in spec:
                    raise r.fail('give "default", or "values" to draw from')
                r.fields[name] = model.FieldSpec(name=name, default=default, values=values, weights=weights)
            else:
                r.fields[name] = model.FieldSpec(name=name, default=r.value(spec, "a field default"))
        if len(r.problems) > before and name not in r.fields:
            r.broken_fields.add(name)
    r.fields.setdefault("score", model.FieldSpec(name="score", default=0))
    return r.fields


def read_people(r: Reader, data: Mapping[str, Any]) -> tuple[int, list[model.PersonSpec]]:
    """``[people] count`` (the generated p1..pN) and the ``[[person]]`` tables."""
    count = 0
    with r.at("[people]"):
        table = r.table(data, "people", "[people]")
        r.check_keys(table, ("count",), "[people]")
        count = r.get(table, "count", int, 0)
        if count < 0:
            r.problem(f'"count" must be zero or more, not {count}')
            count = 0
        elif count > MAX_PEOPLE:
            r.problem(f'"count" = {show(count)} is more people than any machine holds; at most {MAX_PEOPLE:,}')
    r.population = count  # as written: its people are known names even if too many
    count = min(count, MAX_PEOPLE)
    people: list[model.PersonSpec] = []
    seen = r.person_ids  # every id written, so a person with a problem is not also "unknown"
    raw = r.section(data, "person", list, "[[person]]")
    for index, spec in enumerate(raw, 1):
        with r.at(f"[[person]] {index}"):
            if not isinstance(spec, dict):
                raise r.fail(f"must be a table, not {kind_of(spec)}")
            r.check_keys(spec, ("id", "fields", "lists"), "[[person]]")
            pid = r.get(spec, "id", str)
            r.where = f'person "{pid}"'
            if re.fullmatch(r"p[1-9]\d*", pid) and int(pid[1:]) <= count:
                raise r.fail(f'"{pid}" clashes with a generated person (p1..p{count}); pick another id')
            if pid in seen:
                raise r.fail("this person id is used twice")
            seen.add(pid)
            fields = r.field_values(r.get(spec, "fields", dict, {}))
            lists = tuple(r.name("list", n, r.lists) for n in r.get(spec, "lists", list, []))
            people.append(model.PersonSpec(id=pid, fields=fields, lists=lists))
    return count, people
