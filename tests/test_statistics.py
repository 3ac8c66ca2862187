"""Estimates over replications: Student's t intervals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.scale.statistics import Estimate, estimate, t975


def test_t_quantiles_match_the_tables() -> None:
    # Abramowitz & Stegun 26.10 / any t table: 0.975 quantiles.
    assert t975(1) == 12.7062
    assert t975(4) == 2.7764
    assert t975(30) == 2.0423
    for df, table in ((40, 2.0211), (60, 2.0003), (120, 1.9799), (1000, 1.9623)):
        assert t975(df) == pytest.approx(table, abs=2e-4)
    with pytest.raises(ValueError, match="at least 1"):
        t975(0)


def test_an_estimate_of_known_samples() -> None:
    value = estimate([1.0, 2.0, 3.0, 4.0])
    half = 3.1824 * math.sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3 / 4)  # t(3) * s / sqrt(n)
    assert value == Estimate(mean=2.5, low=pytest.approx(2.5 - half), high=pytest.approx(2.5 + half), n=4)
    assert value.half_width == pytest.approx(half)
    assert estimate([7.0]) == Estimate(mean=7.0, low=7.0, high=7.0, n=1)  # one replication: no interval
    assert estimate([0.0, 0.0, 3.0], lowest=0.0).low == 0.0  # a queue length is never negative
    with pytest.raises(ValueError, match="no replication"):
        estimate([])


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=30))
def test_the_interval_holds_the_mean(samples: list[float]) -> None:
    value = estimate(samples)
    assert value.low <= value.mean <= value.high
    assert value.holds(value.mean)
    assert value.n == len(samples)
