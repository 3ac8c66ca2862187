"""One simulation run: a scenario, a seed and a strategy in; a Summary out."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence

import attrs
import trio

from sim.observe.metrics import Measurement, Metrics
from sim.observe.race_watch import RaceWatch
from sim.observe.races import Race, RaceDetector
from sim.observe.summary import Summary, summarize
from sim.run.activity import ActivitySink
from sim.run.agenda import Tracer
from sim.run.engine import Engine
from sim.run.kernel import Kernel
from sim.run.observer import Observer
from sim.run.plan import Plan
from sim.run.schedule import (
    ReplayStrategy,
    ScheduleError,
    Strategy,
    deviations_of,
    format_schedule,
    make_strategy,
    parse_schedule,
)
from sim.scenario.model import Scenario


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while simulating.

    A large run keeps hundreds of thousands of parked tasks alive, and the default
    thresholds make the collector rescan them again and again: measured 98 s -> 67 s on
    the 100,000-person default scenario. Cycles are still collected, only in bigger batches.
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@attrs.define(eq=False)
class Simulation:
    """Runs ``scenario`` once. The same scenario, seed and strategy give the same log.

    ``seed`` overrides the scenario's own. ``schedule`` (a string of `sim.run.schedule`)
    replays that schedule instead of ``strategy``; ``record`` keeps this run's schedule
    in `Kernel.choices` (see `schedule_string`). Use `run` inside trio, `run_sync` outside.
    """

    scenario: Scenario
    seed: int | None = None
    strategy: str = "random"
    sinks: Sequence[ActivitySink] = ()
    schedule: str | None = None
    record: bool = False
    #: Seeds the random strategy instead of the scenario's seed: another schedule of the
    #: very same people and load (`sim explore`).
    strategy_seed: int | None = None
    #: PCT's depth and the choice points its change points are drawn among.
    pct_depth: int = 3
    pct_steps: int = 100
    #: Record every access to people's state and find the races (`races`, docs/races.md).
    detect_races: bool = False
    #: Told (made, total) while a large population is made (`sim.scenario.people.make_people`).
    progress: Callable[[int, int], None] | None = None
    #: The scenario's schedule-independent part made already (`sim.run.plan.Plan.of`), for
    #: many runs of one scenario; it must be of this very scenario (no ``seed`` override).
    plan: Plan | None = None
    #: Keep the bookkeeping of `metrics`; False for runs whose metrics nobody reads
    #: (exploration): it then costs nothing.
    measure: bool = True
    #: The warm-up cut of the metrics, in seconds (`sim.observe.metrics.Measurement`).
    warmup: float = 0.0
    #: Observers of your own (`sim.run.observer.Observer`), told after the built-in
    #: ones (metrics, race detection) at every hook; docs/architecture.md.
    observers: Sequence[Observer] = ()
    #: A `Strategy` object of your own, used instead of ``strategy`` and ``schedule``
    #: (a search over schedules, `sim.verify.dpor`), and a `Tracer` the kernel tells
    #: what each step is.
    own_strategy: Strategy | None = None
    tracer: Tracer | None = None
    kernel: Kernel = attrs.field(init=False)
    engine: Engine = attrs.field(init=False)
    #: The observer of the run's metrics (`measure`), None without.
    measurement: Measurement | None = attrs.field(default=None, init=False)
    _race_watch: RaceWatch | None = attrs.field(default=None, init=False)
    _replay: ReplayStrategy | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if self.seed is not None:
            self.scenario = attrs.evolve(self.scenario, seed=self.seed)
        strategy: Strategy
        if self.own_strategy is not None:
            strategy = self.own_strategy
        elif self.schedule is not None:
            strategy = self._replay = ReplayStrategy(parse_schedule(self.schedule))
            self.strategy = "schedule"
        else:
            seed = self.scenario.seed if self.strategy_seed is None else self.strategy_seed
            strategy = make_strategy(self.strategy, seed, depth=self.pct_depth, steps=self.pct_steps)
        self.kernel = Kernel(
            strategy=strategy, until=self.scenario.duration, choices=[] if self.record else None, tracer=self.tracer
        )
        observers: list[Observer] = []
        if self.measure:
            self.measurement = Measurement(warmup=self.warmup)
            observers.append(self.measurement)
        if self.detect_races:
            self._race_watch = RaceWatch()
            observers.append(self._race_watch)
        observers.extend(self.observers)
        self.engine = Engine(
            scenario=self.scenario,
            kernel=self.kernel,
            sinks=self.sinks,
            observers=observers,
            progress=self.progress,
            plan=self.plan,
        )

    def schedule_string(self) -> str:
        """This run's schedule as deviations from the default order (needs ``record``)."""
        assert self.kernel.choices is not None, "make the Simulation with record=True"
        return format_schedule(deviations_of(self.kernel.choices))

    @property
    def race_detector(self) -> RaceDetector:
        """The run's race detector: its races and how many accesses it checked."""
        watch = self._race_watch
        assert watch is not None, "make the Simulation with detect_races=True"
        return watch.detector

    def races(self) -> tuple[Race, ...]:
        """The races the run's accesses show (needs ``detect_races``)."""
        return self.race_detector.races()

    def _check_replayed(self) -> None:
        """A replayed schedule must have been used up: a deviation past the run's last
        choice point means it was made for another scenario or seed."""
        replay = self._replay
        if replay is not None and replay.deviations and max(replay.deviations) > replay.points:
            raise ScheduleError(
                f"the schedule deviates at choice point {max(replay.deviations)}, but the run had only "
                f"{replay.points}: it was made for another scenario or seed"
            )

    def request_stop(self) -> None:
        """End the run at the next task switch (safe to call from a signal handler)."""
        self.kernel.stop_requested = True

    async def run(self) -> Summary:
        """Simulate to the scenario's duration (or a stop request); close the sinks."""
        with contextlib.ExitStack() as closing:
            for sink in self.sinks:
                closing.callback(sink.close)  # each one closed, even if another fails
            with _fewer_collections():
                await self.kernel.run(self.engine.main)
        if not self.kernel.interrupted:
            self._check_replayed()
        return self.summary()

    def run_sync(self) -> Summary:
        return trio.run(self.run)

    def metrics(self) -> Metrics:
        """Queue length, waits, latency, throughput and utilization (docs/queue.md)."""
        if self.measurement is None:
            raise RuntimeError("this run kept no metrics: make it with measure=True")
        return self.measurement.metrics(self._virtual_time())

    def _virtual_time(self) -> float:
        # Time runs to the scenario's end unless the run was interrupted.
        kernel = self.kernel
        return kernel.now if kernel.interrupted else self.scenario.duration

    def summary(self) -> Summary:
        kernel = self.kernel
        return summarize(
            self.engine.tally,
            self.scenario,
            self.engine.people,
            strategy=self.strategy,
            virtual_time=self._virtual_time(),
            interrupted=kernel.interrupted,
        )
