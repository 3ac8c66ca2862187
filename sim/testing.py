"""Helpers for testing campaign designs in your own pytest suite.

from sim.testing import run_text, trace

activities = run_text(SCENARIO_TOML, seed=3)
assert trace(activities, person="alice") == [...]
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.activity import Activity, MemorySink
from sim.model import Scenario
from sim.scenario import parse_scenario
from sim.simulation import Simulation
from sim.summary import Summary


def run_scenario(scenario: Scenario, *, seed: int | None = None, strategy: str = "random") -> list[Activity]:
    """Simulate ``scenario`` and return every activity, in order."""
    activities, _ = run_with_summary(scenario, seed=seed, strategy=strategy)
    return activities


def run_with_summary(
    scenario: Scenario, *, seed: int | None = None, strategy: str = "random"
) -> tuple[list[Activity], Summary]:
    """Simulate ``scenario``; return its activities and its summary."""
    sink = MemorySink()
    summary = Simulation(scenario, seed=seed, strategy=strategy, sinks=[sink]).run_sync()
    return sink.activities, summary


def run_text(text: str, *, seed: int | None = None, strategy: str = "random") -> list[Activity]:
    """Parse scenario TOML text and simulate it; returns every activity."""
    return run_scenario(parse_scenario(text, source="<test>"), seed=seed, strategy=strategy)


def trace(
    activities: Iterable[Activity], *, person: str | None = None, with_lifecycle: bool = False
) -> list[tuple[str | None, int | None, str]]:
    """A compact, comparable view: ``(campaign, step, type)`` per activity.

    Run starts and ends are left out unless ``with_lifecycle``; ``person`` keeps one
    person's activities only.
    """
    out = []
    for activity in activities:
        if person is not None and activity.person != person:
            continue
        if not with_lifecycle and activity.type.startswith("run_"):
            continue
        out.append((activity.campaign, activity.step, activity.type))
    return out
