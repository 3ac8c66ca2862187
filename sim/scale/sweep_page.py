"""``sim sweep --report``: the sweep as one self-contained HTML page.

What it shows, top to bottom: how the sweep was made (the command, designs, factors,
warm-up, where it ran); each design's saturation; latency percentiles, waits,
utilization and cascades done per hour against load, one line per design and worker
count with its 95% band and the saturation marked; the trigger queue's length over
time at a few loads; then the table of every point and the table per campaign, each
cell holding the exact figure the CSV has (``data-value``). docs/sweeps.md, "The report".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sim.observe.page import Cell, Column, Number, Page, Row
from sim.observe.plots import Line, Marker, Steps, line_plot, step_plot
from sim.scale.point import ALL
from sim.scale.statistics import Estimate
from sim.scale.sweep import PointResult, SweepResult, lines_of
from sim.scale.sweep_output import format_saturation, number

#: The figures of the point table: (column key = the CSV's figure, heading, digits).
POINT_COLUMNS = (
    ("done_per_hour", "done/h", 0),
    ("throughput_per_hour", "runs/h", 0),
    ("utilization", "utilization", 3),
    ("queue_mean", "queue mean", 2),
    ("queue_max", "queue max", 0),
    ("wait_mean", "wait mean s", 2),
    ("wait_p95", "wait p95 s", 2),
    ("latency_p95", "latency p95 s", 2),
    ("e2e_p50", "e2e p50 s", 2),
    ("e2e_p95", "e2e p95 s", 2),
    ("e2e_p99", "e2e p99 s", 2),
    ("left_queued", "left queued", 0),
)
CAMPAIGN_COLUMNS = (
    ("throughput_per_hour", "runs/h", 0),
    ("wait_p50", "wait p50 s", 2),
    ("wait_p95", "wait p95 s", 2),
    ("wait_p99", "wait p99 s", 2),
    ("latency_p50", "latency p50 s", 2),
    ("latency_p95", "latency p95 s", 2),
    ("latency_p99", "latency p99 s", 2),
    ("left_queued", "left queued", 0),
)


def format_sweep_page(result: SweepResult, *, command: str, backend: str, seconds: float) -> str:
    """The whole page of ``result``, made by ``command`` on ``backend`` in ``seconds``."""
    spec = result.spec
    page = Page(title=f"sim sweep: {', '.join(spec.variants)}", command=command)
    page.facts(_facts(result, backend=backend, seconds=seconds))
    if not result.complete:
        page.paragraph(
            f"Stopped early: {result.jobs_done:,} of {result.jobs:,} simulations ran; every figure is theirs.",
            note=True,
        )
    page.section("Saturation")
    page.paragraph(
        "The load multiplier at which each design's trigger queue stops draining: estimated from utilization "
        "(a line through the points below 90%, saturation where it reaches 1), and where the grid first backs "
        "up (busy and still growing); Erlang C's where the design is M/M/c. docs/sweeps.md, 'Saturation'."
    )
    page.preformatted("\n".join(format_saturation(result)[1:]))
    _against_load(page, result)
    page.section("Queue length over time")
    page.paragraph(
        "The trigger queue's time-weighted mean length per bin, averaged over replications, at the lowest load, "
        "the last that drains and the first that backs up. Left of the dotted line is the warm-up, left out of "
        "every figure."
    )
    for line in lines_of(result.points):
        page.figure(_queue_plot(result, line), name=f"queue-{_key(line[0].factors.variant, line[0].factors.workers)}")
    page.section("Every point")
    page.table(name="points", columns=_columns(POINT_COLUMNS), rows=[_point_row(p) for p in result.points],
               caption="Mean over replications ± half its 95% interval; the CSV has the intervals' ends.")  # fmt: skip
    page.section("By campaign")
    page.table(name="campaigns", columns=_columns(CAMPAIGN_COLUMNS), rows=_campaign_rows(result.points))
    return page.html()


def _facts(result: SweepResult, *, backend: str, seconds: float) -> list[tuple[str, str]]:
    spec = result.spec
    workers = ", ".join(str(w) for w in spec.workers) if spec.workers else "each design's own"
    duration = "each design's own" if spec.duration is None else f"{spec.duration:g} s"
    return [
        ("designs", ", ".join(spec.variants)),
        ("loads", ", ".join(f"{load:g}x" for load in spec.loads)),
        ("workers", workers),
        ("replications", f"{spec.replications} per point, seeds {spec.seed} to {spec.seed + spec.replications - 1}"),
        ("simulated", f"{duration} per replication, the first {spec.warmup:g} s left out (warm-up)"),
        ("ran", f"{result.jobs_done:,} of {result.jobs:,} simulations in {seconds:,.1f} s {backend}"),
    ]


def _label(point: PointResult, result: SweepResult) -> str:
    many_workers = len({p.factors.workers for p in result.points}) > 1
    return f"{point.factors.variant}, {point.factors.workers} workers" if many_workers else point.factors.variant


def _markers(result: SweepResult) -> list[Marker]:
    return [
        Marker(x=s.estimate.mean, label=f"{s.variant}: {s.estimate.mean:.2f}x")
        for s in result.saturation
        if s.estimate is not None and s.estimate.mean <= max(result.spec.loads) * 1.2
    ]


def _against_load(page: Page, result: SweepResult) -> None:
    """The figures against load, a line per design and worker count."""
    plots: list[tuple[str, str, str, bool]] = [
        ("e2e_p50", "End-to-end latency p50", "seconds", True),
        ("e2e_p95", "End-to-end latency p95", "seconds", True),
        ("e2e_p99", "End-to-end latency p99", "seconds", True),
        ("wait_p95", "Wait for a worker, p95", "seconds", True),
        ("utilization", "Trigger queue utilization", "busy workers / workers", False),
        ("done_per_hour", "Cascades done per hour", "per hour", False),
    ]
    page.section("Against load")
    page.paragraph(
        "Each line is a design (and worker count): the mean over replications, its 95% band shaded, the dashed "
        "lines where each saturates (from utilization). End-to-end latency runs from a cascade's first run to the "
        "end of its last (a request chain counts once); past saturation it leaves out the backlog still queued."
    )
    for figure, title, unit, seconds in plots:
        lines = []
        for line in lines_of(result.points):
            values = [p.figures[ALL].get(figure) for p in line]
            if any(v is None for v in values) or len(line) != len(result.spec.loads):
                continue  # a design that did not run at every load (stopped early): no line
            shown = [v for v in values if v is not None]
            lines.append(_series(_label(line[0], result), shown))
        if not lines:
            page.paragraph(f"{title}: no design ran at every load, nothing to draw.", note=True)
            continue
        svg = line_plot(
            list(result.spec.loads),
            lines,
            title=title,
            xlabel="load multiplier (x)",
            ylabel=unit,
            markers=_markers(result),
            y_seconds=seconds,
            log_y=seconds and _spans_decades(lines),
        )
        page.figure(svg, name=figure)


def _series(label: str, values: Sequence[Estimate]) -> Line:
    return Line(
        label=label,
        y=tuple(v.mean for v in values),
        low=tuple(v.low for v in values),
        high=tuple(v.high for v in values),
    )


def _spans_decades(lines: Sequence[Line]) -> bool:
    """Whether the values span more than two decades: then a log scale shows them all."""
    values = [v for line in lines for v in line.y if v > 0]
    return bool(values) and max(values) > 100 * min(values)


def _queue_plot(result: SweepResult, line: list[PointResult]) -> str:
    chosen: list[PointResult] = [line[0]]
    drained = [p for p in line if not p.backed_up]
    backed = [p for p in line if p.backed_up]
    for point in (drained[-1] if drained else None, backed[0] if backed else line[-1]):
        if point is not None and point not in chosen:
            chosen.append(point)
    first = line[0]
    series = [Steps(label=f"{p.factors.load:g}x", interval=p.interval, mean=p.series) for p in chosen]
    return step_plot(
        series,
        title=f"{_label(first, result)}: runs waiting for a worker",
        ylabel="queue length",
        shade=(0.0, result.spec.warmup) if result.spec.warmup else None,
    )


def _key(*parts: object) -> str:
    return "|".join(str(part) for part in parts)


def _columns(figures: Sequence[tuple[str, str, int]]) -> list[Column]:
    heads = [Column(title="design", key="variant"), Column(title="workers", key="workers"),
             Column(title="load", key="load")]  # fmt: skip
    return heads + [Column(title=title, key=key) for key, title, _ in figures]


def _cells(figures: Mapping[str, Estimate], columns: Sequence[tuple[str, str, int]]) -> list[Number]:
    cells = []
    for key, _, digits in columns:
        value = figures.get(key)
        if value is None:
            cells.append(Number(value=None, shown="-"))
        else:
            shown = f"{value.mean:,.{digits}f}" + (f" ±{value.half_width:,.{digits}f}" if value.n > 1 else "")
            cells.append(Number(value=float(number(value.mean)), shown=shown))
    return cells


def _factor_cells(point: PointResult) -> tuple[str, Number, Number]:
    f = point.factors
    load = f"{f.load:g}x" + (" !" if point.backed_up else "")
    return f.variant, Number(value=f.workers or 0, shown=str(f.workers)), Number(value=f.load, shown=load)


def _point_row(point: PointResult) -> Row:
    f = point.factors
    return Row(key=_key(f.variant, f.workers, number(f.load)),
               cells=(*_factor_cells(point), *_cells(point.figures[ALL], POINT_COLUMNS)))  # fmt: skip


def _campaign_rows(points: Sequence[PointResult]) -> list[Row]:
    rows = []
    for point in points:
        f = point.factors
        for scope, figures in point.figures.items():
            if not scope.startswith("campaign:"):
                continue
            name = scope.removeprefix("campaign:")
            variant, workers, load = _factor_cells(point)
            cells: tuple[Cell, ...] = (f"{variant}: {name}", workers, load, *_cells(figures, CAMPAIGN_COLUMNS))
            rows.append(Row(key=_key(f.variant, f.workers, number(f.load), name), cells=cells))
    return rows
