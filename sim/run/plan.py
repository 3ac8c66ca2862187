"""What a run of a scenario owes nothing to its schedule, made once for many runs.

`sim explore` runs one scenario under thousands of schedules. The people as they start,
the timed activities (CSV replays read and merged) and every generator's arrival times
are the same in each: a `Plan` holds them, made once per process, and each run starts
from a copy of the people instead of drawing them again. A run with a plan logs exactly
what it logs without one (tests/test_plan.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from sim.run.arrivals import arrival_times, external_activities
from sim.scenario.model import ExternalActivity, Scenario
from sim.scenario.people import Person, make_people


@attrs.frozen(kw_only=True, eq=False)
class Plan:
    """The schedule-independent part of running ``scenario`` (its own seed)."""

    scenario: Scenario
    #: The people as they start, never run themselves: `people` copies them.
    start: Mapping[str, Person]
    #: Every timed activity, merged by time (`sim.run.arrivals.external_activities`).
    timed: tuple[ExternalActivity, ...]
    #: Per ``[[load]]`` generator, its arrival times (`sim.run.arrivals.arrival_times`).
    arrivals: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, scenario: Scenario, *, progress: Callable[[int, int], None] | None = None) -> Plan:
        """Make the plan of ``scenario``: it holds every arrival, so it is for scenarios
        run many times (exploration), not for a single long run that streams them."""
        return cls(
            scenario=scenario,
            start=make_people(scenario, progress=progress),
            timed=tuple(external_activities(scenario)),
            arrivals=tuple(
                tuple(arrival_times(generator, seed=scenario.seed, index=index, end=scenario.duration))
                for index, generator in enumerate(scenario.generators)
            ),
        )

    def people(self) -> dict[str, Person]:
        """A fresh copy of the people as they start, for one run to change."""
        return {
            pid: Person(id=pid, fields=dict(person.fields), lists=set(person.lists), statuses=dict(person.statuses))
            for pid, person in self.start.items()
        }
