"""dump_scenario: a Scenario written as a file that parse_scenario reads back to an equal one.

Equality is checked twice: attrs equality, and again with every value's type, since
1 == 1.0 == True and a value that came back as another type would run differently.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
from example_files import EXAMPLES as EXAMPLE_FILES
from example_files import example_scenario
from hypothesis import given
from hypothesis import strategies as st

from sim.observe.simulation import Simulation
from sim.observe.sinks import MemorySink
from sim.run.activity import Activity
from sim.scenario import load_scenario, model, parse_scenario
from sim.scenario.dump import dump_scenario
from sim.scenario.units import MAX_SECONDS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def round_trip(scenario: model.Scenario) -> model.Scenario:
    return parse_scenario(dump_scenario(scenario), source=scenario.source)


def typed(obj: object) -> object:
    """``obj`` with the type of every value, for a comparison where 1 != 1.0 != True.

    Mappings stay dicts, whose equality ignores order: TOML puts plain [fields] keys before
    the drawn ones' tables, and the order of fields matters nowhere (drawn fields keep
    theirs, which is the order people draw them in).
    """
    cls = type(obj)
    if attrs.has(cls):
        return cls, {field.name: typed(getattr(obj, field.name)) for field in attrs.fields(cls)}
    if isinstance(obj, Mapping):
        return {key: typed(value) for key, value in obj.items()}
    if isinstance(obj, tuple):
        return tuple(typed(item) for item in obj)
    return type(obj), obj


def assert_equal(back: model.Scenario, scenario: model.Scenario) -> None:
    assert back == scenario
    assert typed(back) == typed(scenario)


def assert_round_trips(scenario: model.Scenario) -> None:
    """Read back equal, warnings included (they are recomputed from the same content)."""
    assert_equal(round_trip(scenario), scenario)


def assert_text_round_trips(text: str) -> model.Scenario:
    scenario = parse_scenario(textwrap.dedent(text), source="case.toml")
    assert_round_trips(scenario)
    return scenario


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    assert_round_trips(load_scenario(path))


# --- the whole format, by part -------------------------------------------------------------

PEOPLE = """
lists = ["Newsletter", "MQL"]

[sim]
seed = 3
duration = "3d"
step_budget = 500

[fields]
country = { values = ["US", "usa", ""], weights = [2, 1.5, 0] }
region = { default = "ROW", values = ["NA", "EMEA"] }
job_title = { values = ["VP", "Engineer"] }
flag = { default = 1, values = [true, 1.0] }   # 1, true and 1.0 are equal but not the same
rating = { default = 2.5 }
segment = ""
owner = "nobody"
employees = 10
opted_in = true
literal = "NULL"                               # a [fields] default is taken as written

[people]
count = 2

[[person]]
id = "alice"
fields = { country = "usa", segment = "NULL", employees = "NULL", rating = 4, opted_in = false }
lists = ["Newsletter", "MQL"]

[[person]]
id = "bob"

[programs.Webinar]
statuses = ["Not in Program", "Invited", "Registered", "Attended"]
tokens = { event = "Spring Webinar", seats = 40, ratio = 0.5 }

[programs.Nurture]
"""


def test_people_fields_lists_programs() -> None:
    scenario = assert_text_round_trips(PEOPLE)
    assert scenario.people[0].fields["segment"] is None
    assert scenario.programs["Nurture"].statuses == ("Not in Program", "Member")


def test_defaults_only() -> None:
    """No [fields] table: score is still declared; no people, no campaigns."""
    assert_text_round_trips("[sim]\n")


STEPS = (
    PEOPLE
    + """
[campaigns."Every Step"]
program = "Webinar"
qualification = "every time"
triggers = [{ trigger = "fills_out_form", form = "Register" }]
flow = [
  { step = "change_data_value", field = "segment", value = "Enterprise" },
  { step = "change_data_value", field = "segment", value = "NULL" },
  { step = "change_data_value", field = "employees", value = "NULL" },
  { step = "change_data_value", field = "employees", value = "{{trigger.count}}" },
  { step = "change_data_value", field = "owner", value = "{{my.event}} {{ lead.country }} {{trigger.form}}" },
  { step = "change_data_value", field = "rating", value = 3.25 },
  { step = "change_data_value", field = "opted_in", value = false },
  { step = "change_score", change = "+10" },
  { step = "change_score", change = "-5" },
  { step = "change_score", change = "=0" },
  { step = "change_score", change = "+2.5" },
  { step = "change_score", change = -3 },
  { step = "change_score", change = 7 },
  { step = "change_score", field = "rating", change = "-0.75" },
  { step = "change_program_status", status = "Invited" },
  { step = "change_program_status", program = "Webinar", status = "Registered" },
  { step = "change_program_status", program = "Nurture", status = "Member" },
  { step = "add_to_list", list = "MQL" },
  { step = "remove_from_list", list = "Newsletter" },
  { step = "interesting_moment", description = "Registered for {{my.event}} (\\"quoted\\", tab\\t, ü)" },
  { step = "send_email", email = "Confirmation" },
  { step = "send_alert", alert = "New registrant", to = "sales@example.com" },
  { step = "send_alert", alert = "Nobody told" },
  { step = "call_webhook", webhook = "E", latency = "45s", status = 404, response = { segment = "X" } },
  { step = "call_webhook", webhook = "F", latency = 31.5, response = { employees = "NULL", opted_in = true } },
  { step = "call_webhook", webhook = "Plain" },
  { step = "wait", duration = "1h30m" },
  { step = "wait", duration = 0.25 },
  { step = "wait", duration = 0 },
  { step = "request_campaign", campaign = "Route" },
  { step = "execute_campaign", campaign = "Score", use_parent_tokens = true },
  { step = "execute_campaign", campaign = "Score" },
  { step = "remove_from_flow", campaigns = "Route" },
  { step = "remove_from_flow", campaigns = ["Route", "Every Step"] },
]

[campaigns.Route]
triggers = [{ trigger = "campaign_is_requested" }]
qualification = "once every 1 day"
flow = [{ step = "send_email", email = "Routed" }]

[campaigns.Score]
kind = "executable"
qualification = "Once_Every 90 minutes"
flow = [{ step = "change_score", change = "+1" }, { step = "interesting_moment", description = "{{my.event}}" }]

[campaigns.Empty]
kind = "executable"
"""
)


def test_every_step_kind() -> None:
    scenario = assert_text_round_trips(STEPS)
    flow = scenario.campaigns["Every Step"].flow
    assert {step.kind for step in flow} == set(model.STEP_KINDS)
    assert flow[1].action == model.ChangeDataValue(field="segment", value=None)
    assert flow[11].action == model.ChangeScore(field="score", op="-", amount=3.0)  # change = -3


CHOICES = (
    PEOPLE
    + """
[campaigns.Choices]
kind = "batch"
program = "Webinar"
schedule = { at = "1h" }

[[campaigns.Choices.flow]]
step = "change_data_value"
field = "segment"                         # shared: written back on every choice
choices = [
  { if = { field = "job_title", op = "starts with", value = "VP" }, value = "Executive" },
  { if = [{ field = "country", op = "is", value = ["US", "usa"] }, { list = "MQL" }], value = "NULL" },
  { if = [], value = "{{lead.country}}" },
]
default = { value = "Other" }

[[campaigns.Choices.flow]]
step = "send_email"
choices = [{ if = { list = "MQL", member = false }, email = "Nurture" }]
default = "do nothing"

[[campaigns.Choices.flow]]
step = "add_to_list"
list = "MQL"                              # shared, but no default: do nothing
choices = [{ if = { program = "Webinar", status = "Invited", op = "is not" } }]

[[campaigns.Choices.flow]]
step = "change_score"
choices = [
  { if = { field = "score", op = "at least", value = 50 }, change = "-12.5" },
  { if = { field = "score", op = "less than", value = 0 }, field = "rating", change = "=0" },
]
default = { change = 5 }

[[campaigns.Choices.flow]]
step = "change_program_status"
choices = [
  { if = { program = "Webinar", status = "Invited" }, status = "Registered" },
  { if = { list = "Newsletter" }, program = "Nurture", status = "Member" },
]
default = { status = "Attended" }

[[campaigns.Choices.flow]]
step = "execute_campaign"
campaign = "Score"
choices = [{ if = { field = "opted_in", op = "is", value = true }, use_parent_tokens = true }]
default = { use_parent_tokens = false }

[[campaigns.Choices.flow]]
step = "remove_from_flow"
choices = [{ if = { field = "owner", op = "is not empty" }, campaigns = "Choices" }]
default = { campaigns = ["Choices", "Score"] }

[[campaigns.Choices.flow]]
step = "wait"
choices = []                              # a step that always does nothing

[[campaigns.Choices.flow]]
step = "interesting_moment"
choices = [{ if = { field = "segment", op = "is empty" }, description = "{{my.event}}" }]
default = { description = "plain" }

[[campaigns.Choices.flow]]
step = "send_alert"
choices = [{ if = { field = "owner", op = "contains", value = "sales" }, alert = "A", to = "x@example.com" }]
default = { alert = "B" }

[[campaigns.Choices.flow]]
step = "remove_from_list"
choices = [{ if = { field = "owner", op = "not contains", value = ["a", "b"] }, list = "Newsletter" }]

[campaigns.Score]
kind = "executable"
flow = [{ step = "change_score", change = "+1" }]

[campaigns.Hooks]
triggers = [{ trigger = "clicks_link" }]

[[campaigns.Hooks.flow]]
step = "call_webhook"
choices = [{ if = { list = "MQL" }, webhook = "A", latency = 2, response = { segment = "NULL" } }]
default = { webhook = "B", status = 500 }

[[campaigns.Hooks.flow]]
step = "request_campaign"
choices = [{ if = { list = "MQL" }, campaign = "Route" }]
default = { campaign = "Route" }

[campaigns.Route]
triggers = [{ trigger = "campaign_is_requested", source = "marketo_flow_action" }]
"""
)


def test_choices() -> None:
    scenario = assert_text_round_trips(CHOICES)
    flow = scenario.campaigns["Choices"].flow
    assert flow[1].action is None  # "do nothing"
    assert flow[2].action is None  # shared parameters are not a default
    assert flow[7] == model.Step(kind="wait", action=None)


FILTERS_AND_TRIGGERS = (
    PEOPLE
    + """
[campaigns."Filter Forms"]
kind = "batch"
active = false
qualification = "every_time"
schedule = { at = "2h", every = "daily" }
filters = [
  { field = "country", op = "is", value = ["US", "usa", "United States"] },
  { field = "job_title", op = "is not", value = "Student" },
  { field = "job_title", op = "contains", value = "Marketing" },
  { field = "job_title", op = "not contains", value = "Intern" },
  { field = "job_title", op = "starts with", value = ["VP", "Director"] },
  { field = "score", op = "greater than", value = 10 },
  { field = "score", op = "less than", value = 100.5 },
  { field = "score", op = "at least", value = [50, -1] },
  { field = "score", op = "at most", value = [] },
  { field = "opted_in", op = "is", value = true },
  { field = "segment", op = "is empty" },
  { field = "owner", op = "is not empty" },
  { field = "literal", op = "is", value = "NULL" },
  { list = "MQL", member = false },
  { list = "Newsletter" },
  { list = "Newsletter", member = true },
  { program = "Webinar", status = "Registered" },
  { program = "Webinar", status = "Attended", op = "is not" },
]

[campaigns.Once]
kind = "batch"
schedule = { at = "1d" }

[campaigns.Weekly]
kind = "batch"
schedule = { every = "weekly" }

[campaigns.Odd]
kind = "batch"
schedule = { at = 0.5, every = "90m" }

[campaigns.Hourly]
kind = "batch"
schedule = { at = "1h", every = 3600 }

[campaigns."Any Trigger"]
active = false
triggers = [
  { trigger = "fills_out_form", form = ["Contact Us", "Demo Request"] },
  { trigger = "fills_out_form" },
  { trigger = "clicks_link", link = "https://example.com/pricing" },
  { trigger = "visits_page", page = "/pricing" },
  { trigger = "data_value_changes", field = "segment", new_value = "NULL", old_value = ["Known", "NULL", 3] },
  { trigger = "data_value_changes", old_value = [], new_value = true },
  { trigger = "score_is_changed", field = ["score", "rating"] },
  { trigger = "added_to_list", list = "Newsletter" },
  { trigger = "program_status_is_changed", program = "Webinar", new_status = "Attended", old_status = ["Invited"] },
  { trigger = "program_status_is_changed", new_status = "Member" },
  { trigger = "campaign_is_requested", source = ["marketo_flow_action", "web_service_api", "sales_insight"] },
]
"""
)


def test_filters_triggers_schedules_qualification() -> None:
    scenario = assert_text_round_trips(FILTERS_AND_TRIGGERS)
    changes = scenario.campaigns["Any Trigger"].triggers[4]
    assert changes.constraints[1] == ("new_value", (None,))


#: The load, on top of STEPS (whose "Every Step" runs on a "Register" form fill).
LOAD = (
    STEPS
    + """
[[activities]]
at = "1h"
person = "alice"
type = "fill_out_form"
form = "Register"
fields = { country = "usa", segment = "NULL", employees = 12, opted_in = false }

[[activities]]
at = 0
person = "p1"
type = "fill_out_form"

[[activities]]
at = "30m"                       # before the previous ones: the loader sorts by time
person = "p2"
type = "click_link"
link = "https://example.com/pricing"

[[activities]]
at = "30m"
person = "p2"
type = "click_link"

[[activities]]
at = "2.5s"
person = "bob"
type = "visit_page"
page = "/pricing"

[[activities]]
at = "2h"
person = "alice"
type = "change_data_value"
field = "employees"
value = "NULL"

[[activities]]
at = "2h"
person = "alice"
type = "change_data_value"
field = "country"
value = 42

[[activities]]
at = "3h"
person = "bob"
type = "request_campaign"
campaign = "Route"

[[activities]]
at = "4d"                        # after the end: a warning, written back all the same
person = "bob"
type = "request_campaign"
campaign = "Route"
source = "sales_insight"

[[load]]
type = "fill_out_form"
form = "Register"
rate = "40/h"
start = "1h"
stop = "2d"
fields = { job_title = ["VP", "Engineer"], country = "usa", segment = "NULL", employees = [1, "NULL"] }

[[load]]
type = "fill_out_form"
rate = "2.5/min"
stop = "2h"

[[load]]
type = "click_link"
link = "https://example.com"
rate = "1/5m"
stop = "1h"

[[load]]
type = "visit_page"
rate = "100/d"
start = "5d"

[[load]]
type = "visit_page"
rate = "20000/h"
arrivals = "poisson"
stop = "1h"                      # a high rate is what it checks; 1.4 million visits add nothing

[[load]]
type = "visit_page"
daily = ["0/h", "0/h", "0/h", "0/h", "0/h", "0/h", "0/h", "0/h", "30/h", "60/h", "60/h", "60/h",
  "30/h", "60/h", "60/h", "60/h", "30/h", "0/h", "0/h", "0/h", "0/h", "0/h", "0/h", "0/h"]

[[load]]
type = "change_data_value"
field = "segment"
value = "NULL"
rate = "5/s"
stop = "10s"

[[load]]
type = "change_data_value"
field = "rating"
value = 1.5
rate = "0/h"

[[load]]
type = "request_campaign"
campaign = "Route"
source = "web_service_api"
rate = "13/m"
stop = "1h"

[[load]]
type = "request_campaign"
campaign = "Route"
rate = "1000000/s"
start = "1h"
stop = "1h 3ms"
"""
)


def test_activities_and_generators() -> None:
    scenario = assert_text_round_trips(LOAD)
    assert {a.type for a in scenario.activities} == set(model.EXTERNAL_ACTIVITIES)
    assert [a.at for a in scenario.activities] == sorted(a.at for a in scenario.activities)
    assert scenario.warnings  # recomputed, and equal


def run(scenario: model.Scenario) -> list[Activity]:
    sink = MemorySink()
    Simulation(scenario, sinks=[sink]).run_sync()
    return sink.activities


@pytest.mark.parametrize(
    "scenario",
    [
        *(pytest.param(example_scenario(path), id=path.name) for path in EXAMPLE_FILES),
        pytest.param(parse_scenario(CHOICES), id="choices"),
        pytest.param(parse_scenario(LOAD), id="steps and load"),
    ],
)
def test_the_file_runs_the_same(scenario: model.Scenario) -> None:
    activities = run(scenario)
    assert any(activity.type == "run_completed" for activity in activities)  # flows ran: not a vacuous match
    assert run(round_trip(scenario)) == activities


# --- readability ------------------------------------------------------------------------------

SMALL = """
lists = ["Newsletter"]

[sim]
seed = 7
duration = "2d"

[fields]
country = { values = ["US", "DE"], weights = [3, 1] }

[people]
count = 10

[programs.Webinar]
statuses = ["Not in Program", "Registered"]

[campaigns."Form Fill"]
program = "Webinar"
qualification = "once every 12 hours"
triggers = [{ trigger = "fills_out_form", form = "Register" }]
flow = [
  { step = "change_program_status", status = "Registered" },
  { step = "change_score", change = -5 },
  { step = "wait", duration = "90 minutes" },
  { step = "add_to_list", list = "Newsletter" },
]

[campaigns.Nightly]
kind = "batch"
schedule = { at = "2h", every = "daily" }
filters = [{ field = "country", op = "is", value = "DE" }]

[[campaigns.Nightly.flow]]
step = "send_email"
choices = [{ if = { list = "Newsletter", member = false }, email = "Join us" }]

[[load]]
type = "fill_out_form"
form = "Register"
rate = "20/h"
stop = "1d"
"""

SMALL_DUMPED = """\
lists = [
  "Newsletter",
]
load = [
  { type = "fill_out_form", form = "Register", rate = "20/h", stop = "1d" },
]

[sim]
seed = 7
duration = "2d"
step_budget = 10000

[fields]
score = 0

[fields.country]
values = [
  "US",
  "DE",
]
weights = [
  3,
  1,
]

[people]
count = 10

[programs.Webinar]
statuses = [
  "Not in Program",
  "Registered",
]

[campaigns."Form Fill"]
kind = "trigger"
program = "Webinar"
qualification = "once every 12h"
triggers = [
  { trigger = "fills_out_form", form = "Register" },
]
flow = [
  { step = "change_program_status", status = "Registered" },
  { step = "change_score", change = "-5" },
  { step = "wait", duration = "1h30m" },
  { step = "add_to_list", list = "Newsletter" },
]

[campaigns.Nightly]
kind = "batch"
filters = [
  { field = "country", op = "is", value = "DE" },
]

[campaigns.Nightly.schedule]
at = "2h"
every = "daily"

[[campaigns.Nightly.flow]]
step = "send_email"
choices = [
  { if = { list = "Newsletter", member = false }, email = "Join us" },
]
default = "do nothing"
"""


def test_dumped_text() -> None:
    scenario = parse_scenario(SMALL, source="small.toml")
    assert dump_scenario(scenario) == SMALL_DUMPED
    assert_round_trips(scenario)


# --- numbers: durations, rates, periods and score changes read back exactly -----------------


def _with_times(seconds: float) -> model.Scenario:
    """``seconds`` wherever a duration goes, and as a once-every period where it can."""
    every = model.Qualification(rule="once_every", interval=seconds) if seconds > 0 else model.Qualification()
    return model.Scenario(
        duration=seconds if seconds > 0 else 1.0,
        fields={"score": model.FieldSpec(name="score", default=0)},
        population=1,
        campaigns={
            "C": model.Campaign(
                name="C",
                kind="trigger",
                qualification=every,
                triggers=(model.Trigger(name="clicks_link"),),
                flow=(
                    model.Step(kind="wait", action=model.Wait(duration=seconds)),
                    model.Step(kind="call_webhook", action=model.CallWebhook(webhook="W", latency=seconds)),
                ),
            ),
            "B": model.Campaign(
                name="B", kind="batch", schedule=model.Schedule(at=seconds, every=seconds if seconds >= 1e-6 else None)
            ),
        },
        activities=(model.ExternalActivity(at=seconds, person="p1", type="click_link"),),
        generators=(model.Generator(type="visit_page", rate=1.0, start=seconds, stop=seconds),),
    )


def assert_same_content(scenario: model.Scenario) -> None:
    """Round trip of a hand-built Scenario: its warnings were never computed."""
    assert_equal(attrs.evolve(round_trip(scenario), warnings=()), scenario)


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (0.0, '"0s"'),
        (90.0, '"1m30s"'),
        (5400.0, '"1h30m"'),
        (172800.0, '"2d"'),
        (0.25, '"250ms"'),
        (0.3, '"300ms"'),
        (1e-6, '"0.001ms"'),
        (86400.123456, '"1d0.123456s"'),
    ],
)
def test_durations(seconds: float, written: str) -> None:
    scenario = _with_times(seconds)
    assert f"at = {written}" in dump_scenario(scenario)
    assert_same_content(scenario)


#: Any duration a scenario can hold: whole microseconds up to 100 years (sim.scenario.units).
GRID_DURATIONS = st.integers(min_value=0, max_value=MAX_SECONDS * 1_000_000).map(lambda us: us / 1_000_000)


@given(GRID_DURATIONS)
def test_any_duration_reads_back_exactly(seconds: float) -> None:
    assert_same_content(_with_times(seconds))


def _with_rate(per_second: float) -> model.Scenario:
    return model.Scenario(
        fields={"score": model.FieldSpec(name="score", default=0)},
        population=1,
        generators=(model.Generator(type="click_link", rate=per_second),),
    )


@pytest.mark.parametrize(
    ("per_second", "written"),
    [
        (0.0, "0/s"),
        (5.0, "5/s"),
        (2.5, "150/m"),
        (20 / 3600, "20/h"),
        (2 / 60, "2/m"),
        (100 / 86400, "100/d"),
        (1 / 7, "0.14285714285714285/s"),
        (1e-9, "1e-09/s"),
    ],
)
def test_rates(per_second: float, written: str) -> None:
    scenario = _with_rate(per_second)
    assert f'rate = "{written}"' in dump_scenario(scenario)
    assert_same_content(scenario)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_any_rate_reads_back_exactly(per_second: float) -> None:
    assert_same_content(_with_rate(per_second))


@pytest.mark.parametrize(
    ("interval", "written"),
    [(86400.0, "once every 1d"), (45.5, "once every 45.5s"), (1e-6, "once every 0.001ms"), (float(MAX_SECONDS), None)],
)
def test_once_every(interval: float, written: str | None) -> None:
    scenario = _with_times(interval)
    if written is not None:
        assert f'qualification = "{written}"' in dump_scenario(scenario)
    assert_same_content(scenario)


@given(st.floats(min_value=0, max_value=model.MAX_NUMBER, allow_nan=False), st.sampled_from(["+", "-", "="]))
def test_any_score_change_reads_back_exactly(amount: float, op: Literal["+", "-", "="]) -> None:
    change = model.ChangeScore(field="score", op=op, amount=amount)
    scenario = model.Scenario(
        fields={"score": model.FieldSpec(name="score", default=0)},
        campaigns={
            "C": model.Campaign(
                name="C",
                kind="trigger",
                triggers=(model.Trigger(name="clicks_link"),),
                flow=(model.Step(kind="change_score", action=change),),
            )
        },
    )
    assert_same_content(scenario)


# --- what the loader normalises: model values no file can express ------------------------------


def _score() -> dict[str, model.FieldSpec]:
    return {"score": model.FieldSpec(name="score", default=0)}


def _requestable(**changes: Any) -> model.Campaign:
    campaign = model.Campaign(name="R", kind="trigger", triggers=(model.Trigger(name="campaign_is_requested"),))
    return attrs.evolve(campaign, **changes)


@pytest.mark.parametrize(
    ("written", "read_back"),
    [
        pytest.param(model.Scenario(), model.Scenario(fields=_score()), id="score is always declared"),
        pytest.param(
            model.Scenario(fields=_score(), lists=("A", "A")),
            model.Scenario(fields=_score(), lists=("A",)),
            id="a list declared twice counts once",
        ),
        pytest.param(
            model.Scenario(
                fields={**_score(), "x": model.FieldSpec(name="x", default="")},
                people=(model.PersonSpec(id="a", fields={"x": "NULL"}),),
            ),
            model.Scenario(
                fields={**_score(), "x": model.FieldSpec(name="x", default="")},
                people=(model.PersonSpec(id="a", fields={"x": None}),),
            ),
            id='the text "NULL" written to a field is the empty value',
        ),
        pytest.param(
            model.Scenario(
                fields=_score(),
                campaigns={
                    "R": _requestable(
                        triggers=(
                            model.Trigger(
                                name="data_value_changes", constraints=(("new_value", ("a",)), ("field", ("score",)))
                            ),
                        )
                    )
                },
            ),
            model.Scenario(
                fields=_score(),
                campaigns={
                    "R": _requestable(
                        triggers=(
                            model.Trigger(
                                name="data_value_changes", constraints=(("field", ("score",)), ("new_value", ("a",)))
                            ),
                        )
                    )
                },
            ),
            id="trigger constraints come back in the order of TRIGGER_CONSTRAINTS",
        ),
        pytest.param(
            model.Scenario(
                fields=_score(), campaigns={"R": _requestable(qualification=model.Qualification(interval=5))}
            ),
            model.Scenario(fields=_score(), campaigns={"R": _requestable()}),
            id="an interval goes with once_every only",
        ),
        pytest.param(
            model.Scenario(
                fields=_score(),
                campaigns={"X": model.Campaign(name="X", kind="executable", active=False)},
            ),
            model.Scenario(
                fields=_score(),
                campaigns={"X": model.Campaign(name="X", kind="executable")},
            ),
            id="an executable is never inactive",
        ),
        pytest.param(
            model.Scenario(
                fields=_score(),
                population=1,
                campaigns={"R": _requestable()},
                activities=(
                    model.ExternalActivity(at=2, person="p1", type="click_link"),
                    model.ExternalActivity(at=1, person="p1", type="request_campaign", attributes={"campaign": "R"}),
                ),
            ),
            model.Scenario(
                fields=_score(),
                population=1,
                campaigns={"R": _requestable()},
                activities=(
                    model.ExternalActivity(
                        at=1,
                        person="p1",
                        type="request_campaign",
                        attributes={"campaign": "R", "source": "web_service_api"},
                    ),
                    model.ExternalActivity(at=2, person="p1", type="click_link"),
                ),
            ),
            id="activities come back sorted by time, a request with its source",
        ),
    ],
)
def test_loader_normalises(written: model.Scenario, read_back: model.Scenario) -> None:
    back = attrs.evolve(round_trip(written), warnings=())
    assert back != written
    assert back == read_back


def test_the_empty_value_only_where_a_field_value_goes() -> None:
    """None is "NULL" in field values; elsewhere (a filter's values) there is no way to write it."""
    scenario = model.Scenario(
        fields=_score(),
        campaigns={
            "B": model.Campaign(
                name="B",
                kind="batch",
                schedule=model.Schedule(at=0),
                filters=(model.FieldFilter(field="score", op="is", values=(None,)),),
            )
        },
    )
    with pytest.raises(TypeError, match="NoneType"):
        dump_scenario(scenario)
