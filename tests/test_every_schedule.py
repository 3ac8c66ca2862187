"""Every schedule without reduction (sim.verify.every_schedule), the ground truth of the exhaustive
search: checked against counts worked out by hand and an independent brute force."""

from __future__ import annotations

import itertools
from math import factorial
from pathlib import Path

import pytest

from sim.observe.simulation import Simulation
from sim.run.schedule import ScheduleError, format_schedule
from sim.scenario import load_scenario
from sim.scenario.model import Scenario
from sim.verify.every_schedule import every_schedule, next_prefix

EXAMPLES = Path(__file__).parent.parent / "examples"
RACE = EXAMPLES / "racing-triggers-one-fill.toml"

#: The one-fill race's schedules, worked out by hand. The fill starts two runs that nothing
#: orders: "Normalize Country" (1 step) and "Score Lead" (2 steps). Each run is a start and
#: then its steps, so 2 and 3 segments, and a schedule is an interleaving of the two: C(5, 2)
#: = 10. Every choice point has both runs' next segments as candidates (index 0 the older);
#: once one run has finished there is no choice left, so a schedule ends at the point where
#: one run is done.
ONE_FILL_SCHEDULES = {
    "",
    "3:1",
    "3:1,4:1",
    "2:1",
    "1:1",
    "1:1,4:1",
    "1:1,3:1",
    "1:1,2:1",
    "1:1,2:1,4:1",
    "1:1,2:1,3:1",
}


def racing_writers(tmp_path: Path, values: list[str]) -> Scenario:
    """One form fill that starts one trigger campaign per value, each a single step writing
    its value to the same field: the last writer wins, so each value is one outcome."""
    campaigns = "\n".join(
        f'[campaigns."Set {value}"]\nqualification = "every time"\ntriggers = [{{ trigger = "fills_out_form" }}]\n'
        f'flow = [{{ step = "change_data_value", field = "country", value = "{value}" }}]\n'
        for value in values
    )
    text = (
        '[sim]\nduration = "1h"\n\n[fields]\ncountry = ""\n\n[[person]]\nid = "alice"\n\n'
        f"{campaigns}\n"
        '[[activities]]\nat = "0s"\nperson = "alice"\ntype = "fill_out_form"\nform = "Contact Us"\n'
    )
    path = tmp_path / "writers.toml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def brute_force(scenario: Scenario, points: int, candidates: int) -> set[str]:
    """Every schedule, found without the search: replay every deviation string over the first
    ``points`` choice points with indexes below ``candidates``, keep those that fit the scenario,
    and take the schedule each run actually followed."""
    found = set()
    for picks in itertools.product(range(candidates), repeat=points):
        simulation = Simulation(scenario, schedule=format_schedule(dict(enumerate(picks, 1))), record=True)
        try:
            simulation.run_sync()
        except ScheduleError:
            continue
        found.add(simulation.schedule_string())
    return found


def test_next_prefix_backtracks_to_the_deepest_choice_with_a_candidate_left() -> None:
    assert next_prefix([(2, 0), (3, 1), (2, 1)]) == ((2, 0), (3, 2))
    assert next_prefix([(2, 0), (2, 0)]) == ((2, 0), (2, 1))
    assert next_prefix([(2, 1), (3, 2)]) is None
    assert next_prefix([]) is None


def test_the_one_fill_race_has_exactly_the_ten_interleavings_counted_by_hand() -> None:
    scenario = load_scenario(RACE)
    schedules = [visited.schedule for visited in every_schedule(scenario)]
    assert len(schedules) == 10 == len(set(schedules))
    assert set(schedules) == ONE_FILL_SCHEDULES == brute_force(scenario, points=4, candidates=2)


@pytest.mark.parametrize("runs", [2, 3])
def test_racing_one_step_runs_give_the_multinomial_count_and_one_outcome_per_last_writer(
    tmp_path: Path, runs: int
) -> None:
    values = ["A", "B", "C"][:runs]
    scenario = racing_writers(tmp_path, values)
    schedules = [visited.schedule for visited in every_schedule(scenario)]
    # Each run is 2 segments (start, step): (2 runs)! / (2!)^runs interleavings: 6 and 90.
    assert len(schedules) == factorial(2 * runs) // 2**runs == len(set(schedules))
    if runs == 2:
        assert set(schedules) == brute_force(scenario, points=3, candidates=2)
    last_writers = {visited.outcome.values()["alice", "country"] for visited in every_schedule(scenario)}
    assert last_writers == set(values)  # the last writer wins (R14), and each can be last
