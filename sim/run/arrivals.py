"""Load: when the external activities of a generator arrive, and when batches run.

A generator's arrival times are a pure function of the generator, the run's seed and the
generator's position among the generators; which arrivals come from new people
(`new_arrivals`) too; a batch's run times of its schedule; the timed activities are
``[[activities]]`` and the CSV rows merged by time (`external_activities`). The engine
and the checks of `sim.verify.guarantees` both call these, so the checks know exactly which
arrivals, new people and batch runs a log must hold.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator
from operator import attrgetter

from sim.scenario.model import ExternalActivity, Generator, Scenario, Schedule

#: Seconds in the hours of a daily profile.
HOUR = 3600.0


def arrival_times(generator: Generator, *, seed: int, index: int, end: float) -> Iterator[float]:
    """The generator's arrival times in ``[start, min(stop, end))``, on the µs grid.

    With a ``daily`` profile the rate changes on the hour (see `_daily_times`).
    ``constant``: one at ``start``, then every ``1 / rate``. ``poisson``: a Poisson
    process, independent exponential gaps of mean ``1 / rate`` from ``start``, drawn from
    a random stream of its own (seeded by ``seed`` and ``index``), so the arrivals never
    depend on the schedule or on what else the generator draws.
    """
    if generator.rate <= 0:
        return
    stop = end if generator.stop is None else min(end, generator.stop)
    if generator.daily:
        yield from _daily_times(generator, seed=seed, index=index, stop=stop)
        return
    if generator.arrivals == "poisson":
        rng = random.Random(f"sim.arrivals:{seed}:{index}")
        time = generator.start
        while True:
            time += rng.expovariate(generator.rate)
            due = round(time, 6)
            if due >= stop:
                return
            yield due
    count = 0
    while True:
        # Absolute times: adding up 1/rate would drift, and 13/m over 1m would give a
        # 14th arrival at 59.99999999999999.
        due = round(generator.start + count / generator.rate, 6)
        if due >= stop:
            return
        yield due
        count += 1


def _daily_times(generator: Generator, *, seed: int, index: int, stop: float) -> Iterator[float]:
    """Arrivals under a daily profile: hour h of every day (from t=0) has rate ``daily[h]``.

    ``constant``: evenly spaced within each hour, from its start (or ``start``).
    ``poisson``: exponential gaps at the hour's rate; a gap that runs past the hour is
    dropped and drawn afresh at the next rate, which a Poisson process allows (it has no
    memory).
    """
    rng = random.Random(f"sim.arrivals:{seed}:{index}")
    time = generator.start
    while time < stop:
        hour = math.floor(time / HOUR)
        rate, change = generator.daily[hour % 24], (hour + 1) * HOUR
        if rate > 0 and generator.arrivals == "poisson":
            gap = rng.expovariate(rate)
            if time + gap < change:
                time += gap
                due = round(time, 6)
                if due >= stop:
                    return
                yield due
                continue
        elif rate > 0:
            count = 0
            while (due := round(time + count / rate, 6)) < min(change, stop):
                yield due
                count += 1
        time = change


def new_arrivals(generator: Generator, *, seed: int, index: int) -> Iterator[bool]:
    """For each of the generator's arrivals in turn: whether it is a new person's.

    Each is new with probability ``new_people``, drawn from a random stream of its own
    (seeded by ``seed`` and ``index``), so which arrivals create people depends neither on
    the schedule nor on what else is drawn. Infinite: zip it with `arrival_times`.
    """
    if generator.new_people <= 0:
        return itertools.repeat(False)
    rng = random.Random(f"sim.new_people:{seed}:{index}")
    share = generator.new_people
    return (rng.random() < share for _ in itertools.count())


def external_activities(scenario: Scenario) -> Iterator[ExternalActivity]:
    """Every timed activity: ``[[activities]]`` and the rows of each CSV replay, merged by
    time; at equal times ``[[activities]]`` first, then the replays in file order."""
    if not scenario.replays:
        return iter(scenario.activities)
    return heapq.merge(scenario.activities, *(replay.activities() for replay in scenario.replays), key=attrgetter("at"))


def schedule_times(schedule: Schedule, end: float) -> Iterator[float]:
    """A batch campaign's run times in ``[0, end)`` (R2): ``at``, then every ``every``,
    on the µs grid so that a long schedule does not drift."""
    count = 0
    while True:
        due = schedule.at if count == 0 else round(schedule.at + count * (schedule.every or 0.0), 6)
        if due >= end or (count and schedule.every is None):
            return
        yield due
        count += 1
