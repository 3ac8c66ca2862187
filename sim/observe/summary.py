"""What a run adds up to: runs per campaign, steps, activities by type, final values.

`summarize` makes the frozen `Summary` from the engine's `sim.run.tally.Tally` and the
people at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import attrs

from sim.run.tally import BudgetReport, Tally
from sim.scenario.model import Scenario, Value
from sim.scenario.people import Person

#: How many distinct values of a field the summary lists before lumping the rest.
TOP_VALUES = 8


@attrs.frozen(kw_only=True)
class CampaignTally:
    """Runs of one campaign by how they ended, and the steps they ran."""

    started: int = 0
    completed: int = 0
    skipped: int = 0
    removed: int = 0
    stopped: int = 0
    steps: int = 0

    @property
    def in_progress(self) -> int:
        """Runs started and not yet ended when the run stopped (e.g. in a Wait)."""
        return self.started - self.completed - self.removed - self.stopped


@attrs.frozen(kw_only=True)
class Summary:
    source: str
    seed: int
    strategy: str
    duration: float
    virtual_time: float
    interrupted: bool
    people: int
    campaigns: Mapping[str, CampaignTally]
    steps: int
    activities: Mapping[str, int]
    #: field -> ((value, people), ...), most common first, for fields the flows changed,
    #: by name (so are ``lists`` and ``statuses``).
    fields: Mapping[str, tuple[tuple[Value, int], ...]]
    #: list -> members at the end, for lists the flows changed.
    lists: Mapping[str, int]
    #: program -> ((status, people), ...), for programs whose statuses the flows changed.
    statuses: Mapping[str, tuple[tuple[str, int], ...]]
    step_budget: int
    budget_exhausted: tuple[BudgetReport, ...]


def summarize(
    tally: Tally,
    scenario: Scenario,
    people: Mapping[str, Person],
    *,
    strategy: str,
    virtual_time: float,
    interrupted: bool,
) -> Summary:
    """The `Summary` of a run from its ``tally`` and its ``people`` at the end."""
    campaigns = {}
    for name in scenario.campaigns:
        counts = tally.lifecycle.get(name, Counter())
        campaigns[name] = CampaignTally(
            started=counts["started"],
            completed=counts["completed"],
            skipped=counts["skipped"],
            removed=counts["removed"],
            stopped=counts["stopped"],
            steps=tally.steps[name],
        )
    # Fields, lists and programs by name: the same order whatever ran first, so the
    # summaries of two seeds diff cleanly.
    fields: dict[str, tuple[tuple[Value, int], ...]] = {}
    for field in sorted(tally.changed_fields):
        # Keyed with the type too: True == 1 in Python, not in a person's field.
        values: Counter[tuple[type, Value]] = Counter(
            (type(v), v) for p in people.values() for v in [p.fields.get(field)]
        )
        pairs: list[tuple[Value, int]] = [(value, count) for (_, value), count in values.items()]
        fields[field] = tuple(sorted(pairs, key=_by_count))
    lists = {name: sum(name in p.lists for p in people.values()) for name in sorted(tally.changed_lists)}
    statuses = {}
    for program in sorted(tally.changed_programs):
        names = scenario.programs[program].statuses
        counts = Counter(names[p.statuses.get(program, 0)] for p in people.values())
        statuses[program] = tuple((status, counts[status]) for status in names if counts[status])
    return Summary(
        source=scenario.source,
        seed=scenario.seed,
        strategy=strategy,
        duration=scenario.duration,
        virtual_time=virtual_time,
        interrupted=interrupted,
        people=len(people),
        campaigns=campaigns,
        steps=sum(tally.steps.values()),
        activities=dict(sorted(tally.activities.items())),
        fields=fields,
        lists=lists,
        statuses=statuses,
        step_budget=scenario.step_budget,
        budget_exhausted=tuple(tally.exhausted),
    )


def _by_count(item: tuple[object, int]) -> tuple[int, str]:
    # Most common first; ties by the value's text so the order never depends on hashing.
    return (-item[1], repr(item[0]))
