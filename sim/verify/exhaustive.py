"""Exhaustive exploration: every schedule of a scenario, depth first, without reduction.

A schedule is the kernel's choice at each choice point (`sim.run.schedule`). Depth-first
search over them needs no saved state: run with a prefix of choices replayed and the
oldest task taken everywhere after it, record the (count, chosen) pairs the run met, then
backtrack to the deepest choice point that has a candidate not yet tried, take the next
one, and drop what came after it. When no choice point has one left, every schedule was
run once: the outcome classes are *all* the outcomes of this scenario (its people, its
load) under the model's choice points. A bound on the schedules stops the search early,
and says so ("bounded"), never as a silent cut.

There is no reduction yet (no partial-order reduction, no split by person): the schedules
grow as the product of the choice points' candidates, so this is for small designs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import attrs

from sim.observe.simulation import Simulation
from sim.run.schedule import deviations_of, format_schedule
from sim.scenario.model import Scenario
from sim.verify.explore import Exploration, OutcomeClass, Shrunk, Stop, describe_class, shrink
from sim.verify.outcomes import Outcome, Replayed, digest, plan_of, run_to_outcome
from sim.verify.step_trace import NondeterministicRun

#: ``sim explore --exhaustive``'s default bound on the schedules run.
DEFAULT_MAX_SCHEDULES = 10_000

#: A run's choices: (candidates, index taken) at each choice point with more than one.
Choices = tuple[tuple[int, int], ...]


@attrs.frozen(kw_only=True)
class Visited:
    """One schedule run by the search: its string, its choices and its outcome."""

    schedule: str
    choices: Choices
    outcome: Outcome


def next_prefix(choices: Sequence[tuple[int, int]]) -> Choices | None:
    """The prefix of the next schedule in depth-first order: the deepest choice point whose
    chosen index is not its last candidate, that index plus one, nothing after it. None when
    every choice point took its last candidate: the search is over."""
    for point in range(len(choices) - 1, -1, -1):
        count, chosen = choices[point]
        if chosen + 1 < count:
            return (*choices[:point], (count, chosen + 1))
    return None


def run_prefix(scenario: Scenario, prefix: Choices, *, stop: Stop | None = None) -> Visited | None:
    """Run ``scenario`` taking ``prefix``'s choices, then the oldest task at every later choice
    point. A ``stop`` request cuts the run short: None, not a schedule."""
    schedule = format_schedule(deviations_of(prefix))
    simulation = Simulation(scenario, schedule=schedule, record=True, plan=plan_of(scenario), measure=False)
    outcome = run_to_outcome(simulation) if stop is None else stop.outcome_of(simulation)
    if outcome is None:
        return None
    choices = tuple(simulation.kernel.choices or ())
    if choices[: len(prefix)] != prefix:
        raise NondeterministicRun(
            f"schedule {schedule!r} met choice points {choices[: len(prefix)]!r}, not {prefix!r}: the run does "
            "not follow from its choices alone"
        )
    return Visited(schedule=simulation.schedule_string(), choices=choices, outcome=outcome)


def every_schedule(scenario: Scenario, *, stop: Stop | None = None) -> Iterator[Visited]:
    """Every schedule of ``scenario`` once, in depth-first order from the default (oldest-first)
    one; a ``stop`` request ends it, the schedule it cut short left out."""
    prefix: Choices | None = ()
    while prefix is not None:
        visited = run_prefix(scenario, prefix, stop=stop)
        if visited is None:
            return
        yield visited
        prefix = next_prefix(visited.choices)


@attrs.frozen(kw_only=True)
class Exhaustive:
    """The outcome classes of an exhaustive search, as an `Exploration` (``runs``: the
    schedules run), and whether the search ran every schedule or stopped at the bound."""

    exploration: Exploration
    complete: bool
    max_schedules: int


@attrs.define(eq=False)
class _Classes:
    """The schedules run so far by outcome digest, in the order first seen: how many, and the
    first schedule that gave each (its string only: a million classes of a large design would
    not fit in memory with their outcomes)."""

    counts: dict[bytes, int] = attrs.field(factory=dict)
    first: dict[bytes, str] = attrs.field(factory=dict)
    done: int = 0

    def add(self, visited: Visited) -> None:
        fingerprint = digest(visited.outcome)
        self.counts[fingerprint] = self.counts.get(fingerprint, 0) + 1
        self.first.setdefault(fingerprint, visited.schedule)
        self.done += 1

    def ranked(self) -> list[tuple[str, int]]:
        """(first schedule, schedules), most common first; ties in the order first seen."""
        return [(self.first[key], count) for key, count in sorted(self.counts.items(), key=lambda item: -item[1])]


def explore_exhaustive(
    scenario: Scenario,
    *,
    max_schedules: int = DEFAULT_MAX_SCHEDULES,
    witnesses: int = 5,
    shrink_replays: int = 200,
    progress: Callable[[int], None] | None = None,
    stop: Stop | None = None,
) -> Exhaustive:
    """Run every schedule of ``scenario`` (at most ``max_schedules``), group the outcomes, and
    shrink a witness for each of the ``witnesses`` most common classes (`shrink`, at most
    ``shrink_replays`` replays each). ``progress(schedules)`` is told after each schedule; a
    ``stop`` request (a signal) ends the search, cutting the schedule running short and leaving
    it out (``interrupted``, not complete)."""
    stop = stop or Stop()
    tally = _Classes()
    complete = True
    for visited in every_schedule(scenario, stop=stop):
        tally.add(visited)
        if progress is not None:
            progress(tally.done)
        if stop.requested:
            complete = False
            break
        if tally.done >= max_schedules:
            complete = next_prefix(visited.choices) is None
            break
    classes = _describe(scenario, tally.ranked(), witnesses=witnesses, budget=shrink_replays, stop=stop)
    exploration = Exploration(
        source=scenario.source,
        runs=tally.done,
        seed=0,
        classes=classes,
        strategy="exhaustive",
        interrupted=stop.requested,
        planned=max_schedules,
        shrink_replays=shrink_replays,
    )
    return Exhaustive(exploration=exploration, complete=complete and not stop.requested, max_schedules=max_schedules)


def _describe(
    scenario: Scenario, ranked: Sequence[tuple[str, int]], *, witnesses: int, budget: int, stop: Stop
) -> tuple[OutcomeClass, ...]:
    """Each class (first schedule, schedules): the first ``witnesses`` with a shrunk witness and
    how they differ from the most common; the rest counted, their first schedule as witness."""
    classes: list[OutcomeClass] = []
    common: Replayed | None = None
    for rank, (schedule, count) in enumerate(ranked):
        stop.check()
        if rank >= witnesses:
            classes.append(OutcomeClass(outcome=None, runs=count, witness=schedule, minimal=False, detailed=False))
            continue
        found = Shrunk(witness=schedule, minimal=not schedule, replays=0)
        if budget and not stop.requested:  # after a stop, the first schedule is the witness: one replay less
            outcome = run_to_outcome(Simulation(scenario, schedule=schedule, plan=plan_of(scenario), measure=False))
            found = shrink(scenario, schedule, outcome, budget=budget, should_stop=lambda: stop.requested)
        described, common = describe_class(scenario, found, count, common)
        classes.append(described)
    return tuple(classes)
