"""The happens-before race detector (`sim.observe.races`, `sim run --races`, docs/races.md).

Exact races for small designs, one per kind of access; the examples; and two properties:
detection never changes a run, and every race exploration shows is one the detector
flags (in every schedule, for every person whose outcome differs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, note, settings

from sim import MemorySink, Race, RaceDetector, Scenario, Simulation, Site, load_scenario, parse_scenario
from sim.cli import main
from sim.testing import assert_no_races, find_races, scenarios
from sim.verify.outcomes import finished_outcome

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def pairs(races: tuple[Race, ...]) -> list[tuple[str, set[tuple[str, str]], bool]]:
    """Each race as (item, {(op, site)} for both sides, same instant)."""
    return [
        (
            race.item,
            {(race.first.op, race.first.site.describe()), (race.second.op, race.second.site.describe())},
            race.same_instant,
        )
        for race in races
    ]


def sides(races: tuple[Race, ...]) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """Each race as (item, {(op, site)}), in no order."""
    return {(item, frozenset(both)) for item, both, _ in pairs(races)}


def races_in(text: str, **options: object) -> tuple[Race, ...]:
    return find_races(parse_scenario(text, source="<test>"), **options)  # type: ignore[arg-type]


ONE_PERSON = """
lists = ["VIP"]

[sim]
duration = "1d"

[fields]
country = ""
score = 0
owner = ""

[[person]]
id = "alice"
"""

FILL = """
[[activities]]
at = "0s"
person = "alice"
type = "fill_out_form"
form = "Contact Us"
fields = { country = "usa" }
"""


# -- the detector on its own


async def test_a_fork_orders_the_parent_before_the_child_and_nothing_after() -> None:
    """Accesses before a fork, and in the rest of that step, are before the child; the
    parent's accesses once it resumes are not; siblings are not ordered."""
    detector = RaceDetector()
    source = detector.source("load")
    detector.resume_source(source, 0.0)
    site = Site(campaign="A", step=1, kind="change_data_value", what="write")
    detector.access(source, "p", "f", "write", site, time=0.0, value="x")
    child = detector.fork(source, "child")
    detector.access(source, "p", "g", "write", site, time=0.0, value="x")  # same step: before the child
    sibling = detector.fork(source, "sibling")
    detector.access(child, "p", "f", "read", site, time=0.0)
    detector.access(child, "p", "g", "read", site, time=0.0)
    assert detector.races() == ()
    detector.access(sibling, "p", "h", "write", site, time=0.0, value=1)
    detector.access(child, "p", "h", "read", site, time=0.0)
    (race,) = detector.races()
    assert (race.item, race.first.op, race.second.op) == ("h", "write", "read")
    assert race.first.chain == ("sibling",) and race.second.chain == ("child",) and race.common == "load"


async def test_the_parent_after_it_resumes_races_its_child() -> None:
    detector = RaceDetector()
    source = detector.source("load")
    detector.resume_source(source, 0.0)
    run = detector.fork(source, "run")
    run.resume()
    response = detector.fork(run, "response")
    site = Site(campaign="A", what="x")
    run.resume()  # the run waited for the response: other tasks could go first
    detector.access(response, "p", "f", "write", site, time=2.0, value=1)
    detector.access(run, "p", "f", "read", site, time=2.0)
    (race,) = detector.races()
    assert race.first.chain == ("response",) and race.second.chain == ()
    assert race.common == "run"


async def test_what_commutes_is_no_race() -> None:
    """Reads with reads, score increments with each other, writes of one value."""
    detector = RaceDetector()
    source = detector.source("load")
    detector.resume_source(source, 0.0)
    a, b = detector.fork(source, "a"), detector.fork(source, "b")
    site = Site(campaign="A", what="x")
    for clock in (a, b):
        detector.access(clock, "p", "r", "read", site, time=0.0)
        detector.access(clock, "p", "s", "add", site, time=0.0)
        detector.access(clock, "p", "w", "write", site, time=0.0, value="US")
    assert detector.races() == ()
    detector.access(a, "p", "w", "write", site, time=0.0, value=True)  # "US" then True: order matters
    detector.access(b, "p", "s", "write", site, time=0.0, value=0)  # a set against an increment
    detector.access(a, "p", "q", "update", site, time=0.0)
    detector.access(b, "p", "q", "update", site, time=0.0)  # an update commutes with nothing
    assert [race.item for race in detector.races()] == ["w", "s", "q"]


async def test_sources_are_ordered_by_time_and_not_within_an_instant() -> None:
    detector = RaceDetector()
    first, second = detector.source("one"), detector.source("two")
    site = Site(campaign=None, what="form")
    detector.resume_source(first, 10.0)
    detector.access(first, "p", "f", "write", site, time=10.0, value=1)
    detector.resume_source(second, 10.0)
    detector.access(second, "p", "f", "write", site, time=10.0, value=2)  # the same instant: a race
    detector.resume_source(first, 20.0)
    detector.access(first, "p", "f", "write", site, time=20.0, value=3)  # after both
    races = detector.races()
    assert len(races) == 1 and races[0].same_instant
    assert races[0].people == ("p",) and races[0].common == ""


async def test_the_example_of_a_race_is_its_closest_call() -> None:
    detector = RaceDetector()
    site = Site(campaign="A", what="x")
    source = detector.source("load")
    for person, gap in (("far", 60.0), ("near", 0.0), ("mid", 5.0)):
        detector.resume_source(source, 0.0)
        a, b = detector.fork(source, "a"), detector.fork(source, "b")
        detector.access(a, person, "f", "write", site, time=100.0, value=1)
        detector.access(b, person, "f", "read", site, time=100.0 + gap)
    (race,) = detector.races()
    assert race.people == ("far", "near", "mid") and race.person == "near" and race.same_instant


# -- the examples


def test_racing_triggers_on_one_fill_report_the_country_pair() -> None:
    """examples/racing-triggers-one-fill.toml: the issue's racing triggers (R1, R12)."""
    for strategy in ("fifo", "random"):
        (race,) = find_races(load_scenario(EXAMPLES / "racing-triggers-one-fill.toml"), strategy=strategy)
        assert pairs((race,)) == [
            (
                "country",
                {
                    ("write", '"Normalize Country" step 1 (change_data_value): write'),
                    ("read", '"Score Lead" step 2 (change_score): choice (R13)'),
                },
                True,
            )
        ]
        assert race.people == ("alice",) and race.common == "the timed activities"
        assert {race.first.chain, race.second.chain} == {
            ('run 1 of "Normalize Country", triggered by fills_out_form (activity #2 of the log)',),
            ('run 2 of "Score Lead", triggered by fills_out_form (activity #2 of the log)',),
        }


def test_racing_triggers_report_one_pair_for_the_people_whose_country_is_normalized() -> None:
    """200 people, one pair: only "usa" and "United States" are rewritten, so for "US" and
    "Germany" both runs only read country, and reads do not race."""
    (race,) = find_races(load_scenario(EXAMPLES / "racing-triggers.toml"))
    assert race.item == "country" and len(race.people) == 100
    assert set(race.people) == {f"p{n}" for n in range(1, 201) if n % 4 in (1, 2)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fixed_designs_have_no_race(seed: int) -> None:
    """One parent that executes normalization, then scoring (R6): nothing to report."""
    assert_no_races(load_scenario(EXAMPLES / "racing-triggers-fixed.toml"), seed=seed)


def test_webhook_write_back_races_the_next_step_and_the_step_after_a_wait() -> None:
    """R16: the response is a thread of its own, forked at the call; the run's wait for it
    (within 30 s, or after a timeout and a Wait) orders nothing."""
    races = find_races(load_scenario(EXAMPLES / "webhook-writeback.toml"))
    assert pairs(races) == [
        (
            "segment",
            {
                ("write", '"Demo Request - Enrich" step 1 (call_webhook): response mapping (R16)'),
                ("read", '"Demo Request - Enrich" step 2 (change_data_value): choice (R13)'),
            },
            True,
        ),
        (
            "segment",
            {
                ("write", '"Pricing - Enrich" step 1 (call_webhook): response mapping (R16)'),
                ("read", '"Pricing - Enrich" step 3 (change_data_value): choice (R13)'),
            },
            True,
        ),
    ]
    assert [len(race.people) for race in races] == [50, 50]
    assert races[0].common == 'run 1 of "Demo Request - Enrich", triggered by fills_out_form (activity #1 of the log)'


def test_a_request_chain_races_where_the_request_does_not_wait() -> None:
    """R5: the request orders step 1 before the requested run (no country race there), but
    not the requester's step 3 after it; the leftover form-fill trigger's run is ordered
    after nothing of the chain."""
    races = find_races(load_scenario(EXAMPLES / "request-chain.toml"), strategy="fifo")
    step3 = ("read", '"Form Fill - Process" step 3 (change_data_value): choice (R13)')
    assert sides(races) == {
        ("score", frozenset({("add", '"Score Lead" step 1 (change_score): score +5'), step3})),
        ("score", frozenset({("add", '"Score Lead" step 2 (change_score): score +20'), step3})),
        (
            "country",
            frozenset(
                {
                    ("write", '"Form Fill - Process" step 1 (change_data_value): write'),
                    ("read", '"Score Lead" step 2 (change_score): choice (R13)'),
                }
            ),
        ),
    }
    assert all(race.same_instant for race in races)
    (country,) = [race for race in races if race.item == "country"]
    # The run the form fill triggered, not the requested one (which step 1 is ordered before).
    assert {country.first.chain, country.second.chain} == {
        ('run 1 of "Form Fill - Process", triggered by fills_out_form (activity #2 of the log)',),
        ('run 2 of "Score Lead", triggered by fills_out_form (activity #2 of the log)',),
    }


# -- each kind of access, one small design each


def test_an_executed_child_is_in_its_parents_order() -> None:
    """R6: the child's accesses are the parent's thread's, in program order: no race."""
    text = (
        ONE_PERSON
        + """
[campaigns.Parent]
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "execute_campaign", campaign = "Normalize" },
  { step = "change_score", choices = [{ if = { field = "country", op = "is", value = "US" }, change = "+20" }] },
]

[campaigns.Normalize]
kind = "executable"
filters = [{ field = "country", op = "is not empty" }]
flow = [{ step = "change_data_value", field = "country", value = "US" }]
"""
        + FILL
    )
    assert races_in(text) == ()


def test_lists_program_statuses_and_tokens_are_tracked() -> None:
    """A list membership, a program status and a {{lead.x}} token are state like a field."""
    text = (
        ONE_PERSON
        + """
[programs.Webinar]
statuses = ["Not", "Invited", "Attended"]

[campaigns.Writer]
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "add_to_list", list = "VIP" },
  { step = "change_program_status", program = "Webinar", status = "Invited" },
  { step = "change_data_value", field = "country", value = "US" },
]

[campaigns.Reader]
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "send_email", email = "Hi", choices = [{ if = { list = "VIP", member = true }, email = "VIP hi" }] },
  { step = "change_program_status", program = "Webinar", status = "Attended" },
  { step = "interesting_moment", description = "From {{lead.country}}" },
]
"""
        + FILL
    )
    lists = (
        "list:VIP",
        frozenset(
            {
                ("write", '"Writer" step 1 (add_to_list): add to list'),
                ("read", '"Reader" step 1 (send_email): choice (R13)'),
            }
        ),
    )
    country = (
        "country",
        frozenset(
            {
                ("write", '"Writer" step 3 (change_data_value): write'),
                ("read", '"Reader" step 3 (interesting_moment): {{lead.country}}'),
            }
        ),
    )
    # Status changes only move forward (R14): "Attended" wins in either order, so the two
    # commute. The form's own country write is before both runs (their cause).
    assert sides(races_in(text)) == {lists, country}
    # ...unless a trigger listens for the status change: "Invited" then "Attended" logs two
    # changes and the other order one, so which runs the trigger starts depends on it.
    watched = (
        text
        + '\n[campaigns.Watcher]\nqualification = "every time"\n'
        + 'triggers = [{ trigger = "program_status_is_changed", program = "Webinar" }]\n'
    )
    statuses = (
        "program:Webinar",
        frozenset(
            {
                ("update", '"Writer" step 2 (change_program_status): status change (R14)'),
                ("update", '"Reader" step 2 (change_program_status): status change (R14)'),
            }
        ),
    )
    assert sides(races_in(watched)) == {lists, country, statuses}


def test_writes_of_one_value_race_when_a_trigger_listens_for_the_change() -> None:
    """Two writes of "US": the first changes the value and logs the activity that fires
    the data value change trigger, the second changes nothing. With no listener the two
    commute; with one, which write started the triggered run depends on their order (here
    its {{lead.g}} token reads what the other run wrote before, or not)."""
    text = (
        ONE_PERSON
        + """
[campaigns.X]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "change_data_value", field = "owner", value = "X was here" },
  { step = "change_data_value", field = "country", value = "US" },
]

[campaigns.Y]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_data_value", field = "country", value = "US" }]
"""
        + FILL
    )
    assert races_in(text) == ()
    watched = (
        text
        + """
[campaigns.T]
triggers = [{ trigger = "data_value_changes", field = "country" }]
flow = [{ step = "interesting_moment", description = "owner: {{lead.owner}}" }]
"""
    )
    scenario = parse_scenario(watched, source="<test>")
    moments: set[object] = set()
    for seed in range(30):
        sink = MemorySink()
        simulation = Simulation(scenario, strategy_seed=seed, detect_races=True, sinks=[sink])
        simulation.run_sync()
        moments.update(a.details["description"] for a in sink.activities if a.type == "interesting_moment")
        x, y = '"X" step 2 (change_data_value): write', '"Y" step 1 (change_data_value): write'
        assert ("country", frozenset({("update", x), ("update", y)})) in sides(simulation.races()), seed
    assert moments == {"owner: X was here", "owner: "}  # the race shows: T read owner before X wrote it, or after


def test_a_qualification_rule_is_state_the_admissions_race_on() -> None:
    """R18 "once": two unordered requests; whichever is admitted first runs, the other is
    turned away. A rule of "every time" records nothing."""
    text = (
        ONE_PERSON
        + """
[campaigns.A]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "request_campaign", campaign = "Welcome" }]

[campaigns.B]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "request_campaign", campaign = "Welcome" }]

[campaigns.Welcome]
triggers = [{ trigger = "campaign_is_requested" }]
flow = [{ step = "send_email", email = "Welcome" }]
"""
        + FILL
    )
    rule = '"Welcome": qualification rule (R18: once)'
    assert sides(races_in(text)) == {("qualification:Welcome", frozenset({("update", rule)}))}
    every = text.replace("[campaigns.Welcome]\n", '[campaigns.Welcome]\nqualification = "every time"\n')
    assert races_in(every) == ()


def test_remove_from_flow_races_the_steps_it_may_cut_short() -> None:
    """R11: whether the removed run's step (or its start) came first is schedule-bound.
    The race is reported in a schedule where the removal came first too."""
    text = (
        ONE_PERSON
        + """
[campaigns.Stop]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "remove_from_flow", campaigns = ["Score"] }]

[campaigns.Score]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+5" }]
"""
        + FILL
    )
    scenario = parse_scenario(text, source="<test>")
    removed_first = Simulation(scenario, strategy="fifo", detect_races=True)
    summary = removed_first.run_sync()
    assert summary.campaigns["Score"].removed == 1  # the oldest first: Stop ran first
    removal = ("write", '"Stop" step 1 (remove_from_flow): remove from flow (R11)')
    assert sides(removed_first.races()) == {
        ("flow:Score", frozenset({removal, ("read", '"Score": a run starts in the flow (R11)')})),
        ("flow:Score", frozenset({removal, ("read", '"Score" step 1 (change_score): goes on in the flow (R11)')})),
    }
    kinds = set()
    for seed in range(20):
        simulation = Simulation(scenario, strategy_seed=seed, detect_races=True)
        kinds.add(simulation.run_sync().campaigns["Score"].removed)
        assert simulation.races(), seed
    assert kinds == {0, 1}  # both orders happened, and each reported the race


def test_a_removal_between_two_steps_races_the_step_it_cuts_off() -> None:
    """R11: A requests B, then writes; B removes A. When B's removal comes first, A's
    step 2 never runs, and its thread only checks, on waking, whether it was removed:
    that check is the access the race is reported on, so it is found in both orders."""
    text = (
        ONE_PERSON
        + """
[campaigns.A]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "request_campaign", campaign = "B" },
  { step = "change_data_value", field = "owner", value = "Done" },
]

[campaigns.B]
qualification = "every time"
triggers = [{ trigger = "campaign_is_requested" }]
flow = [{ step = "remove_from_flow", campaigns = ["A"] }]
"""
        + FILL
    )
    scenario = parse_scenario(text, source="<test>")
    owners = set()
    for seed in range(10):
        simulation = Simulation(scenario, strategy_seed=seed, detect_races=True)
        simulation.run_sync()
        owners.add(simulation.engine.people["alice"].fields["owner"])
        assert sides(simulation.races()) == {
            (
                "flow:A",
                frozenset(
                    {
                        ("write", '"B" step 1 (remove_from_flow): remove from flow (R11)'),
                        ("read", '"A" step 2 (change_data_value): goes on in the flow (R11)'),
                    }
                ),
            )
        }, seed
    assert owners == {"", "Done"}


def test_a_batch_reads_its_smart_list_at_its_scheduled_time() -> None:
    """R2: the batch's smart list read races a trigger run due at the same instant; a
    form fill an hour before is ordered before it (the world's inputs are ordered by time)."""
    text = (
        ONE_PERSON
        + """
[campaigns.Score]
triggers = [{ trigger = "fills_out_form" }]
qualification = "every time"
flow = [{ step = "change_score", change = "+50" }]

[campaigns.Nightly]
kind = "batch"
schedule = { at = "2h" }
filters = [{ field = "score", op = "at least", value = 50 }, { field = "country", op = "is", value = "usa" }]
flow = [{ step = "send_email", email = "Hot" }]

[[activities]]
at = "1h"
person = "alice"
type = "fill_out_form"
form = "Contact Us"
fields = { country = "usa" }

[[activities]]
at = "2h"
person = "alice"
type = "fill_out_form"
form = "Contact Us"
"""
    )
    races = races_in(text)
    read = '"Nightly": smart list (R2)'
    assert sides(races) == {("score", frozenset({("add", '"Score" step 1 (change_score): score +50'), ("read", read)}))}
    (race,) = races
    assert race.same_instant  # the 2h fill's run; the 1h fill's run is 1h apart
    assert race.person == "alice"


def test_an_executables_smart_list_is_read_by_its_caller() -> None:
    """R7: the filters are checked at the Execute step, in the parent's thread."""
    text = (
        ONE_PERSON
        + """
[campaigns.Parent]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "execute_campaign", campaign = "Child" }]

[campaigns.Child]
kind = "executable"
filters = [{ field = "owner", op = "is empty" }]
flow = [{ step = "send_email", email = "Hi" }]

[campaigns.Assign]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_data_value", field = "owner", value = "Sales" }]
"""
        + FILL
    )
    assert sides(races_in(text)) == {
        (
            "owner",
            frozenset({("read", '"Child": smart list (R7)'), ("write", '"Assign" step 1 (change_data_value): write')}),
        )
    }


def test_a_webhook_payload_token_is_a_read_at_the_call() -> None:
    text = (
        ONE_PERSON
        + """
[campaigns.Enrich]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "call_webhook", webhook = "CRM", payload = '{"country": "{{lead.country}}"}' }]

[campaigns.Normalize]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_data_value", field = "country", value = "US" }]
"""
        + FILL
    )
    assert sides(races_in(text)) == {
        (
            "country",
            frozenset(
                {
                    ("read", '"Enrich" step 1 (call_webhook): {{lead.country}}'),
                    ("write", '"Normalize" step 1 (change_data_value): write'),
                }
            ),
        )
    }
    sink = MemorySink()
    Simulation(parse_scenario(text, source="<test>"), strategy="fifo", sinks=[sink]).run_sync()
    (call,) = [a for a in sink.activities if a.type == "call_webhook"]
    assert call.details == {"webhook": "CRM", "payload": '{"country": "usa"}'}  # the oldest first: Enrich


def test_a_wait_orders_nothing_and_the_race_says_only_time_kept_them_apart() -> None:
    """A run that waits an hour and then reads, and a form fill that writes at 30m."""
    text = (
        ONE_PERSON
        + """
[campaigns.Later]
triggers = [{ trigger = "fills_out_form", form = "Contact Us" }]
flow = [
  { step = "wait", duration = "1h" },
  { step = "change_data_value", field = "owner", choices = [
    { if = { field = "country", op = "is", value = "DE" }, value = "EMEA" },
  ] },
]
"""
        + FILL
        + """
[[activities]]
at = "30m"
person = "alice"
type = "fill_out_form"
form = "Other"
fields = { country = "DE" }
"""
    )
    (race,) = races_in(text)
    assert race.item == "country" and not race.same_instant
    assert (race.first.time, race.second.time) == (1800.0, 3600.0)
    assert race.first.site.describe() == "fill_out_form (form field)"


# -- properties


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(queue=True))
def test_detecting_races_never_changes_the_run(scenario: Scenario) -> None:
    """The detector only watches: the log is the same, activity for activity."""
    logs = []
    for detect in (False, True):
        sink = MemorySink()
        Simulation(scenario, sinks=[sink], detect_races=detect).run_sync()
        logs.append([activity.to_json() for activity in sink.activities])
    assert logs[0] == logs[1]


SCHEDULES = 12
#: Designs with two or more trigger campaigns on the same activities race more often.
RACY = scenarios(trigger_campaigns=(2, 3))


@settings(
    max_examples=settings().max_examples * 5,  # about 1 design in 12 races: see the next test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(scenario=RACY)
def test_every_race_exploration_shows_is_one_the_detector_flags(scenario: Scenario) -> None:
    """Run a generated design under several schedules. Where the outcomes differ for a
    person, the detector flags a race on that person, in every one of those schedules
    (a run with no race on a person ends the same for them under every schedule).

    Designs that use up a step budget are left out: the budget counts every step of a
    person, so which run it stops depends on the order of everything (docs/races.md).
    """
    ends: list[dict[str, frozenset[tuple[object, ...]]]] = []  # per schedule: person -> how they ended
    flagged: list[set[str]] = []  # per schedule: the people a race was reported on
    for seed in range(SCHEDULES):
        sink = MemorySink()
        simulation = Simulation(scenario, strategy_seed=seed, detect_races=True, sinks=[sink])
        summary = simulation.run_sync()
        assume(not summary.budget_exhausted)
        ends.append(person_outcomes(simulation, sink))
        flagged.append({person for race in simulation.races() for person in race.people})
    people = set().union(*ends)
    differ = {person for person in people if len({end.get(person) for end in ends}) > 1}
    note(f"people ending more than one way: {sorted(differ)}")
    for seed, found in enumerate(flagged):
        assert differ <= found, (seed, sorted(differ - found))


def person_outcomes(simulation: Simulation, sink: MemorySink) -> dict[str, frozenset[tuple[object, ...]]]:
    """Person -> their final fields, lists and statuses, and the campaigns that started a
    run for them (the outcome of `sim explore`, per person)."""
    out: dict[str, set[tuple[object, ...]]] = {}
    for (person, what), value in finished_outcome(simulation).values().items():
        out.setdefault(person, set()).add((what, type(value).__name__, value))
    for activity in sink.activities:
        if activity.type == "run_started":
            out.setdefault(activity.person, set()).add(("started", activity.campaign))
    return {person: frozenset(items) for person, items in out.items()}


def test_the_agreement_property_is_not_vacuous() -> None:
    """Generated designs do race: the property above sees differing outcomes (in about one
    design in 12, measured over 200)."""

    def races(scenario: Scenario) -> bool:
        outcomes = set()
        for seed in range(SCHEDULES):
            simulation = Simulation(scenario, strategy_seed=seed)
            if simulation.run_sync().budget_exhausted:
                return False
            outcomes.add(finished_outcome(simulation))
        return len(outcomes) > 1

    options = settings(max_examples=500, phases=[Phase.generate], database=None, derandomize=True)
    found = find(RACY, races, settings=options)
    assert find_races(found)


# -- sim run --races


def test_cli_prints_the_race_and_fails_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "racing-triggers-one-fill.toml")
    assert main(["run", path, "--races", "--strategy", "fifo"]) == 0
    out = capsys.readouterr().out
    report = out[out.index("Races:") :]
    assert report == (
        "Races: 1 pair of conflicting accesses that nothing orders (6 accesses to people's state checked)\n"
        "\n"
        "At the same instant, so the schedule alone decides (1; sim explore can show each):\n"
        "\n"
        '1. field "country": 1 person (alice)\n'
        '  write "US"  "Normalize Country" step 1 (change_data_value): write\n'
        '              by run 1 of "Normalize Country", triggered by fills_out_form (activity #2 of the log)\n'
        '  read        "Score Lead" step 2 (change_score): choice (R13)\n'
        '              by run 2 of "Score Lead", triggered by fills_out_form (activity #2 of the log)\n'
        '  why: the timed activities started both run 1 of "Normalize Country" and run 2 of "Score Lead"; '
        "neither waits for the other\n"
        "  e.g. alice at 0s\n"
        "\n"
        "To order two accesses, make them steps of one run, or of executables one parent runs in turn\n"
        "(R6, R12). A trigger or a Request Campaign orders only what its cause did before it, not what\n"
        "the cause does next (R5).\n"
    )
    assert main(["run", path, "--races", "--fail-on-race"]) == 1
    capsys.readouterr()
    fixed = str(EXAMPLES / "racing-triggers-fixed.toml")
    assert main(["run", fixed, "--races", "--fail-on-race"]) == 0
    assert "No races: 1,250 accesses to people's state checked" in capsys.readouterr().out


def test_cli_fail_on_race_needs_races(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "racing-triggers-fixed.toml"), "--fail-on-race"]) == 2
    assert capsys.readouterr().err == "error: --fail-on-race needs --races\n"


def test_assert_no_races_fails_with_the_report() -> None:
    with pytest.raises(AssertionError, match=r'field "country": 1 person \(alice\)'):
        assert_no_races(load_scenario(EXAMPLES / "racing-triggers-one-fill.toml"))


def test_a_batch_and_a_form_fill_creating_a_person_at_one_instant_race() -> None:
    """R2: the batch goes through everyone who exists when it fires. A form fill by an
    unknown visitor at the same instant creates a person before or after that pass: the
    race is reported in both orders (when the batch went first it never read the person)."""
    text = """
[sim]
duration = "2h"

[fields]
country = ""
tagged = ""

[[person]]
id = "alice"

[campaigns."Tag Everyone"]
kind = "batch"
schedule = { at = "1h" }
filters = [{ field = "country", op = "is", value = "US" }]
flow = [{ step = "change_data_value", field = "tagged", value = "yes" }]

[[activities]]
at = "1h"
person = "bob"
type = "fill_out_form"
fields = { country = "US" }
"""
    scenario = parse_scenario(text, source="<test>")
    tagged = set()
    creates = (
        "person",
        frozenset({("update", "fill_out_form creates the person"), ("read", '"Tag Everyone": smart list (R2)')}),
    )
    for seed in range(12):
        simulation = Simulation(scenario, strategy_seed=seed, detect_races=True)
        simulation.run_sync()
        tagged.add(simulation.engine.people["bob"].fields["tagged"])
        assert creates in sides(simulation.races()), seed
    assert tagged == {"", "yes"}


def test_the_report_in_docs_races_md_is_what_sim_run_prints(capsys: pytest.CaptureFixture[str]) -> None:
    docs = (EXAMPLES.parent / "docs" / "races.md").read_text(encoding="utf-8")
    start = docs.index("```text\nRaces: 1 pair") + len("```text\n")
    shown = docs[start : docs.index("```", start)]
    assert main(["run", str(EXAMPLES / "racing-triggers-one-fill.toml"), "--races"]) == 0
    out = capsys.readouterr().out
    assert out[out.index("Races:") :] == shown


# --- items nothing writes: counted, not kept ----------------------------------------


def test_writable_items_are_every_item_the_design_or_its_load_can_write() -> None:
    from sim.observe.races import writable_items

    examples = Path(__file__).resolve().parent.parent / "examples"
    webhook = load_scenario(examples / "webhook-writeback.toml")
    assert writable_items(webhook) == frozenset(
        {
            "person",
            "segment",  # the webhooks' response mapping (R16)
            "owner",  # Change Data Value
            *(f"qualification:{name}" for name in webhook.campaigns),
        }
    )
    racing = writable_items(load_scenario(examples / "racing-triggers.toml"))
    assert racing is not None and {"country", "score"} <= racing  # a form field, a score
    replayed = load_scenario(examples / "form-fills.toml")  # a CSV replay: any column
    assert replayed.replays and writable_items(replayed) is None


def test_a_read_of_an_item_nothing_writes_is_counted_and_not_kept() -> None:
    detector = RaceDetector(writable=frozenset({"score"}), running=lambda: "outside trio")
    clock = detector.source("the load")
    site = Site(campaign="C", what="choice (R13)")
    detector.access(clock, "ann", "country", "read", site, time=0.0)
    assert detector.accesses == 1 and not detector._history  # nothing could race with it
    detector.access(clock, "ann", "score", "read", site, time=0.0)
    assert detector.accesses == 2 and ("ann", "score") in detector._history
