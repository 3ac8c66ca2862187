"""A figure over independent replications: its mean and a 95% confidence interval.

Replications of one point differ only in their seed, so each figure (a p95 wait, a
utilization) is an independent sample; the interval is Student's t on their mean, the
replication/deletion method of simulation output analysis (Law, *Simulation Modeling and
Analysis*, ch. 9). With one replication there is no interval: low and high are the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

#: Student's t, two-sided 95% (the 0.975 quantile), for 1 to 30 degrees of freedom.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959964


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (4 digits)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    # Beyond the table, the Cornish-Fisher expansion around the normal: within 9e-5 of
    # scipy.stats.t.ppf(0.975, df) for every df up to 10,000 (checked once, by hand).
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@attrs.frozen(kw_only=True)
class Estimate:
    """A figure's mean over ``n`` replications and its 95% confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def holds(self, value: float, *, slack: float = 0.0) -> bool:
        """Whether ``value`` lies in the interval, widened by ``slack`` on both sides."""
        return self.low - slack <= value <= self.high + slack


def estimate(samples: Sequence[float], *, lowest: float | None = None) -> Estimate:
    """The mean of ``samples`` (one per replication) with a 95% t interval, cut at
    ``lowest`` when the figure cannot go below it (a queue length is never negative)."""
    n = len(samples)
    if n == 0:
        raise ValueError("no replication to estimate from")
    mean = math.fsum(samples) / n
    if n == 1:
        return Estimate(mean=mean, low=mean, high=mean, n=1)
    variance = math.fsum((x - mean) ** 2 for x in samples) / (n - 1)
    half = t975(n - 1) * math.sqrt(variance / n)
    low = mean - half if lowest is None else max(lowest, mean - half)
    return Estimate(mean=mean, low=low, high=mean + half, n=n)
