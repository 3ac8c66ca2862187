"""Plots for HTML reports, drawn by matplotlib as SVG text (`sim.observe.page` embeds them).

Generic on purpose: a run's page and a sweep's page draw with the same few helpers. Each
returns one SVG document as a string, the same bytes for the same data (a fixed hash salt,
no date, text as text), with no external reference. matplotlib is imported inside the
functions, so ``import sim`` stays light; `require_matplotlib` says how to install it.

Times are in seconds: an axis of seconds is drawn in the unit that suits its span (ms, s,
min, h, d), or on a log scale with ticks at round durations.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs

from sim.observe.metrics import Percentiles

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter
    from matplotlib.typing import RcKeyType

#: The message when matplotlib is missing (`require_matplotlib`).
INSTALL_HINT = "pip install 'sim[plot]'"
#: Width of every plot, in inches (the page scales it down on a narrow window).
WIDTH = 8.0
#: At most this many points of an empirical distribution are drawn (a quantile each).
DISTRIBUTION_POINTS = 256


class PlottingUnavailable(RuntimeError):
    """matplotlib is not installed: the report cannot be drawn."""


def require_matplotlib(option: str = "--report") -> None:
    """Fail with how to install matplotlib if it is missing, before any work is done."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlottingUnavailable(f"{option} needs matplotlib: {INSTALL_HINT}") from None


# -- what a plot shows ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Line:
    """One series of a line plot: ``y`` at the plot's x values; optionally a band from
    ``low`` to ``high`` (e.g. a confidence interval) or error bars of ``error`` either side."""

    label: str
    y: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None
    error: tuple[float, ...] | None = None


@attrs.frozen(kw_only=True)
class Marker:
    """A vertical line at ``x`` with a label (e.g. where a queue saturates)."""

    x: float
    label: str


@attrs.frozen(kw_only=True)
class Steps:
    """A binned time series: per bin of ``interval`` seconds from 0, the mean and
    (optionally) the maximum held in it."""

    label: str
    interval: float
    mean: tuple[float, ...]
    max: tuple[float, ...] | None = None


@attrs.frozen(kw_only=True)
class Bars:
    """One group of a bar chart: a value per category."""

    label: str
    values: tuple[float, ...]


@attrs.frozen(kw_only=True)
class Distribution:
    """An empirical distribution: at each value (ascending), the share of the sample at
    or below it. Made from every sample (`of_samples`) or from percentiles (`of_percentiles`)."""

    label: str
    values: tuple[float, ...]
    shares: tuple[float, ...]
    count: int

    @classmethod
    def of_samples(cls, label: str, samples: Sequence[float], *, points: int = DISTRIBUTION_POINTS) -> Distribution:
        """At most ``points`` quantiles of ``samples``, the smallest and largest included."""
        ordered = sorted(samples)
        n = len(ordered)
        if n == 0:
            return cls(label=label, values=(), shares=(), count=0)
        shown = min(n, points)
        kept = sorted({round(k * (n - 1) / max(1, shown - 1)) for k in range(shown)})
        return cls(
            label=label, values=tuple(ordered[i] for i in kept), shares=tuple((i + 1) / n for i in kept), count=n
        )

    @classmethod
    def of_percentiles(cls, label: str, p: Percentiles) -> Distribution:
        """The p50, p95, p99 and max of a `Percentiles` (when the samples are gone)."""
        if not p.count:
            return cls(label=label, values=(), shares=(), count=0)
        return cls(label=label, values=(p.p50, p.p95, p.p99, p.max), shares=(0.5, 0.95, 0.99, 1.0), count=p.count)


# -- the plots -------------------------------------------------------------------------


def line_plot(
    x: Sequence[float],
    lines: Sequence[Line],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    markers: Sequence[Marker] = (),
    y_seconds: bool = False,
    log_x: bool = False,
    log_y: bool = False,
) -> str:
    """Several series against ``x``, each with its band or error bars, and labelled
    vertical markers (e.g. latency p95 against load per variant, saturation marked)."""
    with _figure(height=3.6) as (figure, ax):
        scale = 1.0
        if y_seconds:
            everything = [v for line in lines for v in (*line.y, *(line.high or ()))]
            scale, ylabel = _seconds_axis(ax, "y", everything, ylabel, log=log_y)
        elif log_y:
            ax.set_yscale("log")
        if log_x:
            ax.set_xscale("log")
        for line in lines:
            y = [v / scale for v in line.y]
            error = None if line.error is None else [e / scale for e in line.error]
            drawn = ax.errorbar(list(x), y, yerr=error, label=line.label, marker="o", markersize=3, capsize=3)
            if line.low is not None and line.high is not None:
                color = drawn.lines[0].get_color()
                low, high = [v / scale for v in line.low], [v / scale for v in line.high]
                ax.fill_between(list(x), low, high, color=color, alpha=0.2, linewidth=0)
        for marker in markers:
            ax.axvline(marker.x, color="0.35", linestyle="--", linewidth=1)
            ax.annotate(
                marker.label,
                (marker.x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=8,
                color="0.25",
            )
        _finish(ax, title=title, xlabel=xlabel, ylabel=ylabel, legend=len(lines) > 1)
        return _svg(figure)


def step_plot(
    series: Sequence[Steps],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "simulated time",
    shade: tuple[float, float] | None = None,
) -> str:
    """Binned time series against simulated time: the mean of each bin as a filled step
    area, its maximum as a thin step line above (e.g. queue length over time). ``shade``
    greys the span (start, end) in seconds, with a dotted line at its end (a warm-up)."""
    with _figure(height=3.2) as (figure, ax):
        span = max((s.interval * len(s.mean) for s in series), default=1.0)
        factor, unit = _unit(span)
        if shade is not None:
            ax.axvspan(shade[0] / factor, shade[1] / factor, color="0.92", linewidth=0)
            ax.axvline(shade[1] / factor, color="0.5", linestyle=":", linewidth=1)
        for index, s in enumerate(series):
            color = f"C{index}"
            edges = [i * s.interval / factor for i in range(len(s.mean) + 1)]
            mean = [*s.mean, s.mean[-1]] if s.mean else []
            label = f"{s.label}: mean" if s.max is not None else s.label
            ax.fill_between(edges, mean, step="post", alpha=0.4, linewidth=0, color=color, label=label)
            if s.max is not None:
                ax.step(edges, [*s.max, s.max[-1]], where="post", linewidth=0.9, color=color, label=f"{s.label}: max")
        ax.set_xlim(0, span / factor)
        ax.set_ylim(bottom=0)
        _finish(ax, title=title, xlabel=f"{xlabel} ({unit})", ylabel=ylabel, legend=True)
        return _svg(figure)


def bar_chart(categories: Sequence[str], groups: Sequence[Bars], *, title: str, xlabel: str) -> str:
    """Horizontal bars, one group per `Bars`, each category a row (long names stay
    readable); every bar labelled with its value."""
    rows = len(categories)
    with _figure(height=1.2 + 0.17 * rows * max(1, len(groups))) as (figure, ax):
        thickness = 0.8 / max(1, len(groups))
        for index, group in enumerate(groups):
            positions = [row + (index - (len(groups) - 1) / 2) * thickness for row in range(rows)]
            bars = ax.barh(positions, group.values, height=thickness, label=group.label)
            ax.bar_label(bars, labels=[f"{v:,.0f}" for v in group.values], padding=2, fontsize=7)
        ax.set_yticks(range(rows), [_shorten(c) for c in categories])
        ax.invert_yaxis()  # the first category on top, as in the table
        ax.margins(x=0.12)
        _finish(ax, title=title, xlabel=xlabel, ylabel="", legend=len(groups) > 1)
        return _svg(figure)


def distribution_plot(
    distributions: Sequence[Distribution], *, title: str, xlabel: str, guides: Sequence[float] = (0.5, 0.95, 0.99)
) -> str:
    """Empirical cumulative distributions of durations (seconds), one line each, with
    dotted guides at the shares in ``guides`` (p50, p95, p99): read a percentile where a
    line crosses a guide. Durations spanning decades go on a log scale; zeros then sit at
    the left edge, where each line starts at the share of its sample that was 0."""
    shown = [d for d in distributions if d.count]
    with _figure(height=3.6) as (figure, ax):
        values = [v for d in shown for v in d.values]
        scale, xlabel = _seconds_axis(ax, "x", values, xlabel, log=None)
        log = ax.get_xscale() == "log"
        if not log:
            ax.set_xlim(left=0)  # durations: nothing below 0
        left = min((v for v in values if v > 0), default=1.0) / scale
        for d in shown:
            xs = [max(v / scale, left) if log else v / scale for v in d.values]
            ax.step([xs[0], *xs], [0.0, *d.shares], where="post", label=f"{_shorten(d.label)} ({d.count:,})")
        for share in guides:
            ax.axhline(share, color="0.6", linestyle=":", linewidth=0.8)
            above = share != 0.95  # p95 below its line, so that it stays clear of p99's
            ax.annotate(
                f"p{share * 100:g}",
                (0.0, share),
                xycoords=("axes fraction", "data"),
                xytext=(3, 1 if above else -1),
                textcoords="offset points",
                va="bottom" if above else "top",
                fontsize=7,
                color="0.4",
            )
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(_formatter(lambda v: f"{v:.0%}"))
        _finish(ax, title=title, xlabel=xlabel, ylabel="share of runs at or below", legend=bool(shown))
        return _svg(figure)


# -- drawing ---------------------------------------------------------------------------


@contextlib.contextmanager
def _figure(*, height: float) -> Iterator[tuple[Figure, Axes]]:
    """A figure of one axes, drawn with the settings that make the SVG deterministic."""
    require_matplotlib()
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(WIDTH, height), layout="constrained")
        yield figure, figure.add_subplot()


#: Settings for every plot: the same bytes for the same data, plain text, a quiet style.
_RC: dict[RcKeyType, object] = {
    "svg.hashsalt": "sim",  # ids from the content, not from a random salt
    "svg.fonttype": "none",  # text as <text>: small, selectable, no embedded glyphs
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.9",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.fontsize": 8,
    "legend.frameon": False,
}


def _svg(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue().decode("utf-8")
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    return text[text.index("<svg") :]  # no XML declaration or DOCTYPE: it goes inline


def _finish(ax: Axes, *, title: str, xlabel: str, ylabel: str, legend: bool) -> None:
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:  # beside the plot, where it hides nothing
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _shorten(label: str, width: int = 40) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _formatter(format_value: Callable[[float], str]) -> Formatter:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _position: format_value(value))


# -- axes of seconds -------------------------------------------------------------------

#: (seconds in one, name), largest first.
_UNITS = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"), (0.001, "ms"))
#: Round durations a log axis puts its ticks on: coarse, then fine for a narrow span.
_COARSE_TICKS = (0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 36000, 86400, 864000)
_FINE_TICKS = (
    *sorted({m * d for d in (0.001, 0.01, 0.1, 1) for m in (1, 2, 5)}),
    *(10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 432000, 864000),
)


def _unit(span: float) -> tuple[float, str]:
    """The unit to show ``span`` seconds in: the largest of which it is at least 2."""
    for factor, name in _UNITS:
        if span >= 2 * factor:
            return factor, name
    return 0.001, "ms"


def duration_label(seconds: float) -> str:
    """A round duration as a tick label: 1ms, 10s, 5min, 1h, 2d."""
    if seconds == 0:
        return "0"
    factor, name = next(((f, n) for f, n in _UNITS if seconds >= f), _UNITS[-1])
    return f"{seconds / factor:g}{name}"


def _seconds_axis(ax: Axes, which: str, values: Sequence[float], label: str, *, log: bool | None) -> tuple[float, str]:
    """Set the ``which`` axis ("x" or "y") up for durations: (the factor to divide the data by, the label with
    its unit). ``log`` None: a log scale when the positive values span over two decades."""
    positive = [v for v in values if v > 0]
    low, high = (min(positive), max(positive)) if positive else (0.0, 0.0)
    if log is None:
        log = bool(positive) and high / low > 100
    if not log:
        factor, unit = _unit(max(values, default=0.0))
        return factor, f"{label} ({unit})"
    from matplotlib.ticker import FixedLocator, NullLocator

    if which == "x":
        ax.set_xscale("log")
    else:
        ax.set_yscale("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    ticks = [t for t in _COARSE_TICKS if low <= t <= high * 1.5]
    if len(ticks) < 3:
        ticks = [t for t in _FINE_TICKS if low / 1.5 <= t <= high * 1.5]
    axis.set_major_locator(FixedLocator(list(_thin(ticks, 9))))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(_formatter(duration_label))
    return 1.0, f"{label} (log scale)"


def _thin(ticks: Sequence[float], most: int) -> Iterator[float]:
    step = max(1, math.ceil(len(ticks) / most))
    return iter(ticks[::step])
