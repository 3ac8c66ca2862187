"""A whole run: determinism across processes, seeds, strategies and the summary."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.observe.simulation import Simulation
from sim.run.schedule import make_strategy
from sim.scenario import load_scenario, parse_scenario
from sim.testing import run_with_summary

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULT = EXAMPLES / "lead-lifecycle.toml"


def _log_in_subprocess(tmp_path: Path, name: str, hash_seed: str, *args: str) -> bytes:
    log = tmp_path / f"{name}.jsonl"
    subprocess.run(
        [sys.executable, "-m", "sim", "run", str(DEFAULT), "--log", str(log), *args],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )
    return log.read_bytes()


@pytest.mark.slow
def test_same_scenario_and_seed_give_a_byte_identical_log_in_separate_processes(tmp_path: Path) -> None:
    first = _log_in_subprocess(tmp_path, "a", "1")
    second = _log_in_subprocess(tmp_path, "b", "4242")
    assert len(first) > 100_000
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    other_seed = _log_in_subprocess(tmp_path, "c", "1", "--seed", "7")
    assert other_seed != first


def test_different_seeds_order_concurrent_runs_differently() -> None:
    scenario = load_scenario(DEFAULT)
    logs = set()
    for seed in (1, 2):
        activities, _ = run_with_summary(scenario, seed=seed)
        logs.add(tuple(a.to_json() for a in activities))
    assert len(logs) == 2


def test_summary_counts_agree_with_the_log() -> None:
    activities, summary = run_with_summary(load_scenario(DEFAULT), seed=5)
    assert sum(summary.activities.values()) == len(activities)
    started = sum(t.started for t in summary.campaigns.values())
    assert started == sum(a.type == "run_started" for a in activities)
    steps_logged_runs = {a.run for a in activities if a.step is not None}
    assert steps_logged_runs <= {a.run for a in activities if a.type == "run_started"}
    for tally in summary.campaigns.values():
        assert tally.in_progress >= 0
    assert summary.people == 1000
    assert summary.virtual_time == 3 * 86400.0
    assert not summary.interrupted
    # The flows normalize country: no un-normalized US spelling is left for people who filled a form.
    assert "country" in summary.fields and "score" in summary.fields


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'lifo'"):
        make_strategy("lifo", 1)


async def test_simulation_runs_inside_an_existing_trio_run() -> None:
    simulation = Simulation(load_scenario(DEFAULT), seed=1, strategy="fifo")
    summary = await simulation.run()
    assert summary.strategy == "fifo"
    assert summary.steps > 0


def test_final_values_list_fields_lists_and_programs_by_name() -> None:
    """The summary's final values come in name order, whichever a flow changed first, so
    the summaries of two seeds diff line by line."""
    text = """
lists = ["Zeta", "Alpha"]
[sim]
duration = "1h"
[fields]
zip = ""
age = 0
[programs.Zoo]
statuses = ["Not in Program", "Member"]
[programs.Ant]
statuses = ["Not in Program", "Member"]
[[person]]
id = "ann"
[campaigns.C]
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "change_data_value", field = "zip", value = "10001" },
  { step = "change_data_value", field = "age", value = 30 },
  { step = "add_to_list", list = "Zeta" },
  { step = "add_to_list", list = "Alpha" },
  { step = "change_program_status", program = "Zoo", status = "Member" },
  { step = "change_program_status", program = "Ant", status = "Member" },
]
[[activities]]
at = "1m"
person = "ann"
type = "fill_out_form"
"""
    _, summary = run_with_summary(parse_scenario(text))
    assert list(summary.fields) == ["age", "zip"]
    assert list(summary.lists) == ["Alpha", "Zeta"]
    assert list(summary.statuses) == ["Ant", "Zoo"]
