"""A prototype of the design change the README proposes: runs resumed by the kernel itself.

sim's kernel hands the baton from one trio task to the next through trio's run loop: a
hand-off costs 3-4 µs and a spawn 4-5 µs (breakdown.py), about SimPy's whole cost per
person. The change: keep the engine as it is, but let the kernel drive each run's
coroutine itself (``coroutine.send``), in one trio task, so that a hand-off is a method
call. Runs would no longer be trio tasks (the product's shape today: a requested run is a
trio task of its own), so this is a prototype to measure, not the product.

`CoroutineKernel` is `sim.run.kernel.Kernel` with the task mechanics replaced: the same heap,
buckets, strategies, choice points, calls and wakes; a "task" is a coroutine and a handle.
This script

1. checks that every example under five seeds and strategies logs the very bytes of
   tests/data/golden-logs.json with it (the change keeps every log), and
2. times, in this one process (best of ``--repeat``), the same workloads with both
   kernels: simpy_compare's M/M/8 queue (with SimPy for the ratio), million.py's flow at
   ``--million-people``, and explore_speed's 100-person racing example per schedule.

    .venv/bin/python benchmarks/coroutine_kernel.py
    .venv/bin/python benchmarks/coroutine_kernel.py --people 30000 --million-people 10000 --repeat 1
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
import tempfile
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import attrs
import simpy_compare as mmc
import trio
from _harness import best, table

from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink
from sim.run.agenda import Entry
from sim.run.kernel import Kernel, Sleeper
from sim.scenario import load_scenario
from sim.scenario.units import MICROS, micros

ROOT = Path(__file__).resolve().parent.parent


class _Park:
    """What a run's coroutine yields to the kernel: it is parked on its entry."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield self


PARK = _Park()


class _Handle:
    """Stands where a trio task stood: the run's coroutine."""

    __slots__ = ("coro", "custom_sleep_data")

    def __init__(self, coro: Any) -> None:
        self.coro = coro
        self.custom_sleep_data: Any = None


@attrs.define(eq=False)
class CoroutineKernel(Kernel):
    """`Kernel` whose tasks are coroutines it resumes itself, in one trio task."""

    _current: _Handle | None = attrs.field(default=None, init=False)

    async def run(self, main: Callable[[], Awaitable[None]]) -> None:
        self._nursery = True  # type: ignore[assignment]  # spawn() asserts there is one
        self._main = trio.lowlevel.current_task()
        self._trio_turn = Entry(0, 0, -1)
        self.spawn(main)
        owners = self._owners
        steps = 0
        while True:
            entry = self._take()
            if entry is None:
                break
            if entry is self._trio_turn:
                await trio.lowlevel.checkpoint()
                continue
            task = entry.task
            if task is None:
                assert entry.start is not None
                fn, args = entry.start
                entry.start = None
                task = entry.task = _Handle(fn(*args))  # type: ignore[assignment]
                if owners is not None:
                    owners[task] = entry.owner  # type: ignore[index]
            self._current = task  # type: ignore[assignment]
            try:
                task.coro.send(None)  # type: ignore[union-attr]
            except StopIteration:
                if owners is not None:
                    del owners[task]  # type: ignore[arg-type]
            except Exception as exc:
                self._fail(exc)
                break
            self._current = None
            steps += 1
            if not steps & 0xFFF:
                await trio.lowlevel.checkpoint()  # a deadline or cancellation from outside
        self._finished = True
        self._close_parked()
        if self._error is not None:
            raise self._error

    def _close_parked(self) -> None:
        for entry in self._parked():
            if entry.task is not None and not entry.cancelled:
                entry.task.coro.close()  # type: ignore[attr-defined]

    def _park_here(self, when: int | float, sleeper: Sleeper | None, priority: int) -> None:
        task = self._current
        owner = self._owners.get(task) if self._owners is not None else None  # type: ignore[call-overload]
        now = self.now_us
        entry = Entry(when if when > now else now, priority, next(self._seq), task, owner)  # type: ignore[arg-type]
        self._push(entry)
        if sleeper is not None:
            sleeper.entry = entry

    async def sleep(self, delay: float, *, sleeper: Sleeper | None = None, priority: int = 0) -> None:
        self._park_here(self.now_us + round(delay * MICROS), sleeper, priority)
        await PARK

    async def sleep_until(self, when: float, *, sleeper: Sleeper | None = None, priority: int = 0) -> None:
        self._park_here(micros(when) if math.isfinite(when) else when, sleeper, priority)
        await PARK

    async def suspend(self, sleeper: Sleeper) -> None:
        self._park_here(math.inf, sleeper, 0)
        await PARK

    async def checkpoint(self) -> None:
        heap = self._heap
        if self._due or (heap and heap[0][0] <= self.now_us) or self.stop_requested:
            await self.sleep(0.0)

    def running(self) -> object:
        calling = self._calling
        return self._current if calling is None else calling.owner

    def _finish(self) -> None:
        self._finished = True


def simulation(scenario: Any, coroutines: bool, **options: Any) -> Simulation:
    """A Simulation, its kernel swapped for a `CoroutineKernel` when ``coroutines``."""
    made = Simulation(scenario, **options)
    if coroutines:
        old = made.kernel
        kernel = CoroutineKernel(strategy=old.strategy, until=old.until, choices=old.choices)
        made.kernel = made.engine.kernel = kernel
        if made.detect_races:
            made.race_detector.running = kernel.running
    return made


def check_golden() -> tuple[int, int]:
    """(logs matching tests/data/golden-logs.json, logs checked) with the coroutine kernel."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_golden import CASES, EXAMPLES, GOLDEN, _key

    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    same = 0
    for path in EXAMPLES:
        for label, options in CASES.items():
            stream = io.StringIO()
            sink = JsonLinesSink(stream=stream, owns_stream=False)
            simulation(load_scenario(path), True, sinks=[sink], **options).run_sync()
            digest = hashlib.sha256(stream.getvalue().encode("utf-8")).hexdigest()
            same += digest == golden[_key(path, label)]
    return same, len(EXAMPLES) * len(CASES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="arrivals of the M/M/8 queue (100,000)")
    parser.add_argument("--million-people", type=int, default=30_000, help="people of million.py's flow (30,000)")
    parser.add_argument("--schedules", type=int, default=200, help="schedules of the racing example timed (200)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case; the best counts (3)")
    args = parser.parse_args()

    print("checking the golden logs with the coroutine kernel ...", file=sys.stderr)
    same, checked = check_golden()
    print(f"golden logs: {same} of {checked} byte-identical with the coroutine kernel")

    rows = []
    parsed = mmc.scenario(args.people, 8, 0.9, 1)
    times = mmc.arrivals(parsed)
    service = mmc.service_draws(parsed, len(times))
    simpy = best(args.repeat, lambda: mmc.case_simpy(times, service, 8, 100))
    walls = {
        kind: best(args.repeat, lambda kind=kind: simulation(parsed, kind, strategy="fifo").run_sync())
        for kind in (False, True)
    }
    rows.append(
        (
            f"M/M/8, {len(times):,} people: sim / SimPy",
            f"{simpy / walls[False]:.2f}",
            f"{simpy / walls[True]:.2f}",
            f"{walls[False] / walls[True]:.2f}x",
        )
    )

    import million

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, *_ = million.write_scenario(folder, args.million_people, 1)
        scenario = load_scenario(path)
        log = folder / "log.jsonl"
        walls = {
            kind: best(
                args.repeat,
                lambda kind=kind: simulation(scenario, kind, sinks=[JsonLinesSink.open(log)]).run_sync(),
            )
            for kind in (False, True)
        }
    per = {kind: wall / args.million_people * 1e6 for kind, wall in walls.items()}
    rows.append(
        (
            f"million.py's flow with its log, {args.million_people:,} people: µs a person",
            f"{per[False]:.1f}",
            f"{per[True]:.1f}",
            f"{per[False] / per[True]:.2f}x",
        )
    )

    from sim.verify.outcomes import plan_of

    full = load_scenario(ROOT / "examples" / "racing-triggers.toml")
    keep = {f"p{i}" for i in range(1, 101)}
    racing = attrs.evolve(full, activities=tuple(a for a in full.activities if a.person in keep))
    plan = plan_of(racing)

    def schedules(kind: bool) -> None:
        for seed in range(args.schedules):
            simulation(racing, kind, strategy_seed=seed, record=True, plan=plan, measure=False).run_sync()

    walls = {kind: best(args.repeat, lambda kind=kind: schedules(kind)) for kind in (False, True)}
    rate = {kind: args.schedules / wall for kind, wall in walls.items()}
    rows.append(
        (
            "racing-triggers, 100 people: schedules/s, one process",
            f"{rate[False]:.0f}",
            f"{rate[True]:.0f}",
            f"{rate[True] / rate[False]:.2f}x",
        )
    )
    print(table(("workload", "trio tasks (today)", "coroutine kernel", "gain"), rows))


if __name__ == "__main__":
    main()
