"""Every schedule of a scenario, depth first, without reduction: the ground truth.

A schedule is the kernel's choice at each choice point (`sim.run.schedule`). Depth-first
search over them needs no saved state: run with a prefix of choices replayed and the
oldest task taken everywhere after it, record the (count, chosen) pairs the run met, then
backtrack to the deepest choice point that has a candidate not yet tried, take the next
one, and drop what came after it. When no choice point has one left, every schedule was
run once: the outcomes are *all* the outcomes of this scenario (its people, its load)
under the model's choice points.

There is no reduction (no partial-order reduction, no split by person): the schedules grow
as the product of the choice points' candidates, so this is for small designs, and for
the tests that check `sim.verify.search`'s reduction against it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from sim.observe.simulation import Simulation
from sim.run.schedule import deviations_of, format_schedule
from sim.scenario.model import Scenario
from sim.verify.explore import Stop
from sim.verify.outcomes import Outcome, plan_of, run_to_outcome
from sim.verify.step_trace import NondeterministicRun

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
