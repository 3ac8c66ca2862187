"""Test your campaign designs in your own pytest suite: run them, assert what they guarantee.

    from hypothesis import given
    from sim import load_scenario
    from sim.testing import assert_finishes_before, run_scenario, seeds

    DESIGN = load_scenario("lifecycle.toml")

    @given(seed=seeds())
    def test_scoring_sees_normalized_country(seed):
        activities = run_scenario(DESIGN, seed=seed)
        assert_finishes_before(activities, "Normalize Country", "Score Lead")

Running: `simulate` (activities, summary and end state), `run_scenario`, `run_text`.
Assertions: `assert_guarantees` (every ordering guarantee of docs/guarantees.md over one
log), `assert_finishes_before`, `assert_deterministic`. Hypothesis strategies that
generate valid designs: `scenarios`, `campaigns`, `flows`, `steps`, `triggers`,
`qualifications`, `people`, `seeds`. Needs the ``test`` extra (hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from sim.activity import Activity, MemorySink
from sim.dump import dump_scenario
from sim.guarantees import Violation, check_guarantees, format_activity
from sim.model import Scenario
from sim.people import Person
from sim.scenario import parse_scenario
from sim.simulation import Simulation
from sim.strategies import Design, campaigns, flows, people, qualifications, scenarios, seeds, steps, triggers
from sim.summary import Summary

__all__ = [
    "Design",
    "SimulationResult",
    "assert_deterministic",
    "assert_finishes_before",
    "assert_guarantees",
    "campaigns",
    "cascade_origins",
    "flows",
    "people",
    "qualifications",
    "run_scenario",
    "run_text",
    "run_with_summary",
    "scenarios",
    "seeds",
    "simulate",
    "steps",
    "trace",
    "triggers",
]


@attrs.frozen(kw_only=True)
class SimulationResult:
    """One finished run: the scenario as run (its seed applied), its log, summary and end state."""

    scenario: Scenario
    activities: tuple[Activity, ...]
    summary: Summary
    people: Mapping[str, Person]


def simulate(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> SimulationResult:
    """Simulate ``scenario`` in a fresh trio run; ``seed`` overrides the scenario's."""
    sink = MemorySink()
    simulation = Simulation(scenario, seed=seed, strategy=strategy, sinks=[sink])
    summary = simulation.run_sync()
    return SimulationResult(
        scenario=simulation.scenario,
        activities=tuple(sink.activities),
        summary=summary,
        people=simulation.engine.people,
    )


def run_scenario(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> list[Activity]:
    """Simulate ``scenario`` and return every activity, in order."""
    return list(simulate(scenario, seed=seed, strategy=strategy).activities)


def run_with_summary(
    scenario: Scenario, *, seed: int | None = None, strategy: str = "random"
) -> tuple[list[Activity], Summary]:
    """Simulate ``scenario``; return its activities and its summary."""
    result = simulate(scenario, seed=seed, strategy=strategy)
    return list(result.activities), result.summary


def run_text(text: str, *, seed: int | None = None, strategy: str = "random") -> list[Activity]:
    """Parse scenario TOML text and simulate it; returns every activity."""
    return run_scenario(parse_scenario(text, source="<test>"), seed=seed, strategy=strategy)


def trace(
    activities: Iterable[Activity], *, person: str | None = None, with_lifecycle: bool = False
) -> list[tuple[str | None, int | None, str]]:
    """A compact, comparable view: ``(campaign, step, type)`` per activity.

    Run starts and ends are left out unless ``with_lifecycle``; ``person`` keeps one
    person's activities only.
    """
    out = []
    for activity in activities:
        if person is not None and activity.person != person:
            continue
        if not with_lifecycle and activity.type.startswith("run_"):
            continue
        out.append((activity.campaign, activity.step, activity.type))
    return out


# -- assertions ---------------------------------------------------------------------


def _fail(headline: str, violations: Sequence[object], scenario: Scenario | None = None, limit: int = 5) -> None:
    lines = [headline, *(str(v) for v in violations[:limit])]
    if len(violations) > limit:
        lines.append(f"... and {len(violations) - limit} more")
    if scenario is not None:
        lines += ["", "The scenario, as a file for `sim run` (with --seed " + str(scenario.seed) + "):", ""]
        lines.append(dump_scenario(scenario))
    raise AssertionError("\n".join(lines))


def assert_guarantees(result: SimulationResult, *, show_scenario: bool = True) -> None:
    """Fail with every broken guarantee of docs/guarantees.md in ``result``'s log.

    The message shows each violation with the activities that make it, and (with
    ``show_scenario``) the scenario as TOML you can run with ``sim run``.
    """
    violations: list[Violation] = check_guarantees(
        result.scenario, result.activities, summary=result.summary, people=result.people
    )
    if violations:
        _fail(
            f"{len(violations)} guarantee(s) broken:",
            violations,
            result.scenario if show_scenario else None,
        )


def assert_finishes_before(activities: Iterable[Activity], first: str, then: str, *, person: str | None = None) -> None:
    """Fail unless, in every cascade, each run of ``first`` ends before any run of ``then`` starts.

    A cascade is everything one external activity (or one batch run) set off for one
    person: the runs it triggered, what they requested or executed, and the runs their
    activities triggered in turn. Comparing within a cascade keeps a person's second form
    fill from counting against their first. A run of ``first`` still going at the end of
    the simulation has not finished. ``person`` limits the check to one person.
    """
    seen = list(activities)
    origins = cascade_origins(seen)
    runs: dict[int, dict[str, list[Activity]]] = {}  # run -> its start and end
    for activity in seen:
        if activity.run is not None and activity.campaign in (first, then):
            runs.setdefault(activity.run, {}).setdefault(activity.type, []).append(activity)
    groups: dict[tuple[str, object], list[int]] = {}
    for run, parts in runs.items():
        start = parts.get("run_started")
        if start and (person is None or start[0].person == person):
            groups.setdefault((start[0].person, origins[run]), []).append(run)
    problems: list[str] = []
    for members in groups.values():
        starts = {run: runs[run]["run_started"][0] for run in members}
        later = [starts[run] for run in members if starts[run].campaign == then]
        for run in members:
            if starts[run].campaign != first or not later:
                continue
            ends = [a for kind in ("run_completed", "run_removed", "run_stopped") for a in runs[run].get(kind, ())]
            end = ends[0] if ends else None
            for other in later:
                if end is None or other.seq < end.seq:
                    shown = format_activity(end) if end else "(it never ended)"
                    problems.append(f"{format_activity(starts[run])}\n    {format_activity(other)}\n    {shown}")
    if problems:
        _fail(f'"{first}" does not always finish before "{then}" starts (start, other start, end):', problems)


def cascade_origins(activities: Iterable[Activity]) -> dict[int, object]:
    """Run id -> where its cascade began: an external activity's seq, or a batch run's id."""
    by_seq: dict[int, Activity] = {}
    origin: dict[int, object] = {}
    for activity in activities:
        by_seq[activity.seq] = activity
        run = activity.run
        if run is None or run in origin or activity.type not in ("run_started", "run_skipped"):
            continue
        cause = activity.details.get("cause")
        if activity.details.get("via") == "execute_campaign" and activity.parent in origin:
            origin[run] = origin[activity.parent]
        elif cause is not None and cause in by_seq:
            trigger = by_seq[cause]
            origin[run] = (
                origin.get(trigger.run, ("run", trigger.run)) if trigger.run is not None else ("activity", cause)
            )
        else:
            origin[run] = ("run", run)
    return origin


def assert_deterministic(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> None:
    """Run ``scenario`` twice with the same seed; fail if the two logs differ anywhere."""
    runs = [simulate(scenario, seed=seed, strategy=strategy).activities for _ in range(2)]
    for index, (a, b) in enumerate(zip(*runs, strict=False)):
        if a.to_json() != b.to_json():
            _fail(f"the logs differ at activity {index + 1}:", [format_activity(a), format_activity(b)], scenario)
    if len(runs[0]) != len(runs[1]):
        _fail(f"one log has {len(runs[0])} activities, the other {len(runs[1])}", [], scenario)
