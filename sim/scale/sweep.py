"""A sweep: every point of a grid of factors, each replicated, run on a pool and summed up.

The grid is full factorial: design variants x worker counts x load multipliers, each
point replicated with seeds ``seed``, ``seed + 1``, ... The same seeds at every point
(common random numbers) make the differences between points and variants differences of
design, not of luck. Jobs go to a pool (`sim.verify.workers.Pool`: this process,
processes, or Dask) and come back in any order; each result is placed by its job's
number, so the summary is the same whatever ran it. Stopped early (Ctrl-C), the sweep
sums up the replications it has. docs/sweeps.md says how to read every figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import attrs

from sim.scale.factors import Factors, grid
from sim.scale.point import ALL, PointJob, Replication, run_shared_point
from sim.scale.statistics import Estimate, estimate
from sim.scale.theory import MMc, Prediction, mmc_of, predict
from sim.scenario.model import Scenario
from sim.verify.workers import Pool

#: Points below this utilization (mean over replications) feed the saturation estimate:
#: there utilization is the offered work over the workers, linear in the load.
LINEAR_BELOW = 0.9
#: A point backs up when its trigger queue is this busy and still growing (docs/sweeps.md).
BACKED_UP_UTILIZATION = 0.95


@attrs.frozen(kw_only=True)
class SweepSpec:
    """What to sweep: the designs by name (in order), loads, worker counts (empty: each
    design's own), replications from ``seed`` on, the warm-up cut and the duration
    (None: each design's own; seconds)."""

    variants: tuple[str, ...]
    loads: tuple[float, ...] = (1.0,)
    workers: tuple[int, ...] = ()
    replications: int = 3
    seed: int = 0
    warmup: float = 0.0
    duration: float | None = None

    def points(self, designs: Mapping[str, Scenario]) -> tuple[Factors, ...]:
        """The grid's points, in the order the table and the CSV list them."""
        return tuple(
            point
            for variant in self.variants
            for point in grid((variant,), self.loads, self.workers or (_workers_of(designs[variant]),))
        )

    def jobs(self, designs: Mapping[str, Scenario]) -> tuple[PointJob, ...]:
        """Every replication of every point, numbered by their place here."""
        return tuple(
            PointJob(
                factors=factors,
                replication=r,
                seed=self.seed + r,
                warmup=self.warmup,
                duration=self.duration if self.duration is not None else designs[factors.variant].duration,
            )
            for factors in self.points(designs)
            for r in range(self.replications)
        )


def _workers_of(design: Scenario) -> int:
    assert design.queue is not None, "a swept design has a queue (sim.scale.factors.scalable_problem)"
    return design.queue.workers


@attrs.frozen(kw_only=True)
class PointResult:
    """One point over its replications: every figure's estimate by scope, the trigger
    queue's mean length per bin (over replications), Erlang C where the design is M/M/c,
    and whether the queue backs up there."""

    factors: Factors
    replications: int
    figures: Mapping[str, Mapping[str, Estimate]]
    series: tuple[float, ...]
    interval: float
    theory: Prediction | None
    backed_up: bool


@attrs.frozen(kw_only=True)
class Saturation:
    """Where one variant at one worker count stops draining, as a load multiplier.

    ``estimate``: from the utilization of the points below `LINEAR_BELOW` (per
    replication, a line through the origin; saturation where it reaches 1), None without
    such points. ``last_drained``/``first_backed_up``: the grid's loads on either side of
    the first point that backs up. ``theory``: Erlang C's (M/M/c designs only).
    """

    variant: str
    workers: int
    estimate: Estimate | None
    last_drained: float | None
    first_backed_up: float | None
    theory: float | None


@attrs.frozen(kw_only=True)
class SweepResult:
    """A whole sweep: its spec, every point, and each variant's saturation. ``complete``
    is False when it was stopped before every replication ran."""

    spec: SweepSpec
    points: tuple[PointResult, ...]
    saturation: tuple[Saturation, ...]
    complete: bool
    jobs_done: int
    jobs: int


def run_sweep(
    spec: SweepSpec,
    designs: Mapping[str, Scenario],
    pool: Pool,
    *,
    progress: Callable[[int, int, Replication], None] | None = None,
) -> SweepResult:
    """Run every job of ``spec`` on ``pool`` (which shares ``designs`` with its workers)
    and sum up; on KeyboardInterrupt, sum up what finished (``complete`` False)."""
    jobs = spec.jobs(designs)
    done: dict[int, Replication] = {}
    try:
        for index, replication in pool.map_unordered(run_shared_point, jobs):
            done[index] = replication
            if progress is not None:
                progress(len(done), len(jobs), replication)
    except KeyboardInterrupt:
        pass
    except BaseExceptionGroup as group:  # trio wraps a Ctrl-C that lands inside a simulation
        if group.split(KeyboardInterrupt)[1] is not None:
            raise
    return summarize_sweep(spec, designs, [done[i] for i in sorted(done)], jobs=len(jobs))


def summarize_sweep(
    spec: SweepSpec, designs: Mapping[str, Scenario], replications: Sequence[Replication], *, jobs: int
) -> SweepResult:
    """The `SweepResult` of ``replications`` (in job order)."""
    by_point: dict[Factors, list[Replication]] = {}
    for replication in replications:
        by_point.setdefault(replication.job.factors, []).append(replication)
    models = {name: mmc_of(design) for name, design in designs.items()}
    points = tuple(
        _point_result(factors, by_point[factors], models[factors.variant])
        for factors in spec.points(designs)
        if factors in by_point
    )
    return SweepResult(
        spec=spec,
        points=points,
        saturation=_saturations(points, by_point, models),
        complete=len(replications) == jobs,
        jobs_done=len(replications),
        jobs=jobs,
    )


def _point_result(factors: Factors, replications: list[Replication], model: MMc | None) -> PointResult:
    samples: dict[str, dict[str, list[float]]] = {}
    for replication in replications:
        for scope, measured in replication.figures.items():
            scoped = samples.setdefault(scope, {})
            for name, value in measured.items():
                scoped.setdefault(name, []).append(value)
    figures = {
        scope: {name: estimate(values, lowest=0.0) for name, values in scoped.items()}  # every figure is >= 0
        for scope, scoped in samples.items()
    }
    count = len(replications)
    series = tuple(math.fsum(values) / count for values in zip(*(r.series for r in replications), strict=True))
    utilization = figures[ALL]["utilization"].mean
    return PointResult(
        factors=factors,
        replications=count,
        figures=figures,
        series=series,
        interval=replications[0].interval,
        theory=predict(model, load=factors.load, workers=factors.workers) if model is not None else None,
        backed_up=utilization >= BACKED_UP_UTILIZATION and _growing(series, replications[0]),
    )


def _growing(series: Sequence[float], replication: Replication) -> bool:
    """Whether the queue is longer in the last quarter of the measured window than in
    its first, by more than the workers (noise in a queue that drains is far less)."""
    first_bin = min(len(series) - 1, int(replication.job.warmup / replication.interval)) if replication.interval else 0
    measured = series[first_bin:]
    quarter = max(1, len(measured) // 4)
    early = math.fsum(measured[:quarter]) / quarter
    late = math.fsum(measured[-quarter:]) / quarter
    workers = replication.job.factors.workers or 1
    return late > early * 1.25 + workers


def lines_of(points: Sequence[PointResult]) -> list[list[PointResult]]:
    """The points of each design and worker count, in load order: a line of the plots,
    and what each saturation is found along."""
    lines: dict[tuple[str, int | None], list[PointResult]] = {}
    for point in points:
        lines.setdefault((point.factors.variant, point.factors.workers), []).append(point)
    return list(lines.values())


def _saturations(
    points: Sequence[PointResult],
    by_point: Mapping[Factors, list[Replication]],
    models: Mapping[str, MMc | None],
) -> tuple[Saturation, ...]:
    found = []
    for line in lines_of(points):
        variant, workers = line[0].factors.variant, line[0].factors.workers or 0
        backed = [p.factors.load for p in line if p.backed_up]
        first = min(backed) if backed else None
        drained = [p.factors.load for p in line if not p.backed_up and (first is None or p.factors.load < first)]
        model = models[variant]
        found.append(
            Saturation(
                variant=variant,
                workers=workers,
                estimate=_utilization_line(line, by_point),
                last_drained=max(drained) if drained else None,
                first_backed_up=first,
                theory=None if model is None else model.saturation_load * workers / model.workers,
            )
        )
    return tuple(found)


def _utilization_line(line: Sequence[PointResult], by_point: Mapping[Factors, list[Replication]]) -> Estimate | None:
    """Per replication, the least-squares line u = k * load through the origin over the
    points below `LINEAR_BELOW`; the saturation load 1/k, estimated over replications."""
    linear = [p for p in line if p.figures[ALL]["utilization"].mean < LINEAR_BELOW]
    if not linear:
        return None
    per_replication: dict[int, list[tuple[float, float]]] = {}
    for point in linear:
        for replication in by_point[point.factors]:
            pairs = per_replication.setdefault(replication.job.replication, [])
            pairs.append((point.factors.load, replication.figures[ALL]["utilization"]))
    loads = []
    for pairs in per_replication.values():
        slope = math.fsum(u * m for m, u in pairs) / math.fsum(m * m for m, _ in pairs)
        if slope > 0:
            loads.append(1 / slope)
    return estimate(loads) if loads else None
