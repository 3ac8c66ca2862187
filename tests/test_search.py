"""The exhaustive search with partial-order reduction (sim.verify.search, sim.verify.dpor):
the same outcome classes per group as running every schedule, in no more schedules."""

from __future__ import annotations

from pathlib import Path

import attrs
from hypothesis import HealthCheck, given, settings

from sim.scenario import load_scenario
from sim.verify.every_schedule import every_schedule
from sim.verify.groups import project
from sim.verify.search import search
from sim.verify.strategies.racing import racing_scenarios

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_one_fill_race_is_two_traces_two_outcomes() -> None:
    found = search(load_scenario(EXAMPLES / "racing-triggers-one-fill.toml"))
    assert found.complete
    assert found.schedules == 2  # against 10 schedules without reduction
    assert [len(group.classes) for group in found.groups] == [2]


def test_request_chain_has_its_four_classes_in_twelve_schedules() -> None:
    scenario = load_scenario(EXAMPLES / "request-chain.toml")
    found = search(scenario)
    brute = {project(visited.outcome, frozenset(["alice"])) for visited in every_schedule(scenario)}
    assert found.complete and found.schedules == 12
    assert {cls.outcome for cls in found.groups[0].classes} == brute
    assert len(brute) == 4


def test_fixed_design_is_one_schedule() -> None:
    found = search(load_scenario(EXAMPLES / "racing-triggers-fixed.toml"))
    assert found.complete and found.schedules == 1 and not found.races


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=racing_scenarios(max_runs=3, max_steps=2))
def test_reduction_finds_every_outcome_of_brute_force(scenario) -> None:  # type: ignore[no-untyped-def]
    outcomes = []
    for number, visited in enumerate(every_schedule(scenario)):
        if number >= 2000:
            return  # too big to run every schedule in a unit test
        outcomes.append(visited.outcome)
    found = search(scenario)
    assert found.complete
    assert found.schedules <= len(outcomes)
    for group in found.groups:
        people = frozenset(group.people)
        assert {cls.outcome for cls in group.classes} == {project(o, people) for o in outcomes}
        assert group.traces == group.schedules - group.blocked  # each trace run to its end once


def test_racing_triggers_two_hundred_people_each_racer_two_outcomes_complete() -> None:
    """The issue's example: 100 of the 200 people fill the form where the two trigger
    campaigns race (R1); each of them ends with score 25 or 5, independently of the others,
    and the search proves that is all in about one schedule per racing person, not 2^100."""
    found = search(load_scenario(EXAMPLES / "racing-triggers.toml"))
    assert found.complete
    racing = [group for group in found.groups if len(group.classes) > 1]
    assert len(racing) == 100 and all(len(group.people) == 1 for group in racing)
    for group in racing:
        person = group.people[0]
        scores = {dict((name, value) for name, _, value in cls.outcome[0][1])["score"] for cls in group.classes}
        assert scores == {25, 5}, person
    assert all(len(group.classes) == 1 for group in found.groups if group not in racing)
    assert sum(len(group.people) for group in found.groups) + len(found.untouched) == 200
    assert found.schedules == 1 + len(racing)  # the default order, then one reversal per racing person


def test_groups_another_groups_schedule_ties_are_searched_again_as_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """When a schedule of one group's search ties two *other* groups (a step that touches
    both), they are one group from then on: searched as one, not dropped as if untouched."""
    import sim.verify.search as module

    searched = module._search_group

    def tying(scenario, first, anchor, people, components, budget):  # type: ignore[no-untyped-def]
        components.join([("p5", "score"), ("p6", "score")])  # as a step of this schedule would
        return searched(scenario, first, anchor, people, components, budget)

    monkeypatch.setattr(module, "_search_group", tying)
    full = load_scenario(EXAMPLES / "racing-triggers.toml")
    keep = {f"p{number}" for number in range(1, 11)}  # ten form fills: p1, p2, p5, p6, p9, p10 race
    found = search(attrs.evolve(full, activities=tuple(a for a in full.activities if a.person in keep)))
    assert found.complete
    tied = [group for group in found.groups if "p5" in group.people]
    assert [group.people for group in tied] == [("p5", "p6")]
    assert len(tied[0].classes) == 4  # p5's two outcomes times p6's
    assert "p5" not in found.untouched and "p6" not in found.untouched
