"""The campaign queue: workers, priority classes and service times (R19-R22).

A run needs a worker of its queue to run steps. Trigger runs (requested runs too) and
batch runs wait in separate queues with workers of their own (R20). A run that finds no
free worker waits as data, not as a task: a backlog of a million runs costs a tuple and
a `Waiting` record each. Within a queue, the next free worker takes the highest priority
class first and, within a class, the run that has waited longest (R19, R20).

The queue knows nothing of trio or the kernel: admission (`sim.run.admission`)
starts or wakes the run that a worker is handed to.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from sim.scenario.model import Campaign, Priority, ServiceTime

#: Priority class -> its rank in the queue (lower goes first).
RANK: Mapping[str, int] = {"high": 0, "medium": 1, "low": 2}

#: Step kinds that make a flow medium priority (R19); Send Email and Send Alert make a
#: trigger campaign's flow high.
MEDIUM_STEPS = frozenset(
    ("request_campaign", "interesting_moment", "add_to_list", "remove_from_list", "change_program_status")
)


def flow_priority(campaign: Campaign) -> Priority:
    """The priority class R19 gives runs of ``campaign``, before any override (R21).

    A flow that starts with a Wait is low. Otherwise the highest class any step earns:
    high for Send Email or Send Alert in a trigger campaign (requested campaigns are
    trigger campaigns), medium for the steps in `MEDIUM_STEPS`, low for the rest (data
    value and score changes, Waits, webhooks). R19 names Waits longer than 5 minutes as
    low; a shorter one earns no class either, so every Wait ends up the same. Choices count with their step kind.
    Only the campaign's own steps count, not those of the executables it calls: they
    run on its worker (R6).
    """
    flow = campaign.flow
    if flow and flow[0].kind == "wait":
        return "low"
    kinds = {step.kind for step in flow}
    if campaign.kind == "trigger" and kinds & {"send_email", "send_alert"}:
        return "high"
    if kinds & MEDIUM_STEPS or (campaign.kind != "trigger" and kinds & {"send_email", "send_alert"}):
        return "medium"
    return "low"


def priority_at(campaign: Campaign, now: float, *, flow: Priority | None = None) -> Priority:
    """The class of a run of ``campaign`` queued at ``now``: an override applies to runs
    queued at or after it takes effect, not to those already waiting (R21). ``flow`` is
    `flow_priority` of the campaign when the caller has it already."""
    if campaign.priority is not None and now >= campaign.priority_from:
        return campaign.priority
    return flow if flow is not None else flow_priority(campaign)


def make_sampler(spec: ServiceTime, rng: random.Random) -> Callable[[], float]:
    """A function that draws one service time (seconds, on the µs grid) from ``spec``."""
    mean = spec.mean
    if spec.distribution == "constant" or mean == 0:
        value = round(mean, 6)
        return lambda: value
    if spec.distribution == "exponential":
        rate = 1.0 / mean
        return lambda: round(rng.expovariate(rate), 6)
    if spec.distribution == "lognormal":
        # The parameters of the underlying normal from the mean and sd of the times.
        sigma = math.sqrt(math.log1p((spec.sd / mean) ** 2))
        mu = math.log(mean) - sigma * sigma / 2
        return lambda: round(rng.lognormvariate(mu, sigma), 6)
    values = [round(v, 6) for v in spec.values]
    return lambda: rng.choice(values)


@attrs.define(eq=False, slots=True)
class Waiting:
    """A run waiting for a worker: a new run (``resume`` None) or one back from a Wait."""

    item: Any  # what the engine needs to start the run, or the thread to wake
    campaign: str
    priority: Priority
    since: float
    resume: Any = None
    cancelled: bool = False
    granted: bool = False


class QueueWatch:
    """Told what one campaign queue does (R19-R22). This one keeps nothing."""

    def length_changed(self, now: float, length: int) -> None:
        """Runs waiting for a worker changed to ``length``."""

    def busy_changed(self, now: float, busy: int) -> None:
        """Workers serving a run changed to ``busy``."""

    def waited(self, now: float, campaign: str, priority: str, wait: float) -> None:
        """A run of ``campaign`` got a worker at ``now`` after ``wait`` seconds in the queue."""


@attrs.define(eq=False)
class CampaignQueue:
    """One queue and its workers (R20, R22). ``stats`` follows its length and load."""

    name: str
    workers: int
    stats: QueueWatch
    busy: int = 0
    #: (rank, seq, entry): highest class first, then first in, first out (R20).
    _heap: list[tuple[int, int, Waiting]] = attrs.field(factory=list, init=False)
    _length: int = attrs.field(default=0, init=False)
    _seq: itertools.count[int] = attrs.field(factory=itertools.count, init=False)

    @property
    def length(self) -> int:
        """Runs waiting for a worker now (not counting those being served)."""
        return self._length

    def enter(self, entry: Waiting, now: float) -> bool:
        """Take a free worker for ``entry`` (True) or queue it (False)."""
        if self.busy < self.workers:  # then nobody is waiting: a free worker takes the next
            self.busy += 1
            self.stats.busy_changed(now, self.busy)
            self.stats.waited(now, entry.campaign, entry.priority, 0.0)
            entry.granted = True
            return True
        heapq.heappush(self._heap, (RANK[entry.priority], next(self._seq), entry))
        self._length += 1
        self.stats.length_changed(now, self._length)
        return False

    def cancel(self, entry: Waiting, now: float) -> None:
        """``entry`` leaves the queue without a worker (its run was removed, R11)."""
        if not entry.cancelled and not entry.granted:
            entry.cancelled = True
            self._length -= 1
            self.stats.length_changed(now, self._length)

    def release(self, now: float) -> Waiting | None:
        """A worker is free: hand it to the next waiting run, returned, or let it idle."""
        heap = self._heap
        while heap:
            entry = heapq.heappop(heap)[2]
            if entry.cancelled:
                continue
            self._length -= 1
            self.stats.length_changed(now, self._length)
            self.stats.waited(now, entry.campaign, entry.priority, round(now - entry.since, 6))
            entry.granted = True
            return entry
        self.busy -= 1
        self.stats.busy_changed(now, self.busy)
        return None

    def waiting_by_priority(self) -> dict[str, int]:
        """Runs waiting for a worker now, per priority class."""
        counts = dict.fromkeys(RANK, 0)
        for _, _, entry in self._heap:
            if not entry.cancelled:
                counts[entry.priority] += 1
        return counts

    def oldest(self) -> float | None:
        """Since when the longest-waiting run still in the queue has waited; None if empty."""
        return min((entry.since for _, _, entry in self._heap if not entry.cancelled), default=None)

    def waiting_by_campaign(self) -> dict[str, int]:
        """Runs waiting for a worker now, per campaign (new runs and runs back from a Wait)."""
        counts: dict[str, int] = {}
        for _, _, entry in self._heap:
            if not entry.cancelled:
                counts[entry.campaign] = counts.get(entry.campaign, 0) + 1
        return counts
