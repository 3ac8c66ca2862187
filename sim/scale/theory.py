"""Queueing theory's answer where a design is an M/M/c queue: Erlang C.

A design is M/M/c when its trigger queue sees Poisson arrivals (one rate, no daily
profile) each starting one run of a single campaign whose flow is one step with an
exponential service time (R22), on c workers: then everything the sweep measures has a
closed form (Kleinrock, *Queueing Systems* vol. 1, 3.5). The sweep prints it beside the
measurement, and the fidelity test holds the simulator to it.
"""

from __future__ import annotations

import math

import attrs

from sim.scenario.model import Scenario

#: Step kinds whose time is not a worker's service time (R15, R16, R5, R6, R11).
_NOT_SERVICE = frozenset(("wait", "call_webhook", "request_campaign", "execute_campaign", "remove_from_flow"))


@attrs.frozen(kw_only=True)
class MMc:
    """An M/M/c queue at load 1x: arrivals per second, services per second per worker,
    and the design's workers."""

    arrival_rate: float
    service_rate: float
    workers: int

    @property
    def saturation_load(self) -> float:
        """The load multiplier at which arrivals equal what ``workers`` can serve."""
        return self.workers * self.service_rate / self.arrival_rate


@attrs.frozen(kw_only=True)
class Prediction:
    """Erlang C's steady state at one load and worker count (seconds, runs)."""

    utilization: float
    wait_probability: float
    wait_mean: float
    wait_p50: float
    wait_p95: float
    wait_p99: float
    queue_mean: float
    latency_mean: float


def mmc_of(scenario: Scenario) -> MMc | None:
    """The M/M/c queue ``scenario`` is, or None if it is not exactly one."""
    queue = scenario.queue
    generators = scenario.generators
    if queue is None or not generators or scenario.replays or scenario.activities:
        return None
    if any(g.arrivals != "poisson" or g.daily or g.start or g.stop is not None for g in generators):
        return None
    types = {g.type for g in generators}
    campaigns = [c for c in scenario.campaigns.values() if c.active and c.kind != "executable"]
    if len(types) != 1 or len(campaigns) != 1:
        return None
    (campaign,) = campaigns
    if campaign.kind != "trigger" or campaign.filters or campaign.qualification.rule != "every_time":
        return None
    if any(t.constraints or t.activity not in types for t in campaign.triggers) or len(campaign.flow) != 1:
        return None
    (step,) = campaign.flow
    service = queue.service.get(step.kind)
    if step.choices or step.action is None or step.kind in _NOT_SERVICE or service is None:
        return None
    if service.distribution != "exponential" or service.mean <= 0:
        return None
    return MMc(arrival_rate=sum(g.rate for g in generators), service_rate=1 / service.mean, workers=queue.workers)


def erlang_c(workers: int, offered: float) -> float:
    """The probability that an arrival waits, with ``offered`` = λ/μ Erlangs on
    ``workers`` servers (1.0 at or past saturation). Computed through Erlang B's
    recursion, which stays stable for any number of workers."""
    if offered >= workers:
        return 1.0
    blocking = 1.0
    for k in range(1, workers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return workers * blocking / (workers - offered * (1 - blocking))


def predict(mmc: MMc, *, load: float, workers: int | None = None) -> Prediction | None:
    """Erlang C at ``load`` times the arrivals on ``workers`` (default: the design's);
    None at or past saturation, where there is no steady state to predict."""
    c = mmc.workers if workers is None else workers
    arrivals, mu = mmc.arrival_rate * load, mmc.service_rate
    offered = arrivals / mu
    if offered >= c:
        return None
    waits = erlang_c(c, offered)
    drain = c * mu - arrivals  # the rate of the exponential tail of waits

    def quantile(p: float) -> float:
        # P(W > t) = C e^(-drain t): zero below the share of runs that do not wait.
        return math.log(waits / (1 - p)) / drain if waits > 1 - p else 0.0

    wait_mean = waits / drain
    return Prediction(
        utilization=offered / c,
        wait_probability=waits,
        wait_mean=wait_mean,
        wait_p50=quantile(0.50),
        wait_p95=quantile(0.95),
        wait_p99=quantile(0.99),
        queue_mean=arrivals * wait_mean,
        latency_mean=wait_mean + 1 / mu,
    )
