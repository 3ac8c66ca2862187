"""Guarantees 5b and 6, who a campaign admits and when: batches (R2) and qualification (R18).

A batch campaign admits, at its scheduled times only, exactly the people whose filters
hold then; a qualification rule ("once", "once every N") bounds each person's runs and
turns nobody away without an earlier run. Both apply at admission (R22: ``run_queued``).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Mapping

from sim.run.activity import Activity
from sim.run.arrivals import schedule_times
from sim.run.conditions import all_hold
from sim.scenario.model import Campaign
from sim.scenario.people import Person
from sim.scenario.units import micros
from sim.verify.guarantees.log import Log, RunRecord, Violation, reporter
from sim.verify.guarantees.replay import Probe, Replay, probed


class BatchTicks(Probe):
    """R2: at each scheduled time of an active batch campaign, the people whose filters held
    at each position of the log where the batch may have admitted them (until its first run)."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        scenario = log.scenario
        index_of = {activity.seq: index for index, activity in enumerate(log.activities)}
        times = [activity.time for activity in log.activities]
        #: (campaign, time) -> the batch's runs admitted then (R22: run_queued is admission)
        self.runs_at: dict[tuple[str, float], list[RunRecord]] = defaultdict(list)
        for record in log.runs.values():
            if record.via == "batch":
                self.runs_at[record.campaign, record.first.time].append(record)
        self.ticks: list[tuple[Campaign, float]] = []
        for campaign in scenario.campaigns.values():
            if campaign.kind == "batch" and campaign.active and campaign.schedule is not None:
                self.ticks.extend((campaign, t) for t in schedule_times(campaign.schedule, scenario.duration))
        self.windows: dict[int, list[tuple[Campaign, float]]] = defaultdict(list)
        for campaign, t in self.ticks:
            low, high = bisect.bisect_left(times, t), bisect.bisect_right(times, t)
            records = self.runs_at.get((campaign.name, t), [])
            if records:  # before the first of them started (or was queued, R22)
                high = min(index_of[r.first.seq] for r in records)
            for position in range(low, high + 1):
                self.windows[position].append((campaign, t))
        #: (campaign, time) -> the people whose filters held, at each position of its window
        self.seen: dict[tuple[str, float], list[frozenset[str]]] = defaultdict(list)

    def before(self, index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        programs = self.log.scenario.programs
        for campaign, t in self.windows.get(index, ()):
            held = frozenset(pid for pid, p in people.items() if all_hold(campaign.filters, p, programs))
            self.seen[campaign.name, t].append(held)


def check_batches(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """A batch campaign runs at its scheduled times only, and then exactly the people whose
    filters hold at that moment (R2), whether they start or are turned away (R18).

    The batch admits everybody at one point of the log without letting any other run in,
    so some position at that time must give exactly the people it admitted.
    """
    bad = reporter("batch", "R2")
    batches = probed(log, replayed, BatchTicks)
    runs_at, ticks, seen = batches.runs_at, batches.ticks, batches.seen
    out = [
        bad(f'"{name}" ran at t={t:g}, which its schedule does not have', records[0].first)
        for (name, t), records in runs_at.items()
        if (name, t) not in {(c.name, tick) for c, tick in ticks}
    ]
    for campaign, t in ticks:
        admitted = frozenset(r.person for r in runs_at.get((campaign.name, t), []))
        if admitted not in seen[campaign.name, t]:
            expected = sorted(seen[campaign.name, t][0]) if seen[campaign.name, t] else []
            out.append(
                bad(f'"{campaign.name}" at t={t:g} admitted {sorted(admitted)}; its filters held for {expected}')
            )
    return out


# -- 6. qualification (R18) ----------------------------------------------------------


def check_qualification(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """ "once": at most one run per person; "once every N": runs at least N apart; no
    person turned away without a run that justifies it."""
    bad = reporter("qualification", "R18")
    out: list[Violation] = []
    # A run's first activity is its admission (run_queued when it waited for a worker,
    # R22): the rule applies then, not when a worker takes it up.
    started: dict[tuple[str, str], list[Activity]] = defaultdict(list)
    for record in log.runs.values():
        if not record.skipped:
            started[record.campaign, record.person].append(record.first)
    for (name, _person), firsts in started.items():
        campaign = log.campaign(name)
        if campaign is None:
            continue
        rule = campaign.qualification
        if rule.rule == "once" and len(firsts) > 1:
            out.append(bad(f'"{name}" is "once" but ran {len(firsts)} times for one person', *firsts[:3]))
        elif rule.rule == "once_every":
            for a, b in itertools.pairwise(firsts):
                if micros(b.time) - micros(a.time) < micros(rule.interval):  # on the µs grid, as the engine
                    out.append(bad(f'"{name}" is "once every {rule.interval:g}s" but ran twice within it', a, b))
    for record in log.runs.values():
        reason = str(record.first.details.get("reason", "")) if record.skipped else ""
        if not reason.startswith("qualification"):
            continue
        campaign = log.campaign(record.campaign)
        time = record.first.time
        earlier = [a for a in started.get((record.campaign, record.person), ()) if a.time <= time]
        if campaign is None or campaign.qualification.rule == "every_time":
            out.append(bad('a run turned away by qualification under "every time"', record.first))
        elif campaign.qualification.rule == "once" and not earlier:
            out.append(bad('a "once" run turned away with no earlier run', record.first))
        elif campaign.qualification.rule == "once_every" and not any(
            micros(time) - micros(a.time) < micros(campaign.qualification.interval) for a in earlier
        ):
            out.append(bad('a "once every" run turned away with no run within the period', record.first))
    return out
