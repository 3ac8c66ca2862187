"""sim: a deterministic, trio-based simulator of how Adobe Marketo Engage runs campaigns.

Load a scenario with `load_scenario`, run it with `Simulation`, read the activities from a
sink. The semantics modelled are in MARKETO.md (rules R1-R23); the file format is in
docs/scenarios.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

from sim.activity import Activity, ActivitySink, JsonLinesSink, MemorySink
from sim.kernel import FifoStrategy, Kernel, RandomStrategy, Sleeper, Strategy
from sim.model import (
    Campaign,
    Choice,
    FieldFilter,
    Filter,
    ListFilter,
    Problem,
    ProgramStatusFilter,
    Qualification,
    Scenario,
    Schedule,
    Step,
    Trigger,
)
from sim.scenario import ScenarioError, load_scenario, parse_scenario
from sim.simulation import Simulation
from sim.summary import CampaignTally, Summary

__all__ = [
    "Activity",
    "ActivitySink",
    "Campaign",
    "CampaignTally",
    "Choice",
    "FieldFilter",
    "FifoStrategy",
    "Filter",
    "JsonLinesSink",
    "Kernel",
    "ListFilter",
    "MemorySink",
    "Problem",
    "ProgramStatusFilter",
    "Qualification",
    "RandomStrategy",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "Simulation",
    "Sleeper",
    "Step",
    "Strategy",
    "Summary",
    "Trigger",
    "__version__",
    "load_scenario",
    "parse_scenario",
]
