"""``sim run --report``: the page of one run, from the command line and in a real browser.

The browser test opens the page in headless chromium (the `browser` fixture, skipped
where chromium is not installed) and checks that every plot rendered and that the tables
hold the very figures ``--metrics`` wrote in the same run.
"""

from __future__ import annotations

import html
import json
import math
import re
import sys
from pathlib import Path

import attrs
import pytest
from conftest import Browser

import sim.observe.plots
from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: The tables whose rows are objects of the metrics JSON: table -> where its rows are.
METRICS_TABLES = {"campaigns": "campaigns", "queues": "queues", "priorities": "priorities"}


@attrs.frozen(kw_only=True)
class Written:
    """A run's report and its metrics."""

    report: Path
    metrics: Path


@pytest.fixture(scope="module")
def webinar(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """examples/webinar-backlog.toml run once with --report and --metrics (a queue, a burst)."""
    folder = tmp_path_factory.mktemp("webinar")
    report, metrics = folder / "out.html", folder / "m.json"
    argv = ["run", str(EXAMPLES / "webinar-backlog.toml"), "--report", str(report), "--metrics", str(metrics)]
    assert main(argv) == 0
    return Written(report=report, metrics=metrics)


def test_the_page_of_a_run_with_a_queue_has_every_plot_and_the_command(webinar: Written) -> None:
    page = webinar.report.read_text(encoding="utf-8")
    figures = re.findall(r'<figure data-figure="([^"]+)"><svg', page)
    assert figures == ["runs", "queue-length", "utilization", "latency", "waits"]
    assert f'<main data-figures="{len(figures)}">' in page
    command = f"sim run {EXAMPLES / 'webinar-backlog.toml'} --report {webinar.report} --metrics {webinar.metrics}"
    assert f'<code data-command="">{html.escape(command, quote=False)}</code>' in page
    for heading in ("Runs per campaign", "Campaign queue", "Latency and waits per campaign"):
        assert f"<h2>{heading}</h2>" in page
    assert "has no [queue]" not in page and "<h2>Races</h2>" not in page
    assert "http" not in page and "src=" not in page  # nothing to fetch
    assert set(re.findall(r'href="(.)', page)) == {"#"}  # links inside the SVGs only
    assert not list(webinar.report.parent.glob(".*.tmp"))


def test_the_page_of_a_run_without_a_queue_says_so_and_holds_the_race_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "races.html"
    assert main(["run", str(EXAMPLES / "racing-triggers.toml"), "--races", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    page = report.read_text(encoding="utf-8")
    assert "This scenario has no [queue]" in page
    assert "Every run ended at the instant it was admitted (latency 0)" in page
    assert re.findall(r'data-figure="([^"]+)"', page) == ["runs"]
    races = out[out.index("Races: ") :].strip()  # the text report, as printed
    assert f"<h2>Races</h2>\n<pre>{html.escape(races, quote=False)}</pre>" in page


def test_the_same_run_gives_the_same_page_byte_for_byte(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    argv = ["run", str(EXAMPLES / "racing-triggers.toml"), "--seed", "7", "--report", str(report)]
    assert main(argv) == 0
    first = report.read_bytes()
    assert main(argv) == 0
    assert report.read_bytes() == first


def test_a_report_is_checked_like_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text((EXAMPLES / "racing-triggers.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["run", str(scenario), "--report", str(scenario)]) == 2
    assert f"--report {scenario} is the scenario file itself" in capsys.readouterr().err
    same = str(tmp_path / "x")
    assert main(["run", str(scenario), "--metrics", same, "--report", same]) == 2
    assert "--metrics and --report are the same file" in capsys.readouterr().err
    assert main(["run", str(scenario), "--report", str(tmp_path / "no-such-dir" / "r.html")]) == 2
    assert f"there is no folder {tmp_path / 'no-such-dir'}; create it first" in capsys.readouterr().err


def test_a_report_on_standard_output_sends_the_summary_to_standard_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(EXAMPLES / "racing-triggers.toml"), "--report", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("<!DOCTYPE html>") and out.endswith("</html>\n")
    assert "Simulated 2h of virtual time" in err


def test_without_matplotlib_the_report_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert main(["run", str(EXAMPLES / "racing-triggers.toml"), "--report", str(tmp_path / "r.html")]) == 2
    out, err = capsys.readouterr()
    assert err == "error: --report needs matplotlib: pip install 'sim[plot]'\n"
    assert out == ""  # nothing ran
    assert sim.observe.plots.INSTALL_HINT in err


def test_a_run_stopped_early_still_writes_the_page_of_what_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the metrics: the run stops at its next task switch (here: the memory guard;
    Ctrl-C takes the same way), prints a partial summary and writes whole files."""
    import sim.scenario.estimate

    checks: list[int] = []

    def pressure() -> str | None:
        checks.append(1)
        return "the address-space limit (ulimit -v: 1.0 GB)" if len(checks) == 2 else None

    monkeypatch.setattr(sim.scenario.estimate, "memory_pressure", pressure)
    report = tmp_path / "r.html"
    report.write_text("the page of an earlier run", encoding="utf-8")
    assert main(["run", str(EXAMPLES / "webinar-backlog.toml"), "--report", str(report)]) == 2
    assert "INTERRUPTED after" in capsys.readouterr().out
    page = report.read_text(encoding="utf-8")
    assert "INTERRUPTED after" in page and "(partial results)" in page
    assert page.endswith("</html>\n")


def _json_number(metrics: dict[str, object], table: str, row: str, column: str) -> float:
    """The figure of ``metrics`` a table cell shows: ``column`` is a path such as "latency.p95"."""
    value: object = metrics if table == "overall" else metrics[METRICS_TABLES[table]][row]  # type: ignore[index]
    for key in column.split("."):
        value = value[key]  # type: ignore[index]
    assert isinstance(value, (int, float)), (table, row, column, value)
    return float(value)


def test_the_page_renders_in_a_browser_with_the_figures_of_the_metrics(webinar: Written, browser: Browser) -> None:
    browser.open(webinar.report)
    figures = browser.figures()
    assert len(figures) == int(browser.script("return document.querySelector('main').dataset.figures")) == 5
    for figure in figures:
        assert figure["svg"], figure
        assert figure["width"] > 300 and figure["height"] > 100, figure  # laid out at its size
        assert figure["drawn_width"] > 0 and figure["drawn_height"] > 0, figure  # and something drawn in it
    metrics = json.loads(webinar.metrics.read_text(encoding="utf-8"))
    tables = browser.tables()
    assert set(tables) == {"overall", "runs", "queues", "campaigns", "priorities"}
    assert set(tables["campaigns"]) == set(metrics["campaigns"])
    assert set(tables["queues"]) == set(metrics["queues"])
    compared = 0
    for table in ("overall", *METRICS_TABLES):
        for row, cells in tables[table].items():
            for column, cell in cells.items():
                if cell["value"] is None:
                    continue  # text (a name, a class) or "-": no sample
                assert cell["text"].strip(), (table, row, column)  # shown, not only in an attribute
                assert math.isclose(float(cell["value"]), _json_number(metrics, table, row, column), rel_tol=0), (
                    table,
                    row,
                    column,
                )
                compared += 1
    assert compared > 100
    runs = tables["runs"]
    for name, campaign in metrics["campaigns"].items():
        assert int(runs[name]["started"]["value"]) == campaign["started"]
        assert int(runs[name]["completed"]["value"]) == campaign["completed"]
