"""Stage 1, scenario: the model, the file read and checked into it, and written back."""

from __future__ import annotations

import importlib
import warnings

from sim.scenario.loader import MAX_FILE_BYTES, ScenarioError, decode_scenario, load_scenario, parse_scenario

__all__ = ["MAX_FILE_BYTES", "ScenarioError", "decode_scenario", "load_scenario", "parse_scenario"]

#: Names the module ``sim.scenario`` of sim 0.1 held, and the module that holds each now.
#: The old module is this package now, so `sim._moved` cannot forward it: they are
#: forwarded here, with the same `DeprecationWarning`, for one release.
MOVED_NAMES = {
    "ARRIVALS": "sim.scenario.model",
    "CSV_COLUMNS": "sim.scenario.read_csv",
    "MAX_CSV_LINE": "sim.scenario.read_csv",
    "CSV_PROBLEMS": "sim.scenario.read_problems",
    "number_problem": "sim.scenario.read_problems",
    "MAX_EXECUTE_DEPTH": "sim.scenario.cross_checks",
    "request_refusal": "sim.scenario.cross_checks",
    "MAX_PEOPLE": "sim.scenario.read_people",
    "MAX_RATE": "sim.scenario.read_load",
    "STEP_PARAMS": "sim.scenario.read_flows",
    "build_scenario": "sim.scenario.loader",
}


def __getattr__(name: str) -> object:
    home = MOVED_NAMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")
    warnings.warn(
        f"sim.scenario.{name} has moved to {home}; import it from there - the old path goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
