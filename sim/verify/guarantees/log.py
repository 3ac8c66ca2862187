"""An activity log indexed for the checks, and the `Violation` records they report.

`Log.of` reads a log once into runs (how each began, its own activities, how it ended)
and tasks (a top run and its executables, R6), which every family of checks reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import attrs

from sim.observe.summary import Summary
from sim.run.activity import RUN_ENDINGS, RUN_QUEUED, RUN_STARTED, Activity
from sim.scenario.model import Campaign, Scenario
from sim.scenario.people import Person

EXECUTED = "execute_campaign"  # the ``via`` of an executed run


@attrs.frozen(kw_only=True)
class Violation:
    """One place where a log breaks a guarantee, with the activities that show it."""

    guarantee: str
    rules: str
    message: str
    evidence: tuple[Activity, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.guarantee} ({self.rules}): {self.message}"]
        lines.extend(f"    {format_activity(a)}" for a in self.evidence)
        return "\n".join(lines)


def format_activity(activity: Activity) -> str:
    """One activity on one line, for messages: seq, time, person, run, step and details."""
    where = ""
    if activity.campaign is not None:
        step = f" step {activity.step} ({activity.kind})" if activity.step is not None else ""
        parent = f" parent {activity.parent}" if activity.parent is not None else ""
        where = f' "{activity.campaign}" run {activity.run}{parent}{step}'
    details = ", ".join(f"{k}={v!r}" for k, v in activity.details.items())
    return f"#{activity.seq} t={activity.time:g} {activity.person}{where}: {activity.type}" + (
        f" {{{details}}}" if details else ""
    )


def is_write_back(activity: Activity) -> bool:
    """A webhook response and the fields it writes: a task of their own, not the run's (R16)."""
    return activity.type == "webhook_response" or (
        activity.type == "change_data_value" and activity.details.get("source") == "webhook"
    )


@attrs.define(eq=False)
class RunRecord:
    """What the log says about one run: how it began, its own activities, how it ended."""

    id: int
    campaign: str
    person: str
    parent: int | None
    via: str
    cause: int | None
    first: Activity  # run_started or run_skipped
    own: list[Activity] = attrs.field(factory=list)  # in log order; no write-backs
    endings: list[Activity] = attrs.field(factory=list)
    top: int = 0  # the run whose task this run's steps run in (itself unless executed)
    depth: int = 0  # executable nesting below the top run (R8)

    @property
    def skipped(self) -> bool:
        return self.first.type == "run_skipped"

    @property
    def started(self) -> bool:
        """Whether the run got under way (not skipped, not still waiting for a worker)."""
        return any(activity.type == RUN_STARTED for activity in self.own)


@attrs.define(eq=False)
class Log:
    """An activity log indexed for the checks: runs, tasks, and the activity by seq."""

    scenario: Scenario
    activities: Sequence[Activity]
    by_seq: dict[int, Activity] = attrs.field(factory=dict)
    runs: dict[int, RunRecord] = attrs.field(factory=dict)
    #: top run id -> the activities of its task (the run and its executables), in order.
    tasks: dict[int, list[Activity]] = attrs.field(factory=dict)
    #: cause seq -> the runs (started or skipped) it led to.
    caused: dict[int, list[RunRecord]] = attrs.field(factory=lambda: defaultdict(list))
    #: Activities of runs with no run_started/run_skipped before them.
    orphans: list[Activity] = attrs.field(factory=list)
    #: What the run itself reported, when known: checked against the log.
    summary: Summary | None = None
    people: Mapping[str, Person] | None = None

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        activities: Iterable[Activity],
        *,
        summary: Summary | None = None,
        people: Mapping[str, Person] | None = None,
    ) -> Log:
        """Index ``activities``; ``summary`` and ``people`` (the end state) are optional."""
        log = cls(scenario=scenario, activities=list(activities), summary=summary, people=people)
        for activity in log.activities:
            log.by_seq.setdefault(activity.seq, activity)
            if activity.run is None or activity.campaign is None:
                continue
            record = log.runs.get(activity.run)
            if record is None:
                if activity.type not in (RUN_STARTED, "run_skipped", RUN_QUEUED):
                    log.orphans.append(activity)
                    continue
                record = log._open(activity)
            if is_write_back(activity):
                continue
            record.own.append(activity)
            if activity.type in RUN_ENDINGS and activity.type != "run_skipped":
                record.endings.append(activity)
            if not record.skipped:
                log.tasks.setdefault(record.top, []).append(activity)
        return log

    def _open(self, first: Activity) -> RunRecord:
        assert first.run is not None and first.campaign is not None
        details = first.details
        record = RunRecord(
            id=first.run,
            campaign=first.campaign,
            person=first.person,
            parent=first.parent,
            via=str(details.get("via", "")),
            cause=details.get("cause"),
            first=first,
        )
        record.top = record.id
        parent = self.runs.get(first.parent) if first.parent is not None else None
        if record.via == EXECUTED and parent is not None:
            record.top = parent.top
            record.depth = parent.depth + 1
            if record.skipped:  # a skipped child is still a step of its parent's task (R7)
                self.tasks.setdefault(record.top, []).append(first)
        self.runs[record.id] = record
        if record.cause is not None:
            self.caused[record.cause].append(record)
        return record

    def campaign(self, name: str) -> Campaign | None:
        return self.scenario.campaigns.get(name)


class Report(Protocol):
    """Makes one guarantee's `Violation`: a message and the activities that show it."""

    def __call__(self, message: str, *evidence: Activity) -> Violation: ...


def reporter(guarantee: str, rules: str) -> Report:
    """The `Report` of one guarantee, so a check names its guarantee and rules once."""

    def make(message: str, *evidence: Activity) -> Violation:
        return Violation(guarantee=guarantee, rules=rules, message=message, evidence=tuple(evidence))

    return make
