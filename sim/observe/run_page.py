"""``sim run --report``: the HTML page of one run (`sim.observe.page`, plots from
`sim.observe.plots`).

What ran (scenario, seed, strategy, virtual time), runs per campaign, the campaign queue
over time (length and busy workers), the distributions of latency and of waits per
campaign from every sample, the metrics tables with the exact figures of ``--metrics``,
and the race report with ``--races``. Nothing on it depends on the wall clock or the
machine, so the same run gives the same page, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sim.observe.metrics import Measurement, Metrics, Percentiles
from sim.observe.page import Cell, Column, Number, Page, Row
from sim.observe.plots import Bars, Distribution, Steps, bar_chart, distribution_plot, step_plot
from sim.observe.report import format_seconds
from sim.observe.summary import Summary
from sim.scenario.units import format_duration

#: The columns of a `Percentiles` in a table: (title, key).
_SPREAD = (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max"))

NO_QUEUE = (
    "This scenario has no [queue]: every run starts the moment it is admitted and its steps take no time, so "
    "there is no queue length, wait or utilization to show (docs/queue.md)."
)


def run_page(
    *, command: str, summary: Summary, metrics: Metrics, measurement: Measurement, races: str | None = None
) -> str:
    """The page of one run: ``command`` as typed, ``metrics`` from ``measurement`` (which
    keeps every latency and wait sample), and ``races`` the text of the race report."""
    page = Page(title=f"sim run: {summary.source}", command=command)
    _what_ran(page, summary, metrics)
    _runs(page, summary, metrics)
    _queues(page, metrics, measurement)
    _latency(page, metrics, measurement)
    if races is not None:
        page.section("Races")
        page.preformatted(races)
    return page.html()


def _what_ran(page: Page, summary: Summary, metrics: Metrics) -> None:
    simulated = format_duration(summary.virtual_time)
    if summary.interrupted:
        simulated = f"INTERRUPTED after {simulated} of {format_duration(summary.duration)} (partial results)"
    page.facts(
        [
            ("scenario", summary.source),
            ("seed", str(summary.seed)),
            ("strategy", summary.strategy),
            ("simulated", simulated),
            ("people", f"{summary.people:,}"),
            ("steps", f"{summary.steps:,}"),
            ("activities", f"{sum(summary.activities.values()):,}"),
            (
                "throughput",
                f"{metrics.throughput:,.0f} runs completed and {metrics.steps_per_hour:,.0f} steps per hour",
            ),
        ]
    )
    page.table(
        name="overall",
        columns=[
            Column(title="", key=""),
            Column(title="simulated", key="duration"),
            Column(title="runs completed / h", key="throughput"),
            Column(title="steps / h", key="steps_per_hour"),
        ],
        rows=[
            Row(
                key="all",
                cells=(
                    "all campaigns",
                    Number(value=metrics.duration, shown=format_duration(metrics.duration)),
                    Number(value=metrics.throughput, shown=f"{metrics.throughput:,.0f}"),
                    Number(value=metrics.steps_per_hour, shown=f"{metrics.steps_per_hour:,.0f}"),
                ),
            )
        ],
    )


def _runs(page: Page, summary: Summary, metrics: Metrics) -> None:
    page.section("Runs per campaign")
    names = list(summary.campaigns)
    if not names:
        page.paragraph("No campaign ran.", note=True)
        return
    queued = [metrics.campaigns[name].queued_at_end if name in metrics.campaigns else 0 for name in names]
    groups = [
        Bars(label="started", values=tuple(summary.campaigns[n].started for n in names)),
        Bars(label="completed", values=tuple(summary.campaigns[n].completed for n in names)),
    ]
    if any(queued):
        groups.append(Bars(label="queued at the end", values=tuple(queued)))
    page.figure(bar_chart(names, groups, title="Runs per campaign", xlabel="runs"), name="runs")
    titles = ("started", "completed", "skipped", "removed", "stopped", "in progress", "steps")
    page.table(
        name="runs",
        columns=[Column(title="Campaign", key="name"), *(Column(title=t, key=t.replace(" ", "_")) for t in titles)],
        rows=[
            Row(key=name, cells=(name, t.started, t.completed, t.skipped, t.removed, t.stopped, t.in_progress, t.steps))
            for name, t in summary.campaigns.items()
        ],
    )


def _queues(page: Page, metrics: Metrics, measurement: Measurement) -> None:
    page.section("Campaign queue")
    if not metrics.queues:
        page.paragraph(NO_QUEUE, note=True)
        return
    length = [
        Steps(label=q.name, interval=q.length.interval, mean=q.length.mean, max=q.length.max)
        for q in metrics.queues.values()
    ]
    page.figure(
        step_plot(length, title="Queue length over time (runs waiting for a worker)", ylabel="runs waiting"),
        name="queue-length",
        caption="Per bin of the simulated window: the time-weighted mean (filled) and the maximum (line).",
    )
    busy = []
    for q in metrics.queues.values():
        means, _ = measurement.queues[q.name].busy.series()  # the max: 100% at any instant of work
        busy.append(
            Steps(
                label=f"{q.name} ({q.workers:,} workers)",
                interval=q.length.interval,
                mean=tuple(100 * m / q.workers for m in means),
            )
        )
    page.figure(
        step_plot(busy, title="Busy workers over time (utilization)", ylabel="busy workers (% of workers)"),
        name="utilization",
        caption="Per bin: the time-weighted mean of busy workers over workers; 100% is saturated.",
    )
    page.table(
        name="queues",
        columns=[
            Column(title="Queue", key="name"),
            Column(title="workers", key="workers"),
            Column(title="busy", key="utilization"),
            Column(title="mean length", key="mean_length"),
            Column(title="max length", key="max_length"),
            *_spread_columns("wait"),
            Column(title="in service at end", key="in_service_at_end"),
            Column(title="oldest waiting at end", key="oldest_queued_at_end"),
        ],
        rows=[
            Row(
                key=q.name,
                cells=(
                    q.name,
                    q.workers,
                    Number(value=q.utilization, shown=f"{q.utilization:.0%}"),
                    Number(value=q.mean_length, shown=f"{q.mean_length:,.1f}"),
                    q.max_length,
                    *_spread(q.wait),
                    q.in_service_at_end,
                    _seconds(q.oldest_queued_at_end),
                ),
            )
            for q in metrics.queues.values()
        ],
        caption="Queues (waits for a worker: p50 / p95 / p99 / max)",
    )


def _latency(page: Page, metrics: Metrics, measurement: Measurement) -> None:
    page.section("Latency and waits per campaign")
    names = list(metrics.campaigns)
    latency = _distributions(names, [measurement.runs.latency])
    if latency and not any(d.values[-1] for d in latency):
        page.paragraph(
            "Every run ended at the instant it was admitted (latency 0): without a [queue], Waits or webhook "
            "calls no time passes in a run, so there is no distribution to show.",
            note=True,
        )
    elif latency:
        page.figure(
            distribution_plot(latency, title="Latency per campaign: admission to end", xlabel="latency"),
            name="latency",
            caption="Share of each campaign's ended runs whose latency was at most x (every sample; the legend "
            "gives their number). Queueing, service, Waits and webhook calls included. On a log scale, a line "
            "starts at the left edge at the share of latencies of 0.",
        )
    else:
        page.paragraph("No run ended: there is no latency to show.", note=True)
    if metrics.queues:
        waits = _distributions(names, [stats.waits for stats in measurement.queues.values()])
        if waits:
            page.figure(
                distribution_plot(waits, title="Waits for a worker per campaign", xlabel="wait"),
                name="waits",
                caption="Share of each campaign's waits (from asking for a worker to getting one) at most x. On "
                "a log scale, a line starts at the left edge at the share of waits of 0 (a worker was free).",
            )
    page.table(
        name="campaigns",
        columns=[
            Column(title="Campaign", key="name"),
            Column(title="priority", key="priority"),
            Column(title="runs", key="started"),
            Column(title="completed", key="completed"),
            Column(title="done/h", key="throughput"),
            *_spread_columns("wait"),
            *_spread_columns("latency"),
            Column(title="left queued", key="queued_at_end"),
        ],
        rows=[
            Row(
                key=c.name,
                cells=(
                    c.name,
                    c.priority,
                    c.started,
                    c.completed,
                    Number(value=c.throughput, shown=f"{c.throughput:,.0f}"),
                    *_spread(c.wait),
                    *_spread(c.latency),
                    c.queued_at_end,
                ),
            )
            for c in metrics.campaigns.values()
        ],
        caption="Campaigns (wait and latency: p50 / p95 / p99 / max; - where there is no sample)",
    )
    if metrics.priorities:
        page.table(
            name="priorities",
            columns=[Column(title="Priority class", key=""), *_spread_columns("wait"), *_spread_columns("latency")],
            rows=[
                Row(key=name, cells=(f"all {name}, all queues", *_spread(wait), *_spread(latency)))
                for name, (wait, latency) in metrics.priorities.items()
            ],
        )


def _distributions(names: Sequence[str], sources: Iterable[Mapping[str, Sequence[float]]]) -> list[Distribution]:
    """Each campaign's samples from all ``sources`` (e.g. its waits in each queue)."""
    gathered: dict[str, list[float]] = {}
    for source in sources:
        for name, values in source.items():
            gathered.setdefault(name, []).extend(values)
    return [Distribution.of_samples(name, gathered[name]) for name in names if gathered.get(name)]


def _spread_columns(what: str) -> list[Column]:
    return [
        Column(title=f"{what} {title}" if i == 0 else title, key=f"{what}.{key}")
        for i, (title, key) in enumerate(_SPREAD)
    ]


def _spread(p: Percentiles) -> tuple[Cell, ...]:
    if not p.count:
        return (Number(value=None, shown="-"),) * len(_SPREAD)  # no sample: not a wait of 0
    return tuple(_seconds(getattr(p, key)) for _, key in _SPREAD)


def _seconds(value: float) -> Number:
    return Number(value=value, shown=format_seconds(value))
