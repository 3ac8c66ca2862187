"""A sweep's factors as written on the command line, and a design with them applied."""

from __future__ import annotations

import pytest

from sim.scale.factors import FactorError, Factors, apply_factors, grid, parse_loads, parse_workers, scalable_problem
from sim.scenario import parse_scenario

DESIGN = """
[sim]
duration = "1h"
[people]
count = 10
[queue]
workers = 3
[campaigns.Score]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "60/h"
[[load]]
type = "fill_out_form"
daily = [%s]
"""
DAILY = ", ".join(['"10/h"'] * 24)


def test_a_load_range_includes_both_ends_without_float_dust() -> None:
    assert parse_loads("0.5x:1.5x:0.1x") == (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
    assert parse_loads("1x") == (1.0,)
    assert parse_loads("2, 0.5x,1X,1") == (0.5, 1.0, 2.0)  # sorted, repeats dropped, x optional


def test_worker_counts_as_lists_and_ranges() -> None:
    assert parse_workers("2,4,8") == (2, 4, 8)
    assert parse_workers("2:10:4") == (2, 6, 10)
    assert parse_workers("4") == (4,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "--load fast: cannot read it; write START:STOP:STEP such as 0.5x:1.5x:0.1x"),
        ("0x", "--load 0x: a load multiplier must be more than 0, not 0x"),
        ("1x:0.5x:0.1x", "--load 1x:0.5x:0.1x: STOP must be at least START and STEP more than 0"),
        ("0.1x:100x:0.1x", "--load 0.1x:100x:0.1x: 1,000 levels, more than 200; take a larger STEP"),
        ("1x:2x", "--load 1x:2x: cannot read it"),
        ("nan", "--load nan: cannot read it"),
    ],
)
def test_bad_loads_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(FactorError) as caught:
        parse_loads(text)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"), [("0", "at least 1, not 0"), ("2.5", "cannot read it"), ("a,b", "cannot read")]
)
def test_bad_worker_counts(text: str, message: str) -> None:
    with pytest.raises(FactorError, match=message):
        parse_workers(text)


def test_a_load_scales_every_rate_and_daily_profile_and_workers_set_the_trigger_queue() -> None:
    design = parse_scenario(DESIGN % DAILY)
    scaled = apply_factors(design, load=1.5, workers=7)
    assert [g.rate for g in scaled.generators] == pytest.approx([1.5 * g.rate for g in design.generators])
    assert scaled.generators[1].daily == pytest.approx(tuple(1.5 * r for r in design.generators[1].daily))
    assert scaled.queue is not None and design.queue is not None
    assert (scaled.queue.workers, scaled.queue.batch_workers) == (7, design.queue.batch_workers)
    assert apply_factors(design, load=1.0, workers=None) is design  # nothing to change


def test_a_load_makes_a_replay_come_faster(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "fills.csv").write_text(
        "time,person,activity\n0,p1,fill_out_form\n30m,p2,fill_out_form\n1h,p3,fill_out_form\n"
    )
    text = DESIGN.split("[[load]]")[0] + '[[load]]\ncsv = "fills.csv"\n'
    (folder / "replay.toml").write_text(text)
    from sim.scenario import load_scenario

    design = load_scenario(folder / "replay.toml")
    assert list(apply_factors(design, load=2.0, workers=None).replays[0].times) == [0.0, 900.0, 1800.0]
    assert list(apply_factors(design, load=3.0, workers=None).replays[0].times) == [0.0, 600.0, 1200.0]


def test_what_cannot_be_swept_is_said() -> None:
    no_queue = parse_scenario(DESIGN.replace("[queue]\nworkers = 3\n", "") % DAILY)
    assert "has no [queue]" in (scalable_problem(no_queue, workers=False) or "")
    no_load = parse_scenario(
        DESIGN.split("[[load]]")[0] + '[[activities]]\nat = "1m"\nperson = "p1"\ntype = "fill_out_form"\n'
    )
    assert "has no [[load]]" in (scalable_problem(no_load, workers=False) or "")
    assert scalable_problem(parse_scenario(DESIGN % DAILY), workers=True) is None


def test_the_grid_is_full_factorial_variant_then_workers_then_load() -> None:
    points = grid(("a", "b"), (0.5, 1.0), (2, 4))
    assert [(p.variant, p.workers, p.load) for p in points] == [
        (v, w, m) for v in ("a", "b") for w in (2, 4) for m in (0.5, 1.0)
    ]
    assert points[0] == Factors(variant="a", load=0.5, workers=2)
