"""Erlang C, and which designs are M/M/c queues."""

from __future__ import annotations

import math

import pytest

from sim.scale.theory import MMc, erlang_c, mmc_of, predict
from sim.scenario import parse_scenario

MMC = """
[sim]
duration = "1h"
[people]
count = 100
[queue]
workers = 3
[queue.service]
change_score = { distribution = "exponential", mean = "2s" }
[campaigns.Score]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "3600/h"
arrivals = "poisson"
"""


def test_erlang_c_by_hand() -> None:
    # M/M/1: the chance to wait is the utilization.
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    # M/M/2 at 1 Erlang: (a^c/c! * c/(c-a)) / (1 + a + a^c/c! * c/(c-a)) = 1 / 3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # Saturated: everyone waits. Many workers: the recursion stays finite.
    assert erlang_c(4, 4.0) == 1.0
    assert 0 < erlang_c(500, 480.0) < 1


def test_an_mm1_prediction_is_the_textbook_one() -> None:
    lam, mu = 0.5, 1.0
    prediction = predict(MMc(arrival_rate=lam, service_rate=mu, workers=1), load=1.0)
    assert prediction is not None
    rho = lam / mu
    assert prediction.utilization == pytest.approx(rho)
    assert prediction.wait_mean == pytest.approx(rho / (mu - lam))  # Wq = rho / (mu - lambda)
    assert prediction.queue_mean == pytest.approx(rho**2 / (1 - rho))  # Lq
    assert prediction.latency_mean == pytest.approx(1 / (mu - lam))  # W
    assert prediction.wait_p50 == 0.0  # half the runs do not wait at all
    assert prediction.wait_p95 == pytest.approx(math.log(rho / 0.05) / (mu - lam))
    assert predict(MMc(arrival_rate=lam, service_rate=mu, workers=1), load=2.0) is None  # no steady state


def test_a_design_that_is_mmc_and_its_saturation() -> None:
    model = mmc_of(parse_scenario(MMC))
    assert model == MMc(arrival_rate=1.0, service_rate=0.5, workers=3)
    assert model.saturation_load == pytest.approx(1.5)


@pytest.mark.parametrize(
    "change",
    [
        ('arrivals = "poisson"', 'arrivals = "constant"'),  # D/M/c
        ('distribution = "exponential"', 'distribution = "lognormal", sd = "1s"'),  # M/G/c
        ('qualification = "every time"', 'qualification = "once"'),  # arrivals lost
        (
            'flow = [{ step = "change_score", change = "+1" }]',
            'flow = [{ step = "change_score", change = "+1" }, { step = "change_score", change = "+1" }]',
        ),
        ('[queue]\nworkers = 3\n[queue.service]\nchange_score = { distribution = "exponential", mean = "2s" }\n', ""),
    ],
)
def test_designs_that_are_not_mmc(change: tuple[str, str]) -> None:
    text = MMC.replace(*change)
    assert text != MMC
    assert mmc_of(parse_scenario(text)) is None
