"""The ordering guarantees (docs/guarantees.md), proven over generated designs.

Two halves:
- Property tests: Hypothesis draws a valid design (`sim.testing.scenarios`) and a seed,
  the simulator runs it, and one check of `sim.verify.guarantees` must find nothing. Each test
  is one numbered guarantee of docs/guarantees.md.
- Teeth: a check that cannot fail proves nothing, so each one is shown a log that breaks
  its guarantee (a hand-made edit of an exact log) and must say so; and an engine broken
  on purpose (an executable run as a task of its own) must be caught and shrunk to a
  small design.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from example_files import EXAMPLES, example_scenario
from hypothesis import HealthCheck, Phase, event, find, given, note, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sim.run import steps as engine_steps
from sim.run.activity import Activity
from sim.run.engine import Engine
from sim.run.runs import At, Run
from sim.scenario import model, parse_scenario
from sim.scenario.dump import dump_scenario
from sim.scenario.model import (
    Campaign,
    CampaignKind,
    ExternalActivity,
    PersonSpec,
    Qualification,
    Scenario,
    Step,
    Trigger,
    Value,
)
from sim.testing import SimulationResult, assert_guarantees, campaigns, scenarios, seeds, simulate, steps, triggers
from sim.verify.guarantees import (
    Log,
    Violation,
    check_batches,
    check_conservation,
    check_executable_contiguity,
    check_guarantees,
    check_qualification,
    check_removal,
    check_replay,
    check_request_causality,
    check_step_order,
    check_time,
    check_trigger_causality,
)
from sim.verify.strategies import FIELDS, FORMS, LISTS, PROGRAM, Design, step_kinds

BASE = (Path(__file__).parent / "data" / "guarantees.toml").read_text(encoding="utf-8")


def violations_of(check: Callable[[Log], list[Violation]], result: SimulationResult) -> list[Violation]:
    log = Log.of(result.scenario, result.activities, summary=result.summary, people=result.people)
    return check(log)


def holds(check: Callable[[Log], list[Violation]], scenario: Scenario, seed: int) -> SimulationResult:
    """Run ``scenario`` and assert that ``check`` finds nothing; the design goes in the report."""
    result = simulate(scenario, seed=seed)
    found = violations_of(check, result)
    if found:
        note(dump_scenario(result.scenario))
    assert not found, "\n".join(str(v) for v in found[:5])
    return result


def count(result: SimulationResult, type_: str) -> int:
    return sum(a.type == type_ for a in result.activities)


def with_campaign(
    designs: st.SearchStrategy[Scenario], name: str, flow: Callable[[Scenario], tuple[Step, ...]]
) -> st.SearchStrategy[Scenario]:
    """``designs`` plus one trigger campaign on every form fill, with ``flow``: a sure way
    to make a generated design exercise what a property is about."""

    def add(scenario: Scenario) -> Scenario:
        extra = Campaign(
            name=name,
            kind="trigger",
            qualification=Qualification(rule="every_time"),
            triggers=(Trigger(name="fills_out_form"),),
            flow=flow(scenario),
        )
        return attrs.evolve(scenario, campaigns={**scenario.campaigns, name: extra})

    return designs.map(add)


def remover(scenario: Scenario) -> tuple[Step, ...]:
    """A minute after every form fill, remove the person from every flow (R11)."""
    return (
        Step(kind="wait", action=model.Wait(duration=60.0)),
        Step(kind="remove_from_flow", action=model.RemoveFromFlow(campaigns=(*scenario.campaigns, "Remover"))),
    )


def requester(scenario: Scenario) -> tuple[Step, ...]:
    """On every form fill, request the first requestable campaign, then send an email (R5)."""
    target = next(c.name for c in scenario.campaigns.values() if c.name.startswith("Requested"))
    return (
        Step(kind="request_campaign", action=model.RequestCampaign(campaign=target)),
        Step(kind="send_email", action=model.SendEmail(email="Requested")),
    )


def waiter(scenario: Scenario) -> tuple[Step, ...]:
    """A minute after every form fill, send an email (R15)."""
    return (
        Step(kind="wait", action=model.Wait(duration=60.0)),
        Step(kind="send_email", action=model.SendEmail(email="After a minute")),
    )


# --- 1-9: the properties over generated designs ------------------------------------


@given(with_campaign(scenarios(), "Waiter", waiter), seeds())
def test_1_step_order(scenario: Scenario, seed: int) -> None:
    """R12: a run's activities follow its flow, from run_started to its one end."""
    result = holds(check_step_order, scenario, seed)
    event(f"steps logged: {'some' if any(a.step for a in result.activities) else 'none'}")


@given(scenarios(executable_campaigns=(1, 3)), seeds())
def test_2_executable_contiguity(scenario: Scenario, seed: int) -> None:
    """R6, R7, R8: between Execute Campaign and the parent's next step, only the child runs."""
    result = holds(check_executable_contiguity, scenario, seed)
    depth = max((r.depth for r in Log.of(result.scenario, result.activities).runs.values()), default=0)
    target(float(depth), label="executable nesting reached")
    event(f"nesting reached: {depth}")


@given(with_campaign(scenarios(requested_campaigns=(1, 2)), "Requester", requester), seeds())
def test_3_request_causality(scenario: Scenario, seed: int) -> None:
    """R5: a requested run starts after its request, and every request gets its run."""
    result = holds(check_request_causality, scenario, seed)
    event(f"requests: {min(count(result, 'request_campaign'), 3)}")


def request_orders(result: SimulationResult) -> set[str]:
    """For each Request Campaign step: did the requested run's first step come "before"
    or "after" the requester's next step?"""
    log = Log.of(result.scenario, result.activities)
    orders = set()
    for activity in result.activities:
        if activity.type != "request_campaign" or activity.run is None:
            continue
        requester = log.runs[activity.run]
        later = [a for a in requester.own if a.seq > activity.seq and a.step is not None and a.step > activity.step]
        for requested in log.caused.get(activity.seq, ()):
            first = next((a for a in requested.own if a.step is not None), None)
            if later and first is not None:
                orders.add("before" if first.seq < later[0].seq else "after")
    return orders


# Derandomized: `find` shrinks as far as its search lets it, and a seeded search that
# stops two steps short of the minimal design (seed 6 did) would make these tests flaky.
FIND = settings(
    max_examples=2000, database=None, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
#: Finding a witness is enough: no need to shrink it.
FIND_ANY = settings(FIND, phases=[Phase.generate])


@pytest.mark.parametrize("order", ["before", "after"])
def test_4_request_freedom(order: str) -> None:
    """R5: generated designs and seeds exist where the requested run's first step lands
    before the requester's next step, and others where it lands after: the simulator
    explores both orders, not one."""
    # Designs of a requester and a requested campaign whose steps always act (no choices,
    # triggers on external activities): about 1 in 50 shows each order. A fixed search
    # order keeps the test as repeatable as any other (derandomize).
    designs = scenarios(
        requested_campaigns=(1, 1),
        executable_campaigns=(0, 0),
        batch_campaigns=(0, 0),
        cascades=False,
        max_choices=0,
        removals=False,
    )
    scenario, seed = find(
        st.tuples(designs, seeds()),
        lambda case: order in request_orders(simulate(case[0], seed=case[1])),
        settings=settings(FIND_ANY, derandomize=True),
    )
    assert order in request_orders(simulate(scenario, seed=seed))


def test_4_request_freedom_in_one_design_across_seeds() -> None:
    """R5: one fixed design (request, then a step) shows both orders over seeds; fifo one:
    the requested run starts first, but the requester's Wait is logged before its step."""
    scenario = parse_scenario(BASE)
    orders = [request_orders(simulate(scenario, seed=seed)) for seed in range(32)]
    assert {"before"} in orders and {"after"} in orders
    assert request_orders(simulate(scenario, strategy="fifo")) == {"after"}


@given(scenarios(), seeds())
def test_5_trigger_causality(scenario: Scenario, seed: int) -> None:
    """R1, R17: a triggered run starts after the activity that fired it, its filters
    holding then; every activity that should fire a campaign does, once."""
    result = holds(check_trigger_causality, scenario, seed)
    event(f"triggered runs: {min(sum(a.details.get('cause') is not None for a in result.activities), 3)}")


@given(scenarios(), seeds())
def test_6_qualification(scenario: Scenario, seed: int) -> None:
    """R18: "once" at most once per person; "once every N" runs at least N apart."""
    result = holds(check_qualification, scenario, seed)
    turned_away = any("qualification" in str(a.details.get("reason")) for a in result.activities)
    event(f"turned away by qualification: {turned_away}")


@given(scenarios(), seeds())
def test_7_conservation(scenario: Scenario, seed: int) -> None:
    """Every run that starts ends once or is still waiting at the end; every external
    activity is logged; the summary agrees with the log."""
    result = holds(check_conservation, scenario, seed)
    event(f"runs in progress at the end: {any(t.in_progress for t in result.summary.campaigns.values())}")


@given(scenarios(), seeds())
def test_8_determinism_and_replay(scenario: Scenario, seed: int) -> None:
    """Same scenario and seed, same log; the log reads back from JSON Lines; replaying its
    changes over the people gives the run's end state."""
    first = holds(check_replay, scenario, seed)
    second = simulate(scenario, seed=seed)
    assert [a.to_json() for a in first.activities] == [a.to_json() for a in second.activities]
    assert [Activity.from_json(a.to_json()) for a in first.activities] == list(first.activities)


@given(with_campaign(scenarios(), "Waiter", waiter), seeds())
def test_9_time(scenario: Scenario, seed: int) -> None:
    """R15: time never goes back, steps take no time, a wait lasts exactly its duration."""
    result = holds(check_time, scenario, seed)
    target(float(count(result, "wait")), label="waits")
    event(f"waits: {min(count(result, 'wait'), 2)}")


@given(with_campaign(scenarios(trigger_campaigns=(1, 2)), "Remover", remover), seeds())
def test_removal(scenario: Scenario, seed: int) -> None:
    """R11: Remove from Flow ends exactly the runs under way of the named campaigns (with
    an executable's parent), at once; nothing else ends as removed."""
    result = holds(check_removal, scenario, seed)
    target(float(count(result, "run_removed")), label="runs removed")
    event(f"runs removed: {min(count(result, 'run_removed'), 2)}")


@given(scenarios(batch_campaigns=(1, 2)), seeds())
def test_batches(scenario: Scenario, seed: int) -> None:
    """R2: a batch runs at its scheduled times, for exactly the people its filters hold for."""
    result = holds(check_batches, scenario, seed)
    event(f"batch runs: {min(sum(a.details.get('via') == 'batch' for a in result.activities), 3)}")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_steps=6, max_activities=6, max_people=4), seeds())
def test_every_guarantee_on_larger_designs(scenario: Scenario, seed: int) -> None:
    """All the checks at once, on designs a little larger than the defaults."""
    result = simulate(scenario, seed=seed)
    found = check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    assert not found, "\n".join(str(v) for v in found[:5])


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_guarantee_holds_in_the_examples(path: Path) -> None:
    result = simulate(example_scenario(path), seed=7)
    found = check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    assert not found, "\n".join(str(v) for v in found[:5])


# --- teeth: each check catches a log that breaks its guarantee ----------------------


@pytest.fixture
def base() -> SimulationResult:
    """tests/data/guarantees.toml under fifo: 27 activities (listed in that file)."""
    result = simulate(parse_scenario(BASE), strategy="fifo")
    assert len(result.activities) == 27
    assert not check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    return result


def edited(result: SimulationResult, **changes: Callable[[Activity], Activity] | None) -> SimulationResult:
    """``result`` with activities replaced (by seq, ``s5=lambda a: ...``) or dropped (None)."""
    out = []
    for activity in result.activities:
        key = f"s{activity.seq}"
        if key not in changes:
            out.append(activity)
            continue
        change = changes[key]
        if change is not None:
            out.append(change(activity))
    return attrs.evolve(result, activities=tuple(out))


def swapped(result: SimulationResult, a: int, b: int) -> SimulationResult:
    """Activities ``a`` and ``b`` (seqs) trade places; each keeps its slot's seq and time."""
    first, second = result.activities[a - 1], result.activities[b - 1]
    return edited(
        result,
        **{
            f"s{a}": lambda x: attrs.evolve(second, seq=x.seq, time=x.time),
            f"s{b}": lambda x: attrs.evolve(first, seq=x.seq, time=x.time),
        },
    )


def messages(check: Callable[[Log], list[Violation]], result: SimulationResult) -> list[str]:
    return [v.message for v in violations_of(check, result)]


def test_step_order_catches_steps_out_of_order(base: SimulationResult) -> None:
    # Parent's step 1 (send_email, seq 3) and step 2 (execute_campaign, seq 4) trade places.
    assert messages(check_step_order, swapped(base, 3, 4)) == ["step 1 ran after step 2"]


def test_step_order_catches_an_activity_after_the_end(base: SimulationResult) -> None:
    # The child's change (seq 6) moves after its run_completed (seq 7).
    assert messages(check_step_order, swapped(base, 6, 7)) == ["a run has activities after its end"]


def test_step_order_catches_a_run_that_never_started(base: SimulationResult) -> None:
    assert "an activity of a run that never started" in messages(check_step_order, edited(base, s2=None))


def test_step_order_catches_a_step_that_did_not_do_what_it_says(base: SimulationResult) -> None:
    # Parent's step 1 is send_email "one"; the log says it sent "other" (R13).
    broken = edited(base, s3=lambda a: attrs.evolve(a, details={"email": "other"}))
    assert messages(check_step_order, broken) == [
        "step 1 logged send_email, but its choices pick SendEmail(email='one')"
    ]


def test_step_order_catches_a_step_that_never_logged(base: SimulationResult) -> None:
    # Parent's send_email of step 1 vanishes from the first run, which still completed.
    assert messages(check_step_order, edited(base, s3=None)) == ["step 1 (send_email) always logs, but logged 0 times"]


REMOVAL = """
[sim]
duration = "2h"

[[person]]
id = "ann"

[campaigns.A]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "wait", duration = "1h" }, { step = "send_email", email = "late" }]

[campaigns.B]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "wait", duration = "10m" }, { step = "remove_from_flow", campaigns = "A" }]

[[activities]]
at = "1m"
person = "ann"
type = "fill_out_form"
"""


def test_removal_catches_a_removed_run_that_went_on() -> None:
    """R11: B removes A from its Wait at 11m; a log where A sends its email at 1h1m anyway."""
    result = simulate(parse_scenario(REMOVAL), strategy="fifo")
    assert [(a.campaign, a.type) for a in result.activities if a.campaign == "A"][-1] == ("A", "run_removed")
    assert not check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    removed = next(a for a in result.activities if a.type == "run_removed")
    late = attrs.evolve(removed, type="send_email", step=2, kind="send_email", details={"email": "late"})
    broken = edited(result, **{f"s{removed.seq}": lambda a: late})
    assert messages(check_removal, broken) == [
        "a run listed by Remove from Flow did not end removed",
        "a removed run ran a step after its removal",
    ]


def test_removal_of_a_run_already_on_its_way_out_is_not_required() -> None:
    """R11: B and C both remove A at 11m. Under fifo, C's step runs before A's task has
    logged its run_removed; C lists nothing, rightly, and no check may say otherwise."""
    c = '[campaigns.C]\nqualification = "every time"\ntriggers = [{ trigger = "fills_out_form" }]\n'
    c += 'flow = [{ step = "wait", duration = "10m" }, { step = "remove_from_flow", campaigns = "A" }]\n\n'
    result = simulate(parse_scenario(REMOVAL.replace("[[activities]]", c + "[[activities]]")), strategy="fifo")
    removals = [(a.campaign, a.details["removed_runs"]) for a in result.activities if a.type == "remove_from_flow"]
    assert removals == [("B", [1]), ("C", [])]
    assert not check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)


def test_removal_catches_a_run_removed_by_nobody() -> None:
    result = simulate(parse_scenario(REMOVAL), strategy="fifo")
    step = next(a for a in result.activities if a.type == "remove_from_flow")
    broken = edited(result, **{f"s{step.seq}": lambda a: attrs.evolve(a, details={**a.details, "removed_runs": []})})
    assert messages(check_removal, broken) == [
        "removed runs [], but the runs under way of ['A'] were [1]",
        "a run_removed that no Remove from Flow step asked for",
    ]


BATCH = """
lists = ["VIP"]

[sim]
duration = "2h"

[[person]]
id = "ann"
lists = ["VIP"]

[[person]]
id = "bob"

[campaigns.Nightly]
kind = "batch"
qualification = "every time"
schedule = { at = "30m", every = "1h" }
filters = [{ list = "VIP" }]
flow = [{ step = "send_email", email = "Digest" }]
"""


def test_batches_catch_a_batch_that_ignored_its_filters() -> None:
    """R2: the same log, but the design says the batch is for everyone: bob was left out."""
    result = simulate(parse_scenario(BATCH), seed=1)
    assert [(a.time, a.person) for a in result.activities if a.type == "run_started"] == [
        (1800.0, "ann"),
        (5400.0, "ann"),
    ]
    everyone = parse_scenario(BATCH.replace('filters = [{ list = "VIP" }]\n', ""))
    assert messages(check_batches, attrs.evolve(result, scenario=everyone)) == [
        "\"Nightly\" at t=1800 admitted ['ann']; its filters held for ['ann', 'bob']",
        "\"Nightly\" at t=5400 admitted ['ann']; its filters held for ['ann', 'bob']",
    ]


def test_batches_catch_a_run_off_schedule() -> None:
    result = simulate(parse_scenario(BATCH), seed=1)
    later = parse_scenario(BATCH.replace('at = "30m"', 'at = "40m"'))
    assert messages(check_batches, attrs.evolve(result, scenario=later))[:1] == [
        '"Nightly" ran at t=1800, which its schedule does not have'
    ]


WRITES = """
[sim]
duration = "1h"

[fields]
stage = "Known"

[[person]]
id = "ann"

[campaigns.Enrich]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "call_webhook", webhook = "Enrich", latency = "2s", response = { stage = "Enriched" } }]

[[activities]]
at = "1m"
person = "ann"
type = "fill_out_form"
fields = { stage = "Engaged" }

[[activities]]
at = "10m"
person = "ann"
type = "change_data_value"
field = "stage"
value = "MQL"
"""


def test_conservation_catches_writes_that_never_landed() -> None:
    """The log has the form's and the external change's writes; a design that wrote other
    values does not match it."""
    result = simulate(parse_scenario(WRITES), seed=1)
    assert not check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
    other = parse_scenario(
        WRITES.replace('stage = "Engaged"', 'stage = "Lead"').replace('value = "MQL"', 'value = "SQL"')
    )
    assert messages(check_conservation, attrs.evolve(result, scenario=other)) == [
        "a form fill's fields were not written before it",
        "the external change of stage to 'SQL' for ann at t=600 never landed",
    ]


def test_conservation_catches_a_webhook_response_at_the_wrong_time() -> None:
    """R16: the design says 5 s of latency; the log's response came after 2 s."""
    result = simulate(parse_scenario(WRITES), seed=1)
    slower = parse_scenario(WRITES.replace('latency = "2s"', 'latency = "5s"'))
    assert messages(check_conservation, attrs.evolve(result, scenario=slower)) == [
        "a webhook response came at t=62, not at [65.0]"
    ]


def test_conservation_catches_a_write_back_without_a_2xx_response() -> None:
    result = simulate(parse_scenario(WRITES), seed=1)
    response = next(a for a in result.activities if a.type == "webhook_response")
    broken = edited(result, **{f"s{response.seq}": lambda a: attrs.evolve(a, details={**a.details, "status": 500})})
    assert messages(check_conservation, broken) == ["a webhook wrote a field without a 2xx response before it (R16)"]


def test_contiguity_catches_the_parent_going_on_before_the_child_ended(base: SimulationResult) -> None:
    # The child's run_completed (seq 7) and the parent's next step (seq 8) trade places.
    assert messages(check_executable_contiguity, swapped(base, 7, 8)) == [
        "the parent's next activity came before its child run ended"
    ]


def test_contiguity_catches_a_child_started_elsewhere(base: SimulationResult) -> None:
    # The child's run_started moves after the parent's send_email of step 1.
    broken = swapped(base, 3, 5)
    assert 'Execute Campaign "Child" is not followed at once by its child run' in messages(
        check_executable_contiguity, broken
    )


def test_contiguity_catches_nesting_deeper_than_three(base: SimulationResult) -> None:
    # Make the Child's run claim a chain of executed parents four deep.
    chain = [attrs.evolve(base.activities[4], run=100 + i, parent=100 + i - 1 if i else 1) for i in range(4)]
    start = [attrs.evolve(a, seq=1000 + i) for i, a in enumerate(chain)]
    result = attrs.evolve(base, activities=(*base.activities, *start))
    assert "an executable nested 4 levels deep (at most 3)" in messages(check_executable_contiguity, result)


def test_contiguity_catches_a_child_that_ran_though_its_filters_did_not_hold(base: SimulationResult) -> None:
    # The same log, but the design says Child runs only for VIP members: ann is not one (R7).
    scenario = parse_scenario(BASE.replace('kind = "executable"', 'kind = "executable"\nfilters = [{ list = "VIP" }]'))
    broken = attrs.evolve(base, scenario=scenario)
    assert (
        messages(check_executable_contiguity, broken)
        == ["the child ran though its smart list filters did not hold (R7)"] * 2
    )


def test_request_causality_catches_a_lost_request(base: SimulationResult) -> None:
    # The requested run of the first request (seq 9, 11, 12) never happens.
    broken = edited(base, s9=None, s11=None, s12=None)
    assert messages(check_request_causality, broken) == ['a request for "Requested" led to 0 runs, not 1']


def test_request_causality_catches_a_run_before_its_request(base: SimulationResult) -> None:
    # The first requested run (seq 9) names the second request (seq 21) as its cause.
    broken = edited(base, s9=lambda a: attrs.evolve(a, details={**a.details, "cause": 21}))
    assert messages(check_request_causality, broken) == [
        'a request for "Requested" led to 0 runs, not 1',
        'a request for "Requested" led to 2 runs, not 1',
        "a requested run started before its request",
        "a requested run's person or parent is not its requester's",
    ]


def test_trigger_causality_catches_a_run_whose_filters_did_not_hold(base: SimulationResult) -> None:
    # The same log, but the design says Parent runs only for VIP members: ann is not one.
    scenario = parse_scenario(
        BASE.replace(
            'triggers = [{ trigger = "fills_out_form" }]',
            'triggers = [{ trigger = "fills_out_form" }]\nfilters = [{ list = "VIP" }]',
        )
    )
    broken = attrs.evolve(base, scenario=scenario)
    assert messages(check_trigger_causality, broken)[:1] == [
        "a triggered run whose smart list filters did not hold when it fired"
    ]


def test_trigger_causality_catches_a_fill_that_fired_nothing(base: SimulationResult) -> None:
    broken = edited(base, **{f"s{seq}": None for seq in range(16, 28)})
    assert messages(check_trigger_causality, broken) == ['an activity that should fire "Parent" 1 time(s) fired it 0']


def test_qualification_catches_a_second_run_under_once(base: SimulationResult) -> None:
    scenario = parse_scenario(
        BASE.replace(
            'qualification = "every time"\ntriggers = [{ trigger = "fills',
            'qualification = "once"\ntriggers = [{ trigger = "fills',
        )
    )
    assert scenario.campaigns["Parent"].qualification.rule == "once"
    assert messages(check_qualification, attrs.evolve(base, scenario=scenario)) == [
        '"Parent" is "once" but ran 2 times for one person'
    ]


def test_qualification_catches_runs_closer_than_once_every(base: SimulationResult) -> None:
    scenario = parse_scenario(
        BASE.replace(
            'qualification = "every time"\ntriggers = [{ trigger = "fills',
            'qualification = "once every 1h"\ntriggers = [{ trigger = "fills',
        )
    )
    assert messages(check_qualification, attrs.evolve(base, scenario=scenario)) == [
        '"Parent" is "once every 3600s" but ran twice within it'
    ]


def test_conservation_catches_a_run_that_never_ended(base: SimulationResult) -> None:
    assert messages(check_conservation, edited(base, s14=None))[:1] == [
        "a run that never ended and is not waiting past the end"
    ]


def test_conservation_catches_a_lost_external_activity(base: SimulationResult) -> None:
    broken = edited(base, **{f"s{seq}": None for seq in range(15, 28)})
    assert messages(check_conservation, broken) == [
        "1 timed fill_out_form activity for ann at t=1800 [('form', 'F')] is missing",
        'the summary of "Parent" says (2, 2, 0, 0, 0) runs, the log (1, 1, 0, 0, 0)',
        'the summary of "Child" says (2, 2, 0, 0, 0) runs, the log (1, 1, 0, 0, 0)',
        'the summary of "Requested" says (2, 2, 0, 0, 0) runs, the log (1, 1, 0, 0, 0)',
    ]


def test_conservation_catches_a_summary_that_disagrees(base: SimulationResult) -> None:
    wrong = attrs.evolve(
        base.summary,
        campaigns={**base.summary.campaigns, "Child": attrs.evolve(base.summary.campaigns["Child"], completed=1)},
    )
    assert messages(check_conservation, attrs.evolve(base, summary=wrong)) == [
        'the summary of "Child" says (2, 1, 0, 0, 0) runs, the log (2, 2, 0, 0, 0)'
    ]


def test_time_catches_a_wait_that_did_not_last(base: SimulationResult) -> None:
    # The first run's step 5 comes at 359 s: its wait of 300 s from 60 s ended at 360 s.
    broken = edited(base, s13=lambda a: attrs.evolve(a, time=359.0))
    assert messages(check_time, broken) == [
        "the next activity of this task came at t=359, not at [360.0]",
        "the next activity of this task came at t=360, not at [359.0]",  # its run_completed
    ]


def test_time_catches_a_step_that_took_time(base: SimulationResult) -> None:
    broken = edited(base, s3=lambda a: attrs.evolve(a, time=61.0))
    assert "time went backwards" in messages(check_time, broken)
    assert "the next activity of this task came at t=61, not at [60.0]" in messages(check_time, broken)


def test_time_catches_a_gap_in_the_log(base: SimulationResult) -> None:
    assert messages(check_time, edited(base, s11=None)) == ["activity number 11 has seq 12: the log has a gap"]


def test_replay_catches_a_change_from_the_wrong_value(base: SimulationResult) -> None:
    broken = edited(base, s6=lambda a: attrs.evolve(a, details={**a.details, "old_value": "Lead"}))
    assert messages(check_replay, broken) == ["stage was 'Known', the change says 'Lead'"]


def test_replay_catches_an_end_state_the_log_does_not_explain(base: SimulationResult) -> None:
    assert messages(check_replay, edited(base, s6=None)) == [
        "replaying the log gives ann ({'stage': 'Known', 'score': 0}, set(), {}), the run ended with another state"
    ]


# --- teeth: a broken engine is caught, with a small shrunk design -------------------


async def detached_execute(engine: Engine, parent: Run, action: model.ExecuteCampaign, at: At) -> None:
    """BROKEN ON PURPOSE: Execute Campaign admits the child as a task of its own, as if
    it were requested, and the parent goes straight on (the opposite of R6)."""
    child = engine.scenario.campaigns[action.campaign]
    engine.emit("execute_campaign", parent.person, parent, at, campaign=child.name, qualified=True)
    engine.admission.admit(
        child, parent.person, parent_id=parent.id, cause=None, via="execute_campaign", tokens=parent.tokens
    )


def test_contiguity_catches_an_executable_run_as_a_task_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Property 2 has teeth: break R6 in the engine and Hypothesis finds a design that
    shows it, shrunk to one Execute Campaign step."""
    monkeypatch.setitem(engine_steps.WAITING_ACTIONS, model.ExecuteCampaign, detached_execute)
    scenario, seed = find(
        st.tuples(scenarios(executable_campaigns=(1, 3)), seeds()),
        lambda case: bool(violations_of(check_executable_contiguity, simulate(case[0], seed=case[1]))),
        settings=FIND,
    )
    flows = [step.kind for campaign in scenario.campaigns.values() for step in campaign.flow]
    assert flows == ["execute_campaign"]
    assert len(scenario.campaigns) <= 3 and seed == 0


# --- stateful: a design grown a rule at a time -------------------------------------

PEOPLE = ("alice", "bob")


class GrowingDesign(RuleBasedStateMachine):
    """Build a scenario step by step (add campaign, add step, add trigger, inject an
    activity, advance time) and simulate it afresh after every rule: each intermediate
    design must be valid and keep every guarantee. A fresh trio run per check; nothing
    is shared between examples.
    """

    def __init__(self) -> None:
        super().__init__()
        self.campaigns: dict[str, Campaign] = {}
        self.levels: dict[str, int] = {}  # executable -> nesting level (R8)
        self.requested: list[str] = []
        self.activities: list[ExternalActivity] = []
        self.now = 0.0
        self.duration = 60.0
        self.seed = 0
        self.last: SimulationResult | None = None

    # -- what the rules build

    def scenario(self) -> Scenario:
        return Scenario(
            source="<stateful>",
            seed=self.seed,
            duration=self.duration,
            step_budget=50,
            fields=dict(FIELDS),
            lists=LISTS,
            programs={PROGRAM.name: PROGRAM},
            campaigns=dict(self.campaigns),
            people=tuple(PersonSpec(id=pid) for pid in PEOPLE),
            activities=tuple(sorted(self.activities, key=lambda a: a.at)),
        )

    def design(self) -> Design:
        return Design(
            requestable=tuple(self.requested),
            executables=tuple(self.levels.items()),
            campaigns=tuple(self.campaigns),
        )

    def simulate(self) -> SimulationResult:
        result = simulate(self.scenario(), seed=self.seed)
        self.last = result
        return result

    # -- rules

    @rule(kind=st.sampled_from(["trigger", "requested", "executable", "batch"]), data=st.data())
    def add_campaign(self, kind: str, data: st.DataObject) -> None:
        number = sum(name.startswith(kind.title()) for name in self.campaigns) + 1
        name = f"{kind.title()} {number}"
        level = 0
        if kind == "executable":
            level = len(self.levels) % 3 + 1  # 1, 2, 3, 1, ...: each calls only deeper ones
            self.levels[name] = level
        campaign_kind: CampaignKind = "trigger" if kind == "requested" else kind  # type: ignore[assignment]
        empty = attrs.evolve(self.design(), max_steps=0)
        self.campaigns[name] = data.draw(
            campaigns(name, campaign_kind, empty, requestable=kind == "requested", level=level), label=name
        )
        if kind == "requested":
            self.requested.append(name)

    @precondition(lambda self: self.campaigns)
    @rule(data=st.data())
    def add_step(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.campaigns)), label="campaign")
        campaign = self.campaigns[name]
        level = self.levels.get(name, 0)
        kinds = step_kinds(campaign.kind, self.design(), level=level)
        kind = data.draw(st.sampled_from(kinds), label="step kind")
        step = data.draw(steps(kind, self.design(), level=level), label="step")
        self.campaigns[name] = attrs.evolve(campaign, flow=(*campaign.flow, step))

    @precondition(
        lambda self: any(c.kind == "trigger" and c.name not in self.requested for c in self.campaigns.values())
    )
    @rule(data=st.data())
    def add_trigger(self, data: st.DataObject) -> None:
        names = sorted(c.name for c in self.campaigns.values() if c.kind == "trigger" and c.name not in self.requested)
        name = data.draw(st.sampled_from(names), label="campaign")
        trigger = data.draw(triggers(), label="trigger")
        campaign = self.campaigns[name]
        if trigger not in campaign.triggers:
            self.campaigns[name] = attrs.evolve(campaign, triggers=(*campaign.triggers, trigger))

    @rule(person=st.sampled_from(PEOPLE), data=st.data())
    def inject_activity(self, person: str, data: st.DataObject) -> None:
        """An external activity now; it must not change anything that happened before now."""
        kinds = ["fill_out_form", "click_link", *(["request_campaign"] if self.requested else [])]
        type_ = data.draw(st.sampled_from(kinds), label="type")
        attributes: dict[str, Value] = {}
        if type_ == "fill_out_form":
            attributes = {"form": data.draw(st.sampled_from(FORMS), label="form")}
        elif type_ == "request_campaign":
            attributes = {"campaign": data.draw(st.sampled_from(self.requested)), "source": "web_service_api"}
        before = self.simulate()
        self.activities.append(ExternalActivity(at=self.now, person=person, type=type_, attributes=attributes))
        after = self.simulate()
        past = [a.to_json() for a in before.activities if a.time < self.now]
        assert [a.to_json() for a in after.activities[: len(past)]] == past

    @rule(delta=st.sampled_from([60.0, 0.5, 3600.0]))
    def advance_time(self, delta: float) -> None:
        """Simulate longer: the shorter run's log is a prefix of the longer run's."""
        before = self.simulate()
        self.now += delta
        self.duration = self.now + 60.0
        after = self.simulate()
        shorter = [a.to_json() for a in before.activities]
        assert [a.to_json() for a in after.activities[: len(shorter)]] == shorter

    @rule(seed=seeds())
    def reseed(self, seed: int) -> None:
        self.seed = seed

    # -- after every rule

    @invariant()
    def design_is_valid(self) -> None:
        """The design as built passes every definition check (written out and read back)."""
        scenario = self.scenario()
        assert parse_scenario(dump_scenario(scenario), source=scenario.source).campaigns == scenario.campaigns

    @invariant()
    def every_guarantee_holds(self) -> None:
        result = self.simulate()
        found = check_guarantees(result.scenario, result.activities, summary=result.summary, people=result.people)
        if found:
            note(dump_scenario(result.scenario))
        assert not found, "\n".join(str(v) for v in found[:5])


GrowingDesign.TestCase.settings = settings(
    settings(), stateful_step_count=25, suppress_health_check=[HealthCheck.too_slow]
)
TestGrowingDesign = GrowingDesign.TestCase


@settings(max_examples=3)
@given(scenarios(), seeds(), st.integers(0, 2**31))
def test_8_the_same_log_in_another_process(scenario: Scenario, seed: int, hash_seed: int) -> None:
    """Determinism across processes (DESIGN.md): the design written to a file and run by
    ``sim run`` under another PYTHONHASHSEED logs exactly what this process logs."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "design.toml"
        path.write_text(dump_scenario(scenario), encoding="utf-8")
        log = Path(folder) / "log.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
        command = [sys.executable, "-m", "sim", "run", str(path), "--seed", str(seed), "--log", str(log)]
        subprocess.run(command, env=env, capture_output=True, check=True)
        there = log.read_text(encoding="utf-8").splitlines()
    here = [a.to_json() for a in simulate(scenario, seed=seed).activities]
    assert there == here


def test_the_checks_add_times_on_the_microsecond_grid_as_the_engine_does() -> None:
    """R15, R16, R18 off the whole second: a Wait of 200 ms from 0.1 s ends at 0.3 s, a
    webhook answers 0.2 s after 0.1 s, and "once every 200ms" admits a run exactly 200 ms
    later. In floats each of these sums is 0.30000000000000004, and the checks would cry
    wolf at a log that is right."""
    text = """
[sim]
duration = "1h"
[fields]
score = 0
[[person]]
id = "ann"
[campaigns.W]
qualification = "once every 200ms"
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "wait", duration = "200ms" },
  { step = "call_webhook", webhook = "w", latency = "0.2s", response = { score = 5 } },
  { step = "change_score", change = "+1" },
]
[[activities]]
at = "0.1s"
person = "ann"
type = "fill_out_form"
[[activities]]
at = "0.3s"
person = "ann"
type = "fill_out_form"
"""
    result = simulate(parse_scenario(text), strategy="fifo")
    assert [a.time for a in result.activities if a.type == "run_started"] == [0.1, 0.3]
    assert [a.time for a in result.activities if a.type == "webhook_response"] == [0.5, 0.7]
    assert_guarantees(result)
