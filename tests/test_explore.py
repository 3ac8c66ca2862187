"""Schedule exploration: outcome classes, shrunk witnesses that replay, `sim explore`."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from sim.cli import main
from sim.run.schedule import ScheduleError, format_schedule, parse_schedule
from sim.scenario import load_scenario
from sim.verify.explore import ExploreProgress, Stop, explore
from sim.verify.group_report import group_outcomes
from sim.verify.groups import project
from sim.verify.outcomes import replay
from sim.verify.search import groups_of

ROOT = Path(__file__).resolve().parent.parent
RACE = ROOT / "examples" / "racing-triggers-one-fill.toml"
FIXED = ROOT / "examples" / "racing-triggers-fixed.toml"


def test_a_racing_design_has_two_outcome_classes_with_witnesses_that_replay_them() -> None:
    """Racing triggers (docs/marketo.md): scoring before normalization gives 5, after it 25.
    Each class's witness replays to exactly its outcome."""
    scenario = load_scenario(RACE)
    exploration = explore(scenario, runs=50, seed=0)
    assert exploration.races
    assert [found.runs for found in exploration.classes] == [37, 13]
    common, other = exploration.classes
    assert common.witness == ""  # the default order (oldest first) normalizes first
    assert other.witness == "1:1,2:1"
    for found in exploration.classes:
        assert replay(scenario, found.witness).outcome == found.outcome
    (difference,) = other.differences
    assert (difference.person, difference.what, difference.value, difference.common) == ("alice", "score", 5, 25)
    assert difference.writer is not None
    assert (difference.writer.campaign, difference.writer.step) == ("Score Lead", 1)


def test_shrunk_witnesses_are_minimal() -> None:
    """Removing any one deviation of a shrunk witness changes the outcome (or the
    schedule no longer fits the run)."""
    scenario = load_scenario(RACE)
    for found in explore(scenario, runs=50, seed=0).classes:
        assert found.minimal
        deviations = parse_schedule(found.witness)
        for point in deviations:
            fewer = format_schedule({p: c for p, c in deviations.items() if p != point})
            try:
                assert replay(scenario, fewer).outcome != found.outcome
            except ScheduleError:
                pass


def test_the_fixed_design_has_one_outcome_class() -> None:
    """The documented remedy (one parent executing both, R6): every schedule agrees."""
    exploration = explore(load_scenario(FIXED), runs=10, seed=0)
    assert not exploration.races
    assert len(exploration.classes) == 1


def test_exploration_is_deterministic() -> None:
    scenario = load_scenario(RACE)
    assert explore(scenario, runs=20, seed=3) == explore(scenario, runs=20, seed=3)


def test_sim_explore_prints_classes_and_fails_on_a_race_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(RACE), "--runs", "50"]) == 0
    out = capsys.readouterr().out
    assert "2 outcome classes" in out
    assert "Class 1: 37 schedules (74%); witness: the default order (oldest first)" in out
    assert 'Class 2: 13 schedules (26%); witness: --schedule "1:1,2:1"' in out
    assert '  alice score: 5 (class 1: 25), written by "Score Lead" run 2 step 1 (change_score)' in out
    assert f"See which accesses race, in one run: sim run {RACE} --races" in out
    assert main(["explore", str(RACE), "--runs", "50", "--fail-on-race"]) == 1
    assert main(["explore", str(FIXED), "--runs", "5", "--fail-on-race"]) == 0
    assert "no race found" in capsys.readouterr().out


def test_each_group_of_people_gets_its_own_classes_from_the_same_schedules() -> None:
    """With the groups of the default run, each group's outcomes are counted apart: 100
    racing people give a class per schedule for the whole scenario, but 2 per person."""
    scenario = load_scenario(ROOT / "examples" / "racing-triggers.toml")
    groups = groups_of(scenario)
    assert len(groups) == 200 and groups[:3] == (("p1",), ("p2",), ("p3",))  # natural order
    exploration = explore(scenario, runs=12, seed=0, witnesses=0, groups=groups, jobs=2)
    assert len(exploration.classes) > 6  # the scenario's classes tell little
    replayed = {}
    for people, classes, _ in exploration.groups:
        assert sum(cls.runs for cls in classes) == 12 and len(classes) <= 2
        for cls in classes:
            if cls.schedule not in replayed:  # most classes share their first schedule
                replayed[cls.schedule] = replay(scenario, cls.schedule).outcome
            assert project(replayed[cls.schedule], frozenset(people)) == cls.outcome
    grouped = group_outcomes(scenario, exploration.groups, shrink_replays=0)
    (kind,) = grouped.racing
    assert kind.differing == (("p1", "score"),) and {c.values for c in kind.classes} == {(25,), (5,)}
    assert grouped.racing_people + grouped.calm_people == 200


def test_sim_explore_adds_the_outcomes_by_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(RACE), "--runs", "50"]) == 0
    out = capsys.readouterr().out.split("\n\nOutcomes by group of people")[1].splitlines()
    assert out == [
        " (people whose runs never depend on each other are apart), in the schedules run (more may show "
        "more outcomes):",
        "  alice: 2 outcomes (score 25 | 5)",
        "    1. score 25, 37 schedules; witness the default order (oldest first)",
        '         score written by "Score Lead" run 2 step 2 (change_score)',
        '    2. score 5, 13 schedules; witness --schedule "1:1,2:1"',
        '         score written by "Score Lead" run 2 step 1 (change_score)',
    ]


def test_sim_run_replays_a_witness_and_rejects_one_that_does_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(RACE), "--schedule", "1:1,2:1"]) == 0
    assert "score: 5: 1 (100.0%)" in capsys.readouterr().out
    assert main(["run", str(RACE), "--schedule", "1:5"]) == 2
    assert "which has only 2 (0-1): it was made for another scenario or seed" in capsys.readouterr().err
    assert main(["run", str(RACE), "--schedule", "9:1"]) == 2
    assert "deviates at choice point 9, but the run had only 3" in capsys.readouterr().err
    assert main(["run", str(RACE), "--schedule", "1:1", "--strategy", "fifo"]) == 2
    assert "drop --strategy fifo" in capsys.readouterr().err
    assert main(["explore", str(RACE), "--runs", "0"]) == 2


def test_the_result_is_the_same_for_any_number_of_jobs() -> None:
    """--jobs spreads schedules and shrinking over processes; results come back in seed
    order, so the classes, counts and witnesses are the same as with one process."""
    scenario = load_scenario(RACE)
    assert explore(scenario, runs=40, seed=5, jobs=2) == explore(scenario, runs=40, seed=5, jobs=1)


def test_classes_beyond_the_first_few_are_counted_not_shrunk() -> None:
    """With many independent races nearly every schedule is a class of its own: the
    first `witnesses` classes are shrunk and compared, the rest summed up on one line."""
    from sim.verify.exploration_report import format_exploration

    full = load_scenario(ROOT / "examples" / "racing-triggers.toml")
    keep = {f"p{i}" for i in range(1, 9)}
    scenario = attrs.evolve(full, activities=tuple(a for a in full.activities if a.person in keep))
    exploration = explore(scenario, runs=30, seed=0, witnesses=2)
    detailed = [found for found in exploration.classes if found.detailed]
    assert len(detailed) == 2 and len(exploration.classes) > 2
    rest = exploration.classes[2:]
    assert all(not found.minimal and not found.differences for found in rest)
    text = format_exploration(exploration, file="x.toml")
    assert f"... and {len(rest)} more outcome classes ({sum(f.runs for f in rest)} schedules)" in text
    for found in rest:  # counted only: no outcome kept, and the seed that first gave each
        assert found.outcome is None and found.witness == ""
    seeds = [found.seed for found in exploration.classes]
    assert len(set(seeds)) == len(seeds)  # each class first came from its own schedule


def test_pct_finds_the_race_and_its_witnesses_replay() -> None:
    """--strategy pct: schedules drawn by PCT (priorities per task) find both outcomes;
    their witnesses are schedule strings like any other, and replay."""
    scenario = load_scenario(RACE)
    exploration = explore(scenario, runs=50, seed=0, strategy="pct", pct_depth=2)
    assert exploration.races and exploration.strategy == "pct (depth 2)"
    for found in exploration.classes:
        assert found.minimal
        assert replay(scenario, found.witness).outcome == found.outcome
    assert explore(scenario, runs=20, seed=1, strategy="pct", jobs=2) == explore(
        scenario, runs=20, seed=1, strategy="pct", jobs=1
    )


@pytest.mark.parametrize("example", ["request-chain.toml", "webhook-writeback.toml"])
def test_the_request_chain_and_webhook_races_are_found_and_their_witnesses_replay(example: str) -> None:
    """The request-chain race (R5) and the webhook write-back race (R16): more than one
    outcome class, each witness replays to its outcome, and every person whose value
    differs from the most common class is one the race detector flags."""
    from sim.testing import find_races

    scenario = load_scenario(ROOT / "examples" / example)
    if example == "webhook-writeback.toml":  # 100 people race independently: keep 2, one per campaign
        keep = {"p1", "p51"}
        scenario = attrs.evolve(scenario, activities=tuple(a for a in scenario.activities if a.person in keep))
    exploration = explore(scenario, runs=60, seed=0)
    assert exploration.races
    flagged = {person for race in find_races(scenario) for person in race.people}
    for found in exploration.classes:
        assert replay(scenario, found.witness).outcome == found.outcome
        assert {difference.person for difference in found.differences} <= flagged
    differing = {difference.what for found in exploration.classes for difference in found.differences}
    assert differing == {"request-chain.toml": {"owner", "score"}, "webhook-writeback.toml": {"owner"}}[example]


def test_a_stopped_exploration_keeps_what_it_explored_and_says_so() -> None:
    """A signal stops exploring (should_stop): the schedules run so far make the classes,
    the report starts with INTERRUPTED, and the top classes still get a witness."""
    from sim.verify.exploration_report import format_exploration

    scenario = load_scenario(RACE)
    stop = Stop()

    def progress(event: ExploreProgress) -> None:
        if event.phase == "explore" and event.done == 30:
            stop.request()  # as a signal handler would

    exploration = explore(scenario, runs=1000, seed=0, progress=progress, stop=stop)
    assert exploration.interrupted and exploration.runs == 30 and exploration.planned == 1000
    assert sum(found.runs for found in exploration.classes) == 30
    for found in exploration.classes:  # unshrunk, but witnesses all the same
        assert replay(scenario, found.witness).outcome == found.outcome
    text = format_exploration(exploration, file="r.toml")
    assert text.startswith("INTERRUPTED after 30 of 1,000 schedules (partial results")


def test_shrinking_reports_progress_and_a_budget_it_ran_out_of() -> None:
    """Shrinking is never silent: each replay is reported; a witness the budget did not
    let shrink to the end says so, with the replays it took."""
    from sim.verify.exploration_report import format_exploration

    full = load_scenario(ROOT / "examples" / "racing-triggers.toml")
    keep = {f"p{i}" for i in range(1, 9)}
    scenario = attrs.evolve(full, activities=tuple(a for a in full.activities if a.person in keep))
    events: list[ExploreProgress] = []
    exploration = explore(scenario, runs=10, seed=0, witnesses=2, shrink_replays=3, progress=events.append)
    shrinking = [event for event in events if event.phase == "shrink"]
    assert shrinking and shrinking[-1].replays == 6 and shrinking[-1].done == 2  # 2 witnesses, 3 replays each
    not_minimal = [found for found in exploration.classes if found.detailed and not found.minimal]
    assert not_minimal and all(found.replays == 3 for found in not_minimal)
    text = format_exploration(exploration, file="r.toml", explore_seconds=2.0, shrink_seconds=5.0)
    assert "(not minimal after 3 replays: the shrinking budget; --shrink-replays N allows more)" in text
    assert "10 schedules (random, seeds 0-9) in 2.00s (5.0 schedules/s), witnesses found and shrunk in 5.00s" in text
