"""Where the time goes, per person: trio's floor, the kernel, the engine, the log.

The case is simpy_compare.py's M/M/8 queue at load 0.9 (the same scenario, arrivals and
service draws). It prints, per person:

1. what a person costs in trio operations (counted with a trio Instrument in a separate
   run, so counting costs nothing in the timed runs): task steps (each a pass of trio's
   run loop: a hand-off), tasks spawned, flow steps, activities, log bytes;
2. what those operations cost on this machine, measured here in the same process: a
   hand-off between two trio tasks, a spawn + first run + exit, a call to ``epoll``;
3. the wall time per person of: SimPy (one process per person); plain coroutines resumed
   from a heap with no trio at all (a prototype of a kernel that resumes runs itself);
   trio's floor, the counted operations times their cost (a spawn includes its task's
   first step, so the hand-offs are the task steps less the spawns); sim's kernel alone
   (a trio task per person, the load as kernel calls: simpy_compare's kernel case); sim
   without a log; sim with its JSON Lines log; and the differences: the kernel's own
   bookkeeping, the engine's (campaigns, triggers, queue, activities), the log's;
4. the engine's µs per activity over its kernel and the log's per line, the ratios of
   each case to SimPy, and the budget: what sim could spend per person, over its kernel
   and per activity, for sim / SimPy to reach issue 12's 0.35;
5. the same accounting for million.py's flow (``--million-people``, 30,000 by default):
   trio operations and activities per person, trio's floor, the wall time per person
   without and with the log, and the 120 µs a person that 1,000,000 people in 120 s allow.

So the next person can see the floor and the distance to it.

    .venv/bin/python benchmarks/breakdown.py                  # 100,000 people, best of 3
    .venv/bin/python benchmarks/breakdown.py --people 20000 --repeat 1 --million-people 10000

Timings are best-of-``--repeat`` in this one process: compare the rows with each other.
"""

from __future__ import annotations

import argparse
import select
import sys
import tempfile
from pathlib import Path
from typing import Any

import simpy_compare as mmc
import trio
import trio.lowlevel
from _harness import best, table

from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink


class _Counter(trio.abc.Instrument):
    """Counts trio task steps and spawns."""

    def __init__(self) -> None:
        self.steps = 0
        self.spawned = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.spawned += 1


def handoff_us(rounds: int = 200_000) -> float:
    """µs per hand-off: two trio tasks passing one baton with reschedule, as the kernel does."""
    from trio.lowlevel import Abort, current_task, reschedule, wait_task_rescheduled

    def abort(_: object) -> Abort:
        return Abort.SUCCEEDED

    async def main() -> None:
        tasks: dict[str, Any] = {}

        async def b_side() -> None:
            tasks["b"] = current_task()
            for _ in range(rounds):
                await wait_task_rescheduled(abort)
                reschedule(tasks["a"])

        async def a_side() -> None:
            tasks["a"] = current_task()
            while "b" not in tasks:  # b parks first
                await trio.lowlevel.checkpoint()
            await trio.lowlevel.checkpoint()
            for _ in range(rounds):
                reschedule(tasks["b"])
                await wait_task_rescheduled(abort)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(b_side)
            nursery.start_soon(a_side)

    wall = best(3, lambda: trio.run(main))
    return wall / (2 * rounds) * 1e6


def spawn_us(count: int = 100_000) -> float:
    """µs per spawn + first run + exit of a trio task that does nothing."""

    async def nothing() -> None:
        pass

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(nothing)
                if not _ & 63:
                    await trio.lowlevel.checkpoint()  # let them run and exit as they go

    return best(3, lambda: trio.run(main)) / count * 1e6


def epoll_us(count: int = 200_000) -> float:
    """µs per ``epoll_wait`` with a zero timeout (what trio's run loop calls each pass)."""
    poller = select.epoll()
    try:
        return best(3, lambda: [poller.poll(0) for _ in range(count)]) / count * 1e6
    finally:
        poller.close()


def emit_us(parsed: Any, count: int = 200_000) -> float:
    """µs per `Engine.emit` of one step's activity with no sink and no trigger listening:
    the least an activity costs the engine (its seq, details and tally)."""
    simulation = Simulation(parsed, strategy="fifo")
    engine = simulation.engine
    person = next(iter(engine.people.values()))

    def emit_all() -> None:
        emit = engine.emit
        for _ in range(count):
            emit("interesting_moment", person, None, (1, "interesting_moment"), description="served")

    return best(3, emit_all) / count * 1e6


def coroutine_floor(times: Any, service: list[float], workers: int) -> float:
    """Wall seconds of the M/M/c queue on plain coroutines resumed by a heap, no trio: what
    a design that resumes runs itself (not as trio tasks) could reach (the prototype of
    the design change docs/benchmarks.md proposes)."""
    import collections
    import heapq
    import itertools

    class Sleep:
        __slots__ = ("delay",)

        def __init__(self, delay: float) -> None:
            self.delay = delay

        def __await__(self) -> Any:
            yield self

    def run() -> None:
        heap: list[tuple[float, int, Any]] = []
        seq = itertools.count()
        now = 0.0
        free = workers
        waiting: collections.deque[int] = collections.deque()

        async def person(i: int) -> None:
            nonlocal free
            await Sleep(service[i])
            if waiting:
                heapq.heappush(heap, (now, next(seq), person(waiting.popleft())))
            else:
                free += 1

        arrivals = iter(enumerate(times))
        nxt = next(arrivals, None)
        while heap or nxt is not None:
            if nxt is not None and (not heap or nxt[1] <= heap[0][0]):
                i, now = nxt
                if free:
                    free -= 1
                    heapq.heappush(heap, (now, next(seq), person(i)))
                else:
                    waiting.append(i)
                nxt = next(arrivals, None)
                continue
            now, _, coroutine = heapq.heappop(heap)
            try:
                step = coroutine.send(None)
            except StopIteration:
                continue
            heapq.heappush(heap, (now + step.delay, next(seq), coroutine))

    return best(3, run)


def million_flow(people: int, repeat: int, costs: dict[str, float]) -> None:
    """The same accounting for million.py's flow (five steps and an executable of two,
    each with a service time, under a backlog), at ``people`` people: what a person
    costs in trio operations and activities, and the wall time per person with and
    without the log, against the 120 µs a person that 1,000,000 people in 120 s allow."""
    import million

    from sim.scenario import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, *_ = million.write_scenario(folder, people, 1)
        scenario = load_scenario(path)
        counter = _Counter()
        simulation = Simulation(scenario)
        trio.run(simulation.run, instruments=[counter])
        summary = simulation.summary()
        activities = sum(summary.activities.values()) / people
        log = folder / "log.jsonl"
        print(f"million.py's flow, {people:,} people; timing (best of {repeat}) ...", file=sys.stderr)
        walls = {
            "sim": best(repeat, lambda: Simulation(scenario).run_sync()),
            "sim+log": best(repeat, lambda: Simulation(scenario, sinks=[JsonLinesSink.open(log)]).run_sync()),
        }
        log_bytes = log.stat().st_size / people
    steps, spawns = counter.steps / people, counter.spawned / people
    floor = (steps - spawns) * costs["hand-off"] + spawns * costs["spawn"]
    us = {name: wall / people * 1e6 for name, wall in walls.items()}
    print(f"\nmillion.py's flow, {people:,} people (the simulation alone, not loading or the process):")
    print(
        f"per person: {steps:.2f} trio task steps ({spawns:.2f} spawned), {summary.steps / people:.2f} flow steps, "
        f"{activities:.2f} activities, {log_bytes:,.0f} log bytes"
    )
    rows = [
        ("trio's floor: hand-offs and spawns", f"{floor:.1f}", ""),
        ("sim, no log", f"{us['sim']:.1f}", f"kernel and engine over the floor: {us['sim'] - floor:+.1f}"),
        ("sim with the JSON Lines log", f"{us['sim+log']:.1f}", f"the log: {us['sim+log'] - us['sim']:+.1f}"),
        ("1,000,000 people in 120 s", "120.0", f"to cut: {us['sim+log'] - 120:+.1f}"),
    ]
    print(table(("case", "µs per person", "difference"), rows))
    print(
        f"kernel and engine: {(us['sim'] - floor) / activities:.1f} µs per activity over trio's floor; "
        f"the log {(us['sim+log'] - us['sim']) / activities:.2f} µs per line"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="arrivals of the M/M/8 queue (100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case; the best counts (3)")
    parser.add_argument(
        "--million-people",
        type=int,
        default=30_000,
        help="people of million.py's flow, the second part (30,000; 0: skip)",
    )
    args = parser.parse_args()
    parsed = mmc.scenario(args.people, 8, 0.9, 1)
    times = mmc.arrivals(parsed)
    people = len(times)
    service = mmc.service_draws(parsed, people)

    counter = _Counter()
    simulation = Simulation(parsed, strategy="fifo")
    trio.run(simulation.run, instruments=[counter])
    summary = simulation.summary()
    activities = sum(summary.activities.values())
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"

        def with_log() -> None:
            Simulation(parsed, strategy="fifo", sinks=[JsonLinesSink.open(log)]).run_sync()

        print(f"M/M/8 at load 0.9, {people:,} people; timing (best of {args.repeat}) ...", file=sys.stderr)
        walls = {
            "coroutines": coroutine_floor(times, service, 8),
            "simpy": best(args.repeat, lambda: mmc.case_simpy(times, service, 8, 100)),
            "kernel": best(args.repeat, lambda: mmc.case_kernel(times, service, 8)),
            "sim": best(args.repeat, lambda: Simulation(parsed, strategy="fifo").run_sync()),
            "sim+log": best(args.repeat, with_log),
        }
        log_bytes = log.stat().st_size
    costs = {
        "hand-off": handoff_us(),
        "spawn": spawn_us(),
        "epoll(0)": epoll_us(),
        "Engine.emit, nothing listening": emit_us(parsed),
    }

    per = {
        "trio task steps (hand-offs)": counter.steps / people,
        "trio tasks spawned": counter.spawned / people,
        "flow steps": summary.steps / people,
        "activities": activities / people,
        "log bytes": log_bytes / people,
    }
    print(f"M/M/8 at load 0.9, {people:,} people (Python {sys.version.split()[0]}, trio {trio.__version__})")
    print()
    print("per person:")
    print(table(("what", "per person"), [(name, f"{value:,.2f}") for name, value in per.items()]))
    print()
    print("trio's operations on this machine, measured now:")
    print(table(("operation", "µs"), [(name, f"{value:.2f}") for name, value in costs.items()]))
    print()
    steps, spawns = per["trio task steps (hand-offs)"], per["trio tasks spawned"]
    # A spawned task's first step is part of the spawn's cost: count the other steps as hand-offs.
    floor = (steps - spawns) * costs["hand-off"] + spawns * costs["spawn"]
    us = {name: wall / people * 1e6 for name, wall in walls.items()}
    rows = [
        ("SimPy (one process per person)", f"{us['simpy']:.1f}", ""),
        ("plain coroutines on a heap, no trio", f"{us['coroutines']:.1f}", ""),
        ("trio's floor: hand-offs and spawns above", f"{floor:.1f}", ""),
        ("sim's kernel alone (a task per person)", f"{us['kernel']:.1f}", f"kernel's own: {us['kernel'] - floor:+.1f}"),
        ("sim, no log", f"{us['sim']:.1f}", f"engine over kernel: {us['sim'] - us['kernel']:+.1f}"),
        ("sim with the JSON Lines log", f"{us['sim+log']:.1f}", f"the log: {us['sim+log'] - us['sim']:+.1f}"),
    ]
    print("wall time per person:")
    print(table(("case", "µs per person", "difference"), rows))
    per_activity = (us["sim"] - us["kernel"]) / per["activities"]
    print(
        f"\nthe engine spends {per_activity:.1f} µs per activity over the kernel "
        f"(emit alone: {costs['Engine.emit, nothing listening']:.2f}); "
        f"the log {(us['sim+log'] - us['sim']) / per['activities']:.2f} µs per line"
    )
    simpy = us["simpy"]
    print(
        f"ratios to SimPy (people per second): sim {simpy / us['sim']:.2f}, sim's kernel {simpy / us['kernel']:.2f}, "
        f"trio's floor {simpy / floor:.2f}, plain coroutines {simpy / us['coroutines']:.2f}"
    )
    budget = simpy / 0.35 - us["kernel"]
    print(
        f"for sim / SimPy >= 0.35 sim may spend {simpy / 0.35:.1f} µs per person: {budget:.1f} µs over its kernel, "
        f"{budget / per['activities']:.2f} µs per activity (it spends {per_activity:.1f})"
    )
    if args.million_people:
        million_flow(args.million_people, args.repeat, costs)


if __name__ == "__main__":
    main()
