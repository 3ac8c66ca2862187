"""sim: a deterministic, trio-based simulator of how Adobe Marketo Engage runs campaigns.

Load a scenario with `load_scenario`, run it with `Simulation`, read the activities from a
sink; `check_guarantees` checks a log against the ordering guarantees (docs/guarantees.md)
and `dump_scenario` writes a scenario back as a file. With a `[queue]`, a run's
`Simulation.metrics()` measures the backlog (docs/queue.md). `sim.testing` has the helpers and
Hypothesis strategies for your own test suite. The semantics modelled are in docs/marketo.md
(rules R1-R23); the file format is in docs/scenarios.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

from sim import _moved
from sim.observe.metrics import CampaignMetrics, Metrics, Percentiles, QueueMetrics, Series
from sim.observe.races import Access, Race, RaceDetector, Site
from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink, MemorySink
from sim.observe.summary import CampaignTally, Summary
from sim.observe.trace import TraceSink
from sim.run.activity import Activity, ActivitySink, FieldSink
from sim.run.kernel import Kernel, Sleeper
from sim.run.observer import Observer
from sim.run.schedule import FifoStrategy, RandomStrategy, ReplayStrategy, ScheduleError, Strategy
from sim.scenario import ScenarioError, load_scenario, parse_scenario
from sim.scenario.dump import dump_scenario
from sim.scenario.model import (
    Campaign,
    Choice,
    FieldFilter,
    Filter,
    ListFilter,
    Problem,
    ProgramStatusFilter,
    Qualification,
    Queue,
    Scenario,
    Schedule,
    ServiceTime,
    Step,
    Trigger,
)
from sim.verify.explore import Exploration, OutcomeClass, explore
from sim.verify.guarantees import Violation, check_guarantees

_moved.install()  # sim.model, sim.kernel, ...: the paths before the layout by stage

__all__ = [
    "Access",
    "Activity",
    "ActivitySink",
    "Campaign",
    "CampaignMetrics",
    "CampaignTally",
    "Choice",
    "Exploration",
    "FieldFilter",
    "FieldSink",
    "FifoStrategy",
    "Filter",
    "JsonLinesSink",
    "Kernel",
    "ListFilter",
    "MemorySink",
    "Metrics",
    "Observer",
    "OutcomeClass",
    "Percentiles",
    "Problem",
    "ProgramStatusFilter",
    "Qualification",
    "Queue",
    "QueueMetrics",
    "Race",
    "RaceDetector",
    "RandomStrategy",
    "ReplayStrategy",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "ScheduleError",
    "Series",
    "ServiceTime",
    "Simulation",
    "Site",
    "Sleeper",
    "Step",
    "Strategy",
    "Summary",
    "TraceSink",
    "Trigger",
    "Violation",
    "__version__",
    "check_guarantees",
    "dump_scenario",
    "explore",
    "load_scenario",
    "parse_scenario",
]
