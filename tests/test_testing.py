"""`sim.testing` as a user's own test suite uses it: run a design, assert what it guarantees.

Each helper is shown to pass where it must and to fail where it must, with the message a
user would read: `simulate` and its thin wrappers, `assert_finishes_before` on the racing
and the fixed design of examples/ (R1, R6, R12) and on small exact scenarios (cascades,
the ``person`` filter, a run left in a Wait, R5, R15), `assert_deterministic` and
`assert_guarantees` made to fail on purpose, `cascade_origins`, and the module's exports.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis.strategies import SearchStrategy

import sim.testing
import sim.verify.strategies
from sim.run.activity import Activity
from sim.scenario import load_scenario, parse_scenario
from sim.scenario.model import Scenario
from sim.testing import (
    SimulationResult,
    assert_deterministic,
    assert_finishes_before,
    assert_guarantees,
    cascade_origins,
    run_scenario,
    run_text,
    run_with_summary,
    simulate,
    trace,
)
from sim.verify.guarantees import check_guarantees, format_activity

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RACING = load_scenario(EXAMPLES / "racing-triggers.toml")
FIXED = load_scenario(EXAMPLES / "racing-triggers-fixed.toml")

#: One activity as messages show it (`sim.verify.guarantees.format_activity`).
ACTIVITY_LINE = re.compile(r"#\d+ t=\S+ \S+")
#: The tail `assert_guarantees` and `assert_deterministic` add: the scenario as a file.
SCENARIO_TAIL = re.compile(
    r"\n\nThe scenario, as a file to run with `sim run FILE --seed (-?\d+)(?: --strategy \w+)?`:\n\n(.*)\Z", re.DOTALL
)


def finishes(first: str, then: str, count: int) -> str:
    """The headline of an `assert_finishes_before` failure."""
    return f'"{first}" does not always finish before "{then}" starts, in {count} case(s):'


def case(first: str, then: str, start: Activity, other: Activity, end: Activity | None) -> str:
    """One offending cascade as the message shows it."""
    ended = format_activity(end) if end is not None else "(it never ended)"
    return (
        f"  {first} started:  {format_activity(start)}\n"
        f"  {then} started:  {format_activity(other)}\n"
        f"  {first} ended:  {ended}"
    )


def failure(check: Callable[..., None], *args: Any, **kwargs: Any) -> str:
    """The message of the AssertionError ``check(*args, **kwargs)`` must raise."""
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def split_scenario(message: str) -> tuple[str, int, Scenario]:
    """A message that ends with the scenario: (the part before, the seed it names, the file read back)."""
    match = SCENARIO_TAIL.search(message)
    assert match is not None, message
    return message[: match.start()], int(match.group(1)), parse_scenario(match.group(2), source="<message>")


def first_of(activities: Sequence[Activity], type_: str, **where: Any) -> Activity:
    """The first activity of ``type_`` whose attributes equal ``where``."""
    for activity in activities:
        if activity.type == type_ and all(getattr(activity, k) == v for k, v in where.items()):
            return activity
    raise LookupError((type_, where))


def fill(at: str, person: str, form: str) -> str:
    """One [[activities]] table: ``person`` fills out ``form`` at ``at``."""
    return f'\n[[activities]]\nat = "{at}"\nperson = "{person}"\ntype = "fill_out_form"\nform = "{form}"\n'


# --- simulate and its wrappers ---------------------------------------------------------


def test_simulate_applies_the_seed_to_the_scenario_it_returns() -> None:
    """``seed`` overrides the scenario's own; the scenario passed in is left as it was."""
    result = simulate(RACING, seed=4)
    assert result.scenario.seed == 4
    assert result.scenario == attrs.evolve(RACING, seed=4)
    assert result.summary.seed == 4
    assert RACING.seed == 1
    assert simulate(RACING).scenario.seed == 1  # no seed: the file's own


def test_simulate_logs_what_run_scenario_logs() -> None:
    """The same scenario and seed give the same log through every entry point."""
    for seed in (0, 7):
        result = simulate(RACING, seed=seed)
        assert list(result.activities) == run_scenario(RACING, seed=seed)
        assert run_with_summary(RACING, seed=seed) == (list(result.activities), result.summary)
    assert simulate(RACING).activities == simulate(RACING, seed=1).activities
    assert simulate(RACING, seed=1).activities != simulate(RACING, seed=2).activities  # the seed picks the order


def test_simulate_people_are_the_end_state() -> None:
    """R1, R12: the racing example's documented split for seed 1 (123 people at 25, 77 at 5),
    read from the people at the end; every "usa"/"United States" was normalized to "US"."""
    result = simulate(RACING, seed=1)
    people = result.people
    assert len(people) == 200
    assert Counter(p.fields["score"] for p in people.values()) == {25: 123, 5: 77}
    assert Counter(p.fields["country"] for p in people.values()) == {"US": 150, "Germany": 50}
    last_score = {a.person: a.details["new_value"] for a in result.activities if a.type == "change_score"}
    assert {pid: p.fields["score"] for pid, p in people.items()} == last_score
    assert result.summary.fields == {"country": (("US", 150), ("Germany", 50)), "score": ((25, 123), (5, 77))}


def test_simulate_summary_counts_the_log() -> None:
    """Every fill admits one run of each campaign (R1); each run completes; 3 steps per person."""
    result = simulate(RACING, seed=3)
    summary = result.summary
    types = Counter(a.type for a in result.activities)
    assert summary.activities == dict(types)
    assert types["run_started"] == types["run_completed"] == 400
    assert summary.people == 200
    assert summary.steps == 600
    for name, steps in (("Normalize Country", 200), ("Score Lead", 400)):
        tally = summary.campaigns[name]
        assert (tally.started, tally.completed, tally.skipped, tally.in_progress, tally.steps) == (
            200,
            200,
            0,
            0,
            steps,
        )
    assert (summary.source, summary.strategy, summary.interrupted) == (RACING.source, "random", False)


def test_run_text_parses_then_runs() -> None:
    """`run_text` is `parse_scenario` then `run_scenario`, strategy included."""
    text = (EXAMPLES / "racing-triggers.toml").read_text(encoding="utf-8")
    assert run_text(text, seed=5) == run_scenario(RACING, seed=5)
    assert run_text(text, strategy="fifo") == run_scenario(RACING, strategy="fifo")
    assert run_text(text, seed=5) != run_text(text, seed=5, strategy="fifo")


# --- assert_finishes_before: the racing and the fixed design ---------------------------


def test_racing_triggers_fail_with_every_offending_cascade() -> None:
    """R1, R12: two trigger campaigns on the same fill are two runs with no order, so
    "Score Lead" often starts before "Normalize Country" has ended; the message shows the
    offending cascades as (start, other start, end) activities, five of them, and a count."""
    failing = []
    for seed in range(21):
        try:
            assert_finishes_before(run_scenario(RACING, seed=seed), "Normalize Country", "Score Lead")
        except AssertionError:
            failing.append(seed)
    assert failing, "the race must show in seeds 0..20"
    activities = run_scenario(RACING, seed=failing[0])
    message = failure(assert_finishes_before, activities, "Normalize Country", "Score Lead")

    # Independently: which people saw scoring start before normalization ended.
    late = []
    for person in (f"p{n}" for n in range(1, 201)):
        end = first_of(activities, "run_completed", person=person, campaign="Normalize Country")
        other = first_of(activities, "run_started", person=person, campaign="Score Lead")
        if other.seq < end.seq:
            late.append((first_of(activities, "run_started", person=person, campaign="Normalize Country"), other, end))
    assert len(late) > 5

    lines = message.splitlines()
    assert lines[0] == finishes("Normalize Country", "Score Lead", len(late))
    assert lines[-1] == f"... and {len(late) - 5} more"
    shown = "\n".join(lines[1:-1])
    assert shown == "\n".join(case("Normalize Country", "Score Lead", *parts) for parts in late[:5])


def test_racing_triggers_interleave_even_when_the_outcome_is_right() -> None:
    """R12 orders the steps of one run only: under ``fifo`` (oldest task first) the two runs
    of each fill take turns step by step, so normalization's one step comes before
    scoring reads the country and everyone ends as intended (150 at 25, 50 at 5), yet
    neither run ends before the other starts, for any of the 200 cascades."""
    result = simulate(RACING, strategy="fifo")
    assert Counter(p.fields["score"] for p in result.people.values()) == {25: 150, 5: 50}
    for first, then in (("Normalize Country", "Score Lead"), ("Score Lead", "Normalize Country")):
        message = failure(assert_finishes_before, result.activities, first, then)
        assert message.splitlines()[-1] == "... and 195 more"


def test_fixed_design_runs_its_executables_in_order() -> None:
    """R6: executed in series by one parent run, "Normalize Country" always ends before
    "Score Lead" starts, whatever the seed; each fill's pair is one cascade, so the check
    is not vacuous, and the reverse order fails for every person."""
    for seed in range(10):
        activities = run_scenario(FIXED, seed=seed)
        assert_finishes_before(activities, "Normalize Country", "Score Lead")
        origins = cascade_origins(activities)
        pairs = Counter(
            (a.person, origins[a.run])
            for a in activities
            if a.type == "run_started" and a.run is not None and a.campaign in ("Normalize Country", "Score Lead")
        )
        assert len(pairs) == 200 and set(pairs.values()) == {2}
    message = failure(assert_finishes_before, activities, "Score Lead", "Normalize Country")
    assert message.splitlines()[-1] == "... and 195 more"


# --- assert_finishes_before: cascades, the person filter, runs left waiting ------------

#: ann fills F twice, 7 minutes apart. Each fill starts A (a 5-minute Wait, R15) and
#: "Follow-up", which waits 10 minutes and then requests B (R5): in each cascade A has
#: ended before B starts. Across cascades it has not: the first fill's B starts (11m)
#: while the second fill's A is still waiting (8m to 13m). bob fills G, which starts A
#: and B at once: his one cascade breaks the order.
CASCADES = (
    """
[sim]
duration = "1h"

[[person]]
id = "ann"

[[person]]
id = "bob"

[campaigns.A]
qualification = "every time"
triggers = [{ trigger = "fills_out_form", form = ["F", "G"] }]
flow = [{ step = "wait", duration = "5m" }, { step = "interesting_moment", description = "A done" }]

[campaigns."Follow-up"]
qualification = "every time"
triggers = [{ trigger = "fills_out_form", form = "F" }]
flow = [{ step = "wait", duration = "10m" }, { step = "request_campaign", campaign = "B" }]

[campaigns.B]
qualification = "every time"
triggers = [{ trigger = "campaign_is_requested" }, { trigger = "fills_out_form", form = "G" }]
flow = [{ step = "interesting_moment", description = "B" }]
"""
    + fill("1m", "ann", "F")
    + fill("2m", "bob", "G")
    + fill("8m", "ann", "F")
)


def test_a_second_fill_does_not_count_against_the_first() -> None:
    """R5, R15: runs are compared within their cascade only. ann's runs overlap across her
    two fills (B of the first starts while A of the second waits), yet in each cascade A
    ends before B starts, so the check passes for her, under every seed."""
    scenario = parse_scenario(CASCADES, source="<cascades>")
    for seed in range(10):
        activities = run_scenario(scenario, seed=seed)
        assert_finishes_before(activities, "A", "B", person="ann")
        ann = [(a.time, a.campaign, a.run, a.type) for a in activities if a.person == "ann" and a.run is not None]
        starts_and_ends = [row for row in ann if row[3] in ("run_started", "run_completed")]
        assert sorted(starts_and_ends, key=lambda row: (row[0], row[2], row[3] == "run_completed")) == [
            (60.0, "A", 1, "run_started"),
            (60.0, "Follow-up", 2, "run_started"),
            (360.0, "A", 1, "run_completed"),
            (480.0, "A", 5, "run_started"),
            (480.0, "Follow-up", 6, "run_started"),
            (660.0, "Follow-up", 2, "run_completed"),
            (660.0, "B", 7, "run_started"),
            (660.0, "B", 7, "run_completed"),
            (780.0, "A", 5, "run_completed"),
            (1080.0, "Follow-up", 6, "run_completed"),
            (1080.0, "B", 8, "run_started"),
            (1080.0, "B", 8, "run_completed"),
        ]
        first_fill = first_of(activities, "fill_out_form", person="ann")
        second_fill = first_of(activities, "fill_out_form", person="ann", time=480.0)
        bob_fill = first_of(activities, "fill_out_form", person="bob")
        origins = cascade_origins(activities)
        assert origins == {
            1: ("activity", first_fill.seq),
            2: ("activity", first_fill.seq),
            7: ("activity", first_fill.seq),  # requested by run 2 (R5)
            3: ("activity", bob_fill.seq),
            4: ("activity", bob_fill.seq),
            5: ("activity", second_fill.seq),
            6: ("activity", second_fill.seq),
            8: ("activity", second_fill.seq),
        }


def test_person_limits_the_check_to_one_person() -> None:
    """R1: bob's fill starts A and B together, so B starts while A waits; the failure is his
    alone: ``person="bob"`` and no filter give the same message, ``person="ann"`` passes."""
    scenario = parse_scenario(CASCADES, source="<cascades>")
    for seed in range(5):
        activities = run_scenario(scenario, seed=seed)
        a_start = first_of(activities, "run_started", person="bob", campaign="A")
        b_start = first_of(activities, "run_started", person="bob", campaign="B")
        a_end = first_of(activities, "run_completed", person="bob", campaign="A")
        assert (a_start.time, b_start.time, a_end.time) == (120.0, 120.0, 420.0)
        expected = finishes("A", "B", 1) + "\n" + case("A", "B", a_start, b_start, a_end)
        assert failure(assert_finishes_before, activities, "A", "B") == expected
        assert failure(assert_finishes_before, activities, "A", "B", person="bob") == expected
        assert_finishes_before(activities, "A", "B", person="ann")
        assert_finishes_before(activities, "A", "B", person="nobody")


#: ann fills F once: A waits past the end of the simulation (R15), so it never ends, while
#: "Follow-up" requests B after 10 minutes, in the same cascade (R5). bob fills G: his A
#: never ends either, but nothing else runs for him.
NEVER_ENDS = (
    """
[sim]
duration = "1h"

[[person]]
id = "ann"

[[person]]
id = "bob"

[campaigns.A]
triggers = [{ trigger = "fills_out_form", form = ["F", "G"] }]
flow = [{ step = "wait", duration = "2h" }, { step = "interesting_moment", description = "A done" }]

[campaigns."Follow-up"]
triggers = [{ trigger = "fills_out_form", form = "F" }]
flow = [{ step = "wait", duration = "10m" }, { step = "request_campaign", campaign = "B" }]

[campaigns.B]
triggers = [{ trigger = "campaign_is_requested" }]
flow = [{ step = "interesting_moment", description = "B" }]
"""
    + fill("1m", "ann", "F")
    + fill("2m", "bob", "G")
)


def test_a_run_still_waiting_at_the_end_has_not_finished() -> None:
    """R15: a run of ``first`` still in its Wait when the simulation ends has not finished,
    so a ``then`` run of its cascade breaks the order; with no ``then`` run it does not."""
    scenario = parse_scenario(NEVER_ENDS, source="<never-ends>")
    for seed in range(3):
        result = simulate(scenario, seed=seed)
        activities = result.activities
        assert_guarantees(result)  # waiting past the end is allowed (R15), not a lost run
        tallies = result.summary.campaigns
        assert (tallies["A"].started, tallies["A"].in_progress, tallies["B"].completed) == (2, 2, 1)
        a_start = first_of(activities, "run_started", person="ann", campaign="A")
        b_start = first_of(activities, "run_started", person="ann", campaign="B")
        assert (a_start.time, b_start.time) == (60.0, 660.0)
        assert failure(assert_finishes_before, activities, "A", "B") == (
            finishes("A", "B", 1) + "\n" + case("A", "B", a_start, b_start, None)
        )
        assert_finishes_before(activities, "A", "B", person="bob")


def test_a_run_removed_from_its_flow_has_ended() -> None:
    """R11: "Follow-up" removes A from its Wait, then requests B; a removed run has ended,
    so with seed 1 (A's run_removed logged before B starts) A ends before B starts."""
    text = NEVER_ENDS.replace(
        '{ step = "request_campaign", campaign = "B" }',
        '{ step = "remove_from_flow", campaigns = "A" }, { step = "request_campaign", campaign = "B" }',
    )
    activities = run_scenario(parse_scenario(text, source="<removed>"), seed=1)
    assert trace(activities, person="ann", with_lifecycle=True) == [
        (None, None, "fill_out_form"),
        ("A", None, "run_started"),
        ("Follow-up", None, "run_started"),
        ("Follow-up", 1, "wait"),
        ("A", 1, "wait"),
        ("Follow-up", 2, "remove_from_flow"),
        ("A", None, "run_removed"),
        ("Follow-up", 3, "request_campaign"),
        ("Follow-up", None, "run_completed"),
        ("B", None, "run_started"),
        ("B", 1, "interesting_moment"),
        ("B", None, "run_completed"),
    ]
    assert_finishes_before(activities, "A", "B")
    # Whatever the schedule logs first, A ended at the Remove from Flow step (R11).
    for seed in range(8):
        assert_finishes_before(run_scenario(parse_scenario(text, source="<removed>"), seed=seed), "A", "B")


def test_a_misspelled_campaign_fails_instead_of_passing() -> None:
    """A name that never runs would make the check pass for nothing: it fails instead."""
    activities = run_scenario(RACING, seed=1)
    assert failure(assert_finishes_before, activities, "Normalise Country", "Score Lead") == (
        "no run of 'Normalise Country' in the log; is the campaign name right?"
    )


def test_the_same_campaign_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="first and then are both 'A'; name two campaigns"):
        assert_finishes_before([], "A", "A")


def test_a_simulation_result_is_accepted_as_the_log() -> None:
    result = simulate(FIXED, seed=2)
    assert_finishes_before(result, "Normalize Country", "Score Lead")
    with pytest.raises(AssertionError):
        assert_finishes_before(result, "Score Lead", "Normalize Country")


#: The classic racing triggers, but normalization listens to the country change the fill
#: writes (R17) instead of to the fill itself.
FORM_FIELD_RACE = """
[sim]
duration = "1h"

[fields]
country = ""

[[person]]
id = "ann"

[campaigns."Normalize Country"]
triggers = [{ trigger = "data_value_changes", field = "country" }]
flow = [{ step = "change_data_value", field = "country", choices = [
  { if = { field = "country", op = "is", value = "usa" }, value = "US" },
] }]

[campaigns."Score Lead"]
triggers = [{ trigger = "fills_out_form", form = "Contact Us" }]
flow = [
  { step = "change_score", change = "+5" },
  { step = "change_score", choices = [{ if = { field = "country", op = "is", value = "US" }, change = "+20" }] },
]

[[activities]]
at = "1m"
person = "ann"
type = "fill_out_form"
form = "Contact Us"
fields = { country = "usa" }
"""


def test_a_race_through_the_fields_a_form_fill_writes_is_caught() -> None:
    """R1, R17: seed 6 scores before normalizing (ann ends at 5, not 25): the check must say so."""
    activities = run_scenario(parse_scenario(FORM_FIELD_RACE, source="<form-field-race>"), seed=6)
    score_start = first_of(activities, "run_started", campaign="Score Lead")
    normalize_end = first_of(activities, "run_completed", campaign="Normalize Country")
    assert score_start.seq < normalize_end.seq
    assert [a.details["new_value"] for a in activities if a.type == "change_score"] == [5]
    failure(assert_finishes_before, activities, "Normalize Country", "Score Lead")


# --- assert_deterministic --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["lead-lifecycle", "racing-triggers", "racing-triggers-fixed", "runaway-cascade", "webhook-writeback"],
)
def test_examples_are_deterministic(name: str) -> None:
    """The same scenario, seed and strategy give the same log."""
    assert_deterministic(load_scenario(EXAMPLES / f"{name}.toml"), seed=3)


def test_assert_deterministic_runs_twice_with_the_same_seed_and_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    """It compares two runs of the very same inputs."""
    calls: list[tuple[Scenario, dict[str, Any]]] = []

    def spy(scenario: Scenario, **options: Any) -> SimulationResult:
        calls.append((scenario, options))
        return simulate(scenario, **options)

    monkeypatch.setattr(sim.testing, "simulate", spy)
    assert_deterministic(RACING, seed=5, strategy="fifo")
    assert calls == [(RACING, {"seed": 5, "strategy": "fifo"})] * 2


def second_run_edited(
    monkeypatch: pytest.MonkeyPatch, edit: Callable[[list[Activity]], list[Activity]]
) -> list[SimulationResult]:
    """Make the second `simulate` of each pair return ``edit`` of its log; the results it gave."""
    given: list[SimulationResult] = []

    def flaky(scenario: Scenario, **options: Any) -> SimulationResult:
        result = simulate(scenario, **options)
        if len(given) % 2:
            result = attrs.evolve(result, activities=tuple(edit(list(result.activities))))
        given.append(result)
        return result

    monkeypatch.setattr(sim.testing, "simulate", flaky)
    return given


def test_assert_deterministic_says_where_the_logs_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first differing activity, from each log, then the scenario as a file."""

    def later(activities: list[Activity]) -> list[Activity]:
        activities[10] = attrs.evolve(activities[10], details={**activities[10].details, "new_value": 99})
        return activities

    given = second_run_edited(monkeypatch, later)
    message = failure(assert_deterministic, RACING)
    head, seed, scenario = split_scenario(message)
    first, second = (result.activities[10] for result in given)
    assert head == (
        "the logs differ at activity 11:\n"
        f"  first run:  {format_activity(first)}\n  second run: {format_activity(second)}"
    )
    assert "new_value=99" in head
    assert "\n[sim]\n" in message
    assert seed == 1
    assert attrs.evolve(scenario, source=RACING.source) == RACING


def test_assert_deterministic_says_when_one_log_is_longer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log that stops early differs in length; the scenario follows."""
    given = second_run_edited(monkeypatch, lambda activities: activities[:-1])
    head, _, scenario = split_scenario(failure(assert_deterministic, RACING))
    total = len(given[0].activities)
    extra = format_activity(given[0].activities[-1])
    assert head == (
        f"the first run logged {total} activities, the second {total - 1}; the first run goes on with:\n  {extra}"
    )
    assert attrs.evolve(scenario, source=RACING.source) == RACING


def test_assert_deterministic_shows_the_seed_it_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure must be reproducible from its message: the seed passed in, not the file's."""
    second_run_edited(monkeypatch, lambda activities: activities[:-1])
    _, seed, scenario = split_scenario(failure(assert_deterministic, RACING, seed=5))
    assert (seed, scenario.seed) == (5, 5)


# --- assert_guarantees -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["lead-lifecycle", "racing-triggers", "racing-triggers-fixed", "runaway-cascade", "webhook-writeback"],
)
def test_examples_keep_every_guarantee(name: str) -> None:
    """Every ordering guarantee of docs/guarantees.md holds for a real run."""
    assert_guarantees(simulate(load_scenario(EXAMPLES / f"{name}.toml"), seed=3))


#: A trigger run that executes a child twice (the second is skipped, R7, R18), requests
#: a campaign (R5) and changes a field that triggers another (R17); a batch run later
#: changes it again (R2).
ORIGINS = """
lists = ["Nurture"]

[sim]
duration = "1h"

[fields]
stage = ""

[[person]]
id = "ann"

[campaigns."Form Fill"]
triggers = [{ trigger = "fills_out_form", form = "F" }]
flow = [
  { step = "execute_campaign", campaign = "Score" },
  { step = "execute_campaign", campaign = "Score" },
  { step = "request_campaign", campaign = "Route" },
  { step = "change_data_value", field = "stage", value = "Engaged" },
]

[campaigns.Score]
kind = "executable"
flow = [{ step = "change_score", change = "+10" }]

[campaigns.Route]
triggers = [{ trigger = "campaign_is_requested" }]
flow = [{ step = "interesting_moment", description = "routed" }]

[campaigns."Stage Watch"]
qualification = "every time"
triggers = [{ trigger = "data_value_changes", field = "stage" }]
flow = [{ step = "add_to_list", list = "Nurture" }]

[campaigns.Nightly]
kind = "batch"
schedule = { at = "30m" }
flow = [{ step = "change_data_value", field = "stage", value = "Nurture" }]
""" + fill("1m", "ann", "F")


def test_assert_guarantees_lists_each_broken_guarantee_with_its_activities() -> None:
    """R6, R15: dropping the executed child's run_completed leaves a child that never
    ended, a parent that went on without it, a gap in the log and a summary that no
    longer matches; each is named with its rules and shown with its activities, then the
    scenario as a file that reads back to the one run."""
    result = simulate(parse_scenario(ORIGINS, source="<origins>"), seed=2, strategy="fifo")  # seed: for the message
    assert_guarantees(result)
    activities = result.activities
    execute, started, completed, again, parent_end = (activities[i] for i in (2, 3, 5, 6, 11))
    assert trace([execute, started, completed, again, parent_end], with_lifecycle=True) == [
        ("Form Fill", 1, "execute_campaign"),
        ("Score", None, "run_started"),
        ("Score", None, "run_completed"),
        ("Form Fill", 2, "execute_campaign"),
        ("Form Fill", None, "run_completed"),
    ]
    edited = attrs.evolve(result, activities=tuple(a for a in activities if a is not completed))
    message = failure(assert_guarantees, edited)
    head, seed, scenario = split_scenario(message)
    assert head == "\n".join(
        [
            "4 guarantee(s) broken:",
            "executable contiguity (R6, R7, R8): the parent's next activity came before its child run ended",
            f"    {format_activity(execute)}",
            f"    {format_activity(again)}",
            "conservation (R15, R16, R17): a run that never ended and is not waiting past the end",
            f"    {format_activity(started)}",
            f"    {format_activity(parent_end)}",
            'conservation (R15, R16, R17): the summary of "Score" says (1, 1, 1, 0, 0) runs, the log (1, 0, 1, 0, 0)',
            "time (R15, R16): activity number 6 has seq 7: the log has a gap",
            f"    {format_activity(again)}",
        ]
    )
    assert seed == 2
    assert attrs.evolve(scenario, source=result.scenario.source) == result.scenario
    assert failure(assert_guarantees, edited, show_scenario=False) == head


def test_assert_guarantees_shows_five_violations_and_counts_the_rest() -> None:
    """R6: with every "Normalize Country" end dropped from the fixed design's log, hundreds
    of violations are found; the message shows five and counts the others."""
    result = simulate(FIXED, seed=3)
    kept = tuple(a for a in result.activities if not (a.type == "run_completed" and a.campaign == "Normalize Country"))
    edited = attrs.evolve(result, activities=kept)
    found = check_guarantees(edited.scenario, kept, summary=edited.summary, people=edited.people)
    assert len(found) > 200
    head = failure(assert_guarantees, edited, show_scenario=False)
    lines = head.splitlines()
    assert lines[0] == f"{len(found)} guarantee(s) broken:"
    assert lines[-1] == f"... and {len(found) - 5} more"
    assert head == "\n".join([lines[0], *(str(v) for v in found[:5]), lines[-1]])
    shown = [line for line in lines[1:-1] if line.startswith("    ")]
    assert shown and all(ACTIVITY_LINE.match(line.strip()) for line in shown)
    assert "[sim]" not in head


# --- cascade_origins -------------------------------------------------------------------


def test_cascade_origins_follow_executes_requests_and_triggers_back_to_the_fill() -> None:
    """R5, R6, R7, R17: the trigger run, its executed child (and the skipped second call),
    the run it requested and the run its field change triggered all go back to the fill;
    the batch run is a cascade of its own, with the run its change triggered (R2)."""
    scenario = parse_scenario(ORIGINS, source="<origins>")
    activities = run_scenario(scenario, strategy="fifo")
    assert trace(activities, with_lifecycle=True) == [
        (None, None, "fill_out_form"),
        ("Form Fill", None, "run_started"),
        ("Form Fill", 1, "execute_campaign"),
        ("Score", None, "run_started"),
        ("Score", 1, "change_score"),
        ("Score", None, "run_completed"),
        ("Form Fill", 2, "execute_campaign"),
        ("Score", None, "run_skipped"),
        ("Form Fill", 3, "request_campaign"),
        ("Route", None, "run_started"),
        ("Form Fill", 4, "change_data_value"),
        ("Form Fill", None, "run_completed"),
        ("Route", 1, "interesting_moment"),
        ("Route", None, "run_completed"),
        ("Stage Watch", None, "run_started"),
        ("Stage Watch", 1, "add_to_list"),
        ("Stage Watch", None, "run_completed"),
        ("Nightly", None, "run_started"),
        ("Nightly", 1, "change_data_value"),
        ("Nightly", None, "run_completed"),
        ("Stage Watch", None, "run_started"),
        ("Stage Watch", None, "run_completed"),  # already in Nurture: no change to log
    ]
    runs = {a.run: a.campaign for a in activities if a.type in ("run_started", "run_skipped")}
    assert runs == {
        1: "Form Fill",
        2: "Score",
        3: "Score",
        4: "Route",
        5: "Stage Watch",
        6: "Nightly",
        7: "Stage Watch",
    }
    from_fill = ("activity", 1)
    expected = {1: from_fill, 2: from_fill, 3: from_fill, 4: from_fill, 5: from_fill, 6: ("run", 6), 7: ("run", 6)}
    assert cascade_origins(activities) == expected
    for seed in range(5):
        assert cascade_origins(run_scenario(scenario, seed=seed)) == expected


def test_trace_filters_by_person_and_leaves_run_lifecycle_out() -> None:
    """The compact ``(campaign, step, type)`` view: bob's fill starts A and B (R1)."""
    activities = run_scenario(parse_scenario(CASCADES, source="<cascades>"), strategy="fifo")
    assert trace(activities, person="bob") == [
        (None, None, "fill_out_form"),
        ("A", 1, "wait"),
        ("B", 1, "interesting_moment"),
        ("A", 2, "interesting_moment"),
    ]
    assert trace(activities, person="bob", with_lifecycle=True) == [
        (None, None, "fill_out_form"),
        ("A", None, "run_started"),
        ("B", None, "run_started"),
        ("A", 1, "wait"),
        ("B", 1, "interesting_moment"),
        ("B", None, "run_completed"),
        ("A", 2, "interesting_moment"),
        ("A", None, "run_completed"),
    ]
    assert trace(activities, person="nobody") == []


# --- the module's exports ----------------------------------------------------------------


def test_every_exported_name_exists_and_imports() -> None:
    """``from sim.testing import *`` gives exactly ``__all__``; the strategies are sim.verify.strategies'."""
    assert set(sim.testing.__all__) == {
        "Design",
        "Origin",
        "SimulationResult",
        "assert_deterministic",
        "assert_finishes_before",
        "assert_guarantees",
        "assert_no_races",
        "campaigns",
        "cascade_origins",
        "find_races",
        "flows",
        "mutated_files",
        "people",
        "qualifications",
        "queues",
        "racing_scenarios",
        "run_scenario",
        "run_text",
        "run_with_summary",
        "scenarios",
        "seeds",
        "service_times",
        "simulate",
        "steps",
        "trace",
        "triggers",
    }
    namespace: dict[str, Any] = {}
    exec("from sim.testing import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(sim.testing.__all__)
    for name in sim.testing._STRATEGIES:
        assert namespace[name] is getattr(sim.verify.strategies, name)
    for name in ("scenarios", "seeds", "qualifications", "triggers", "people", "queues", "service_times"):
        assert isinstance(namespace[name](), SearchStrategy)


def test_running_and_asserting_work_without_hypothesis() -> None:
    """Only the strategies need the ``test`` extra: simulate and the assertions import
    without hypothesis, and asking for a strategy says what is missing."""
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from sim.testing import assert_finishes_before, simulate, run_text\n"
        "try:\n"
        "    from sim.testing import scenarios\n"
        "except ImportError as exc:\n"
        "    print('ImportError', 'hypothesis' in str(exc))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "ImportError True\n"
