"""Groups of people whose runs may depend on each other, and what a group ends with.

Two steps depend on each other only through an item both touch (`sim.verify.dependence`).
Items a single step touches together are tied: a run's step that reads Alice's score and
writes her list ties those two, a step that takes a queue worker for Alice ties her to
the queue, and so to everyone else the queue serves; a batch that reads everyone's
smart list ties them all. People left in different groups never depend on each other,
so the outcomes of one group do not depend on the schedule of another: each group is
explored on its own, and reported on its own ("p001: 2 outcomes; 99 more people the
same"), instead of as the product of them all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import attrs

from sim.verify.dependence import Item
from sim.verify.outcomes import Outcome, PersonRows

#: What a group ends with: the outcome's rows of its people (fields, lists, statuses).
GroupOutcome = PersonRows


@attrs.frozen(kw_only=True)
class GroupClass:
    """One outcome of a group: what its people end with, how many runs gave it (traces of an
    exhaustive search, schedules of a sampling one), and the first schedule that did (a
    `sim run --schedule` string)."""

    outcome: GroupOutcome
    runs: int
    schedule: str


#: The item that ties a person's items together (no step accesses it).
_PERSON = "(person)"


@attrs.define(eq=False)
class Components:
    """Union-find over items: the items steps touched together, joined."""

    _parent: dict[Item, Item] = attrs.field(factory=dict, init=False)
    _people: dict[Item, set[str]] = attrs.field(factory=dict, init=False)  # root -> its people

    def root(self, item: Item) -> Item:
        parent = self._parent
        if item not in parent:
            parent[item] = item
            self._people[item] = set()
            if item[0]:  # a person's items are one group: the report says what each person ends with
                person = (item[0], _PERSON)
                if person not in parent:
                    parent[person] = person
                    self._people[person] = {item[0]}
                self._union(self.root(person), item)
            return self.root(item)
        top = item
        while parent[top] != top:
            top = parent[top]
        while parent[item] != top:  # path compression
            parent[item], item = top, parent[item]
        return top

    def join(self, items: Iterable[Item]) -> None:
        """Tie ``items`` (one step's) together."""
        it = iter(items)
        first = next(it, None)
        if first is None:
            return
        top = self.root(first)
        for item in it:
            top = self._union(top, self.root(item))

    def _union(self, top: Item, other: Item) -> Item:
        """Join the groups of two roots; the new root."""
        if other == top:
            return top
        mine, theirs = self._people[top], self._people[other]
        if len(mine) < len(theirs):  # the larger keeps its set
            top, other, mine, theirs = other, top, theirs, mine
        self._parent[other] = top
        mine |= theirs
        del self._people[other]
        return top

    def people(self, item: Item) -> frozenset[str]:
        """The people tied to ``item``."""
        return frozenset(self._people[self.root(item)])

    def groups(self) -> list[tuple[Item, frozenset[str]]]:
        """Each group with people: (an item of it, its people), by its first person."""
        found = [(root, frozenset(people)) for root, people in self._people.items() if people]
        return sorted(found, key=lambda group: min(person_order(pid) for pid in group[1]))


def person_order(pid: str) -> tuple[list[str | int], str]:
    """A sort key for people ids in natural order: "p2" before "p10" (and "p01" before "p1":
    equal numbers fall back to the text, so no order is left to hash order)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", pid)], pid


def project(outcome: Outcome, people: frozenset[str]) -> GroupOutcome:
    """What ``people`` end with in ``outcome``: their rows, in person order."""
    return tuple(row for row in outcome.people if row[0] in people)


def digest_of(values: GroupOutcome) -> bytes:
    """A fingerprint of a group's outcome."""
    return hashlib.blake2b(repr(values).encode(), digest_size=16).digest()
