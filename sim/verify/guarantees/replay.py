"""Guarantee 8, the log replay (R12, R17): person state at every moment of the log.

The log alone is the evidence: a check never looks inside the engine. Person state is
rebuilt by replaying the log's change activities over the scenario's people (and the
people ``person_created`` adds, with the fields it logs), which is itself a check
(`check_replay`): each change must start from the value the log says the person had.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sim.run.activity import Activity
from sim.scenario.model import Scenario
from sim.scenario.people import Person, make_people
from sim.verify.guarantees.log import Log, Violation, reporter

#: Called with the position in the log (0 .. len), the activity there (None at the end)
#: and everybody's state just before it.
Before = Callable[[int, "Activity | None", Mapping[str, Person]], None]


def replay(
    log: Log,
    *,
    before: Before | None = None,
    observe: Callable[[Activity, Person], None] | None = None,
    final: Mapping[str, Person] | None = None,
    guarantee: str = "replay",
) -> list[Violation]:
    """Rebuild people from the log's changes; each change must start from the replayed value.

    A ``person_created`` activity adds its person, with the fields it logs.

    ``before`` sees every position of the log with everybody's state there; ``observe``
    sees every activity with its person's state just after it (when triggers fire). With
    ``final`` (the engine's people at the end), the replayed end state must equal it: the
    log holds every change, nothing lost (R12, R17).
    """
    bad = reporter(guarantee, "R12, R17")
    scenario = log.scenario
    people = make_people(scenario)
    out: list[Violation] = []
    for index, activity in enumerate(log.activities):
        if before is not None:
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
        if observe is not None:
            observe(activity, person)
    if before is not None:
        before(len(log.activities), None, people)
    if final is not None:
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


def check_replay(log: Log) -> list[Violation]:
    """Replaying the log's changes is consistent, and gives the run's end state if known."""
    return replay(log, final=log.people)
