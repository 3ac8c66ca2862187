"""Guarantee 8, the log replay (R12, R17): person state at every moment of the log.

The log alone is the evidence: a check never looks inside the engine. Person state is
rebuilt by replaying the log's change activities over the scenario's people (and the
people ``person_created`` adds, with the fields it logs), which is itself a check
(`check_replay`): each change must start from the value the log says the person had.

`check_guarantees` replays a log once and hands the `Replay` to every check. A check that
needs person state at some moments (what a step's choices pick, whether filters held)
has a `Probe` that the one replay feeds as it goes; the check reads its probe afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import attrs

from sim.run.activity import Activity
from sim.scenario.model import Scenario
from sim.scenario.people import Person, make_people
from sim.verify.guarantees.log import Log, Report, Violation, reporter


class Probe:
    """What one check learns from the replay: made from the log, fed by the shared replay.

    A subclass overrides what it watches, `before` and/or `after` (the replay skips the
    other), and only reads the state it is shown: every probe sees the same people.
    """

    def __init__(self, log: Log) -> None:
        self.log = log

    def before(self, index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        """Position ``index`` of the log (0 .. len; ``activity`` is None at the end), with
        everybody's state just before it."""

    def after(self, activity: Activity, person: Person) -> None:
        """Each activity of a known person, with their state just after it (when triggers fire)."""


P = TypeVar("P", bound=Probe)


@attrs.frozen(kw_only=True)
class Replay:
    """One replay of a log, handed to every check: its own findings and the probes it fed."""

    #: Changes that do not start from the replayed value, and activities of unknown people.
    changes: tuple[Violation, ...]
    #: The replayed end state against the run's (`Log.people`), when that is known.
    end: tuple[Violation, ...]
    probes: tuple[Probe, ...] = ()

    def probe(self, kind: type[P]) -> P:
        """The probe of type ``kind`` this replay fed."""
        for probe in self.probes:
            if isinstance(probe, kind):
                return probe
        raise LookupError(f"this replay fed no {kind.__name__}")


def replay(log: Log, probes: Sequence[Probe] = ()) -> Replay:
    """Rebuild people from the log's changes; each change must start from the replayed value.

    A ``person_created`` activity adds its person, with the fields it logs. Each probe
    sees what it watches as the replay goes. With the engine's people at the end
    (`Log.people`), the replayed end state must equal them: the log holds every change,
    nothing lost (R12, R17).
    """
    bad = reporter("replay", "R12, R17")
    befores = [probe.before for probe in probes if type(probe).before is not Probe.before]
    afters = [probe.after for probe in probes if type(probe).after is not Probe.after]
    scenario = log.scenario
    people = make_people(scenario)
    out: list[Violation] = []
    for index, activity in enumerate(log.activities):
        for before in befores:
            before(index, activity, people)
        person = people.get(activity.person)
        if activity.type == "person_created":
            # A form fill by an unknown visitor: the person starts with the logged fields.
            if person is not None:
                out.append(bad("a person created who already exists", activity))
            person = people[activity.person] = Person(id=activity.person, fields=dict(activity.details["fields"]))
        if person is None:
            out.append(bad("an activity of an unknown person", activity))
            continue
        message = _apply(scenario, person, activity)
        if message:
            out.append(bad(message, activity))
        for after in afters:
            after(activity, person)
    for before in befores:
        before(len(log.activities), None, people)
    end = _compare_end(people, log.people, bad) if log.people is not None else []
    return Replay(changes=tuple(out), end=tuple(end), probes=tuple(probes))


def probed(log: Log, replayed: Replay | None, kind: type[P]) -> P:
    """The ``kind`` probe of ``replayed`` (the replay `check_guarantees` shares), or of a
    replay of its own when a check runs alone."""
    if replayed is None:
        replayed = replay(log, [kind(log)])
    return replayed.probe(kind)


def _compare_end(people: Mapping[str, Person], final: Mapping[str, Person], bad: Report) -> list[Violation]:
    """The replayed people against the run's at the end: the same people, in the same state."""
    out: list[Violation] = []
    for pid, person in people.items():
        other = final.get(pid)
        state = (person.fields, person.lists, person.statuses)
        if other is None or state != (other.fields, other.lists, other.statuses):
            out.append(bad(f"replaying the log gives {pid} {state}, the run ended with another state"))
    extra = [pid for pid in final if pid not in people]
    if extra:
        out.append(bad(f"the run ended with people the log never created: {extra[:5]}"))
    return out


def _apply(scenario: Scenario, person: Person, activity: Activity) -> str | None:
    """Apply one change activity to ``person``; say what is wrong if it does not fit.

    The change is applied even then, so one bad activity is reported once, not again at
    every later one.
    """
    details = activity.details
    kind = activity.type
    problem = None
    if kind in ("change_data_value", "change_score"):
        field = details["field"]
        old = person.fields.get(field)
        if not (old == details["old_value"] and type(old) is type(details["old_value"])):
            problem = f"{field} was {old!r}, the change says {details['old_value']!r}"
        person.fields[field] = details["new_value"]
    elif kind in ("add_to_list", "remove_from_list"):
        name = details["list"]
        if (name in person.lists) == (kind == "add_to_list"):
            problem = f"membership of {name} did not change"
        if kind == "add_to_list":
            person.lists.add(name)
        else:
            person.lists.discard(name)
    elif kind == "change_program_status":
        statuses = scenario.programs[details["program"]].statuses
        current = statuses[person.statuses.get(details["program"], 0)]
        new = statuses.index(details["new_status"])
        if current != details["old_status"] or new <= statuses.index(current):
            problem = (
                f"status was {current!r}, the change says {details['old_status']!r}; statuses only move forward (R14)"
            )
        person.statuses[details["program"]] = new
    return problem


def check_replay(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """Replaying the log's changes is consistent, and gives the run's end state if known."""
    if replayed is None:
        replayed = replay(log)
    return [*replayed.changes, *replayed.end]
