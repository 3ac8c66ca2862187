"""The bundled examples, for the tests that run every one of them (not a test module)."""

from __future__ import annotations

from pathlib import Path

import attrs

from sim.scenario import load_scenario
from sim.scenario.model import Scenario

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))

#: The big example's 2 hours hold 10,000 form fills through a queue (10-17 s a run): tests
#: that run every example take its first 20 minutes, the same design at a sixth of the cost.
#: tests/test_golden.py pins its whole run.
SHORTENED = {"chain-vs-executables": 1200.0}


def example_scenario(path: Path) -> Scenario:
    """The example at ``path``, shortened if it is the big one."""
    scenario = load_scenario(path)
    if path.stem in SHORTENED:
        return attrs.evolve(scenario, duration=SHORTENED[path.stem])
    return scenario
