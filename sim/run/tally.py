"""What the engine counts as a run goes: runs by how they ended, steps, activities by
type, and what the flows changed. Constant memory; `sim.observe.summary` makes the
`Summary` from it and the people at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from sim.run.activity import Activity

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
class BudgetReport:
    """A person whose step budget ran out: when, and in which campaign's run."""

    person: str
    campaign: str
    time: float


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
