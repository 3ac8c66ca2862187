"""Arrival times of generators (sim/load.py): evenly spaced or a Poisson process."""

from __future__ import annotations

import math
import statistics
from itertools import pairwise

import attrs
import pytest

from sim.guarantees import Log, check_conservation, check_guarantees
from sim.load import arrival_times
from sim.model import Generator
from sim.scenario import parse_scenario
from sim.testing import simulate


def times(generator: Generator, *, seed: int = 0, index: int = 0, end: float = 3600.0) -> list[float]:
    return list(arrival_times(generator, seed=seed, index=index, end=end))


def test_constant_arrivals_are_evenly_spaced_on_the_microsecond_grid() -> None:
    assert times(Generator(type="visit_page", rate=10 / 3600)) == [i * 360.0 for i in range(10)]
    # 13 a minute over one minute is 13 arrivals, not a 14th at 59.99999999999999
    assert len(times(Generator(type="visit_page", rate=13 / 60), end=60.0)) == 13


def test_start_stop_and_end_bound_the_arrivals() -> None:
    constant = Generator(type="visit_page", rate=1 / 60, start=600.0, stop=900.0)
    assert times(constant) == [600.0, 660.0, 720.0, 780.0, 840.0]
    poisson = attrs.evolve(constant, arrivals="poisson")
    got = times(poisson, end=800.0)
    assert got and all(600.0 < t < 800.0 for t in got)
    assert times(attrs.evolve(constant, rate=0.0)) == []


def test_poisson_arrivals_are_a_function_of_seed_and_position() -> None:
    poisson = Generator(type="visit_page", rate=1.0, arrivals="poisson")
    assert times(poisson, seed=1, index=0) == times(poisson, seed=1, index=0)
    assert times(poisson, seed=1, index=0) != times(poisson, seed=2, index=0)
    assert times(poisson, seed=1, index=0) != times(poisson, seed=1, index=1)
    got = times(poisson, seed=1)
    assert got == sorted(got) and all(round(t, 6) == t for t in got)


def test_poisson_arrivals_have_the_rate_and_exponential_gaps() -> None:
    """20,000 an hour over 10 hours: the count is within 4 standard deviations of 200,000
    (sqrt(200,000) = 447), and the gaps' mean and standard deviation are both 1/rate
    within 1% (an exponential's are equal), for this seed."""
    rate = 20000 / 3600
    got = times(Generator(type="fill_out_form", rate=rate, arrivals="poisson"), seed=7, end=36000.0)
    assert abs(len(got) - 200_000) < 4 * math.sqrt(200_000)
    gaps = [b - a for a, b in pairwise(got)]
    assert statistics.fmean(gaps) == pytest.approx(1 / rate, rel=0.01)
    assert statistics.stdev(gaps) == pytest.approx(1 / rate, rel=0.01)


POISSON = """
[sim]
duration = "1h"

[people]
count = 3

[campaigns.Visit]
qualification = "every time"
triggers = [{ trigger = "visits_page" }]
flow = [{ step = "send_email", email = "Thanks" }]

[[generators]]
type = "visit_page"
page = "/pricing"
rate = "60/h"
arrivals = "poisson"
"""


def test_a_poisson_generator_runs_and_the_log_holds_every_arrival() -> None:
    """The engine and the conservation check compute the same arrivals, and a lost one is
    reported."""
    result = simulate(parse_scenario(POISSON), seed=3)
    visits = [a for a in result.activities if a.type == "visit_page"]
    expected = times(result.scenario.generators[0], seed=3, end=3600.0)
    assert [a.time for a in visits] == expected
    assert any(t != round(t) for t in expected)  # not the constant grid
    log = Log.of(result.scenario, result.activities, summary=result.summary, people=result.people)
    assert check_conservation(log) == []
    lost = [a for a in result.activities if a is not visits[0]]
    messages = [v.message for v in check_conservation(Log.of(result.scenario, lost))]
    assert f"1 generated visit_page activity at t={visits[0].time:g} [('page', '/pricing')] is missing" in messages


def daily(*rates_per_hour: float) -> tuple[float, ...]:
    """A daily profile from per-hour rates of the first hours (the rest of the day 0)."""
    return tuple(r / 3600 for r in rates_per_hour) + (0.0,) * (24 - len(rates_per_hour))


def test_a_daily_profile_changes_the_rate_on_the_hour() -> None:
    """Hour 0 at 2/h, hour 1 silent, hour 2 at 4/h: constant arrivals restart each hour."""
    profile = daily(2, 0, 4)
    constant = Generator(type="visit_page", rate=sum(profile) / 24, daily=profile)
    assert times(constant, end=3 * 3600.0) == [0.0, 1800.0, 7200.0, 8100.0, 9000.0, 9900.0]
    # the next day repeats the profile
    assert times(constant, end=86400.0 + 3600.0)[-2:] == [86400.0, 88200.0]
    late = attrs.evolve(constant, start=600.0)
    assert times(late, end=2 * 3600.0) == [600.0, 2400.0]


def test_a_daily_poisson_profile_follows_each_hours_rate() -> None:
    """Hour 0 at 3,600/h and hour 2 at 7,200/h, the rest silent: over two days nothing
    arrives in a silent hour, and each busy hour's count is within 4 standard deviations
    of its rate."""
    profile = daily(3600, 0, 7200)
    poisson = Generator(type="visit_page", rate=sum(profile) / 24, arrivals="poisson", daily=profile)
    got = times(poisson, seed=5, end=2 * 86400.0)
    hours = [int(t // 3600) % 24 for t in got]
    assert set(hours) == {0, 2}
    for day in (0, 1):
        for hour, rate in ((0, 3600), (2, 7200)):
            count = sum(1 for t in got if int(t // 3600) == day * 24 + hour)
            assert abs(count - rate) < 4 * math.sqrt(rate)


def test_a_daily_profile_runs_and_keeps_every_guarantee() -> None:
    hours = ", ".join(['"30/h"'] * 2 + ['"0/h"'] * 22)
    text = POISSON.replace('rate = "60/h"', f"daily = [{hours}]").replace('duration = "1h"', 'duration = "1d"')
    result = simulate(parse_scenario(text), seed=4)
    visits = [a.time for a in result.activities if a.type == "visit_page"]
    assert visits and max(visits) < 7200.0
    assert visits == times(result.scenario.generators[0], seed=4, end=86400.0)
    found = check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    assert found == []
