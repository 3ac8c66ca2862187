"""``sim explore --exhaustive``: every outcome of each group of people, with witnesses.

`sim.verify.search` runs one schedule per Mazurkiewicz trace of each group that races;
this adds what the report needs: the groups alike merged, and a shrunk witness for each
outcome of the first kinds of racing group (`sim.verify.group_report`).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from sim.scenario.model import Scenario
from sim.verify.explore import Stop
from sim.verify.group_report import GroupedOutcomes, group_outcomes
from sim.verify.search import DEFAULT_MAX_SCHEDULES, Search, search


@attrs.frozen(kw_only=True)
class Exhaustive:
    """An exhaustive search of the scenario ``source`` and its groups' outcomes as the report
    gives them."""

    source: str
    search: Search
    grouped: GroupedOutcomes


def explore_exhaustive(
    scenario: Scenario,
    *,
    max_schedules: int = DEFAULT_MAX_SCHEDULES,
    preemption_bound: int | None = None,
    witnesses: int = 5,
    shrink_replays: int = 200,
    progress: Callable[[str, int, int], None] | None = None,
    stop: Stop | None = None,
) -> Exhaustive:
    """Search every trace of each group of ``scenario`` (at most ``max_schedules`` schedules,
    ``preemption_bound`` deviations from the oldest-first order on each), then shrink a
    witness for each outcome of the first ``witnesses`` kinds of racing group (at most
    ``shrink_replays`` replays each). ``progress(phase, done, total)`` is told after each
    schedule ("search", total the bound) and each kind of group shrunk ("shrink"). A
    ``stop`` request (a signal) ends the search between schedules: the report says so.
    """
    stop = stop or Stop()
    told = progress or (lambda phase, done, total: None)
    found = search(
        scenario,
        max_schedules=max_schedules,
        preemption_bound=preemption_bound,
        progress=lambda done: told("search", done, max_schedules),
        stop=stop,
    )
    groups = [(group.people, group.classes, group.complete) for group in found.groups]
    grouped = group_outcomes(
        scenario,
        groups,
        witnesses=witnesses,
        shrink_replays=shrink_replays,
        progress=lambda done, total: told("shrink", done, total),
        stop=stop,
    )
    calm = len(found.untouched)  # people no step touched: one outcome, and a group each
    grouped = attrs.evolve(grouped, calm_people=grouped.calm_people + calm, calm_groups=grouped.calm_groups + calm)
    return Exhaustive(source=scenario.source, search=found, grouped=grouped)
