"""sim.observe.metrics: time-weighted queue length, exact percentiles, and the JSON of `Metrics`.

The time-weighted values are checked against hand-computed areas; every time and value
in them is a dyadic rational (0.5, 2.5, ...), so the float arithmetic is exact and the
comparisons are ``==``, not approximate.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import pytest

from sim.cli import main
from sim.observe.metrics import Metrics, Percentiles, TimeWeighted, percentiles
from sim.observe.simulation import Simulation
from sim.scenario import parse_scenario

# --- TimeWeighted ------------------------------------------------------------------------------


def test_time_weighted_mean_max_and_bins_of_a_queue_that_changes_between_points() -> None:
    """A window of 10 s in 5 bins of 2 s. The length: 0, 1 at 0.5 s, 3 and at once 2 at
    1 s (3 held for no time: it counts for the maximum only), 0 at 2.5 s, 4 at 3 s (held
    across bins 1-3), 1 at 7 s. Areas by hand:
        [0.5, 1) x1 = 0.5   [1, 2.5) x2 = 3   [3, 7) x4 = 16   [7, 10) x1 = 3   -> 22.5
    bin 0 [0, 2): 0.5 + 2 = 2.5     bin 1 [2, 4): 1 + 4 = 5     bin 2 [4, 6): 8
    bin 3 [6, 8): 4 + 1 = 5         bin 4 [8, 10): 2
    """
    length = TimeWeighted(0.0, 10.0, points=5)
    for now, value in ((0.5, 1), (1.0, 3), (1.0, 2), (2.5, 0), (3.0, 4), (7.0, 1)):
        length.set(now, value)
    length.close(10.0)
    assert length.area == 22.5
    assert length.mean == 2.25
    assert length.max == 4
    means, maxes = length.series()
    assert means == (1.25, 2.5, 4.0, 2.5, 1.0)
    assert maxes == (3, 4, 4, 4, 1)


def test_time_weighted_counts_a_queue_that_fills_and_drains_within_one_bin() -> None:
    """Between two series points (bins of 10 s) the queue reaches 5 and drains: the
    spike is in the mean (5 x 0.5 s + 2 x 0.25 s over 100 s), the bin's max and the max."""
    length = TimeWeighted(0.0, 100.0, points=10)
    for now, value in ((42.0, 5), (42.5, 2), (42.75, 0)):
        length.set(now, value)
    length.close(100.0)
    assert length.mean == 3.0 / 100
    assert length.max == 5
    means, maxes = length.series()
    assert means == (0.0, 0.0, 0.0, 0.0, 3.0 / 10, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert maxes == (0, 0, 0, 0, 5, 0, 0, 0, 0, 0)


def test_time_weighted_value_held_to_the_end_and_a_window_cut_short() -> None:
    """The last value counts up to ``close``: here the end of an interrupted run (6 s of
    a 8 s window), so the mean is over 6 s and the bins past it hold nothing."""
    busy = TimeWeighted(0.0, 8.0, points=4)
    busy.set(0.0, 2)
    busy.set(3.0, 1)
    busy.close(6.0)
    assert (busy.area, busy.mean, busy.max) == (9.0, 1.5, 2)
    means, maxes = busy.series()
    assert means == (2.0, 1.5, 1.0, 0.0)
    assert maxes == (2, 2, 1, 0)


def test_time_weighted_empty_window() -> None:
    """Nothing set: all zero; a zero-length window's mean is its value (no division by 0)."""
    empty = TimeWeighted(0.0, 5.0, points=5)
    empty.close(5.0)
    assert (empty.mean, empty.max, empty.series()) == (0.0, 0, ((0.0,) * 5, (0,) * 5))
    instant = TimeWeighted(0.0, 0.0, points=1)
    instant.set(0.0, 3)
    assert instant.mean == 3.0


# --- percentiles -------------------------------------------------------------------------------


def test_percentiles_nearest_rank_on_small_lists() -> None:
    """Nearest rank: the p-th percentile of n sorted values is the ceil(p·n)-th."""
    # The textbook example: 15, 20, 35, 40, 50 -> p50 is the 3rd value, p95 and p99 the 5th.
    assert percentiles([50, 15, 40, 20, 35]) == Percentiles(count=5, mean=32.0, p50=35, p95=50, p99=50, max=50)
    assert percentiles([7.0]) == Percentiles(count=1, mean=7.0, p50=7.0, p95=7.0, p99=7.0, max=7.0)
    assert percentiles([]) == Percentiles()
    # 1..20: p50 the 10th, p95 the 19th (p·n = 19 exactly: not rounded up to the 20th).
    assert percentiles(range(20, 0, -1)) == Percentiles(count=20, mean=10.5, p50=10, p95=19, p99=20, max=20)
    # 1..100: each percentile is its own rank.
    hundred = percentiles(float(i) for i in range(1, 101))
    assert (hundred.p50, hundred.p95, hundred.p99, hundred.max) == (50.0, 95.0, 99.0, 100.0)
    # Two values: p50 is the lower one (rank ceil(1) = 1).
    assert percentiles([2.0, 1.0]).p50 == 1.0


def test_percentiles_match_exact_nearest_rank_for_every_n_up_to_400() -> None:
    """No float error in ceil(p·n): compared with exact fractions for n = 1..400."""
    for n in range(1, 401):
        result = percentiles(range(1, n + 1))  # value i at rank i
        for p, got in (("0.5", result.p50), ("0.95", result.p95), ("0.99", result.p99)):
            assert got == max(1, math.ceil(Fraction(p) * n)), (n, p)


# --- Metrics and its JSON ----------------------------------------------------------------------

SCENARIO = """
lists = ["L"]

[sim]
duration = "1h"
seed = 3

[people]
count = 20

[queue]
workers = 2
batch_workers = 1

[queue.service]
default = "0s"
send_email = { distribution = "exponential", mean = "20s" }
add_to_list = "5s"
change_score = { distribution = "lognormal", mean = "3s", sd = "2s" }

[campaigns.Welcome]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "send_email", email = "Welcome" },
  { step = "wait", duration = "2m" },
  { step = "add_to_list", list = "L" },
]

[campaigns.Score]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]

[campaigns.Nightly]
kind = "batch"
schedule = { at = "30m" }
flow = [{ step = "add_to_list", list = "L" }]

[[load]]
type = "fill_out_form"
form = "F"
rate = "120/h"
arrivals = "poisson"
"""


def metrics_of(text: str) -> Metrics:
    simulation = Simulation(parse_scenario(text, source="<test>"))
    simulation.run_sync()
    return simulation.metrics()


def test_metrics_to_json_round_trips_through_json() -> None:
    """to_json() is plain JSON (no NaN, no tuples): dumps then loads gives it back, and it
    has the layout of docs/queue.md with the values of the Metrics record."""
    metrics = metrics_of(SCENARIO)
    data = metrics.to_json()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert set(data) == {"duration", "queues", "campaigns", "priorities", "throughput", "steps_per_hour"}
    assert set(data["queues"]) == {"trigger", "batch"}  # type: ignore[arg-type]
    trigger = data["queues"]["trigger"]  # type: ignore[index]
    assert set(trigger) == {
        *("name", "workers", "mean_length", "max_length", "length", "utilization", "wait"),
        *("wait_by_priority", "queued_at_end", "in_service_at_end", "oldest_queued_at_end"),
    }
    assert set(trigger["length"]) == {"interval", "mean", "max"}
    assert len(trigger["length"]["mean"]) == len(trigger["length"]["max"]) == 200
    assert set(trigger["wait"]) == {"count", "mean", "p50", "p95", "p99", "max"}
    assert trigger["wait"]["mean"] == metrics.queues["trigger"].wait.mean
    assert trigger["mean_length"] == metrics.queues["trigger"].mean_length
    assert set(data["campaigns"]) == {"Welcome", "Score", "Nightly"}  # type: ignore[arg-type]
    welcome = data["campaigns"]["Welcome"]  # type: ignore[index]
    assert set(welcome) == {
        "name",
        "priority",
        "started",
        "completed",
        "throughput",
        "wait",
        "latency",
        "queued_at_end",
    }
    assert (welcome["priority"], welcome["started"]) == ("high", metrics.campaigns["Welcome"].started)
    assert set(data["priorities"]) == {"high", "medium", "low"}  # type: ignore[arg-type]
    for name, (wait, latency) in metrics.priorities.items():
        assert data["priorities"][name] == {  # type: ignore[index]
            "wait": json.loads(json.dumps(_plain(wait))),
            "latency": json.loads(json.dumps(_plain(latency))),
        }
    # The scenario really queued: the numbers above are not all zeros.
    assert metrics.queues["trigger"].max_length > 0 and metrics.queues["batch"].max_length > 0


def _plain(p: Percentiles) -> dict[str, float]:
    return {"count": p.count, "mean": p.mean, "p50": p.p50, "p95": p.p95, "p99": p.p99, "max": p.max}


def test_metrics_without_a_queue_model() -> None:
    """Without [queue] there are no queues, but campaigns still get latency (steps take
    no time, so only the Wait counts) and the JSON still round-trips."""
    start, end = SCENARIO.index("[queue]"), SCENARIO.index("[campaigns.Welcome]")
    metrics = metrics_of(SCENARIO[:start] + SCENARIO[end:])
    assert metrics.queues == {}
    welcome = metrics.campaigns["Welcome"].latency
    assert welcome.count > 0
    assert (welcome.p50, welcome.max) == (pytest.approx(120.0), pytest.approx(120.0))  # the 2-minute Wait
    assert metrics.campaigns["Score"].latency.max == 0.0
    data = metrics.to_json()
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_cli_metrics_file_is_the_json_of_the_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``sim run FILE --metrics out.json`` writes Metrics.to_json() of that run."""
    scenario = tmp_path / "queue.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "metrics.json"
    assert main(["run", str(scenario), "--metrics", str(out)]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == metrics_of(SCENARIO).to_json()
    assert "Campaign queue (R19-R22" in capsys.readouterr().out


def test_a_run_without_metrics_logs_the_same_and_says_it_kept_none() -> None:
    """Exploration turns the metrics' bookkeeping off (`measure=False`): it must change
    nothing the run does, and asking for the metrics then is an error, not zeros."""
    from sim.observe.sinks import MemorySink
    from sim.scenario import load_scenario

    scenario = load_scenario(Path(__file__).resolve().parent / "data" / "queue-routing.toml")
    logs = []
    for measure in (True, False):
        sink = MemorySink()
        simulation = Simulation(scenario, sinks=[sink], measure=measure)
        simulation.run_sync()
        logs.append([activity.to_json() for activity in sink.activities])
    assert logs[0] == logs[1] and logs[0]
    with pytest.raises(RuntimeError, match="measure=True"):
        simulation.metrics()


def test_a_warm_up_cut_leaves_the_start_out_of_the_mean_and_maximum_not_out_of_the_series() -> None:
    length = TimeWeighted(0.0, 10.0, points=5, measured_from=4.0)
    length.set(1.0, 9)  # 9 from 1 s to 3 s: before the cut, in no mean or maximum
    length.set(3.0, 5)  # 5 from 3 s to 6 s: counts from 4 s on
    length.set(6.0, 1)
    length.close(10.0)
    assert length.max == 5
    assert length.mean == pytest.approx((5 * 2 + 1 * 4) / 6)
    means, maxes = length.series()
    assert maxes == (9, 9, 5, 1, 1)  # the series shows the warm-up
    assert means[0] == pytest.approx(4.5)  # 9 over half of the bin [0, 2)


def test_a_warm_up_cut_leaves_out_runs_admitted_before_it() -> None:
    # Fills at 10 s and 100 s; each runs A (1 s on the one worker, R22), which requests
    # B (2 s, R5). A cut at 50 s leaves the first fill's two runs out.
    scenario = parse_scenario(
        """
        [sim]
        duration = "1h"
        [fields]
        score = 0
        [people]
        count = 2
        [queue]
        workers = 1
        [queue.service]
        default = "0s"
        change_data_value = "1s"
        change_score = "2s"
        [campaigns.A]
        qualification = "every time"
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "change_score", change = "+1" }, { step = "request_campaign", campaign = "B" }]
        [campaigns.B]
        qualification = "every time"
        triggers = [{ trigger = "campaign_is_requested" }]
        flow = [{ step = "change_score", change = "+1" }, { step = "change_score", change = "+1" }]
        [[activities]]
        at = "10s"
        person = "p1"
        type = "fill_out_form"
        [[activities]]
        at = "100s"
        person = "p2"
        type = "fill_out_form"
        """
    )
    whole, cut = Simulation(scenario), Simulation(scenario, warmup=50.0)
    whole.run_sync()
    cut.run_sync()
    before, after = whole.metrics(), cut.metrics()
    assert before.campaigns["A"].latency.count == 2
    assert after.campaigns["A"].latency.count == after.campaigns["B"].latency.count == 1
    assert after.queues["trigger"].wait.count == 2  # A and B of the second fill only
    # Throughput over the measured window: 1 run of each campaign in 3,550 s; the
    # worker busy 2 s + 4 s of it.
    assert after.campaigns["A"].throughput == pytest.approx(3600 / 3550)
    assert after.queues["trigger"].utilization == pytest.approx(6 / 3550)
    assert before.queues["trigger"].utilization == pytest.approx(12 / 3600)
