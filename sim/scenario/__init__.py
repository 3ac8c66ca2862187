"""Stage 1, scenario: the model, the file read and checked into it, and written back."""

from __future__ import annotations

from sim.scenario.loader import MAX_FILE_BYTES, ScenarioError, decode_scenario, load_scenario, parse_scenario

__all__ = ["MAX_FILE_BYTES", "ScenarioError", "decode_scenario", "load_scenario", "parse_scenario"]
