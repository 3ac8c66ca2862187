"""End-to-end latency of cascades: a request chain (R5) against executables (R6)."""

from __future__ import annotations

import pytest

from sim.observe.cascades import Cascades
from sim.observe.simulation import Simulation
from sim.scenario import parse_scenario

COMMON = """
[sim]
duration = "1h"
[fields]
owner = ""
score = 0
[people]
count = 2
[queue]
workers = 1
[queue.service]
default = "0s"
change_data_value = "1s"
change_score = "2s"
[[activities]]
at = "10s"
person = "p1"
type = "fill_out_form"
[[activities]]
at = "100s"
person = "p2"
type = "fill_out_form"
"""
CHAIN = """
[campaigns.A]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_data_value", field = "owner", value = "x" }, { step = "request_campaign", campaign = "B" }]
[campaigns.B]
qualification = "every time"
triggers = [{ trigger = "campaign_is_requested" }]
flow = [{ step = "change_score", change = "+1" }]
"""
EXECUTABLE = """
[campaigns.A]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_data_value", field = "owner", value = "x" }, { step = "execute_campaign", campaign = "B" }]
[campaigns.B]
kind = "executable"
qualification = "every time"
flow = [{ step = "change_score", change = "+1" }]
"""


def cascades_of(text: str, *, warmup: float = 0.0) -> dict[str, list[float]]:
    cascades = Cascades(warmup=warmup)
    Simulation(parse_scenario(text), observers=[cascades]).run_sync()
    return {name: list(samples) for name, samples in cascades.latency.items()}


@pytest.mark.parametrize("design", [CHAIN, EXECUTABLE], ids=["request chain", "executables"])
def test_a_cascade_runs_from_its_first_admission_to_the_end_of_its_last_run(design: str) -> None:
    # Fill at 10 s: A holds the worker 1 s (R22), then B's step 2 s; in the chain B is
    # a run of its own (R5) that takes the worker A gives back; as an executable it
    # runs inside A (R6). Either way the cascade ends at 13 s: 3 s.
    assert cascades_of(COMMON + design) == {"A": [3.0, 3.0]}


def test_cascades_begun_before_the_warm_up_have_no_sample() -> None:
    assert cascades_of(COMMON + CHAIN, warmup=50.0) == {"A": [3.0]}
    assert cascades_of(COMMON + CHAIN, warmup=100.0) == {"A": [3.0]}  # admitted at the cut: counted
    assert cascades_of(COMMON + CHAIN, warmup=100.5) == {}


def test_a_cascade_still_going_at_the_end_has_no_sample() -> None:
    assert cascades_of((COMMON + CHAIN).replace('at = "100s"', 'at = "3599s"')) == {"A": [3.0]}
