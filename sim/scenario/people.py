"""People: the live state a flow reads and changes, and how a scenario's people are made.

A scenario's people are its explicit ``[[person]]`` people and the generated p1..pN;
during a run a form fill by an unknown visitor adds a person (`new_person_fields`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import attrs

from sim.scenario.model import FieldSpec, Scenario, Value


@attrs.define(eq=False)
class Person:
    """One person's fields, static lists and program statuses (as status indexes)."""

    id: str
    fields: dict[str, Value]
    lists: set[str] = attrs.field(factory=set)  # membership tests only; sort before showing
    statuses: dict[str, int] = attrs.field(factory=dict)  # program -> index into its statuses
    #: Steps run for this person so far, against the scenario's step budget.
    steps: int = 0


#: People made between two calls of `make_people`'s ``progress``.
PROGRESS_EVERY = 1 << 16


def make_people(scenario: Scenario, *, progress: Callable[[int, int], None] | None = None) -> dict[str, Person]:
    """Every person of a scenario, keyed by id: explicit people first, then p1..pN.

    Field values drawn from distributions come from a random stream of their own, so the
    people are the same whatever the schedule. ``progress(made, total)`` is called every
    `PROGRESS_EVERY` generated people, and once with ``made == total`` if it was called.
    """
    rng = random.Random(f"sim.people:{scenario.seed}")
    defaults = {name: spec.default for name, spec in scenario.fields.items()}
    drawn = [spec for spec in scenario.fields.values() if spec.values]
    people: dict[str, Person] = {}
    for spec in scenario.people:
        people[spec.id] = Person(id=spec.id, fields={**defaults, **spec.fields}, lists=set(spec.lists))
    total = scenario.population
    for number, pid in enumerate(_generated_ids(total), 1):
        people[pid] = Person(id=pid, fields=_draw(defaults, drawn, rng))
        if progress is not None and not number % PROGRESS_EVERY:
            progress(number, total)
    if progress is not None and total >= PROGRESS_EVERY:
        progress(total, total)
    return people


def new_person_fields(scenario: Scenario, rng: random.Random) -> dict[str, Value]:
    """The fields of a person created during the run: made as a generated person's are
    (declared defaults, drawn fields drawn from ``rng``), so new visitors look like the
    population before their form writes its own fields."""
    defaults = {name: spec.default for name, spec in scenario.fields.items()}
    return _draw(defaults, [spec for spec in scenario.fields.values() if spec.values], rng)


def is_generated_id(pid: str, population: int) -> bool:
    """Whether ``pid`` is one of the generated people p1..p``population``."""
    digits = pid[1:]
    return pid[:1] == "p" and digits.isascii() and digits.isdigit() and digits[0] != "0" and int(digits) <= population


def _draw(defaults: dict[str, Value], drawn: list[FieldSpec], rng: random.Random) -> dict[str, Value]:
    fields = dict(defaults)
    for field in drawn:
        if field.weights:
            fields[field.name] = rng.choices(field.values, weights=field.weights)[0]
        else:
            fields[field.name] = rng.choice(field.values)
    return fields


def _generated_ids(count: int) -> Iterator[str]:
    return (f"p{i}" for i in range(1, count + 1))
