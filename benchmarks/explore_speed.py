"""Schedules explored per second: `sim explore`'s search, with 1 and 2 processes; and the
exhaustive search (`sim.verify.search`) against random sampling.

Mode "jobs" (the default). The scenario is examples/racing-triggers.toml cut to its first
100 people (100 form fills, two racing trigger campaigns each). Each case times
`sim.verify.explore.explore` with ``witnesses=0``: running and grouping the schedules, not
shrinking witnesses (shrinking replays the scenario up to 200 times per class and depends
on how many classes there are). The schedules are the same for every number of
processes, and so is the result (checked here).

    .venv/bin/python benchmarks/explore_speed.py                 # 200 schedules, jobs 1 and 2
    .venv/bin/python benchmarks/explore_speed.py --runs 1000 --jobs 1 2

Last, the floor: one schedule's trio task steps and spawns (counted with a trio
Instrument), and the schedules per second trio's hand-offs and spawns alone would allow
(their costs measured in the same run, as in breakdown.py).

Mode "exhaustive" (issue 16). For each racing example (the racing-triggers trio,
request-chain, webhook-writeback; the whole file, racing-triggers' 200 people too):
`sim.verify.search.search` with its default bounds, timed: the schedules it ran, the
traces it found (summed over the groups of people), its outcome classes per group
("100 groups x 2, 100 x 1": 100 groups with two outcomes, 100 with one) and whether it is
complete. Then random sampling against it: the random schedules `sim explore` runs
(`run_schedule`, strategy seeds 0, 1, 2, ...), one at a time, until every outcome class of
every group the search found has been seen (each schedule's outcome projected on the
group's people, `sim.verify.groups.project`, and compared by `digest_of`), or "not all
after N" at ``--max-random``.

The comparison is per group on purpose. Groups never depend on each other, so one random
schedule samples every group at once; the scenario-wide classes are the product of the
groups' (2^100 for racing-triggers' 100 racing people), which no number of schedules
could cover and which the search does not enumerate either. A random schedule whose
projection on a group is a class the search did not find would be a bug in the search:
it is printed with its seed and the benchmark exits non-zero.

    .venv/bin/python benchmarks/explore_speed.py --mode exhaustive
    .venv/bin/python benchmarks/explore_speed.py --mode exhaustive --max-random 500 --examples request-chain.toml
    .venv/bin/python benchmarks/explore_speed.py --mode all      # the jobs table, the floor, then the above

Compare the rows of one run with each other: the machine is shared.
"""

from __future__ import annotations

import argparse
import collections
import gc
import time
from pathlib import Path

import attrs
import trio
from _harness import table

from sim.observe.simulation import Simulation
from sim.scenario import load_scenario
from sim.scenario.model import Scenario
from sim.verify.explore import explore, run_schedule
from sim.verify.groups import digest_of, project
from sim.verify.search import Search, search

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE = EXAMPLES / "racing-triggers.toml"
#: The examples of the exhaustive mode: each races, or is the documented fix of a race.
RACING = (
    "racing-triggers-one-fill.toml",
    "racing-triggers.toml",
    "racing-triggers-fixed.toml",
    "request-chain.toml",
    "webhook-writeback.toml",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("jobs", "exhaustive", "all"), default="jobs", help="what to time (jobs)")
    parser.add_argument("--runs", type=int, default=200, help="jobs: schedules per case (200)")
    parser.add_argument("--people", type=int, default=100, help="jobs: people of the example kept (100)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="jobs: process counts to time (1 2)")
    parser.add_argument(
        "--max-random", type=int, default=2000, help="exhaustive: random schedules at most per example (2000)"
    )
    parser.add_argument(
        "--examples", nargs="+", default=list(RACING), metavar="FILE", help="exhaustive: examples/ files to search"
    )
    args = parser.parse_args()
    if args.mode in ("jobs", "all"):
        jobs_table(args)
    if args.mode == "all":
        print()
    if args.mode in ("exhaustive", "all"):
        exhaustive_table(args.examples, args.max_random)


def jobs_table(args: argparse.Namespace) -> None:
    """`explore` timed with each of ``args.jobs`` processes, then the floor."""
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


# -- exhaustive mode --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Sampled:
    """Random schedules run against a search: how many (``covered``: every class of every
    group seen by then), the wall seconds, the classes still unseen at the cap, and each
    (strategy seed, group) whose projection is a class the search did not find."""

    schedules: int
    wall: float
    covered: bool
    unseen: int
    unexpected: tuple[tuple[int, tuple[str, ...]], ...]


def sample_until_covered(scenario: Scenario, found: Search, cap: int) -> Sampled:
    """Random schedules (strategy seeds 0, 1, ...; `run_schedule`, as `explore` runs them) until
    each of ``found``'s groups has shown every one of its outcome classes, at most ``cap``."""
    known = {frozenset(group.people): {digest_of(c.outcome) for c in group.classes} for group in found.groups}
    missing = {people: set(classes) for people, classes in known.items()}
    unexpected: list[tuple[int, tuple[str, ...]]] = []
    gc.collect()
    started = time.perf_counter()
    schedules = 0
    for strategy_seed in range(cap):
        if not missing:
            break
        outcome, _ = run_schedule(scenario, strategy_seed)
        schedules += 1
        for people, classes in known.items():
            fingerprint = digest_of(project(outcome, people))
            if fingerprint not in classes:
                unexpected.append((strategy_seed, tuple(sorted(people))))
            left = missing.get(people)
            if left is not None:
                left.discard(fingerprint)
                if not left:
                    del missing[people]
    wall = time.perf_counter() - started
    unseen = sum(len(left) for left in missing.values())
    return Sampled(schedules=schedules, wall=wall, covered=not missing, unseen=unseen, unexpected=tuple(unexpected))


def classes_summary(found: Search) -> str:
    """The groups by how many outcome classes each has, most first: "100 groups x 2, 100 x 1"."""
    by_count = sorted(collections.Counter(len(group.classes) for group in found.groups).items(), reverse=True)
    if not by_count:
        return "no groups"
    parts = [f"{groups} x {count}" for count, groups in by_count]
    count, groups = by_count[0]
    parts[0] = f"{groups} group{'' if groups == 1 else 's'} x {count}"
    return ", ".join(parts)


def exhaustive_row(name: str, max_random: int) -> tuple[tuple[str, ...], Sampled]:
    """One example: the search timed, then random sampling against it."""
    scenario = load_scenario(EXAMPLES / name)
    gc.collect()
    started = time.perf_counter()
    found = search(scenario)
    wall = time.perf_counter() - started
    sampled = sample_until_covered(scenario, found, max_random)
    racing = sum(1 for group in found.groups if len(group.classes) > 1)
    complete = "yes" if found.complete else f"no ({found.stopped_by})"
    if sampled.covered:
        random = f"{sampled.schedules:,}"
    else:
        random = f"not all after {sampled.schedules:,} ({sampled.unseen:,} unseen)"
    row = (
        name.removesuffix(".toml"),
        f"{found.schedules:,}",
        f"{found.traces:,}",
        f"{racing:,}",
        classes_summary(found),
        complete,
        f"{wall:.2f}",
        random,
        f"{sampled.wall:.2f}",
    )
    return row, sampled


def exhaustive_table(names: list[str], max_random: int) -> None:
    """The exhaustive search and random sampling against it, one row per example in ``names``."""
    header = (
        "example",
        "exhaustive schedules",
        "traces",
        "racing groups",
        "classes per group",
        "complete",
        "wall s",
        "random schedules to see every class",
        "random wall s",
    )
    rows, surprises = [], []
    for name in names:
        row, sampled = exhaustive_row(name, max_random)
        rows.append(row)
        surprises += [(name, seed, people) for seed, people in sampled.unexpected]
    print(f"exhaustive search (sim.verify.search, default bounds) against random schedules (at most {max_random:,})")
    print(table(header, rows))
    if not surprises:
        print("every class random sampling saw, the exhaustive search had found")
        return
    print(f"\nBUG: {len(surprises)} random outcome(s) of a group that the exhaustive search did not find:")
    for name, seed, people in surprises[:20]:
        print(f"  {name}: strategy seed {seed}, group {', '.join(people)}")
    raise SystemExit(1)


if __name__ == "__main__":
    main()
