"""Sweeps: points as pure functions, results gathered by key, saturation, and fidelity to
Erlang C on an M/M/c design."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scale.factors import Factors
from sim.scale.point import PointJob, Replication, run_point
from sim.scale.sweep import SweepSpec, run_sweep, summarize_sweep
from sim.scale.sweep_output import format_csv, format_table
from sim.scenario import parse_scenario
from sim.scenario.model import Scenario
from sim.verify import workers

#: M/M/2: Poisson fills at 360/h, one step of exponential service (mean 10 s) on 2
#: workers: utilization 0.5 at 1x, saturation at 2x (R19-R22; docs/sweeps.md).
MM2 = """
[sim]
seed = 1
duration = "%s"
[fields]
score = 0
[people]
count = 1000
[queue]
workers = 2
[queue.service]
default = "0s"
change_score = { distribution = "exponential", mean = "10s" }
[campaigns.Score]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "360/h"
arrivals = "poisson"
"""

#: D/D/1: a fill every 10 s, 4 s of service on one worker: every figure by hand.
DD1 = """
[sim]
duration = "1h"
[fields]
score = 0
[people]
count = 10
[queue]
workers = 1
[queue.service]
default = "0s"
change_score = "4s"
[campaigns.Score]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "360/h"
"""


@attrs.define
class ListPool:
    """Runs jobs in this process and yields them in ``order`` (default: job order)."""

    designs: dict[str, Scenario]
    order: Callable[[int], list[int]] | None = None
    stop_after: int | None = None

    def map_unordered(
        self, fn: Callable[[PointJob], Replication], items: Sequence[PointJob]
    ) -> Iterator[tuple[int, Replication]]:
        workers._Shared.value = self.designs
        indexes = self.order(len(items)) if self.order else list(range(len(items)))
        for count, index in enumerate(indexes):
            if self.stop_after is not None and count == self.stop_after:
                raise KeyboardInterrupt
            yield index, fn(items[index])


def test_a_point_is_a_pure_function_of_design_factors_and_seed() -> None:
    design = parse_scenario(MM2 % "1h")
    job = PointJob(
        factors=Factors(variant="mm2", load=1.0, workers=2), replication=0, seed=5, warmup=600, duration=3600
    )
    assert run_point(design, job) == run_point(design, job)
    assert run_point(design, attrs.evolve(job, seed=6)) != run_point(design, job)


def test_every_figure_of_a_deterministic_design_by_hand() -> None:
    # D/D/1, no warm-up: 360 fills at 0, 10, ..., 3590 s, each served 4 s at once.
    designs = {"dd1": parse_scenario(DD1)}
    spec = SweepSpec(variants=("dd1",), loads=(1.0, 2.0), replications=2)
    result = run_sweep(spec, designs, ListPool(designs))
    rows = {
        (row.split(",")[2], row.split(",")[4]): row for row in format_csv(result).splitlines()[1:] if ",all," in row
    }
    assert rows["1", "utilization"] == "dd1,1,1,all,utilization,2,0.4,0.4,0.4,"
    assert rows["1", "throughput_per_hour"] == "dd1,1,1,all,throughput_per_hour,2,360,360,360,"
    assert rows["1", "wait_p99"] == "dd1,1,1,all,wait_p99,2,0,0,0,"
    assert rows["1", "latency_p50"] == "dd1,1,1,all,latency_p50,2,4,4,4,"
    # At 2x a fill every 5 s: still one at a time, 0.8 busy.
    assert rows["2", "utilization"] == "dd1,1,2,all,utilization,2,0.8,0.8,0.8,"
    assert rows["2", "queue_max"] == "dd1,1,2,all,queue_max,2,0,0,0,"
    assert (
        format_csv(result).splitlines()[0]
        == "variant,workers,load,scope,figure,replications,mean,ci_low,ci_high,erlang_c"
    )
    (saturation,) = result.saturation
    assert saturation.estimate is not None and saturation.estimate.mean == pytest.approx(2.5)  # 1 / 0.4
    assert (saturation.first_backed_up, saturation.last_drained, saturation.theory) == (None, 2.0, None)
    table = format_table(result)
    assert table.splitlines()[2].split() == [
        "dd1",
        "1",
        "1x",
        "360",
        "±0",
        "0.400",
        "±0.000",
        "0.0",
        "±0.0",
        "0",
        "±0",
        "0.00",
        "±0.00",
        "4.00",
        "±0.00",
        "4.00",
        "±0.00",
        "0",
        "±0",
    ]
    assert "dd1, 1 workers: 2.50x (95% CI 2.50x-2.50x) from utilization; drains at every load swept" in table


@pytest.fixture(scope="module")
def mm2_replications() -> tuple[SweepSpec, dict[str, Scenario], list[Replication]]:
    designs = {
        "mm2": parse_scenario(MM2 % "1h"),
        "wider": parse_scenario((MM2 % "1h").replace("workers = 2", "workers = 3")),
    }
    spec = SweepSpec(variants=("mm2", "wider"), loads=(0.5, 1.5), replications=2, seed=3, warmup=300)
    done = {}
    for index, replication in ListPool(designs).map_unordered(
        lambda job: run_point(designs[job.factors.variant], job), spec.jobs(designs)
    ):
        done[index] = replication
    return spec, designs, [done[i] for i in sorted(done)]


@settings(max_examples=10)
@given(st.randoms(use_true_random=False))
def test_the_result_is_the_same_whatever_order_the_points_finish_in(
    mm2_replications: tuple[SweepSpec, dict[str, Scenario], list[Replication]], shuffle: random.Random
) -> None:
    spec, designs, replications = mm2_replications
    in_order = summarize_sweep(spec, designs, replications, jobs=len(replications))
    order = list(range(len(replications)))
    shuffle.shuffle(order)
    arrived: dict[int, Replication] = {}
    for index in order:  # as run_sweep gathers: by the job's number, never by arrival
        arrived[index] = replications[index]
    again = summarize_sweep(spec, designs, [arrived[i] for i in sorted(arrived)], jobs=len(replications))
    assert format_csv(again) == format_csv(in_order)
    assert again == in_order


def test_a_sweep_stopped_by_ctrl_c_sums_up_what_finished() -> None:
    designs = {"dd1": parse_scenario(DD1)}
    spec = SweepSpec(variants=("dd1",), loads=(1.0, 2.0), replications=2)
    result = run_sweep(spec, designs, ListPool(designs, order=lambda n: [3, 0, 1, 2], stop_after=3))
    assert (result.complete, result.jobs_done, result.jobs) == (False, 3, 4)
    assert [(p.factors.load, p.replications) for p in result.points] == [(1.0, 2), (2.0, 1)]
    assert format_table(result).endswith("stopped: 3 of 4 simulations ran; the figures are theirs\n")


def test_a_design_past_saturation_backs_up() -> None:
    designs = {"mm2": parse_scenario(MM2 % "3h")}
    spec = SweepSpec(variants=("mm2",), loads=(1.0, 2.5), replications=2, seed=1, warmup=600)
    result = run_sweep(spec, designs, ListPool(designs))
    assert [p.backed_up for p in result.points] == [False, True]
    (saturation,) = result.saturation
    assert (saturation.last_drained, saturation.first_backed_up, saturation.theory) == (1.0, 2.5, 2.0)
    assert "backs up at 2.5x, drains at 1x; Erlang C (M/M/c): 2.00x" in format_table(result)


@pytest.mark.slow
def test_fidelity_the_sweep_agrees_with_erlang_c_within_its_intervals() -> None:
    """On M/M/2 the sweep's mean waits, utilization and queue length at each load, and
    its saturation point, hold Erlang C's values inside the 95% intervals it prints.
    With fixed seeds this is deterministic; over seeds each 95% interval misses one time
    in twenty, and of the nine here some seed bases miss one (seed 1: the wait at 1.4x,
    12.1 s [10.0, 14.2] against 9.61 s). Bias is what matters, and
    benchmarks/sweep_fidelity.py measures it with 40 replications per point."""
    designs = {"mm2": parse_scenario(MM2 % "4h")}
    spec = SweepSpec(variants=("mm2",), loads=(0.5, 1.0, 1.4), replications=5, seed=10, warmup=1800)
    result = run_sweep(spec, designs, ListPool(designs))
    for point in result.points:
        assert point.theory is not None
        figures = point.figures["all"]
        for figure in ("wait_mean", "utilization", "queue_mean"):
            assert figures[figure].holds(getattr(point.theory, figure)), (point.factors.load, figure, figures[figure])
    (saturation,) = result.saturation
    assert saturation.theory == 2.0
    assert saturation.estimate is not None and saturation.estimate.holds(2.0), saturation.estimate
