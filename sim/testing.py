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
log), `assert_finishes_before`, `assert_deterministic`, `assert_no_races` (the race detector
of docs/races.md; `find_races` returns what it finds). Hypothesis strategies that
generate valid designs: `scenarios`, `campaigns`, `flows`, `steps`, `triggers`,
`qualifications`, `people`, `seeds`, and `racing_scenarios` (small designs whose runs race:
the ground truth of `sim explore --exhaustive`). Needs the ``test`` extra (hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NoReturn

import attrs

from sim.observe.races import Race
from sim.observe.report import format_races
from sim.observe.simulation import Simulation
from sim.observe.sinks import MemorySink
from sim.observe.summary import Summary
from sim.run.activity import Activity
from sim.scenario import parse_scenario
from sim.scenario.dump import dump_scenario
from sim.scenario.model import Scenario
from sim.scenario.people import Person
from sim.verify.guarantees import Violation, check_guarantees, format_activity

if TYPE_CHECKING:  # imported on first use: running and asserting work without hypothesis
    from sim.verify.strategies import (
        Design,
        campaigns,
        flows,
        mutated_files,
        people,
        qualifications,
        queues,
        racing_scenarios,
        scenarios,
        seeds,
        service_times,
        steps,
        triggers,
    )

#: The Hypothesis strategies, from sim.verify.strategies (needs the ``test`` extra).
_STRATEGIES = (
    *("Design", "campaigns", "flows", "mutated_files", "people", "qualifications", "queues", "scenarios", "seeds"),
    *("racing_scenarios", "service_times", "steps", "triggers"),
)


def __getattr__(name: str) -> object:
    if name in _STRATEGIES:
        from sim.verify import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module 'sim.testing' has no attribute {name!r}")


__all__ = [
    "Design",
    "Origin",
    "SimulationResult",
    "assert_deterministic",
    "assert_finishes_before",
    "assert_guarantees",
    "assert_no_races",
    "campaigns",
    "cascade_origins",
    "find_races",
    "flows",
    "mutated_files",
    "people",
    "qualifications",
    "queues",
    "racing_scenarios",
    "run_scenario",
    "run_text",
    "run_with_summary",
    "scenarios",
    "seeds",
    "service_times",
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
    strategy: str = "random"


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
        strategy=strategy,
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

#: Where a cascade began: ("activity", seq) of an external activity (a form fill's own
#: field writes count as the fill), or ("run", id) of a batch run.
Origin = tuple[str, int]


def _fail(
    headline: str,
    problems: Sequence[object],
    scenario: Scenario | None = None,
    *,
    strategy: str = "random",
    limit: int = 5,
) -> NoReturn:
    lines = [headline, *(str(p) for p in problems[:limit])]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    if scenario is not None:
        command = f"--seed {scenario.seed}" + (f" --strategy {strategy}" if strategy != "random" else "")
        lines += ["", f"The scenario, as a file to run with `sim run FILE {command}`:", ""]
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
            strategy=result.strategy,
        )


def assert_finishes_before(
    log: SimulationResult | Iterable[Activity], first: str, then: str, *, person: str | None = None
) -> None:
    """Fail unless, in every cascade, each run of ``first`` ends before any run of ``then`` starts.

    Whole runs are compared: a run of ``then`` may not start until the run of ``first``
    has ended, even if the steps that matter happened to come in the right order.
    A cascade is everything one external activity (or one batch run) set off for one
    person: the runs it triggered, what they requested or executed, and the runs their
    activities triggered in turn. Comparing within a cascade keeps a person's second form
    fill from counting against their first. A run ends at its ``run_completed``,
    ``run_stopped`` or ``run_removed``, or at the Remove from Flow step that removed it
    (R11); one still going at the end of the simulation never finished. ``person``
    limits the check to one person. A campaign name that never appears in the log fails
    the check: it is most likely misspelled.
    """
    if first == then:
        raise ValueError(f"first and then are both {first!r}; name two campaigns")
    seen = list(log.activities if isinstance(log, SimulationResult) else log)
    named = {a.campaign for a in seen if a.type in ("run_started", "run_skipped")}
    missing = [name for name in (first, then) if name not in named]
    if missing:
        _fail(f"no run of {' or '.join(map(repr, missing))} in the log; is the campaign name right?", [])
    origins = cascade_origins(seen)
    starts: dict[int, Activity] = {}
    ends: dict[int, Activity] = {}
    for activity in seen:
        if activity.type == "remove_from_flow":
            for run in activity.details.get("removed_runs", ()):
                ends.setdefault(run, activity)
        if activity.run is None or activity.campaign not in (first, then):
            continue
        if activity.type == "run_started":
            starts[activity.run] = activity
        elif activity.type in ("run_completed", "run_removed", "run_stopped"):
            ends.setdefault(activity.run, activity)
    groups: dict[tuple[str, Origin], list[Activity]] = {}
    for run, start in starts.items():
        if person is None or start.person == person:
            groups.setdefault((start.person, origins[run]), []).append(start)
    problems: list[str] = []
    for members in groups.values():
        later = [start for start in members if start.campaign == then]
        for start in members:
            if start.campaign != first:
                continue
            assert start.run is not None
            end = ends.get(start.run)
            for other in later:
                if end is None or other.seq < end.seq:
                    problems.append(
                        f"  {first} started:  {format_activity(start)}\n"
                        f"  {then} started:  {format_activity(other)}\n"
                        f"  {first} ended:  {format_activity(end) if end else '(it never ended)'}"
                    )
    if problems:
        _fail(f'"{first}" does not always finish before "{then}" starts, in {len(problems)} case(s):', problems)


def cascade_origins(activities: Iterable[Activity]) -> dict[int, Origin]:
    """Run id -> where its cascade began (see `Origin`).

    A form fill writes its fields (``change_data_value`` with source ``form``) just
    before the ``fill_out_form`` activity; runs those writes trigger belong to the fill's
    cascade, so they start at the first of them.
    """
    by_seq: dict[int, Activity] = {}
    external: dict[int, Origin] = {}  # seq of an external activity -> its cascade
    form_writes: dict[str, tuple[float, Origin]] = {}  # person -> the fill being written
    origin: dict[int, Origin] = {}
    for activity in activities:
        by_seq[activity.seq] = activity
        run = activity.run
        if run is None:
            external[activity.seq] = _external_origin(activity, form_writes)
            continue
        if run in origin or activity.type not in ("run_started", "run_skipped", "run_queued"):
            continue
        cause = activity.details.get("cause")
        if activity.details.get("via") == "execute_campaign" and activity.parent in origin:
            origin[run] = origin[activity.parent]
        elif cause is not None and cause in by_seq:
            trigger = by_seq[cause]
            if trigger.run is None:
                origin[run] = external.get(cause, ("activity", cause))
            else:
                origin[run] = origin.get(trigger.run, ("run", trigger.run))
        else:
            origin[run] = ("run", run)
    return origin


def _external_origin(activity: Activity, form_writes: dict[str, tuple[float, Origin]]) -> Origin:
    pending = form_writes.get(activity.person)
    if pending is not None and pending[0] != activity.time:
        pending = None
    if activity.type == "change_data_value" and activity.details.get("source") == "form":
        if pending is None:
            pending = form_writes[activity.person] = (activity.time, ("activity", activity.seq))
        return pending[1]
    form_writes.pop(activity.person, None)
    if activity.type == "fill_out_form" and pending is not None:
        return pending[1]
    return ("activity", activity.seq)


def assert_deterministic(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> None:
    """Run ``scenario`` twice with the same seed; fail at the first activity where the logs differ."""
    first, second = (simulate(scenario, seed=seed, strategy=strategy) for _ in range(2))
    a_log, b_log = first.activities, second.activities
    for index, (a, b) in enumerate(zip(a_log, b_log, strict=False)):
        if a.to_json() != b.to_json():
            shown = [f"  first run:  {format_activity(a)}", f"  second run: {format_activity(b)}"]
            _fail(f"the logs differ at activity {index + 1}:", shown, first.scenario, strategy=strategy)
    if len(a_log) != len(b_log):
        longer, which = (a_log, "first") if len(a_log) > len(b_log) else (b_log, "second")
        extra = longer[min(len(a_log), len(b_log))]
        _fail(
            f"the first run logged {len(a_log)} activities, the second {len(b_log)}; the {which} run goes on with:",
            [f"  {format_activity(extra)}"],
            first.scenario,
            strategy=strategy,
        )


def find_races(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> tuple[Race, ...]:
    """Run ``scenario`` once with race detection: every pair of conflicting accesses to a
    person's state that nothing orders (docs/races.md), deduplicated across people."""
    return _detecting(scenario, seed=seed, strategy=strategy).races()


def assert_no_races(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> None:
    """Fail with the race report if any two conflicting accesses are unordered.

    One run is enough: the detector reports a race whichever order this run took, so a
    design that passes has one outcome under every schedule (see docs/races.md for
    what the model leaves out).
    """
    detector = _detecting(scenario, seed=seed, strategy=strategy).race_detector
    races = detector.races()
    if races:
        raise AssertionError(format_races(races, accesses=detector.accesses))


def _detecting(scenario: Scenario, *, seed: int | None, strategy: str) -> Simulation:
    """``scenario`` run once with race detection on."""
    simulation = Simulation(scenario, seed=seed, strategy=strategy, detect_races=True)
    simulation.run_sync()
    return simulation
