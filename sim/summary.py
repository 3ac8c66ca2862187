"""What a run adds up to: runs per campaign, steps, activities by type, final values.

`Tally` is a live sink the engine feeds as the run goes (constant memory); `Summary`
is the frozen record made from it and the people at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from sim.activity import Activity
from sim.model import Scenario, Value
from sim.people import Person

#: How many distinct values of a field the summary lists before lumping the rest.
TOP_VALUES = 8

_LIFECYCLE = {
    "run_started": "started",
    "run_completed": "completed",
    "run_skipped": "skipped",
    "run_removed": "removed",
    "run_stopped": "stopped",
}

#: Activity types whose ``field`` detail names a field a flow changed.
_FIELD_CHANGES = ("change_data_value", "change_score")
_LIST_CHANGES = ("add_to_list", "remove_from_list")


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
class BudgetReport:
    """A person whose step budget ran out: when, and in which campaign's run."""

    person: str
    campaign: str
    time: float


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


@attrs.define(eq=False)
class Tally:
    """Counts as the run goes; an `ActivitySink`."""

    lifecycle: dict[str, Counter[str]] = attrs.field(factory=dict)
    steps: Counter[str] = attrs.field(factory=Counter)
    activities: Counter[str] = attrs.field(factory=Counter)
    changed_fields: dict[str, None] = attrs.field(factory=dict)  # insertion-ordered set
    changed_lists: dict[str, None] = attrs.field(factory=dict)
    changed_programs: dict[str, None] = attrs.field(factory=dict)
    #: People whose step budget ran out, in the order it happened.
    exhausted: list[BudgetReport] = attrs.field(factory=list)

    def write(self, activity: Activity) -> None:
        self.count(activity.type, activity.campaign, activity.run, activity.details)

    def count(self, type_: str, campaign: str | None, run: int | None, details: Mapping[str, Any]) -> None:
        """Count one activity from its fields (the engine calls this: no record needed)."""
        activities = self.activities
        activities[type_] = activities.get(type_, 0) + 1
        kind = _LIFECYCLE.get(type_)
        if kind is not None:
            assert campaign is not None
            counts = self.lifecycle.get(campaign)
            if counts is None:
                counts = self.lifecycle[campaign] = Counter()
            counts[kind] += 1
        elif run is not None:
            if type_ in _FIELD_CHANGES:
                self.changed_fields[details["field"]] = None
            elif type_ in _LIST_CHANGES:
                self.changed_lists[details["list"]] = None
            elif type_ == "change_program_status":
                self.changed_programs[details["program"]] = None

    def close(self) -> None:
        pass

    def summarize(
        self,
        scenario: Scenario,
        people: Mapping[str, Person],
        *,
        strategy: str,
        virtual_time: float,
        interrupted: bool,
    ) -> Summary:
        campaigns = {}
        for name in scenario.campaigns:
            counts = self.lifecycle.get(name, Counter())
            campaigns[name] = CampaignTally(
                started=counts["started"],
                completed=counts["completed"],
                skipped=counts["skipped"],
                removed=counts["removed"],
                stopped=counts["stopped"],
                steps=self.steps[name],
            )
        # Fields, lists and programs by name: the same order whatever ran first, so the
        # summaries of two seeds diff cleanly.
        fields: dict[str, tuple[tuple[Value, int], ...]] = {}
        for field in sorted(self.changed_fields):
            # Keyed with the type too: True == 1 in Python, not in a person's field.
            values: Counter[tuple[type, Value]] = Counter(
                (type(v), v) for p in people.values() for v in [p.fields.get(field)]
            )
            pairs: list[tuple[Value, int]] = [(value, count) for (_, value), count in values.items()]
            fields[field] = tuple(sorted(pairs, key=_by_count))
        lists = {name: sum(name in p.lists for p in people.values()) for name in sorted(self.changed_lists)}
        statuses = {}
        for program in sorted(self.changed_programs):
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
            steps=sum(self.steps.values()),
            activities=dict(sorted(self.activities.items())),
            fields=fields,
            lists=lists,
            statuses=statuses,
            step_budget=scenario.step_budget,
            budget_exhausted=tuple(self.exhausted),
        )


def _by_count(item: tuple[object, int]) -> tuple[int, str]:
    # Most common first; ties by the value's text so the order never depends on hashing.
    return (-item[1], repr(item[0]))
