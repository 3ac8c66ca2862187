"""The outcomes of each group of people, as a report says them: the groups with more than one
outcome, those alike merged, each class with what differs, who wrote it, and a shrunk witness.

200 people who each race the same way are 200 groups with 2 outcomes each; the report
says "p1: 2 outcomes (score 25 | 5); 199 more people the same", not 2^200 classes.
Two groups are *alike* when their outcome classes are the same once their people are
numbered in order (p1 and p7 each end with score 25 or 5). Only the first groups of
each kind get witnesses: shrinking replays the scenario up to ``shrink_replays`` times
per class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from sim.run.activity import Activity
from sim.scenario.model import Scenario, Value
from sim.verify.explore import Shrunk, Stop, shrink_keeping
from sim.verify.groups import GroupClass, GroupOutcome, person_order, project
from sim.verify.outcomes import Outcome, last_writers, replay, values_of

#: A group, as (its people, its outcome classes, most common first, whether those are all).
Grouped = tuple[tuple[str, ...], tuple[GroupClass, ...], bool]


@attrs.frozen(kw_only=True)
class GroupWitness:
    """One outcome of a group: its values of the group's ``differing`` items, how many
    schedules (or traces) gave it, a witness and, when it was replayed, who wrote each value."""

    values: tuple[Value, ...]
    runs: int
    witness: str
    minimal: bool
    replays: int
    #: The flow activity that last wrote each value in the witness (None: not a flow's);
    #: empty when the witness was not replayed.
    writers: tuple[Activity | None, ...] = ()


@attrs.frozen(kw_only=True)
class RacingGroup:
    """A group with more than one outcome (or one so far, its search cut short): its people,
    the (person, what) items whose final values differ between its outcomes, each outcome,
    the groups alike it, and whether its outcomes are all it has."""

    people: tuple[str, ...]
    differing: tuple[tuple[str, str], ...]
    classes: tuple[GroupWitness, ...]
    alike: tuple[tuple[str, ...], ...]
    complete: bool = True


@attrs.frozen(kw_only=True)
class GroupedOutcomes:
    """The racing groups (by their first person, in natural order: p2 before p10) and how many
    people and groups have one outcome."""

    racing: tuple[RacingGroup, ...]
    calm_people: int
    calm_groups: int

    @property
    def racing_people(self) -> int:
        return sum(len(group.people) + sum(len(other) for other in group.alike) for group in self.racing)


def group_outcomes(
    scenario: Scenario,
    groups: Sequence[Grouped],
    *,
    witnesses: int = 5,
    shrink_replays: int = 200,
    progress: Callable[[int, int], None] | None = None,
    stop: Stop | None = None,
) -> GroupedOutcomes:
    """Merge alike ``groups``, and shrink a witness for each class of the first ``witnesses``
    kinds of racing group (``progress(done, total)`` after each). After a ``stop`` request the
    witnesses are the first schedules found, not shrunk or replayed."""
    stop = stop or Stop()
    kinds: dict[tuple[bool, frozenset[GroupOutcome]], list[Grouped]] = {}
    calm_people = calm_groups = 0
    for people, classes, complete in sorted(groups, key=lambda group: [person_order(pid) for pid in group[0]]):
        if len(classes) < 2 and complete:
            calm_people += len(people)
            calm_groups += 1
            continue
        kind = (complete, frozenset(_anonymous(cls.outcome, people) for cls in classes))
        kinds.setdefault(kind, []).append((people, classes, complete))
    racing = []
    total = min(witnesses, len(kinds))
    for number, alike in enumerate(kinds.values()):
        (people, classes, complete), others = alike[0], tuple(group[0] for group in alike[1:])
        detailed = number < witnesses and not stop.requested
        budget = shrink_replays if detailed else 0
        found = _racing_group(scenario, people, classes, others, budget=budget, replay_it=detailed, stop=stop)
        racing.append(attrs.evolve(found, complete=complete))
        if detailed and progress is not None:
            progress(number + 1, total)
    return GroupedOutcomes(racing=tuple(racing), calm_people=calm_people, calm_groups=calm_groups)


def _anonymous(outcome: GroupOutcome, people: tuple[str, ...]) -> GroupOutcome:
    """``outcome`` with its people numbered in the group's order: alike groups give the same."""
    number = {pid: str(index) for index, pid in enumerate(people)}
    return tuple((number[row[0]], *row[1:]) for row in outcome)


def _racing_group(
    scenario: Scenario,
    people: tuple[str, ...],
    classes: tuple[GroupClass, ...],
    alike: tuple[tuple[str, ...], ...],
    *,
    budget: int,
    replay_it: bool,
    stop: Stop,
) -> RacingGroup:
    values = [values_of(cls.outcome) for cls in classes]
    keys = sorted(set().union(*values), key=lambda key: (person_order(key[0]), key[1]))
    differing = tuple(key for key in keys if len({repr(mine.get(key)) for mine in values}) > 1)
    described = []
    for cls, mine in zip(classes, values, strict=True):
        found = Shrunk(witness=cls.schedule, minimal=not cls.schedule, replays=0)
        if budget and not found.minimal and not stop.requested:
            found = _shrink_for(scenario, frozenset(people), cls, budget, stop)
        writers: tuple[Activity | None, ...] = ()
        if replay_it and not stop.requested:
            wrote = last_writers(replay(scenario, found.witness).activities)
            writers = tuple(wrote.get(key) for key in differing)
        described.append(
            GroupWitness(
                values=tuple(mine.get(key) for key in differing),
                runs=cls.runs,
                witness=found.witness,
                minimal=found.minimal,
                replays=found.replays,
                writers=writers,
            )
        )
    return RacingGroup(people=people, differing=differing, classes=tuple(described), alike=alike)


def _shrink_for(scenario: Scenario, people: frozenset[str], cls: GroupClass, budget: int, stop: Stop) -> Shrunk:
    """``cls``'s schedule with as few deviations as still give the group its outcome."""

    def keeps(outcome: Outcome) -> bool:
        return project(outcome, people) == cls.outcome

    return shrink_keeping(scenario, cls.schedule, keeps, budget=budget, should_stop=lambda: stop.requested)
