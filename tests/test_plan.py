"""A plan (the schedule-independent part of a run, made once) changes no log."""

from __future__ import annotations

import io
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings

from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink
from sim.run.plan import Plan
from sim.scenario import load_scenario
from sim.scenario.model import Scenario
from sim.testing import scenarios, seeds

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))
#: The small examples: the big ones run in tests/test_golden.py already.
SMALL = [path for path in EXAMPLES if path.stem not in ("lead-lifecycle", "webinar-backlog", "chain-vs-executables")]


def _log(scenario: Scenario, *, plan: Plan | None, strategy_seed: int) -> bytes:
    stream = io.BytesIO()
    sink = JsonLinesSink(stream=stream, owns_stream=False)
    Simulation(scenario, strategy_seed=strategy_seed, sinks=[sink], plan=plan).run_sync()
    return stream.getvalue()


@pytest.mark.parametrize("path", SMALL, ids=[p.stem for p in SMALL])
def test_runs_from_one_plan_log_what_runs_without_it_log(path: Path) -> None:
    scenario = load_scenario(path)
    plan = Plan.of(scenario)
    for strategy_seed in (1, 2, 3):  # one plan, several runs: none changes what the next starts from
        assert _log(scenario, plan=plan, strategy_seed=strategy_seed) == _log(
            scenario, plan=None, strategy_seed=strategy_seed
        )


@settings(max_examples=15)
@given(scenario=scenarios(), seed=seeds())
def test_a_plan_changes_no_log_of_a_generated_design(scenario: Scenario, seed: int) -> None:
    plan = Plan.of(scenario)
    first = _log(scenario, plan=plan, strategy_seed=seed)
    assert first == _log(scenario, plan=None, strategy_seed=seed)
    assert _log(scenario, plan=plan, strategy_seed=seed) == first  # the plan's people were not changed


def test_a_plan_of_another_scenario_is_refused() -> None:
    scenario = load_scenario(SMALL[0])
    other = attrs.evolve(scenario, seed=scenario.seed + 1)
    with pytest.raises(ValueError, match="another scenario"):
        Simulation(other, plan=Plan.of(scenario))
