"""Schedule exploration: run a scenario under many schedules and group the outcomes.

Every run has the same people, load and service times; only the kernel's choices among
tasks due at the same instant differ. When the outcomes differ, the design races
(docs/marketo.md, "Races practitioners meet"). For each outcome class `explore` keeps a
witness: a schedule string (`sim.run.schedule`) that `sim run FILE --schedule STRING`
replays to exactly that outcome, shrunk to the fewest deviations from the default order
that still give it. What a run ends with, and how two outcomes differ, is
`sim.verify.outcomes`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import attrs

from sim.observe.simulation import Simulation
from sim.run.schedule import ScheduleError, format_schedule, parse_schedule
from sim.scenario.model import Scenario
from sim.verify import workers
from sim.verify.groups import GroupClass, digest_of, project
from sim.verify.outcomes import Difference, Outcome, Replayed, differ, digest, plan_of, replay, run_to_outcome
from sim.verify.workers import Pool, usable_cores


def _outcome_under(scenario: Scenario, schedule: str) -> Outcome:
    """The outcome of ``scenario`` under ``schedule`` (no log kept: for shrinking)."""
    return run_to_outcome(Simulation(scenario, schedule=schedule, plan=plan_of(scenario), measure=False))


def shrink(
    scenario: Scenario,
    schedule: str,
    outcome: Outcome,
    *,
    budget: int = 200,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Shrunk:
    """The schedule with as few deviations as still give ``outcome`` (`shrink_keeping`)."""
    return shrink_keeping(scenario, schedule, outcome.__eq__, budget=budget, progress=progress, should_stop=should_stop)


def shrink_keeping(
    scenario: Scenario,
    schedule: str,
    keeps: Callable[[Outcome], bool],
    *,
    budget: int = 200,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Shrunk:
    """The schedule with as few deviations as still give an outcome ``keeps`` accepts (the
    same outcome, or the same for a group of people).

    Delta debugging (Zeller's ddmin): try dropping large chunks of deviations first,
    then smaller ones, down to single deviations. At most ``budget`` replays: a big
    scenario whose outcome needs hundreds of deviations gets a shorter witness, not
    necessarily a minimal one. Every schedule kept on the way is accepted, so stopping
    early (``should_stop``) still gives a witness. ``progress(replays, deviations)`` is
    told after each replay.
    """
    points = sorted(parse_schedule(schedule).items())
    replays = 0

    def same(kept: list[tuple[int, int]]) -> bool:
        nonlocal replays
        replays += 1
        try:
            return keeps(_outcome_under(scenario, format_schedule(dict(kept))))
        except ScheduleError:
            return False
        finally:
            if progress is not None:
                progress(replays, len(points))

    def stopped() -> bool:
        return replays >= budget or (should_stop is not None and should_stop())

    chunks = 2
    while points and not stopped():
        size = -(-len(points) // chunks)  # ceiling
        parts = [points[i : i + size] for i in range(0, len(points), size)]
        for part in reversed(parts):  # later deviations first: removing them shifts nothing before
            if stopped():
                break
            dropped = set(part)
            rest = [item for item in points if item not in dropped]
            if same(rest):
                points = rest
                chunks = max(chunks - 1, 2)
                break
        else:
            if size == 1:  # no single deviation can go
                return Shrunk(witness=format_schedule(dict(points)), minimal=True, replays=replays)
            chunks = min(len(points), chunks * 2)
    return Shrunk(witness=format_schedule(dict(points)), minimal=not points, replays=replays)


@attrs.frozen(kw_only=True)
class Shrunk:
    """A shrunk witness, whether it is 1-minimal (removing any one deviation left
    changes the outcome or no longer fits), and the replays it took."""

    witness: str
    minimal: bool
    replays: int


@attrs.frozen(kw_only=True)
class OutcomeClass:
    """Runs that ended alike: how many, a shrunk witness, and how it differs.

    The first `explore` ``witnesses`` classes are detailed: their outcome, a shrunk
    witness and their differences. The rest are counted only: their ``outcome`` is not
    kept (a million schedules of a large design would not fit in memory) and their
    ``witness`` is empty; ``seed`` is the strategy seed that first gave them, which
    `run_schedule` replays.
    """

    outcome: Outcome | None
    runs: int
    witness: str
    #: The strategy seed of the first schedule that gave this outcome.
    seed: int = 0
    #: Whether removing any deviation of the witness changes the outcome (shrinking
    #: stops at a budget of replays, and is skipped beyond the first classes).
    minimal: bool = True
    #: The replays shrinking the witness took (0: not shrunk).
    replays: int = 0
    #: Whether the witness was replayed and its differences worked out.
    detailed: bool = True
    differences: tuple[Difference, ...] = ()


@attrs.frozen(kw_only=True)
class Exploration:
    """The outcome classes of ``runs`` schedules, most common first."""

    source: str
    runs: int
    seed: int
    classes: tuple[OutcomeClass, ...]
    #: "random", or "pct (depth D)".
    strategy: str = "random"
    #: Stopped early (a signal): ``runs`` counts the schedules explored before that, of
    #: the ``planned``, and witnesses may be shrunk less far than the budget allows.
    interrupted: bool = False
    planned: int = 0
    #: The replay budget each witness was shrunk with.
    shrink_replays: int = 200
    #: Each group of people `explore` was given: (its people, its outcome classes in the
    #: schedules sampled, True: no search of it was cut short, as `sim.verify.search` says).
    groups: tuple[tuple[tuple[str, ...], tuple[GroupClass, ...], bool], ...] = ()

    @property
    def racing_groups(self) -> int:
        """The groups of people with more than one outcome in the schedules explored."""
        return sum(len(classes) > 1 for _, classes, _ in self.groups)

    @property
    def races(self) -> bool:
        return len(self.classes) > 1


@attrs.frozen(kw_only=True)
class ExploreProgress:
    """How far `explore` is: ``phase`` "explore" (``done`` of ``total`` schedules) or
    "shrink" (``done`` of ``total`` witnesses shrunk, ``replays`` so far in all)."""

    phase: str
    done: int
    total: int
    replays: int = 0


@attrs.define(eq=False)
class Stop:
    """A request from outside (a signal handler) to stop an exploration.

    `request` is safe in a signal handler: it counts the request and asks the schedule
    being explored in this process, if any, to stop at its next task switch (a schedule
    cut short is not counted). After one request `explore` ends its workers and returns
    the classes of the schedules explored, their witnesses replayed but not shrunk
    further; after a second, `check` raises KeyboardInterrupt at the next point between
    two runs: no result.
    """

    requests: int = 0
    #: The schedule being explored in this process, which a request cuts short.
    running: Simulation | None = None

    @property
    def requested(self) -> bool:
        return self.requests > 0

    def request(self) -> None:
        self.requests += 1
        if self.running is not None:
            self.running.request_stop()

    def run(self, simulation: Simulation) -> Outcome:
        """Run ``simulation`` to its end, as the run a request cuts short (check ``requested``
        before using the outcome)."""
        self.running = simulation
        try:
            if self.requested:  # it came before this run could be told
                simulation.request_stop()
            return run_to_outcome(simulation)
        finally:
            self.running = None

    def outcome_of(self, simulation: Simulation) -> Outcome | None:
        """Run ``simulation`` to its outcome: None if a request came (before it started, or
        while it ran) and cut it short."""
        outcome = self.run(simulation)
        return None if self.requested else outcome

    def check(self) -> None:
        """Stop at once (KeyboardInterrupt) if a second request came."""
        if self.requests > 1:
            raise KeyboardInterrupt


#: `sim explore --runs` at most: each outcome class costs about 200 bytes to count.
MAX_RUNS = 1_000_000


def explore(
    scenario: Scenario,
    *,
    runs: int = 100,
    seed: int = 0,
    witnesses: int = 5,
    jobs: int = 1,
    strategy: str = "random",
    pct_depth: int = 3,
    shrink_replays: int = 200,
    progress: Callable[[ExploreProgress], None] | None = None,
    stop: Stop | None = None,
    pool: Callable[[object], AbstractContextManager[Pool]] | None = None,
    groups: Sequence[tuple[str, ...]] = (),
) -> Exploration:
    """Run ``scenario`` under ``runs`` random schedules (strategy seeds ``seed`` ..
    ``seed + runs - 1``), group the outcomes, and find a shrunk witness for each of the
    ``witnesses`` most common classes (at most ``shrink_replays`` replays each; the
    other classes are counted only).

    ``jobs`` > 1 spreads the schedules and the shrinking over that many processes (at
    most one per core and per schedule); ``pool``, given what every worker shares, opens
    the `Pool` to run them in instead (`sim.scale.pools.open_pool`: a Dask cluster, say).
    The result is the same for any ``jobs`` and any pool: results are gathered in seed
    order. ``strategy`` "pct" uses PCT of ``pct_depth``
    (`sim.run.schedule.PCTStrategy`), its change points drawn among as many choice points as
    the default order meets. On a ``stop`` request (a signal) the worker processes are
    ended and the schedules explored so far make the result (`Stop`). Given ``groups`` of
    people (`sim.verify.search.groups_of`), each group's outcomes are counted too (``groups``
    of the result).
    """
    options = _Options(
        scenario=scenario,
        strategy=strategy,
        pct_depth=pct_depth,
        pct_steps=_pct_steps(scenario, strategy),
        groups=tuple(groups),
    )
    stop = stop or Stop()
    report = progress or (lambda event: None)
    opener = pool or functools.partial(workers.open_workers, worker_count(jobs, runs))
    with opener(options) as running, _stop_in_this_process(stop if running.in_process else None):
        tally = _tally_outcomes(running, range(seed, seed + runs), groups=len(groups), report=report, stop=stop)
        ranked = tally.ranked()
        if sum(len(part) > 1 for part in tally.parts) > 1:
            witnesses = 0  # each class combines several groups' races: the groups' own witnesses say more
        top = [tally.first[fingerprint] for fingerprint, _ in ranked[:witnesses]]
        report(ExploreProgress(phase="shrink", done=0, total=len(top)))
        shrunk = _find_witnesses(running, options, top, budget=shrink_replays, report=report, stop=stop)
    classes = _describe_classes(scenario, ranked, tally.first, shrunk, stop=stop)
    grouped = _group_classes(options, groups, tally.parts, stop=stop)
    shown = f"pct (depth {pct_depth})" if strategy == "pct" else strategy
    return Exploration(
        source=scenario.source,
        runs=tally.done,
        seed=seed,
        classes=classes,
        strategy=shown,
        interrupted=stop.requested,
        planned=runs,
        shrink_replays=shrink_replays,
        groups=grouped,
    )


def _pct_steps(scenario: Scenario, strategy: str) -> int:
    """The choice points PCT draws its change points among: as many as one run in the default
    (oldest-first) order meets. Other strategies do not use it."""
    if strategy != "pct":
        return 100
    default = Simulation(scenario, strategy="fifo", record=True)
    default.run_sync()
    return max(1, len(default.kernel.choices or ()))


def _describe_classes(
    scenario: Scenario,
    ranked: Sequence[tuple[bytes, int]],
    first: Mapping[bytes, int],
    shrunk: Sequence[Shrunk],
    *,
    stop: Stop,
) -> tuple[OutcomeClass, ...]:
    """The outcome classes of ``ranked`` (digest, schedules), most common first. Those with a
    witness in ``shrunk`` are replayed to say how they differ from the first; the rest are
    counted only, with the seed in ``first`` that gave them."""
    classes: list[OutcomeClass] = []
    common: Replayed | None = None
    for rank, (fingerprint, count) in enumerate(ranked):
        stop.check()
        if rank >= len(shrunk):  # not shrunk, and not replayed to say how it differs
            classes.append(
                OutcomeClass(
                    outcome=None, runs=count, witness="", seed=first[fingerprint], minimal=False, detailed=False
                )
            )
            continue
        described, common = describe_class(scenario, shrunk[rank], count, common, seed=first[fingerprint])
        classes.append(described)
    return tuple(classes)


def describe_class(
    scenario: Scenario, found: Shrunk, runs: int, common: Replayed | None, *, seed: int = 0
) -> tuple[OutcomeClass, Replayed]:
    """A detailed class: its witness replayed, and how it differs from ``common`` (the most
    common class's replay; None for that class itself, whose replay becomes ``common``).
    Returns the class and the replay later classes compare with."""
    replayed = replay(scenario, found.witness)
    differences: tuple[Difference, ...] = ()
    if common is None:
        common = replayed
    else:
        differences = differ(common.outcome, replayed)
    described = OutcomeClass(
        outcome=replayed.outcome,
        runs=runs,
        witness=found.witness,
        seed=seed,
        minimal=found.minimal,
        replays=found.replays,
        differences=differences,
    )
    return described, common


def worker_count(jobs: int, runs: int) -> int:
    """The worker processes ``jobs`` asks for that can do work: at most one per core
    this process may run on, and one per schedule."""
    return max(1, min(jobs, usable_cores(), runs))


def run_schedule(
    scenario: Scenario,
    strategy_seed: int,
    *,
    strategy: str = "random",
    pct_depth: int = 3,
    pct_steps: int = 100,
    stop: Stop | None = None,
) -> tuple[Outcome, str]:
    """One schedule of ``scenario`` drawn by ``strategy``: its outcome and schedule string.
    A ``stop`` request cuts it short (check ``stop.requested`` before using the result)."""
    simulation = Simulation(
        scenario,
        strategy=strategy,
        strategy_seed=strategy_seed,
        record=True,
        plan=plan_of(scenario),
        measure=False,
        pct_depth=pct_depth,
        pct_steps=pct_steps,
    )
    outcome = run_to_outcome(simulation) if stop is None else stop.run(simulation)
    return outcome, simulation.schedule_string()


# -- running schedules, here or in a pool of workers (sim.verify.workers) ---------------------------


@attrs.frozen(kw_only=True)
class _Options:
    """What every schedule of one exploration shares, sent to each worker once."""

    scenario: Scenario
    strategy: str
    pct_depth: int
    pct_steps: int
    #: The groups of people whose outcomes are counted apart (`explore`'s ``groups``).
    groups: tuple[tuple[str, ...], ...] = ()

    def run_options(self) -> dict[str, Any]:
        """The options of `run_schedule` that draw this exploration's schedules."""
        return {"strategy": self.strategy, "pct_depth": self.pct_depth, "pct_steps": self.pct_steps}


#: With one job: the exploration's stop, which cuts the schedule running in this process.
_stop: Stop | None = None


@contextlib.contextmanager
def _stop_in_this_process(stop: Stop | None) -> Iterator[None]:
    """``stop`` cuts the schedule running in this process short while the block runs (one job:
    no workers to end); the stop that was there before is back afterwards."""
    global _stop
    saved, _stop = _stop, stop
    try:
        yield
    finally:
        _stop = saved


@attrs.define(eq=False)
class _Tally:
    """The outcomes of the schedules explored, by digest, in the order first seen: how many
    schedules gave each and the strategy seed that gave it first."""

    counts: dict[bytes, int] = attrs.field(factory=dict)
    first: dict[bytes, int] = attrs.field(factory=dict)
    done: int = 0
    #: Per group of people: its outcomes' digests -> [schedules, first strategy seed].
    parts: list[dict[bytes, list[int]]] = attrs.field(factory=list)

    def add(self, strategy_seed: int, fingerprint: bytes, parts: Sequence[bytes] = ()) -> None:
        """Count one more schedule, ``strategy_seed``'s, whose outcome has digest ``fingerprint``
        (and whose groups' outcomes have digests ``parts``)."""
        self.counts[fingerprint] = self.counts.get(fingerprint, 0) + 1
        self.first.setdefault(fingerprint, strategy_seed)
        self.done += 1
        for tally, part in zip(self.parts, parts, strict=True):
            counted = tally.get(part)
            if counted is None:
                tally[part] = [1, strategy_seed]
            else:
                counted[0] += 1

    def ranked(self) -> list[tuple[bytes, int]]:
        """(digest, schedules), most common first; ties in the order first seen (dicts keep insertion order)."""
        return sorted(self.counts.items(), key=lambda item: -item[1])


def _tally_outcomes(
    pool: Pool,
    seeds: range,
    *,
    groups: int,
    report: Callable[[ExploreProgress], None],
    stop: Stop,
) -> _Tally:
    """Run the schedule of each of ``seeds`` in the pool and count the outcomes, in seed
    order. On a stop request, those explored so far; in this process, the schedule the
    request cut short is not counted."""
    tally = _Tally(parts=[{} for _ in range(groups)])
    chunk = max(1, min(64, len(seeds) // (pool.count * 8)))
    digests = pool.map_unordered(_digest_of_seed, seeds, chunk=chunk, stopped=lambda: stop.requested)
    for strategy_seed, fingerprint, parts in workers.in_order(digests):
        if stop.requested and pool.in_process:
            break  # the last one may have been cut short: not an outcome
        tally.add(strategy_seed, fingerprint, parts)
        report(ExploreProgress(phase="explore", done=tally.done, total=len(seeds)))
    return tally


def _find_witnesses(
    pool: Pool,
    options: _Options,
    seeds: Sequence[int],
    *,
    budget: int,
    report: Callable[[ExploreProgress], None],
    stop: Stop,
) -> list[Shrunk]:
    """A witness for the outcome of each of ``seeds``: its schedule, shrunk in the workers
    (`_shrink_all`). After a stop request, the schedules replayed here, not shrunk further."""
    global _stop
    if stop.requested:
        pool.end()
        _stop = None
        shrunk = []
        for strategy_seed in seeds:
            stop.check()
            _, schedule = run_schedule(options.scenario, strategy_seed, **options.run_options())
            shrunk.append(Shrunk(witness=schedule, minimal=False, replays=0))
        return shrunk
    found = pool.map_unordered(_witness_of_seed, seeds, stopped=lambda: stop.requested)
    pairs = [(schedule, outcome) for _, schedule, outcome in workers.in_order(found)]
    return _shrink_all(pool, pairs, budget, report, stop)


def _digest_of_seed(strategy_seed: int) -> tuple[int, bytes, tuple[bytes, ...]]:
    """A schedule's outcome digest, and its groups' (`_Options.groups`)."""
    options: _Options = workers.shared()
    outcome, _ = _schedule_of_seed(strategy_seed)
    if not options.groups:
        return strategy_seed, digest(outcome), ()
    rows = {row[0]: row for row in outcome.people}  # not `project` per group: that is people x groups
    parts = tuple(digest_of(tuple(rows[pid] for pid in people if pid in rows))[:8] for people in options.groups)
    return strategy_seed, digest(outcome), parts


def _group_classes(
    options: _Options, groups: Sequence[tuple[str, ...]], parts: Sequence[dict[bytes, list[int]]], *, stop: Stop
) -> tuple[tuple[tuple[str, ...], tuple[GroupClass, ...], bool], ...]:
    """Each group's outcome classes, most common first, each with the schedule of the first
    seed that gave it (replayed here once per seed: most are the same few seeds)."""
    runs: dict[int, tuple[Outcome, str]] = {}
    out = []
    for people, tally in zip(groups, parts, strict=True):
        classes = []
        for count, strategy_seed in sorted(tally.values(), key=lambda pair: (-pair[0], pair[1])):
            if strategy_seed not in runs:
                runs[strategy_seed] = run_schedule(options.scenario, strategy_seed, **options.run_options())
            outcome, schedule = runs[strategy_seed]
            classes.append(GroupClass(outcome=project(outcome, frozenset(people)), runs=count, schedule=schedule))
        out.append((people, tuple(classes), True))  # as far as sampling knows: the report says so
    return tuple(out)


def _witness_of_seed(strategy_seed: int) -> tuple[int, str, Outcome]:
    outcome, schedule = _schedule_of_seed(strategy_seed)
    return strategy_seed, schedule, outcome


def _schedule_of_seed(strategy_seed: int) -> tuple[Outcome, str]:
    options: _Options = workers.shared()
    return run_schedule(options.scenario, strategy_seed, **options.run_options(), stop=_stop)


def _shrink_one(task: tuple[int, str, Outcome, int]) -> tuple[int, Shrunk]:
    """Shrink one witness, telling the parent (witness, replays) as it goes."""
    index, schedule, outcome, budget = task
    options: _Options = workers.shared()
    stop = _stop

    def progress(replays: int, deviations: int) -> None:
        workers.tell((index, replays))

    found = shrink(
        options.scenario,
        schedule,
        outcome,
        budget=budget,
        progress=progress,
        should_stop=(lambda: stop.requested) if stop is not None else None,
    )
    return index, found


def _shrink_all(
    pool: Pool,
    witnesses: Sequence[tuple[str, Outcome]],
    budget: int,
    report: Callable[[ExploreProgress], None],
    stop: Stop,
) -> list[Shrunk]:
    """Each (schedule, outcome) shrunk (`shrink`), side by side in the workers. On a stop,
    a witness not finished keeps its schedule (it gives the outcome): not minimal."""
    total = len(witnesses)
    shrunk = [Shrunk(witness=schedule, minimal=False, replays=0) for schedule, _ in witnesses]
    replays = [0] * total
    finished = 0
    report(ExploreProgress(phase="shrink", done=0, total=total))

    def told(message: tuple[int, int]) -> None:
        index, count = message
        replays[index] = count
        report(ExploreProgress(phase="shrink", done=finished, total=total, replays=sum(replays)))

    tasks = [(index, schedule, outcome, budget) for index, (schedule, outcome) in enumerate(witnesses)]
    for _, (index, found) in pool.map_unordered(_shrink_one, tasks, stopped=lambda: stop.requested, told=told):
        shrunk[index] = found
        replays[index] = found.replays
        finished += 1
        report(ExploreProgress(phase="shrink", done=finished, total=total, replays=sum(replays)))
        stop.check()
    return shrunk
