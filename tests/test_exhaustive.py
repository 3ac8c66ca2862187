"""Exhaustive exploration (sim.verify.exhaustive, ``sim explore --exhaustive``): every schedule of a
small design once, checked against counts worked out by hand and an independent brute force."""

from __future__ import annotations

import itertools
import re
from math import factorial
from pathlib import Path

import pytest

from sim.cli import main
from sim.observe.simulation import Simulation
from sim.run.schedule import ScheduleError, format_schedule
from sim.scenario import load_scenario
from sim.scenario.model import Scenario
from sim.verify.exhaustive import every_schedule, explore_exhaustive, next_prefix
from sim.verify.explore import Stop, explore
from sim.verify.outcomes import Outcome

EXAMPLES = Path(__file__).parent.parent / "examples"
RACE = EXAMPLES / "racing-triggers-one-fill.toml"
FIXED = EXAMPLES / "racing-triggers-fixed.toml"

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


def outcome_set(outcomes: list[Outcome | None]) -> set[Outcome]:
    assert all(outcome is not None for outcome in outcomes)
    return {outcome for outcome in outcomes if outcome is not None}


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
def test_racing_one_step_runs_give_the_multinomial_count_and_one_class_per_last_writer(
    tmp_path: Path, runs: int
) -> None:
    values = ["A", "B", "C"][:runs]
    scenario = racing_writers(tmp_path, values)
    schedules = [visited.schedule for visited in every_schedule(scenario)]
    # Each run is 2 segments (start, step): (2 runs)! / (2!)^runs interleavings: 6 and 90.
    assert len(schedules) == factorial(2 * runs) // 2**runs == len(set(schedules))
    if runs == 2:
        assert set(schedules) == brute_force(scenario, points=3, candidates=2)
    found = explore_exhaustive(scenario, witnesses=runs)
    assert found.complete and found.exploration.runs == len(schedules)
    last_writers = {
        outcome.values()["alice", "country"] for outcome in outcome_set([c.outcome for c in found.exploration.classes])
    }
    assert last_writers == set(values)


@pytest.mark.parametrize("design", ["one-fill", "three writers"])
def test_the_classes_are_those_random_sampling_finds_with_many_runs(tmp_path: Path, design: str) -> None:
    scenario = load_scenario(RACE) if design == "one-fill" else racing_writers(tmp_path, ["A", "B", "C"])
    exhaustive = explore_exhaustive(scenario, shrink_replays=0)
    sampled = explore(scenario, runs=300, shrink_replays=0)
    assert exhaustive.complete
    assert outcome_set([c.outcome for c in exhaustive.exploration.classes]) == outcome_set(
        [c.outcome for c in sampled.classes]
    )


def test_the_fixed_design_is_complete_with_one_class() -> None:
    found = explore_exhaustive(load_scenario(FIXED))
    assert found.complete and not found.exploration.races
    assert found.exploration.runs == 1  # one run at a time per person: no choice point at all


def test_a_bound_below_the_schedules_says_bounded_and_one_at_them_complete() -> None:
    scenario = load_scenario(RACE)
    bounded = explore_exhaustive(scenario, max_schedules=3)
    assert not bounded.complete and bounded.exploration.runs == 3
    exact = explore_exhaustive(scenario, max_schedules=10)
    assert exact.complete and exact.exploration.runs == 10


def test_a_stop_request_ends_the_search_between_schedules_not_complete() -> None:
    stop = Stop()

    def progress(done: int) -> None:
        if done == 4:
            stop.request()

    found = explore_exhaustive(load_scenario(RACE), progress=progress, stop=stop)
    assert not found.complete and found.exploration.interrupted and found.exploration.runs == 4


def without_time(text: str) -> str:
    return re.sub(r" in \d+\.\d\ds:", ":", text)


def test_sim_explore_exhaustive_prints_complete_and_the_classes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(RACE), "--exhaustive"]) == 0
    assert without_time(capsys.readouterr().out) == (
        f"{RACE}: 10 schedules (exhaustive, depth first): 2 outcome classes\n"
        "complete: these are all the outcomes of this scenario under the model's choice points\n"
        "\n"
        "Class 1: 6 schedules (60%); witness: the default order (oldest first)\n"
        "  the most common outcome; the other classes say how they differ from it\n"
        "\n"
        'Class 2: 4 schedules (40%); witness: --schedule "3:1,4:1"\n'
        '  alice score: 5 (class 1: 25), written by "Score Lead" run 2 step 1 (change_score)\n'
        "\n"
        f"Replay a witness: sim run {RACE} --schedule STRING --log -\n"
        f"See which accesses race, in one run: sim run {RACE} --races\n"
    )
    assert main(["explore", str(RACE), "--exhaustive", "--fail-on-race"]) == 1
    capsys.readouterr()
    assert main(["explore", str(FIXED), "--exhaustive", "--fail-on-race"]) == 0
    assert without_time(capsys.readouterr().out) == (
        f"{FIXED}: 1 schedule (exhaustive, depth first): 1 outcome class\n"
        "complete: these are all the outcomes of this scenario under the model's choice points\n"
        "Every schedule gave the same outcome: no race, for these people and this load.\n"
        "\n"
        "Class 1: 1 schedule (100%); witness: the default order (oldest first)\n"
    )


def test_sim_explore_exhaustive_says_bounded_at_its_bound(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(RACE), "--exhaustive", "--max-schedules", "3"]) == 0
    out = without_time(capsys.readouterr().out).splitlines()
    assert out[:2] == [
        f"{RACE}: 3 schedules (exhaustive, depth first): 2 outcome classes",
        "bounded: stopped at 3 schedules (--max-schedules 3); more schedules may give more outcome classes",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--exhaustive", "--runs", "5"], "--exhaustive runs every schedule, not drawn ones; drop --runs 5"),
        (
            ["--exhaustive", "--strategy", "pct", "--pct-depth", "2"],
            "--exhaustive runs every schedule, not drawn ones; drop --strategy pct, --pct-depth 2",
        ),
        (["--exhaustive", "--jobs", "2"], "--exhaustive runs its schedules in this process for now"),
        (["--max-schedules", "5"], "--max-schedules bounds --exhaustive; add --exhaustive"),
        (["--exhaustive", "--max-schedules", "0"], "--max-schedules 0: give 1 to 1,000,000"),
    ],
)
def test_sim_explore_exhaustive_refuses_options_that_do_not_go_with_it(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", str(RACE), *options]) == 2
    assert f"error: {message}" in capsys.readouterr().err
