"""The plot helpers (sim.observe.plots): SVG documents, the same bytes for the same data,
durations in readable units, distributions from samples or percentiles."""

from __future__ import annotations

import html
import random
import re
import sys

import pytest

from sim.observe.metrics import Percentiles, percentiles
from sim.observe.plots import (
    Bars,
    Distribution,
    Line,
    Marker,
    PlottingUnavailable,
    Steps,
    bar_chart,
    distribution_plot,
    duration_label,
    line_plot,
    require_matplotlib,
    step_plot,
)


def _texts(svg: str) -> list[str]:
    """The text a plot shows (drawn as <text>, not as glyph outlines)."""
    return [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.DOTALL)]


def _every_plot() -> dict[str, str]:
    rng = random.Random(1)
    samples = [0.0] * 10 + [rng.expovariate(2.0) for _ in range(2000)]
    return {
        "line": line_plot(
            [100, 200, 400],
            [
                Line(label="fifo", y=(0.1, 0.5, 30.0), low=(0.05, 0.4, 20.0), high=(0.2, 0.7, 45.0)),
                Line(label="random", y=(0.1, 0.6, 40.0), error=(0.01, 0.1, 5.0)),
            ],
            title="Latency p95 against load",
            xlabel="arrivals per hour",
            ylabel="latency p95",
            markers=[Marker(x=300, label="saturated")],
            y_seconds=True,
        ),
        "steps": step_plot(
            [Steps(label="trigger", interval=36.0, mean=(0.0, 2.5, 8.0, 1.0), max=(0, 4, 12, 3))],
            title="Queue length",
            ylabel="runs waiting",
        ),
        "bars": bar_chart(
            ["A & <B>", "C"],
            [Bars(label="started", values=(10, 20)), Bars(label="completed", values=(9, 20))],
            title="Runs",
            xlabel="runs",
        ),
        "distribution": distribution_plot(
            [Distribution.of_samples("Email", samples), Distribution.of_samples("none", [])],
            title="Latency",
            xlabel="latency",
        ),
    }


@pytest.fixture(scope="module")
def plots() -> dict[str, str]:
    return _every_plot()


def test_every_plot_is_an_svg_document_with_no_external_reference_and_no_date(plots: dict[str, str]) -> None:
    for name, svg in plots.items():
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>"), name
        assert "<image" not in svg and "<metadata" not in svg and "<dc:date" not in svg, name
        assert not re.search(r'(?:href|src)="(?!#)', svg), name  # links within the SVG only


def test_the_same_data_gives_the_same_bytes(plots: dict[str, str]) -> None:
    assert _every_plot() == plots


def test_names_are_escaped_and_labels_are_text(plots: dict[str, str]) -> None:
    svg = plots["bars"]
    assert "A &amp; &lt;B&gt;" in svg and "<B>" not in svg
    assert "A & <B>" in [html.unescape(t) for t in _texts(svg)]


def test_durations_get_a_unit_that_suits_them(plots: dict[str, str]) -> None:
    line = _texts(plots["line"])
    assert "latency p95 (log scale)" not in line  # linear: in seconds, the largest is 45 s
    assert "latency p95 (s)" in line and "saturated" in line
    distribution = _texts(plots["distribution"])
    assert "latency (log scale)" in distribution  # 0.1 ms to seconds: decades
    assert {"10ms", "100ms", "1s"} <= set(distribution)
    assert "Email (2,010)" in distribution and not any(t.startswith("none") for t in distribution)
    assert {"p50", "p95", "p99"} <= set(distribution)
    assert "simulated time (min)" in _texts(plots["steps"])  # 144 s


@pytest.mark.parametrize(
    ("seconds", "label"),
    [
        (0, "0"),
        (0.005, "5ms"),
        (0.1, "100ms"),
        (1, "1s"),
        (30, "30s"),
        (60, "1min"),
        (600, "10min"),
        (7200, "2h"),
        (172800, "2d"),
    ],
)
def test_duration_labels(seconds: float, label: str) -> None:
    assert duration_label(seconds) == label


def test_a_distribution_of_samples_keeps_the_extremes_and_at_most_its_points() -> None:
    samples = [float(i) for i in range(10_000, 0, -1)]
    d = Distribution.of_samples("x", samples, points=100)
    assert d.count == 10_000 and len(d.values) == 100
    assert d.values[0] == 1.0 and d.values[-1] == 10_000.0 and d.shares[-1] == 1.0
    assert list(d.values) == sorted(d.values) and list(d.shares) == sorted(d.shares)
    small = Distribution.of_samples("y", [3.0, 1.0, 2.0])
    assert small.values == (1.0, 2.0, 3.0) and small.shares == (1 / 3, 2 / 3, 1.0)
    assert Distribution.of_samples("z", []).count == 0


def test_a_distribution_of_percentiles() -> None:
    d = Distribution.of_percentiles("x", percentiles([1.0, 2.0, 3.0, 4.0]))
    assert d.values == (2.0, 4.0, 4.0, 4.0) and d.shares == (0.5, 0.95, 0.99, 1.0) and d.count == 4
    assert Distribution.of_percentiles("none", Percentiles()).values == ()


def test_without_matplotlib_a_plot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlottingUnavailable, match=re.escape("--report needs matplotlib: pip install 'sim[plot]'")):
        require_matplotlib()
    with pytest.raises(PlottingUnavailable, match="sim sweep --report needs matplotlib"):
        require_matplotlib("sim sweep --report")
    with pytest.raises(PlottingUnavailable):
        bar_chart(["a"], [Bars(label="x", values=(1,))], title="t", xlabel="x")


def test_importing_sim_does_not_import_matplotlib() -> None:
    import subprocess

    code = "import sys, sim, sim.cli, sim.observe.plots, sim.observe.run_page; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
