"""Backlog and latency metrics: queue length, waits, latency, throughput, utilization.

Queue length and busy workers are time-weighted: each value counts for as long as it
held, integrated exactly at every change, so a queue that fills and drains between two
points of the series is still counted in the mean, the maximum and the series' bins.
Waits and latencies keep every sample (8 bytes each), so percentiles are exact
(nearest rank), not estimated.

Definitions (docs/queue.md):
- wait: from the moment a run asks for a worker (admission, or the end of a Wait) to the
  moment it gets one. A run that finds a free worker waits 0.
- latency: from a run's admission to its end (completed or removed), queueing, service,
  Waits and webhook calls included.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attr
import attrs

from sim.run.observer import Observer
from sim.run.queue import QueueWatch, priority_at
from sim.run.runs import Run

if TYPE_CHECKING:
    from sim.run.engine import Engine

#: Points in a queue-length series.
SERIES_POINTS = 200


class TimeWeighted:
    """A quantity that changes at instants over ``[start, end)``: mean, max, binned series.

    Each bin of the series holds the time-weighted mean and the maximum of the values
    held within it (a value set and replaced at one instant counts for the maximum only).
    The mean and the maximum cover ``[measured_from, end)`` (a warm-up cut, docs/sweeps.md);
    the series covers the whole window, so a plot still shows the warm-up.
    """

    __slots__ = (
        "_bin_end",
        "_index",
        "area",
        "bin_area",
        "bin_max",
        "end",
        "max",
        "measured_from",
        "since",
        "start",
        "value",
        "width",
    )

    def __init__(
        self, start: float, end: float, points: int = SERIES_POINTS, *, measured_from: float | None = None
    ) -> None:
        self.start, self.end = start, end
        self.measured_from = start if measured_from is None else measured_from
        self.width = (end - start) / points
        self.area = 0.0
        self.max = 0
        self.value = 0
        self.since = start
        self.bin_area = [0.0] * points
        self.bin_max = [0] * points
        self._index = 0  # the bin of ``since``, and where it ends: found again only
        self._bin_end = start + self.width  # when time moves past it

    def set(self, now: float, value: int) -> None:
        """The quantity is ``value`` from ``now`` on (times never go back)."""
        if now > self.since:
            self._accumulate(now)
            if now >= self._bin_end:
                self._index = self._bin(now)
                self._bin_end = self.start + (self._index + 1) * self.width
        self.value = value
        if value > self.max and now >= self.measured_from:
            self.max = value
        if value > self.bin_max[self._index]:
            self.bin_max[self._index] = value

    def _bin(self, time: float) -> int:
        return min(len(self.bin_max) - 1, max(0, int((time - self.start) / self.width)))

    def _accumulate(self, now: float) -> None:
        value, t = self.value, self.since
        self.since = now
        if not value:
            return
        measured_from = self.measured_from
        if now > measured_from:
            self.area += value * (now - (t if t > measured_from else measured_from))
            if value > self.max:
                self.max = value
        i = self._bin(t)
        last = len(self.bin_area) - 1
        while t < now:
            edge = now if i == last else min(now, self.start + (i + 1) * self.width)
            self.bin_area[i] += value * (edge - t)
            if value > self.bin_max[i]:
                self.bin_max[i] = value
            t = edge
            i += 1

    def close(self, end: float) -> None:
        """Count the last value up to ``end`` (the end of the simulated window)."""
        if end > self.since:
            self._accumulate(end)
        self.end = end

    @property
    def mean(self) -> float:
        span = self.end - self.measured_from
        return self.area / span if span > 0 else float(self.value)

    def series(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        """Per bin: the time-weighted mean and the maximum."""
        width = self.width
        means = []
        for i, area in enumerate(self.bin_area):
            lo = self.start + i * width
            hi = min(self.end, lo + width)
            means.append(area / (hi - lo) if hi > lo else 0.0)
        return tuple(means), tuple(self.bin_max)


@attrs.frozen(kw_only=True)
class Percentiles:
    """A sample summarized: count, mean, p50, p95, p99 and max (seconds)."""

    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0


def percentiles(samples: Iterable[float]) -> Percentiles:
    """Exact nearest-rank percentiles of ``samples``."""
    ordered = sorted(samples)
    n = len(ordered)
    if not n:
        return Percentiles()

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * n) - 1)]

    return Percentiles(
        count=n, mean=math.fsum(ordered) / n, p50=rank(0.50), p95=rank(0.95), p99=rank(0.99), max=ordered[-1]
    )


class QueueStats(QueueWatch):
    """What one campaign queue did: its length and busy workers over time, and waits.

    Only what happens from ``measured_from`` on counts in the means, maxima and waits
    (the warm-up cut): a wait counts when its run asked for a worker at or after it.
    """

    def __init__(self, name: str, workers: int, start: float, end: float, *, measured_from: float = 0.0) -> None:
        self.name = name
        self.workers = workers
        self.measured_from = measured_from
        self.length = TimeWeighted(start, end, measured_from=measured_from)
        self.busy = TimeWeighted(start, end, measured_from=measured_from)
        self.waits: dict[str, array[float]] = {}  # campaign -> waits
        self.priority_waits: dict[str, array[float]] = {}  # priority class -> waits

    def length_changed(self, now: float, length: int) -> None:
        self.length.set(now, length)

    def busy_changed(self, now: float, busy: int) -> None:
        self.busy.set(now, busy)

    def waited(self, now: float, campaign: str, priority: str, wait: float) -> None:
        if now - wait < self.measured_from:
            return
        _sample(self.waits, campaign, wait)
        _sample(self.priority_waits, priority, wait)


def _sample(samples: dict[str, array[float]], key: str, value: float) -> None:
    values = samples.get(key)
    if values is None:
        values = samples[key] = array("d")
    values.append(value)


# -- the record a run ends with ------------------------------------------------------


@attrs.frozen(kw_only=True)
class Series:
    """Queue length over time: ``points`` bins of ``interval`` seconds from 0."""

    interval: float
    mean: tuple[float, ...]
    max: tuple[int, ...]


@attrs.frozen(kw_only=True)
class QueueMetrics:
    """One campaign queue over the simulated window."""

    name: str
    workers: int
    mean_length: float
    max_length: int
    length: Series
    #: Time-weighted mean of busy workers over workers: 1.0 is saturated.
    utilization: float
    wait: Percentiles
    wait_by_priority: Mapping[str, Percentiles]
    #: Runs still waiting for a worker at the end, per priority class.
    queued_at_end: Mapping[str, int]
    #: Runs holding a worker at the end.
    in_service_at_end: int
    #: How long the longest-waiting run still queued at the end had waited (0: none);
    #: runs still waiting have no wait sample, so this is what starvation looks like.
    oldest_queued_at_end: float = 0.0


@attrs.frozen(kw_only=True)
class CampaignMetrics:
    """One campaign's runs: waits for a worker and end-to-end latency."""

    name: str
    priority: str
    started: int
    completed: int
    #: Runs completed per hour of simulated time.
    throughput: float
    wait: Percentiles
    latency: Percentiles
    #: Runs still waiting for a worker at the end (new, or back from a Wait).
    queued_at_end: int = 0


@attrs.frozen(kw_only=True)
class Metrics:
    """Every metric of one run (``sim run --metrics FILE`` writes this as JSON)."""

    duration: float
    queues: Mapping[str, QueueMetrics]
    campaigns: Mapping[str, CampaignMetrics]
    #: Priority class -> waits for a worker and latency of runs of that class.
    priorities: Mapping[str, tuple[Percentiles, Percentiles]]
    #: Runs completed and steps run per hour of simulated time, all campaigns.
    throughput: float
    steps_per_hour: float

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (priorities as {class: {"wait": ..., "latency": ...}})."""
        # attr.asdict turns tuples into lists (attrs.asdict keeps them): JSON arrays.
        data = attr.asdict(self, recurse=True, retain_collection_types=False)
        data["priorities"] = {
            name: {"wait": attrs.asdict(wait), "latency": attrs.asdict(latency)}
            for name, (wait, latency) in self.priorities.items()
        }
        return data


class RunStats:
    """Latency of every run that ended, by campaign and by priority class."""

    def __init__(self) -> None:
        self.latency: dict[str, array[float]] = {}
        self.priority_latency: dict[str, array[float]] = {}


def summarize_metrics(
    *,
    duration: float,
    queues: Iterable[tuple[QueueStats, Mapping[str, int], int, float | None]],
    runs: RunStats,
    started: Mapping[str, int],
    completed: Mapping[str, int],
    priorities: Mapping[str, str],
    steps: int,
    queued: Mapping[str, int] | None = None,
    measured_from: float = 0.0,
) -> Metrics:
    """The `Metrics` record at the end of a run of ``duration`` simulated seconds.

    ``queues`` gives each queue's stats with its runs waiting per class, in service, and
    since when the oldest has waited (None: nobody) at the end; ``priorities`` each
    campaign's class; ``started``/``completed`` run counts; ``queued`` each campaign's
    runs still waiting for a worker; ``completed`` counts over ``[measured_from, duration)``
    (the warm-up cut), the steps over the whole run.
    """
    queued = queued or {}
    hours = (duration - measured_from) / 3600.0 if duration > measured_from else 1.0
    all_hours = duration / 3600.0 if duration > 0 else 1.0
    queue_metrics: dict[str, QueueMetrics] = {}
    all_waits: dict[str, list[float]] = {}
    priority_waits: dict[str, list[float]] = {}
    for stats, waiting, in_service, oldest in queues:
        stats.length.close(duration)
        stats.busy.close(duration)
        means, maxes = stats.length.series()
        waits = [w for values in stats.waits.values() for w in values]
        for campaign, values in stats.waits.items():
            all_waits.setdefault(campaign, []).extend(values)
        for priority, values in stats.priority_waits.items():
            priority_waits.setdefault(priority, []).extend(values)
        queue_metrics[stats.name] = QueueMetrics(
            name=stats.name,
            workers=stats.workers,
            mean_length=stats.length.mean,
            max_length=stats.length.max,
            length=Series(interval=stats.length.width, mean=means, max=maxes),
            utilization=stats.busy.mean / stats.workers,
            wait=percentiles(waits),
            wait_by_priority={
                p: percentiles(stats.priority_waits[p]) for p in ("high", "medium", "low") if p in stats.priority_waits
            },
            queued_at_end=dict(waiting),
            in_service_at_end=in_service,
            oldest_queued_at_end=0.0 if oldest is None else round(duration - oldest, 6),
        )
    campaigns = {
        name: CampaignMetrics(
            name=name,
            priority=priorities.get(name, ""),
            started=started.get(name, 0),
            completed=completed.get(name, 0),
            throughput=completed.get(name, 0) / hours,
            wait=percentiles(all_waits.get(name, ())),
            latency=percentiles(runs.latency.get(name, ())),
            queued_at_end=queued.get(name, 0),
        )
        for name in priorities
        if started.get(name, 0) or queued.get(name, 0)
    }
    by_class: dict[str, tuple[Percentiles, Percentiles]] = {
        p: (percentiles(priority_waits.get(p, ())), percentiles(runs.priority_latency.get(p, ())))
        for p in ("high", "medium", "low")
        if p in priority_waits or p in runs.priority_latency
    }
    return Metrics(
        duration=duration,
        queues=queue_metrics,
        campaigns=campaigns,
        priorities=by_class,
        throughput=sum(completed.get(name, 0) for name in priorities) / hours,  # no executables (R6)
        steps_per_hour=steps / all_hours,
    )


@attrs.define(eq=False)
class Measurement(Observer):
    """The metrics of a run as an `Observer` (`sim.run.observer`): each campaign queue's
    length, load and waits (`QueueStats`), every run's latency (`RunStats`), and at the
    end the `Metrics` record. A run without one keeps none of it (exploration)."""

    #: Runs admitted before this many seconds count in no figure, and the queue's time
    #: before it in no mean or maximum (the warm-up cut, docs/sweeps.md); 0: everything.
    warmup: float = 0.0
    runs: RunStats = attrs.field(factory=RunStats, init=False)
    #: With a warm-up: runs ended at or after it, per campaign (the throughput's count).
    ended: Counter[str] = attrs.field(factory=Counter, init=False)
    #: Queue name -> what this observer follows of it.
    queues: dict[str, QueueStats] = attrs.field(factory=dict, init=False)
    _engine: Engine | None = attrs.field(default=None, init=False)

    def attach(self, engine: Engine) -> None:
        self._engine = engine

    def watch_queue(self, name: str, workers: int, end: float) -> QueueStats:
        stats = self.queues[name] = QueueStats(name, workers, 0.0, end, measured_from=min(self.warmup, end))
        return stats

    def run_ended(self, run: Run, priority: str, latency: float) -> None:
        warmup = self.warmup
        if warmup:
            if run.admitted + latency >= warmup:
                self.ended[run.campaign.name] += 1
            if run.admitted < warmup:
                return
        runs = self.runs
        _sample(runs.latency, run.campaign.name, latency)
        _sample(runs.priority_latency, priority, latency)

    def metrics(self, duration: float) -> Metrics:
        """Queue, wait and latency metrics of the run so far, over ``duration`` seconds."""
        engine = self._engine
        assert engine is not None, "the Measurement is not attached to an engine"
        lifecycle = engine.tally.lifecycle
        queues = engine.queues.values()
        queued: Counter[str] = Counter()
        for queue in queues:
            queued.update(queue.waiting_by_campaign())
        return summarize_metrics(
            duration=duration,
            queues=[(self.queues[q.name], q.waiting_by_priority(), q.busy, q.oldest()) for q in queues],
            runs=self.runs,
            started={name: counts["started"] for name, counts in lifecycle.items()},
            completed=self.ended if self.warmup else {name: counts["completed"] for name, counts in lifecycle.items()},
            # Executables run inside their parent's run (R6): no wait or latency of their
            # own. The class shown is the one at the end, an override included (R21).
            priorities={
                name: priority_at(campaign, duration)
                for name, campaign in engine.scenario.campaigns.items()
                if campaign.kind != "executable"
            },
            steps=sum(engine.tally.steps.values()),
            queued=queued,
            measured_from=min(self.warmup, duration),
        )
