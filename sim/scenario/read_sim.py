"""Reading the ``[sim]`` table of a scenario file: the seed, duration and step budget of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario.read_problems import Reader
from sim.scenario.units import show


def read_sim(r: Reader, data: Mapping[str, Any]) -> tuple[int, float, int]:
    """``[sim]``: (seed, duration in seconds, step budget); a default for each with a problem."""
    seed, duration, budget = 0, 86400.0, 10_000
    with r.at("[sim]"):
        sim_table = r.table(data, "sim", "[sim]")
        r.check_keys(sim_table, ("seed", "duration", "step_budget"), "[sim]")
        seed = r.guard(lambda: r.get(sim_table, "seed", int, 0), 0)
        duration = r.guard(lambda: r.duration(sim_table, "duration", 86400.0), 86400.0)
        if duration <= 0:
            r.problem(f'"duration" must be longer than zero, not {show(sim_table["duration"])}')
            duration = 86400.0
        budget = r.guard(lambda: r.get(sim_table, "step_budget", int, 10_000), 10_000)
        if budget < 1:
            r.problem(f'"step_budget" must be at least 1, not {budget}')
    return seed, duration, budget
