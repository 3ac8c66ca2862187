"""The ordering guarantees of docs/marketo.md, as checks over an activity log.

Each check reads a whole log (and the scenario that made it) and returns the
`Violation` records it finds, each with the activities that show it. They are what the
property tests in tests/test_guarantees.py assert over generated designs, and what
`sim.testing.assert_guarantees` runs on a log of your own. docs/guarantees.md states each
one with its rule.

One module per family of checks, over the indexed log (`log`) and its replay (`replay`),
which `check_guarantees` runs once and hands to every check:
- `flow`: 1, step order (R12, R13);
- `executables`: 2, executable contiguity (R6, R7, R8), and 2b, removal (R11);
- `causality`: 3, request causality (R5), and 5, trigger causality (R1, R17);
- `admission`: 5b, batches (R2), and 6, qualification (R18);
- `conservation`: 7, conservation (R15, R16, R17);
- `replay`: 8, the log replay (R12, R17);
- `timing`: 9, time (R15, R16).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from sim.observe.summary import Summary
from sim.run.activity import Activity
from sim.scenario.model import Scenario
from sim.scenario.people import Person
from sim.verify.guarantees.admission import BatchTicks, check_batches, check_qualification
from sim.verify.guarantees.causality import Firings, check_request_causality, check_trigger_causality
from sim.verify.guarantees.conservation import Writes, check_conservation
from sim.verify.guarantees.executables import ChildFilters, check_executable_contiguity, check_removal
from sim.verify.guarantees.flow import StepChoices, check_step_order
from sim.verify.guarantees.log import Log, RunRecord, Violation, format_activity, is_write_back
from sim.verify.guarantees.replay import Probe, Replay, check_replay, replay
from sim.verify.guarantees.timing import check_time

__all__ = [
    "CHECKS",
    "PROBES",
    "Check",
    "Log",
    "Probe",
    "Replay",
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


class Check(Protocol):
    """One check: the violations of its guarantee in ``log``, in log order.

    ``replayed`` is the replay `check_guarantees` shares among the checks (one pass over
    the log for all of them); a check that reads person state and is called alone replays
    the log itself. Checks that read no person state ignore it.
    """

    def __call__(self, log: Log, replayed: Replay | None = None) -> list[Violation]: ...


#: Name -> check, in the numbering of docs/guarantees.md.
CHECKS: Mapping[str, Check] = {
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

#: What the checks learn from the replay: the one replay of `check_guarantees` feeds them all.
PROBES: tuple[type[Probe], ...] = (StepChoices, ChildFilters, Firings, BatchTicks, Writes)


def check_guarantees(
    scenario: Scenario,
    activities: Iterable[Activity],
    *,
    summary: Summary | None = None,
    people: Mapping[str, Person] | None = None,
) -> list[Violation]:
    """Every check over one log, which is replayed once for all of them. ``scenario`` must
    be the one run, with the run's seed."""
    log = Log.of(scenario, activities, summary=summary, people=people)
    replayed = replay(log, [kind(log) for kind in PROBES])
    return [violation for check in CHECKS.values() for violation in check(log, replayed)]
