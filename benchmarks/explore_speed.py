"""Schedules explored per second: `sim explore`'s search, with 1 and 2 processes.

The scenario is examples/racing-triggers.toml cut to its first 100 people (100 form
fills, two racing trigger campaigns each). Each case times `sim.verify.explore.explore` with
``witnesses=0``: running and grouping the schedules, not shrinking witnesses (shrinking
replays the scenario up to 200 times per class and depends on how many classes there
are). The schedules are the same for every number of processes, and so is the result
(checked here).

    .venv/bin/python benchmarks/explore_speed.py                 # 200 schedules, jobs 1 and 2
    .venv/bin/python benchmarks/explore_speed.py --runs 1000 --jobs 1 2

Last, the floor: one schedule's trio task steps and spawns (counted with a trio
Instrument), and the schedules per second trio's hand-offs and spawns alone would allow
(their costs measured in the same run, as in breakdown.py).

Compare the rows of one run with each other: the machine is shared.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import attrs
import trio
from _harness import table

from sim.observe.simulation import Simulation
from sim.scenario import load_scenario
from sim.scenario.model import Scenario
from sim.verify.explore import explore, run_schedule

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "racing-triggers.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="schedules per case (200)")
    parser.add_argument("--people", type=int, default=100, help="people of the example kept (100)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="process counts to time (1 2)")
    args = parser.parse_args()
    full = load_scenario(EXAMPLE)
    keep = {f"p{i}" for i in range(1, args.people + 1)}
    scenario = attrs.evolve(full, activities=tuple(a for a in full.activities if a.person in keep))
    rows, results = [], []
    for jobs in args.jobs:
        started = time.perf_counter()
        result = explore(scenario, runs=args.runs, seed=0, witnesses=0, jobs=jobs)
        wall = time.perf_counter() - started
        results.append(result)
        rows.append(
            (str(jobs), f"{args.runs:,}", f"{wall:.2f}", f"{args.runs / wall:,.1f}", f"{len(result.classes):,}")
        )
    print(f"{EXAMPLE.name}, first {args.people} people ({len(scenario.activities)} form fills)")
    print(table(("jobs", "schedules", "wall s", "schedules/s", "outcome classes"), rows))
    same = all(result == results[0] for result in results)
    print("the same result for every --jobs" if same else "RESULTS DIFFER between --jobs values")
    floor(scenario)


def floor(scenario: Scenario) -> None:
    """What one schedule costs in trio operations, and the schedules per second trio's
    hand-offs and spawns alone would allow: the floor under a trio task per run."""
    from breakdown import _Counter, handoff_us, spawn_us

    from sim.verify.outcomes import plan_of

    counter = _Counter()
    simulation = Simulation(scenario, strategy="random", strategy_seed=0, plan=plan_of(scenario), measure=False)
    trio.run(simulation.run, instruments=[counter])
    activities = sum(simulation.summary().activities.values())
    started = time.perf_counter()
    runs = 50
    for strategy_seed in range(runs):
        run_schedule(scenario, strategy_seed)
    per_schedule = (time.perf_counter() - started) / runs
    hand_off, spawn = handoff_us(), spawn_us()
    trio_floor = ((counter.steps - counter.spawned) * hand_off + counter.spawned * spawn) / 1e6
    print(
        f"\none schedule: {counter.steps:,} trio task steps ({counter.spawned:,} tasks spawned), {activities:,} "
        f"activities, {per_schedule * 1e3:.2f} ms here (jobs 1, the best part of it the engine's Python)"
    )
    print(
        f"trio alone (hand-off {hand_off:.2f} µs, spawn {spawn:.2f} µs, measured now): {trio_floor * 1e3:.2f} ms a "
        f"schedule, at most {1 / trio_floor:,.0f} schedules/s per process with no engine at all"
    )


if __name__ == "__main__":
    main()
