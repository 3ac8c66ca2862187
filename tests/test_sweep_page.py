"""``sim sweep --report``: the sweep's page, from the command line and in a real browser
(the `browser` fixture of conftest.py, skipped where chromium is not installed)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import attrs
import pytest
from conftest import Browser

from sim.cli import main

#: Two designs of one file: M/M/2 and the same on 3 workers (docs/sweeps.md).
DESIGNS = """
[sim]
seed = 1
duration = "40m"
[fields]
score = 0
[people]
count = 200
[queue]
workers = 2
[queue.service]
default = "0s"
change_score = { distribution = "exponential", mean = "10s" }
[campaigns."Score <&> \\"Co\\""]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "360/h"
arrivals = "poisson"
[variants.two]
[variants.three.queue]
workers = 3
"""


@attrs.frozen
class Swept:
    csv: Path
    report: Path


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    folder = tmp_path_factory.mktemp("sweep")
    design = folder / "designs.toml"
    design.write_text(DESIGNS)
    out = Swept(csv=folder / "sweep.csv", report=folder / "sweep.html")
    argv = ["sweep", str(design), "--load", "0.5x,1x,2.5x", "--replications", "2", "--jobs", "1",
            "--csv", str(out.csv), "--report", str(out.report)]  # fmt: skip
    assert main(argv) == 0
    return out


def test_the_page_quotes_the_command_and_needs_no_network(swept: Swept) -> None:
    page = swept.report.read_text(encoding="utf-8")
    assert "sweep.csv --report" in page
    assert "Score &lt;&amp;&gt; &quot;Co&quot;" in page  # a campaign's name, escaped
    assert not re.search(r"\b(src|href)=(?!\"#)", page), "the page fetches nothing"
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert 'data-figures="8"' in page  # six plots against load, a queue plot per design


def test_the_page_renders_every_plot_and_its_tables_hold_the_csv_figures(swept: Swept, browser: Browser) -> None:
    browser.open(swept.report)
    figures = browser.figures()
    assert len(figures) == int(browser.script("return document.querySelector('main').dataset.figures")) == 8
    for figure in figures:
        assert figure["svg"] and figure["width"] > 300 and figure["height"] > 100, figure
        assert figure["drawn_width"] > 0 and figure["drawn_height"] > 0, figure
    tables = browser.tables()
    rows = list(csv.DictReader(swept.csv.read_text(encoding="utf-8").splitlines()))
    compared = 0
    for row in rows:
        if row["scope"] == "all":
            key, table = f"{row['variant']}|{row['workers']}|{row['load']}", "points"
        elif row["scope"].startswith("campaign:"):
            key = f"{row['variant']}|{row['workers']}|{row['load']}|{row['scope'].removeprefix('campaign:')}"
            table = "campaigns"
        else:
            continue
        cell = tables[table][key].get(row["figure"])
        if cell is None:
            continue  # a figure the page's table does not show (the CSV has them all)
        assert float(cell["value"]) == float(row["mean"]), (table, key, row["figure"])
        assert cell["text"].strip()
        compared += 1
    assert compared >= 6 * 12 + 6 * 8  # every column of every row of both tables
    assert set(tables["points"]) == {f"{v}|{w}|{m}" for v, w in (("two", 2), ("three", 3)) for m in ("0.5", "1", "2.5")}
