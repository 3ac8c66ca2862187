"""Schedule exploration: run a scenario under many schedules and group the outcomes.

Every run has the same people, load and service times; only the kernel's choices among
tasks due at the same instant differ. When the outcomes differ, the design races
(MARKETO.md, "Races practitioners meet"). For each outcome class `explore` keeps a
witness: a schedule string (`sim.schedule`) that `sim run FILE --schedule STRING`
replays to exactly that outcome, shrunk to the fewest deviations from the default order
that still give it.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import attrs

from sim.activity import Activity, MemorySink
from sim.model import Scenario, Value
from sim.people import Person
from sim.schedule import ScheduleError, format_schedule, parse_schedule
from sim.simulation import Simulation

#: Activities that write a person's field, and so may write a value that differs.
_WRITES = ("change_data_value", "change_score")


@attrs.frozen(kw_only=True)
class Outcome:
    """What a run ends with: each person's fields, lists and program statuses, and the
    campaigns that ran. Values are tagged with their type (True is not 1)."""

    people: tuple[tuple[str, tuple[tuple[str, str, Value], ...], tuple[str, ...], tuple[tuple[str, int], ...]], ...]
    campaigns: tuple[str, ...]

    def values(self) -> dict[tuple[str, str], Value]:
        """(person, what) -> value: a field, ``list:NAME`` membership, ``program:NAME`` status index."""
        out: dict[tuple[str, str], Value] = {}
        for pid, fields, lists, statuses in self.people:
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
        outcome=_run_to_outcome(simulation),
        activities=tuple(sink.activities),
        schedule=schedule,
    )


def shrink(scenario: Scenario, schedule: str, outcome: Outcome, *, budget: int = 200) -> tuple[str, bool]:
    """The schedule with as few deviations as still give ``outcome``, and whether it is
    1-minimal (removing any one deviation left changes the outcome or no longer fits).

    Delta debugging (Zeller's ddmin): try dropping large chunks of deviations first,
    then smaller ones, down to single deviations. At most ``budget`` replays: a big
    scenario whose outcome needs hundreds of deviations gets a shorter witness, not
    necessarily a minimal one.
    """
    points = sorted(parse_schedule(schedule).items())
    replays = 0

    def same(kept: list[tuple[int, int]]) -> bool:
        nonlocal replays
        replays += 1
        try:
            return replay(scenario, format_schedule(dict(kept))).outcome == outcome
        except ScheduleError:
            return False

    chunks = 2
    while points and replays < budget:
        size = -(-len(points) // chunks)  # ceiling
        parts = [points[i : i + size] for i in range(0, len(points), size)]
        for part in reversed(parts):  # later deviations first: removing them shifts nothing before
            if replays >= budget:
                break
            rest = [item for item in points if item not in part]
            if same(rest):
                points = rest
                chunks = max(chunks - 1, 2)
                break
        else:
            if size == 1:
                return format_schedule(dict(points)), True  # no single deviation can go
            chunks = min(len(points), chunks * 2)
    return format_schedule(dict(points)), not points


@attrs.frozen(kw_only=True)
class Difference:
    """One value that differs between an outcome class and the most common one, with
    the campaign run and step that wrote it in the witness (None: not written by a flow)."""

    person: str
    what: str  # a field, "list:NAME" or "program:NAME"
    value: Value
    common: Value
    writer: Activity | None


@attrs.frozen(kw_only=True)
class OutcomeClass:
    """Runs that ended alike: how many, a shrunk witness, and how it differs."""

    outcome: Outcome
    runs: int
    witness: str
    #: Whether removing any deviation of the witness changes the outcome (shrinking
    #: stops at a budget of replays, and is skipped beyond the first classes).
    minimal: bool = True
    #: Whether the witness was replayed and its differences worked out (the classes
    #: beyond the first few keep the schedule that first gave them, as it is).
    detailed: bool = True
    differences: tuple[Difference, ...] = ()


@attrs.frozen(kw_only=True)
class Exploration:
    """The outcome classes of ``runs`` schedules, most common first."""

    source: str
    runs: int
    seed: int
    classes: tuple[OutcomeClass, ...]
    #: "random", or "pct (depth D)".
    strategy: str = "random"

    @property
    def races(self) -> bool:
        return len(self.classes) > 1


def explore(
    scenario: Scenario,
    *,
    runs: int = 100,
    seed: int = 0,
    witnesses: int = 5,
    jobs: int = 1,
    strategy: str = "random",
    pct_depth: int = 3,
    progress: Callable[[int], None] | None = None,
) -> Exploration:
    """Run ``scenario`` under ``runs`` random schedules (strategy seeds ``seed`` ..
    ``seed + runs - 1``), group the outcomes, and find a shrunk witness for each of the
    ``witnesses`` most common classes (shrinking replays the scenario many times; the
    other classes keep the schedule that first gave them).

    ``jobs`` > 1 spreads the schedules and the shrinking over that many processes. The
    result is the same for any ``jobs``: results are gathered in seed order.
    ``strategy`` "pct" uses PCT of ``pct_depth`` (`sim.kernel.PCTStrategy`), its change
    points drawn among as many choice points as the default order meets.
    """
    steps = 100
    if strategy == "pct":
        default = Simulation(scenario, strategy="fifo", record=True)
        default.run_sync()
        steps = max(1, len(default.kernel.choices or ()))
    run_one = functools.partial(run_schedule, scenario, strategy=strategy, pct_depth=pct_depth, pct_steps=steps)
    with contextlib.ExitStack() as stack:
        mapper: Callable[..., Iterable[Any]] = map
        if jobs > 1:
            # spawn, not fork: a forked child of a process that ran trio inherits its state.
            context = multiprocessing.get_context("spawn")
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs, mp_context=context))
            chunk = max(1, runs // (jobs * 8))
            mapper = functools.partial(pool.map, chunksize=chunk)
        counts: Counter[Outcome] = Counter()
        first: dict[Outcome, str] = {}
        seeds = range(seed, seed + runs)
        for number, (outcome, schedule) in enumerate(mapper(run_one, seeds), 1):
            counts[outcome] += 1
            first.setdefault(outcome, schedule)
            if progress is not None:
                progress(number)
        # Most common first; ties in the order first seen (a Counter keeps insertion order).
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        top = [(first[outcome], outcome) for outcome, _ in ranked[:witnesses]]
        shrunk = list(mapper(functools.partial(_shrink_pair, scenario), top))
    classes: list[OutcomeClass] = []
    common: Replayed | None = None
    for rank, (outcome, count) in enumerate(ranked):
        if rank >= witnesses:  # not shrunk, and not replayed to say how it differs
            classes.append(
                OutcomeClass(outcome=outcome, runs=count, witness=first[outcome], minimal=False, detailed=False)
            )
            continue
        witness, minimal = shrunk[rank]
        replayed = replay(scenario, witness)
        differences: tuple[Difference, ...] = ()
        if common is None:
            common = replayed
        else:
            differences = differ(common.outcome, replayed)
        classes.append(
            OutcomeClass(outcome=outcome, runs=count, witness=witness, minimal=minimal, differences=differences)
        )
    shown = f"pct (depth {pct_depth})" if strategy == "pct" else strategy
    return Exploration(source=scenario.source, runs=runs, seed=seed, classes=tuple(classes), strategy=shown)


def run_schedule(
    scenario: Scenario, strategy_seed: int, *, strategy: str = "random", pct_depth: int = 3, pct_steps: int = 100
) -> tuple[Outcome, str]:
    """One schedule of ``scenario`` drawn by ``strategy``: its outcome and schedule string."""
    simulation = Simulation(
        scenario,
        strategy=strategy,
        strategy_seed=strategy_seed,
        record=True,
        pct_depth=pct_depth,
        pct_steps=pct_steps,
    )
    return _run_to_outcome(simulation), simulation.schedule_string()


def _run_to_outcome(simulation: Simulation) -> Outcome:
    simulation.run_sync()
    return finished_outcome(simulation)


def finished_outcome(simulation: Simulation) -> Outcome:
    """The outcome of a finished ``simulation``: its people now, the campaigns that started."""
    campaigns = simulation.summary().campaigns
    return outcome_of(simulation.engine.people, [name for name, tally in campaigns.items() if tally.started])


def _shrink_pair(scenario: Scenario, pair: tuple[str, Outcome]) -> tuple[str, bool]:
    return shrink(scenario, *pair)


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
