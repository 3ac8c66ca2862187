"""``sim explore --exhaustive`` (sim.verify.exhaustive, sim.verify.group_report, the report in
sim.verify.exploration_report): each group's outcomes with witnesses that replay, complete or
bounded, and the command's options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.observe.simulation import Simulation
from sim.scenario import load_scenario
from sim.verify.exhaustive import explore_exhaustive
from sim.verify.exploration_report import format_exhaustive
from sim.verify.explore import Stop
from sim.verify.groups import person_order, project
from sim.verify.outcomes import run_to_outcome
from sim.verify.search import search

EXAMPLES = Path(__file__).parent.parent / "examples"
RACE = EXAMPLES / "racing-triggers-one-fill.toml"
FIXED = EXAMPLES / "racing-triggers-fixed.toml"
CHAIN = EXAMPLES / "request-chain.toml"


def without_time(text: str) -> str:
    return re.sub(r" in \d+\.\d\ds:", ":", text)


@pytest.mark.parametrize("example", [RACE, CHAIN])
def test_each_witness_replays_to_its_groups_outcome_without_the_tracer(example: Path) -> None:
    """The schedules the search reports come from traced runs (every checkpoint a step); they
    must give the same outcome under ``sim run --schedule``, which runs without the tracer."""
    scenario = load_scenario(example)
    found = search(scenario)
    shrunk = explore_exhaustive(scenario)
    for group, reported in zip(found.groups, shrunk.grouped.racing, strict=True):
        people = frozenset(group.people)
        for cls, witness in zip(group.classes, reported.classes, strict=True):
            for schedule in (cls.schedule, witness.witness):
                replayed = run_to_outcome(Simulation(scenario, schedule=schedule))
                assert project(replayed, people) == cls.outcome


def test_the_one_fill_race_has_two_outcomes_each_with_who_wrote_it() -> None:
    found = explore_exhaustive(load_scenario(RACE))
    assert found.search.complete and found.search.schedules == 2
    (alice,) = found.grouped.racing
    assert alice.people == ("alice",) and alice.differing == (("alice", "score"),)
    assert [(c.values, c.witness, c.minimal) for c in alice.classes] == [((25,), "", True), ((5,), "3:1,4:1", True)]
    # Score Lead's two steps (+5, +20) race Normalize Country; "+20" comes after the country
    # check only when Normalize ran first (R1, R13): the step that last wrote the score says which.
    assert [c.writers[0].step for c in alice.classes if c.writers[0] is not None] == [2, 1]


def test_alike_groups_are_one_line_in_natural_order() -> None:
    found = explore_exhaustive(load_scenario(EXAMPLES / "webhook-writeback.toml"), shrink_replays=20)
    assert found.search.complete
    (kind,) = found.grouped.racing  # each of the 100 people races the same way
    assert kind.people == ("p1",) and len(kind.alike) == 99
    others = [people[0] for people in kind.alike]
    assert others == sorted(others, key=person_order) and others[:2] == ["p2", "p3"]
    assert [c.values for c in kind.classes] == [("Enterprise Team",), ("SMB Queue",)]


def test_a_bound_below_the_traces_says_bounded_and_keeps_what_it_found() -> None:
    bounded = explore_exhaustive(load_scenario(CHAIN), max_schedules=3)
    assert bounded.search.stopped_by == "schedules" and bounded.search.schedules == 3
    (alice,) = bounded.grouped.racing
    assert not alice.complete and 1 <= len(alice.classes) < 4


def test_a_preemption_bound_that_cuts_a_reversal_says_so() -> None:
    """The one-fill race's second outcome needs two deviations from the oldest-first order."""
    bounded = explore_exhaustive(load_scenario(RACE), preemption_bound=1)
    assert bounded.search.stopped_by == "preemptions"
    (alice,) = bounded.grouped.racing  # one outcome so far, and not all explored: not among the calm
    assert not alice.complete and len(alice.classes) == 1 and bounded.grouped.calm_people == 0
    assert explore_exhaustive(load_scenario(RACE), preemption_bound=2).search.complete


def test_a_stop_request_ends_the_search_between_schedules_not_complete() -> None:
    stop = Stop()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "search" and done == 4:
            stop.request()

    found = explore_exhaustive(load_scenario(CHAIN), progress=progress, stop=stop)
    assert found.search.stopped_by == "interrupted" and found.search.schedules == 4
    # After a stop the witnesses are neither shrunk nor replayed: the report still says it all.
    (alice,) = found.grouped.racing
    assert all(not cls.writers for cls in alice.classes)
    text = format_exhaustive(found, file="chain.toml").splitlines()
    assert text[1] == "INTERRUPTED after 4 schedules: not complete; the outcomes below are those of the schedules run"
    assert any(line.startswith("    2. owner ") for line in text)


def test_sim_explore_exhaustive_prints_each_groups_outcomes_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(RACE), "--exhaustive"]) == 0
    assert without_time(capsys.readouterr().out) == (
        f"{RACE}: 2 schedules (exhaustive, source-DPOR): 2 traces of 1 group of people with more than one outcome, "
        "1 person in all\n"
        "complete: these are all the outcomes of this scenario (its people, its load) under the model's choice "
        "points\n"
        "\n"
        "Outcomes by group of people (people whose runs never depend on each other are apart):\n"
        "  alice: 2 outcomes (score 25 | 5)\n"
        "    1. score 25, 1 trace; witness the default order (oldest first)\n"
        '         score written by "Score Lead" run 2 step 2 (change_score)\n'
        '    2. score 5, 1 trace; witness --schedule "3:1,4:1"\n'
        '         score written by "Score Lead" run 2 step 1 (change_score)\n'
        "\n"
        f"Replay a witness: sim run {RACE} --schedule STRING --log -\n"
    )
    assert main(["explore", str(RACE), "--exhaustive", "--fail-on-race"]) == 1
    capsys.readouterr()
    assert main(["explore", str(FIXED), "--exhaustive", "--fail-on-race"]) == 0
    assert without_time(capsys.readouterr().out) == (
        f"{FIXED}: 1 schedule (exhaustive, source-DPOR): no race among 200 people\n"
        "complete: these are all the outcomes of this scenario (its people, its load) under the model's choice "
        "points\n"
        "\n"
        "Outcomes by group of people (people whose runs never depend on each other are apart):\n"
        "  every group: 1 outcome each (200 people in 200 groups)\n"
        "No race: every schedule gave the same outcome.\n"
    )


def test_sim_explore_exhaustive_says_bounded_at_its_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(CHAIN), "--exhaustive", "--max-schedules", "3"]) == 0
    out = without_time(capsys.readouterr().out).splitlines()
    assert out[1] == "bounded: stopped at 3 schedules (--max-schedules 3); more schedules may give more outcomes"
    assert "so far, not all explored" in out[4]
    assert main(["explore", str(RACE), "--exhaustive", "--preemption-bound", "1"]) == 0
    out = without_time(capsys.readouterr().out).splitlines()
    assert out[0] == (
        f"{RACE}: 2 schedules (exhaustive, source-DPOR, preemption bound 1): no race found so far among 1 person; "
        "1 schedule cut short by the preemption bound"
    )
    assert out[1].startswith("bounded: the preemption bound 1 cut some schedules short")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--exhaustive", "--runs", "5"], "--exhaustive runs every schedule, not drawn ones; drop --runs 5"),
        (["--exhaustive", "--seed", "3"], "--exhaustive runs every schedule, not drawn ones; drop --seed 3"),
        (
            ["--exhaustive", "--strategy", "pct", "--pct-depth", "2"],
            "--exhaustive runs every schedule, not drawn ones; drop --strategy pct, --pct-depth 2",
        ),
        (["--exhaustive", "--jobs", "2"], "--exhaustive runs its schedules in this process for now"),
        (["--max-schedules", "5"], "--max-schedules bounds --exhaustive; add --exhaustive"),
        (["--preemption-bound", "2"], "--preemption-bound bounds --exhaustive; add --exhaustive"),
        (["--exhaustive", "--max-schedules", "0"], "--max-schedules 0: give 1 to 1,000,000"),
        (["--exhaustive", "--preemption-bound", "-1"], "--preemption-bound -1: give 0 to 1,000,000"),
    ],
)
def test_sim_explore_exhaustive_refuses_options_that_do_not_go_with_it(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", str(RACE), *options]) == 2
    assert f"error: {message}" in capsys.readouterr().err
