"""The ordering guarantees of docs/marketo.md, as checks over an activity log.

Each check reads a whole log (and the scenario that made it) and returns the
`Violation` records it finds, each with the activities that show it. They are what the
property tests in tests/test_guarantees.py assert over generated designs, and what
`sim.testing.assert_guarantees` runs on a log of your own. docs/guarantees.md states each
one with its rule.

One module per family of checks, over the indexed log (`log`) and its replay (`replay`):
- `flow`: 1, step order (R12, R13);
- `executables`: 2, executable contiguity (R6, R7, R8), and 2b, removal (R11);
- `causality`: 3, request causality (R5), and 5, trigger causality (R1, R17);
- `admission`: 5b, batches (R2), and 6, qualification (R18);
- `conservation`: 7, conservation (R15, R16, R17);
- `replay`: 8, the log replay (R12, R17);
- `timing`: 9, time (R15, R16).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sim.observe.summary import Summary
from sim.run.activity import Activity
from sim.scenario.model import Scenario
from sim.scenario.people import Person
from sim.verify.guarantees.admission import check_batches, check_qualification
from sim.verify.guarantees.causality import check_request_causality, check_trigger_causality
from sim.verify.guarantees.conservation import check_conservation
from sim.verify.guarantees.executables import check_executable_contiguity, check_removal
from sim.verify.guarantees.flow import check_step_order
from sim.verify.guarantees.log import Log, RunRecord, Violation, format_activity, is_write_back
from sim.verify.guarantees.replay import check_replay, replay
from sim.verify.guarantees.timing import check_time

__all__ = [
    "CHECKS",
    "Log",
    "RunRecord",
    "Violation",
    "check_batches",
    "check_conservation",
    "check_executable_contiguity",
    "check_guarantees",
    "check_qualification",
    "check_removal",
    "check_replay",
    "check_request_causality",
    "check_step_order",
    "check_time",
    "check_trigger_causality",
    "format_activity",
    "is_write_back",
    "replay",
]

#: Name -> check, in the numbering of docs/guarantees.md.
CHECKS: Mapping[str, Callable[[Log], list[Violation]]] = {
    "step order": check_step_order,
    "executable contiguity": check_executable_contiguity,
    "removal": check_removal,
    "request causality": check_request_causality,
    "trigger causality": check_trigger_causality,
    "qualification": check_qualification,
    "batch": check_batches,
    "conservation": check_conservation,
    "replay": check_replay,
    "time": check_time,
}


def check_guarantees(
    scenario: Scenario,
    activities: Iterable[Activity],
    *,
    summary: Summary | None = None,
    people: Mapping[str, Person] | None = None,
) -> list[Violation]:
    """Every check over one log. ``scenario`` must be the one run, with the run's seed."""
    log = Log.of(scenario, activities, summary=summary, people=people)
    return [violation for check in CHECKS.values() for violation in check(log)]
