"""Dynamic partial-order reduction: each class of equivalent schedules run once.

Two schedules that order only *independent* steps differently (steps that touch nothing
in common, `sim.verify.dependence`) end alike: they are the same Mazurkiewicz trace. The
search runs one schedule, finds its *races* (two dependent steps of different tasks
that nothing else orders, due at the same instant), and for each one makes sure a
schedule that reverses it is run later: at the choice point just before the first step
it adds a task that can start the reversed order, unless one already there can. That is
source-DPOR (Abdulla, Aronis, Jonsson and Sagonas, POPL 2014), with sleep sets: a task
whose schedules from a choice point were all run sleeps there until a step it depends
on runs, so no trace is run twice to its end; a schedule that can only repeat one run
before is cut short (*blocked*) as soon as that shows.

Virtual time orders steps of different instants: a schedule only ever picks among tasks
due together, and when a task is due follows from the steps before it that made it,
woke it or held it up (those are dependent), so races are looked for within an instant.

The search runs over one *group* at a time (`search_group`): the steps that touch the
group's people (and shared items tied to them, such as a campaign queue) are the only
ones whose races it reverses; the rest take the oldest-first order. People whose steps
never depend on each other are explored separately, so 100 independent people with two
outcomes each cost about 200 schedules, not 2^100.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

import attrs

from sim.observe.simulation import Simulation
from sim.scenario.model import Scenario
from sim.verify.dependence import Accesses, Item, dependence_observers, dependent
from sim.verify.explore import Stop
from sim.verify.outcomes import Outcome, plan_of, run_to_outcome
from sim.verify.step_trace import Owner, ScheduleRun, Step


@attrs.define(eq=False)
class Node:
    """A choice point on the search's current path: its candidates, who sleeps there, who
    was picked on the current path, who must be tried (``backtrack``) and who was
    (``done``), with the step each tried candidate took from here (``first``)."""

    candidates: tuple[Owner, ...]
    asleep: frozenset[Owner]
    chosen: Owner
    #: Picks of other than the oldest candidate on the path before this point.
    deviations: int
    backtrack: dict[Owner, None]
    done: dict[Owner, None]
    first: dict[Owner, Accesses]


@attrs.frozen(kw_only=True)
class Traced:
    """One schedule the search ran: its steps and choice points, its schedule string, and
    its outcome (None when it was blocked: it could only repeat a trace run before)."""

    run: ScheduleRun
    schedule: str
    outcome: Outcome | None


def run_traced(
    scenario: Scenario,
    prefix: Sequence[Owner] = (),
    asleep_at: Sequence[dict[Owner, Accesses]] = (),
    *,
    max_deviations: int | None = None,
    stop: Stop | None = None,
) -> Traced | None:
    """Run one schedule of ``scenario`` under a `ScheduleRun`; None if ``stop`` cut it short."""
    log, observers = dependence_observers()
    simulation: Simulation | None = None

    def end_run() -> None:
        assert simulation is not None
        simulation.request_stop()

    traced = ScheduleRun(prefix=prefix, asleep_at=asleep_at, log=log, stop=end_run, max_deviations=max_deviations)
    simulation = Simulation(
        scenario,
        record=True,
        plan=plan_of(scenario),
        measure=False,
        observers=observers,
        own_strategy=traced,
        tracer=traced,
    )
    outcome = run_to_outcome(simulation) if stop is None else stop.outcome_of(simulation)
    if outcome is None:
        return None
    return Traced(run=traced, schedule=simulation.schedule_string(), outcome=None if traced.blocked else outcome)


# -- races


def _instants(steps: Sequence[Step]) -> Iterator[tuple[int, int]]:
    """The steps of each instant, as (start, end) index ranges: runs of equal ``time``."""
    start = 0
    while start < len(steps):
        end = start
        while end < len(steps) and steps[end].time == steps[start].time:
            end += 1
        yield start, end
        start = end


def _join(into: dict[Owner, int], other: dict[Owner, int]) -> None:
    for owner, index in other.items():
        if into.get(owner, -1) < index:
            into[owner] = index


@attrs.frozen(kw_only=True)
class Race:
    """Two dependent steps (indices ``first`` < ``second``) that nothing else orders, and
    the tasks that can start a schedule reversing them from ``first``'s choice point
    (the initials of the steps between them not after ``first``, then ``second``)."""

    first: int
    second: int
    initials: tuple[Owner, ...]


def races_of(steps: Sequence[Step], in_group: Callable[[Step], bool]) -> Iterator[Race]:
    """The races between steps that are both ``in_group``, instant by instant.

    Happens-before within an instant: a task's steps in order, the step that made or
    woke a task before the task's next step, and dependent steps in the order run. A
    vector clock per step (task -> index of its latest step known to come before) says
    which steps come before which; a dependent earlier step not already before is a race.
    """
    for start, end in _instants(steps):
        yield from _instant_races(steps, start, end, in_group)


def _instant_races(steps: Sequence[Step], start: int, end: int, in_group: Callable[[Step], bool]) -> Iterator[Race]:
    clocks: dict[int, dict[Owner, int]] = {}
    latest: dict[Owner, int] = {}
    touching: dict[Item, list[int]] = {}
    for j in range(start, end):
        step = steps[j]
        owner = step.owner
        clock: dict[Owner, int] = {}
        before = latest.get(owner)
        if before is not None:
            _join(clock, clocks[before])
        for cause in step.causes:
            if cause >= start:
                _join(clock, clocks[cause])
        earlier = sorted({k for item in step.accesses for k in touching.get(item, ())}, reverse=True)
        found: list[int] = []
        for k in earlier:
            other = steps[k]
            if other.owner == owner or clock.get(other.owner, -1) >= k:
                continue  # program order, or ordered through other steps already
            if not dependent(other.accesses, step.accesses):
                continue
            if in_group(other) and in_group(step):
                found.append(k)
            _join(clock, clocks[k])
        clock[owner] = j
        clocks[j] = clock
        latest[owner] = j
        for item in step.accesses:
            touching.setdefault(item, []).append(j)
        for i in found:
            yield Race(first=i, second=j, initials=_initials(steps, clocks, i, j, in_group))


def _initials(
    steps: Sequence[Step], clocks: dict[int, dict[Owner, int]], i: int, j: int, in_group: Callable[[Step], bool]
) -> tuple[Owner, ...]:
    """The tasks whose first step in v (the steps after ``i`` not after it, of the group or
    before ``j``, then ``j``) has nothing of v before it, in the order of v."""

    def before(a: int, b: int) -> bool:
        return clocks[b].get(steps[a].owner, -1) >= a

    v = [m for m in range(i + 1, j) if not before(i, m) and (in_group(steps[m]) or before(m, j))]
    v.append(j)
    initials: dict[Owner, None] = {}
    for position, m in enumerate(v):
        if not any(before(earlier, m) for earlier in v[:position]):
            initials.setdefault(steps[m].owner, None)
    return tuple(initials)


# -- the traces themselves


def trace_key(steps: Sequence[Step], in_group: Callable[[Step], bool]) -> bytes:
    """A fingerprint of the Mazurkiewicz trace of ``steps`` as the group sees it: each of
    its steps (task, count, instant) with the dependent steps of the group before it. Two
    schedules that order only independent steps differently have the same key."""
    parts: list[tuple[object, ...]] = []
    for start, end in _instants(steps):
        mine = [m for m in range(start, end) if in_group(steps[m])]
        for position, m in enumerate(mine):
            step = steps[m]
            after = tuple(
                sorted(
                    (steps[k].owner, steps[k].count)
                    for k in mine[:position]
                    if steps[k].owner != step.owner and dependent(steps[k].accesses, step.accesses)
                )
            )
            parts.append((step.time, step.owner, step.count, after))
    parts.sort()
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
