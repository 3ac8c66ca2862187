"""People: the live state a flow reads and changes, and how a scenario's people are made."""

from __future__ import annotations

import random
from collections.abc import Iterator

import attrs

from sim.model import Scenario, Value


@attrs.define(eq=False)
class Person:
    """One person's fields, static lists and program statuses (as status indexes)."""

    id: str
    fields: dict[str, Value]
    lists: set[str] = attrs.field(factory=set)  # membership tests only; sort before showing
    statuses: dict[str, int] = attrs.field(factory=dict)  # program -> index into its statuses
    #: Steps run for this person so far, against the scenario's step budget.
    steps: int = 0


def make_people(scenario: Scenario) -> dict[str, Person]:
    """Every person of a scenario, keyed by id: explicit people first, then p1..pN.

    Field values drawn from distributions come from a random stream of their own, so the
    people are the same whatever the schedule.
    """
    rng = random.Random(f"sim.people:{scenario.seed}")
    defaults = {name: spec.default for name, spec in scenario.fields.items()}
    drawn = [spec for spec in scenario.fields.values() if spec.values]
    people: dict[str, Person] = {}
    for spec in scenario.people:
        people[spec.id] = Person(id=spec.id, fields={**defaults, **spec.fields}, lists=set(spec.lists))
    for pid in _generated_ids(scenario.population):
        fields = dict(defaults)
        for field in drawn:
            if field.weights:
                fields[field.name] = rng.choices(field.values, weights=field.weights)[0]
            else:
                fields[field.name] = rng.choice(field.values)
        people[pid] = Person(id=pid, fields=fields)
    return people


def _generated_ids(count: int) -> Iterator[str]:
    return (f"p{i}" for i in range(1, count + 1))
