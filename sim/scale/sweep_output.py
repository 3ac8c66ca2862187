"""A sweep's results as the user reads them: a table on the terminal, CSV and JSON.

The CSV is tidy, one row per point, scope and figure, so a spreadsheet or pandas can
pivot it any way; it holds no wall time or host, so the same sweep writes the same bytes
however and wherever it ran. Columns and figures: docs/sweeps.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import attrs

from sim.scale.point import ALL
from sim.scale.statistics import Estimate
from sim.scale.sweep import PointResult, Saturation, SweepResult
from sim.scale.theory import Prediction

CSV_COLUMNS = (
    "variant",
    "workers",
    "load",
    "scope",
    "figure",
    "replications",
    "mean",
    "ci_low",
    "ci_high",
    "erlang_c",
)

#: The figures of a point that Erlang C predicts (`sim.scale.theory.Prediction` has each).
THEORY_FIGURES = frozenset(
    ("utilization", "queue_mean", "wait_mean", "wait_p50", "wait_p95", "wait_p99", "latency_mean")
)

#: The table's columns: (heading, figure of the "all" scope, digits after the point).
TABLE_FIGURES = (
    ("done/h", "done_per_hour", 0),
    ("util", "utilization", 3),
    ("queue mean", "queue_mean", 1),
    ("queue max", "queue_max", 0),
    ("wait p95 s", "wait_p95", 2),
    ("latency p95 s", "latency_p95", 2),
    ("e2e p95 s", "e2e_p95", 2),
    ("left queued", "left_queued", 0),
)


def number(value: float) -> str:
    """A figure as the CSV and JSON write it: up to 9 significant digits."""
    return f"{value:.9g}"


def theory_of(prediction: Prediction | None, figure: str) -> float | None:
    """Erlang C's value of ``figure`` at a point (None: no theory for it)."""
    if prediction is None or figure not in THEORY_FIGURES:
        return None
    return float(getattr(prediction, figure))


def csv_rows(result: SweepResult) -> Iterator[tuple[str, ...]]:
    """The CSV's rows after the header: every figure of every point, scope by scope."""
    for point in result.points:
        factors = point.factors
        for scope, figures in point.figures.items():
            for figure, value in figures.items():
                theory = theory_of(point.theory, figure) if scope == ALL else None
                yield (
                    factors.variant,
                    str(factors.workers),
                    number(factors.load),
                    scope,
                    figure,
                    str(value.n),
                    number(value.mean),
                    number(value.low),
                    number(value.high),
                    "" if theory is None else number(theory),
                )


def format_csv(result: SweepResult) -> str:
    """The whole CSV file's text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(result))
    return out.getvalue()


def to_json(result: SweepResult) -> dict[str, Any]:
    """The whole sweep as JSON-ready data: spec, points (figures with intervals, the
    queue-length series, Erlang C) and saturation."""
    return {
        "spec": attrs.asdict(result.spec),
        "complete": result.complete,
        "jobs_done": result.jobs_done,
        "jobs": result.jobs,
        "points": [_point_json(point) for point in result.points],
        "saturation": [_saturation_json(s) for s in result.saturation],
    }


def _estimate_json(value: Estimate) -> dict[str, float | int]:
    return {"mean": value.mean, "ci_low": value.low, "ci_high": value.high, "n": value.n}


def _point_json(point: PointResult) -> dict[str, Any]:
    return {
        **attrs.asdict(point.factors),
        "replications": point.replications,
        "backed_up": point.backed_up,
        "figures": {
            scope: {name: _estimate_json(value) for name, value in figures.items()}
            for scope, figures in point.figures.items()
        },
        "erlang_c": None if point.theory is None else attrs.asdict(point.theory),
        "queue_length": {"interval": point.interval, "mean": list(point.series)},
    }


def _saturation_json(saturation: Saturation) -> dict[str, Any]:
    data = attrs.asdict(saturation)
    data["estimate"] = None if saturation.estimate is None else _estimate_json(saturation.estimate)
    return data


def format_table(result: SweepResult) -> str:
    """The terminal's table: one line per point (mean ± half the 95% interval), then
    each variant's saturation."""
    theory = any(point.theory is not None for point in result.points)
    header = ["variant", "workers", "load", *(heading for heading, _, _ in TABLE_FIGURES)]
    if theory:
        header += ["wait mean s", "Erlang C"]
    rows = [header]
    for point in result.points:
        figures = point.figures[ALL]
        cells = [point.factors.variant, str(point.factors.workers), f"{point.factors.load:g}x"]
        for _, name, digits in TABLE_FIGURES:
            value = figures.get(name)
            cells.append("-" if value is None else _plus_minus(value, digits))
        if theory:
            wait = figures.get("wait_mean")
            cells.append("-" if wait is None else _plus_minus(wait, 2))
            cells.append("-" if point.theory is None else f"{point.theory.wait_mean:,.2f}")
        if point.backed_up:
            cells[2] += " !"
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = [*lines, "", *format_saturation(result)]
    if any(p.backed_up for p in result.points):
        out.insert(len(lines), "! the trigger queue backs up at this point: it is busy and still growing at the end")
    if not result.complete:
        out.append(f"stopped: {result.jobs_done:,} of {result.jobs:,} simulations ran; the figures are theirs")
    return "\n".join(out) + "\n"


def _plus_minus(value: Estimate, digits: int) -> str:
    text = f"{value.mean:,.{digits}f}"
    if value.n > 1:
        text += f" ±{value.half_width:,.{digits}f}"
    return text


def format_saturation(result: SweepResult) -> list[str]:
    """One line per variant and worker count: where its trigger queue stops draining."""
    lines = ["Saturation: the load at which the trigger queue stops draining"]
    for s in result.saturation:
        parts = []
        if s.estimate is not None:
            e = s.estimate
            interval = f" (95% CI {e.low:.2f}x-{e.high:.2f}x)" if e.n > 1 else ""
            parts.append(f"{e.mean:.2f}x{interval} from utilization")
        else:
            parts.append("no point below 90% utilization to estimate it from")
        if s.first_backed_up is not None:
            drained = f", drains at {s.last_drained:g}x" if s.last_drained is not None else ""
            parts.append(f"backs up at {s.first_backed_up:g}x{drained}")
        else:
            parts.append("drains at every load swept")
        if s.theory is not None:
            parts.append(f"Erlang C (M/M/c): {s.theory:.2f}x")
        lines.append(f"  {s.variant}, {s.workers} workers: " + "; ".join(parts))
    return lines
