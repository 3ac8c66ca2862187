"""The text people read: the run summary and the check verdict."""

from __future__ import annotations

from sim.observe.report import format_check, format_summary
from sim.scenario import parse_scenario
from sim.testing import run_with_summary

RUNAWAY = """
[sim]
duration = "1h"
step_budget = 4

[[person]]
id = "ann"

[campaigns.Loop]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }, { trigger = "score_is_changed" }]
flow = [{ step = "change_score", change = "+1" }]

[[activities]]
at = "1m"
person = "ann"
type = "fill_out_form"
form = "F"
"""


def test_summary_names_the_person_whose_budget_ran_out_and_how_to_fix_it() -> None:
    _, summary = run_with_summary(parse_scenario(RUNAWAY, source="loop.toml"), strategy="fifo")
    text = format_summary(summary)
    lines = text.splitlines()
    assert lines[0] == "loop.toml: seed 0, strategy fifo"
    assert lines[1] == "Simulated 1h of virtual time, 1 person"
    assert "Step budget exhausted (4 steps per person) for 1 person; their runs were stopped:" in text
    assert '  ann: at 1m in campaign "Loop"' in text
    assert "raise [sim] step_budget" in text
    assert "  score: 4: 1 (100.0%)" in text


def test_summary_table_has_one_row_per_campaign_with_every_ending() -> None:
    _, summary = run_with_summary(parse_scenario(RUNAWAY, source="loop.toml"), strategy="fifo")
    table = format_summary(summary).splitlines()[3:5]
    assert table[0].split() == [
        "Campaign",
        "started",
        "completed",
        "skipped",
        "removed",
        "stopped",
        "in",
        "progress",
        "steps",
    ]
    assert table[1].split() == ["Loop", "5", "4", "0", "0", "1", "0", "4"]


def test_check_line_counts_with_plurals() -> None:
    scenario = parse_scenario(RUNAWAY, source="loop.toml")
    assert format_check(scenario) == (
        "loop.toml: ok: 1 campaign (1 trigger), 1 step, 1 person, 1 timed activity, 0 generators, 1h simulated"
    )
