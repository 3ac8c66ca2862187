"""What a run ends with, and how two outcomes differ.

An `Outcome` is every person's final fields, lists and program statuses and the campaigns
that ran: what `sim.verify.explore` groups schedules by. `replay` runs a schedule to its
outcome and log, `differ` says which values differ from another outcome and which flow
step wrote them last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import attrs

from sim.observe.simulation import Simulation
from sim.observe.sinks import MemorySink
from sim.run.activity import Activity
from sim.run.plan import Plan
from sim.scenario.model import Scenario, Value
from sim.scenario.people import Person

#: Activities that write a person's field, and so may write a value that differs.
_WRITES = ("change_data_value", "change_score")


@attrs.frozen(kw_only=True)
class Outcome:
    """What a run ends with: each person's fields, lists and program statuses, and the
    campaigns that ran. Values are tagged with their type (True is not 1)."""

    people: PersonRows
    campaigns: tuple[str, ...]

    def values(self) -> dict[tuple[str, str], Value]:
        """(person, what) -> value: a field, ``list:NAME`` membership, ``program:NAME`` status index."""
        return values_of(self.people)


#: An outcome's rows: each person's id, fields (name, type, value), lists and statuses.
PersonRows = tuple[tuple[str, tuple[tuple[str, str, Value], ...], tuple[str, ...], tuple[tuple[str, int], ...]], ...]


def values_of(people: PersonRows) -> dict[tuple[str, str], Value]:
    """(person, what) -> value of ``people``'s rows (`Outcome.values`)."""
    out: dict[tuple[str, str], Value] = {}
    for pid, fields, lists, statuses in people:
        out.update(((pid, name), value) for name, _, value in fields)
        out.update(((pid, f"list:{name}"), True) for name in lists)
        out.update(((pid, f"program:{name}"), index) for name, index in statuses)
    return out


def outcome_of(people: Mapping[str, Person], campaigns: Iterable[str]) -> Outcome:
    """The outcome of a run from its people at the end and the campaigns that started."""
    return Outcome(
        people=tuple(
            (
                pid,
                tuple((name, type(value).__name__, value) for name, value in sorted(person.fields.items())),
                tuple(sorted(person.lists)),
                tuple(sorted(person.statuses.items())),
            )
            for pid, person in sorted(people.items())
        ),
        campaigns=tuple(sorted(campaigns)),
    )


def finished_outcome(simulation: Simulation) -> Outcome:
    """The outcome of a finished ``simulation``: its people now, the campaigns that started."""
    campaigns = simulation.summary().campaigns
    return outcome_of(simulation.engine.people, [name for name, tally in campaigns.items() if tally.started])


def run_to_outcome(simulation: Simulation) -> Outcome:
    """Run ``simulation`` to its end: its outcome."""
    simulation.run_sync()
    return finished_outcome(simulation)


def digest(outcome: Outcome) -> bytes:
    """A fingerprint of ``outcome``, the same in every process (its repr is exact)."""
    return hashlib.blake2b(repr(outcome).encode(), digest_size=16).digest()


#: The plan of the scenario this process explores (`plan_of`).
_plan: Plan | None = None


def plan_of(scenario: Scenario) -> Plan:
    """The `sim.run.plan.Plan` of ``scenario``, made once per process and scenario: every
    schedule of an exploration starts from the same people, activities and arrivals."""
    global _plan
    if _plan is None or _plan.scenario is not scenario:
        _plan = Plan.of(scenario)
    return _plan


@attrs.frozen(kw_only=True)
class Replayed:
    """One run under a schedule: its outcome and activity log."""

    outcome: Outcome
    activities: tuple[Activity, ...]
    schedule: str


def replay(scenario: Scenario, schedule: str) -> Replayed:
    """Run ``scenario`` under ``schedule``; raises ScheduleError if it does not fit."""
    sink = MemorySink()
    simulation = Simulation(scenario, schedule=schedule, sinks=[sink])
    return Replayed(
        outcome=run_to_outcome(simulation),
        activities=tuple(sink.activities),
        schedule=schedule,
    )


@attrs.frozen(kw_only=True)
class Difference:
    """One value that differs between an outcome class and the most common one, with
    the campaign run and step that wrote it in the witness (None: not written by a flow)."""

    person: str
    what: str  # a field, "list:NAME" or "program:NAME"
    value: Value
    common: Value
    writer: Activity | None


def differ(common: Outcome, replayed: Replayed) -> tuple[Difference, ...]:
    """What ``replayed`` ends with that ``common`` does not, and who wrote it last."""
    writers = last_writers(replayed.activities)
    mine, theirs = replayed.outcome.values(), common.values()
    out = []
    for key in sorted(set(mine) | set(theirs)):
        value, other = mine.get(key), theirs.get(key)
        if value != other or type(value) is not type(other):
            person, what = key
            out.append(Difference(person=person, what=what, value=value, common=other, writer=writers.get(key)))
    return tuple(out)


def last_writers(activities: Sequence[Activity]) -> dict[tuple[str, str], Activity]:
    """(person, field) -> the last flow activity that wrote it."""
    out: dict[tuple[str, str], Activity] = {}
    for activity in activities:
        if activity.run is None:
            continue
        if activity.type in _WRITES:
            out[activity.person, str(activity.details["field"])] = activity
        elif activity.type in ("add_to_list", "remove_from_list"):
            out[activity.person, f"list:{activity.details['list']}"] = activity
        elif activity.type == "change_program_status":
            out[activity.person, f"program:{activity.details['program']}"] = activity
    return out
