"""One replication of one sweep point: a pure function of (design, factors, seed).

Nothing here depends on where or when it runs (this process, a worker process, a Dask
worker on another machine): the same job gives the same `Replication`, figure for figure,
which is what lets a sweep gather results by key and print the same CSV however it ran.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import attrs

from sim.observe.cascades import Cascades
from sim.observe.metrics import Metrics, Percentiles, QueueMetrics, percentiles
from sim.observe.simulation import Simulation
from sim.scale.factors import Factors, apply_factors
from sim.scenario.model import Scenario
from sim.verify import workers

#: Scope of the figures of a whole point (its trigger queue, and every run).
ALL = "all"
#: The trigger queue: the one a sweep's load and workers act on (R20).
TRIGGER = "trigger"


@attrs.frozen(kw_only=True)
class PointJob:
    """What to simulate: a design's factors, which replication, its seed, the warm-up
    cut and the simulated duration (seconds)."""

    factors: Factors
    replication: int
    seed: int
    warmup: float
    duration: float


@attrs.frozen(kw_only=True)
class Replication:
    """What one replication measured: figures by scope, and the trigger queue's length
    over time (time-weighted mean per bin of ``interval`` seconds, from 0)."""

    job: PointJob
    #: Scope ("all", "queue:trigger", "campaign:NAME", "priority:high") -> figure -> value.
    figures: Mapping[str, Mapping[str, float]]
    series: tuple[float, ...]
    interval: float


def run_point(design: Scenario, job: PointJob) -> Replication:
    """Simulate ``design`` at ``job``'s factors and seed and measure it."""
    factors = job.factors
    scenario = apply_factors(design, load=factors.load, workers=factors.workers)
    scenario = attrs.evolve(scenario, duration=job.duration)
    cascades = Cascades(warmup=job.warmup)
    simulation = Simulation(scenario, seed=job.seed, warmup=job.warmup, observers=[cascades])
    simulation.run_sync()
    metrics = simulation.metrics()
    measurement = simulation.measurement
    assert measurement is not None
    latencies = measurement.runs.latency.values()
    waits = (samples for stats in measurement.queues.values() for samples in stats.waits.values())
    figures = _figures(metrics, cascades)
    queues = metrics.queues.values()
    measured_hours = (job.duration - job.warmup) / 3600
    cascades_done = sum(len(samples) for samples in cascades.latency.values())
    figures[ALL] = {
        "done_per_hour": cascades_done / measured_hours,
        "throughput_per_hour": metrics.throughput,
        **_queue_figures(metrics.queues[TRIGGER]),
        "left_queued": float(sum(sum(q.queued_at_end.values()) for q in queues)),
        **_percentile_figures("wait", percentiles(itertools.chain.from_iterable(waits))),
        **_percentile_figures("latency", percentiles(itertools.chain.from_iterable(latencies))),
        **_percentile_figures("e2e", percentiles(itertools.chain.from_iterable(cascades.latency.values()))),
    }
    trigger = metrics.queues[TRIGGER]
    return Replication(job=job, figures=figures, series=trigger.length.mean, interval=trigger.length.interval)


def run_shared_point(job: PointJob) -> Replication:
    """`run_point` on the design named by ``job``, from the designs the pool shares."""
    designs: Mapping[str, Scenario] = workers.shared()
    return run_point(designs[job.factors.variant], job)


def _figures(metrics: Metrics, cascades: Cascades) -> dict[str, dict[str, float]]:
    """The figures of each queue, campaign and priority class."""
    figures: dict[str, dict[str, float]] = {}
    for name, queue in metrics.queues.items():
        if not queue.wait.count and name != TRIGGER:
            continue  # a queue nothing used (the batch queue of a design with no batch)
        figures[f"queue:{name}"] = {
            **_queue_figures(queue),
            "left_queued": float(sum(queue.queued_at_end.values())),
            **_percentile_figures("wait", queue.wait),
        }
    for name, campaign in metrics.campaigns.items():
        figures[f"campaign:{name}"] = {
            "throughput_per_hour": campaign.throughput,
            "left_queued": float(campaign.queued_at_end),
            **_percentile_figures("wait", campaign.wait),
            **_percentile_figures("latency", campaign.latency),
            **_percentile_figures("e2e", percentiles(cascades.latency.get(name, ()))),
        }
    for name, (wait, latency) in metrics.priorities.items():
        figures[f"priority:{name}"] = {**_percentile_figures("wait", wait), **_percentile_figures("latency", latency)}
    return figures


def _queue_figures(queue: QueueMetrics) -> dict[str, float]:
    return {"utilization": queue.utilization, "queue_mean": queue.mean_length, "queue_max": float(queue.max_length)}


def _percentile_figures(name: str, sample: Percentiles) -> dict[str, float]:
    """mean, p50, p95 and p99 of ``sample`` as ``NAME_mean`` ...; none if it is empty."""
    if not sample.count:
        return {}
    return {
        f"{name}_mean": sample.mean,
        f"{name}_p50": sample.p50,
        f"{name}_p95": sample.p95,
        f"{name}_p99": sample.p99,
    }
