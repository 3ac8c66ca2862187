"""Scenario loading: the model a valid file builds, and every definition check.

Each check names where the user wrote the problem: the file, the campaign, and the step by
1-based index and kind (R3, R4, R8, R9, R16, R18, unknown names, bad values), and a file
with several problems reports all of them at once in one ScenarioError.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sim.run.arrivals import external_activities
from sim.scenario import ScenarioError, load_scenario, model, parse_scenario
from sim.scenario.dump import dump_scenario
from sim.scenario.model import (
    AddToList,
    CallWebhook,
    ChangeDataValue,
    ChangeProgramStatus,
    ChangeScore,
    Choice,
    ExecuteCampaign,
    FieldFilter,
    FieldSpec,
    ListFilter,
    PersonSpec,
    Problem,
    ProgramStatusFilter,
    Qualification,
    RequestCampaign,
    Schedule,
    Step,
    Trigger,
    Wait,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Valid context every check below builds on: fields, lists, one program, three people.
BASE = """
lists = ["MQL", "Nurture"]

[fields]
country = ""
region = ""
score = 0

[people]
count = 3

[programs."Lead Lifecycle"]
statuses = ["Not in Program", "Member", "MQL"]
tokens = { sales_queue = "Inside Sales" }
"""

#: A trigger campaign that is fine on its own, for tests that need a valid caller or target.
FORM_FILL = """
[campaigns."Form Fill"]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "send_email", email = "Welcome" }]
"""


def scenario(*parts: str) -> str:
    """BASE followed by the given TOML snippets."""
    return BASE + "\n".join(textwrap.dedent(part) for part in parts)


def problems_of(text: str) -> list[Problem]:
    """The problems parsing ``text`` reports; every one must name the file."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="x.toml")
    problems = list(info.value.problems)
    assert problems, "a ScenarioError must list at least one problem"
    assert [p.file for p in problems] == ["x.toml"] * len(problems)
    return problems


def wheres(problems: list[Problem]) -> list[str]:
    return [p.where for p in problems]


def only_problem(text: str, where: str) -> Problem:
    """The single problem ``text`` has, which must be reported at ``where``."""
    problems = problems_of(text)
    assert wheres(problems) == [where], [str(p) for p in problems]
    return problems[0]


def assert_words(message: str, words: tuple[str, ...]) -> None:
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# --- a valid file builds the model --------------------------------------------------

VALID = """
lists = ["MQL", "Nurture", "Unsubscribed"]

[sim]
seed = 7
duration = "2d"
step_budget = 500

[fields]
country = { values = ["US", "DE"], weights = [3, 1] }
region = ""
score = 0
lifecycle_stage = "Known"

[people]
count = 2

[[person]]
id = "ada"
fields = { country = "DE", score = 12 }
lists = ["MQL"]

[programs."Lead Lifecycle"]
statuses = ["Not in Program", "Member", "MQL"]
tokens = { sales_queue = "Inside Sales", threshold = 50 }

[campaigns."Form Fill"]
kind = "trigger"
program = "Lead Lifecycle"
qualification = "once every 2 days"
triggers = [
  { trigger = "fills_out_form", form = ["Contact Us", "Demo"] },
  { trigger = "data_value_changes", field = "country", new_value = "US" },
]
filters = [
  { field = "country", op = "is", value = ["US", "DE"] },
  { field = "region", op = "is empty" },
  { field = "score", op = "at least", value = 10 },
  { list = "Unsubscribed", member = false },
  { program = "Lead Lifecycle", status = "MQL", op = "is not" },
]

[[campaigns."Form Fill".flow]]
step = "change_program_status"
status = "Member"

[[campaigns."Form Fill".flow]]
step = "execute_campaign"
campaign = "Normalize"
use_parent_tokens = true

[[campaigns."Form Fill".flow]]
step = "request_campaign"
campaign = "Route"

[[campaigns."Form Fill".flow]]
step = "wait"
duration = "4 hours"

[[campaigns."Form Fill".flow]]
step = "call_webhook"
webhook = "enrich"
latency = "2s"
response = { region = "NA" }

[campaigns.Normalize]
kind = "executable"
program = "Lead Lifecycle"
qualification = "every time"

[[campaigns.Normalize.flow]]
step = "change_data_value"
field = "region"
choices = [
  { if = { field = "country", op = "is", value = "US" }, value = "NA" },
  { if = [{ field = "country", op = "is", value = "DE" }, { list = "MQL" }], value = "EMEA" },
]
default = { value = "ROW" }

[[campaigns.Normalize.flow]]
step = "change_score"
change = "+10"
choices = [{ if = { field = "lifecycle_stage", op = "is", value = "Known" }, change = "=5" }]

[campaigns.Route]
program = "Lead Lifecycle"
triggers = [{ trigger = "campaign_is_requested", source = ["marketo_flow_action", "web_service_api"] }]

[[campaigns.Route.flow]]
step = "change_data_value"
field = "lifecycle_stage"
value = "{{my.sales_queue}}"

[campaigns.Nightly]
kind = "batch"
schedule = { at = "2h", every = "daily" }
filters = [{ list = "MQL" }]

[[campaigns.Nightly.flow]]
step = "add_to_list"
list = "Nurture"

[[activities]]
at = "2h"
person = "p1"
type = "visit_page"
page = "/pricing"

[[activities]]
at = "30m"
person = "ada"
type = "fill_out_form"
form = "Demo"
fields = { country = "US" }

[[activities]]
at = "2h"
person = "p2"
type = "request_campaign"
campaign = "Route"

[[load]]
type = "fill_out_form"
form = "Contact Us"
rate = "20000/h"
start = "1h"
stop = "1d"
fields = { country = ["US", "DE"] }
"""


@pytest.fixture(scope="module")
def valid() -> model.Scenario:
    return parse_scenario(VALID, source="x.toml")


def test_valid_file_top_level(valid: model.Scenario) -> None:
    assert (valid.source, valid.seed, valid.duration, valid.step_budget) == ("x.toml", 7, 172800.0, 500)
    assert valid.lists == ("MQL", "Nurture", "Unsubscribed")
    assert list(valid.campaigns) == ["Form Fill", "Normalize", "Route", "Nightly"]  # file order
    assert {name: c.kind for name, c in valid.campaigns.items()} == {
        "Form Fill": "trigger",
        "Normalize": "executable",
        "Route": "trigger",
        "Nightly": "batch",
    }


def test_valid_file_fields_people_and_programs(valid: model.Scenario) -> None:
    assert valid.fields["country"] == FieldSpec(name="country", default="US", values=("US", "DE"), weights=(3, 1))
    assert valid.fields["lifecycle_stage"] == FieldSpec(name="lifecycle_stage", default="Known")
    assert valid.fields["score"].default == 0
    assert valid.population == 2
    assert valid.people == (PersonSpec(id="ada", fields={"country": "DE", "score": 12}, lists=("MQL",)),)
    program = valid.programs["Lead Lifecycle"]
    assert program.statuses == ("Not in Program", "Member", "MQL")
    assert program.tokens == {"sales_queue": "Inside Sales", "threshold": "50"}  # numbers become text


def test_valid_file_trigger_campaign_smart_list(valid: model.Scenario) -> None:
    """R1: triggers OR-ed with their constraints; filters of every form; R18 "once every 2 days"."""
    campaign = valid.campaigns["Form Fill"]
    assert campaign.program == "Lead Lifecycle"
    assert campaign.active is True
    assert campaign.schedule is None
    assert campaign.qualification == Qualification(rule="once_every", interval=2 * 86400.0)
    assert campaign.triggers == (
        Trigger(name="fills_out_form", constraints=(("form", ("Contact Us", "Demo")),)),
        Trigger(name="data_value_changes", constraints=(("field", ("country",)), ("new_value", ("US",)))),
    )
    assert campaign.filters == (
        FieldFilter(field="country", op="is", values=("US", "DE")),
        FieldFilter(field="region", op="is empty"),
        FieldFilter(field="score", op="at least", values=(10,)),
        ListFilter(list="Unsubscribed", member=False),
        ProgramStatusFilter(program="Lead Lifecycle", status="MQL", negate=True),
    )


def test_valid_file_flow_steps(valid: model.Scenario) -> None:
    flow = valid.campaigns["Form Fill"].flow
    assert [s.kind for s in flow] == [
        "change_program_status",
        "execute_campaign",
        "request_campaign",
        "wait",
        "call_webhook",
    ]
    assert [s.action for s in flow] == [
        ChangeProgramStatus(program="Lead Lifecycle", status="Member"),  # the campaign's program
        ExecuteCampaign(campaign="Normalize", use_parent_tokens=True),  # R10
        RequestCampaign(campaign="Route"),
        Wait(duration=4 * 3600.0),  # R15
        CallWebhook(webhook="enrich", latency=2.0, status=200, response=(("region", "NA"),)),  # R16
    ]
    assert all(s.choices == () for s in flow)


def test_valid_file_choices_share_step_parameters(valid: model.Scenario) -> None:
    """R13: parameters on the step (field) are shared by every choice and the default."""
    normalize = valid.campaigns["Normalize"]
    assert normalize.qualification == Qualification(rule="every_time")
    region, score = normalize.flow
    assert region == Step(
        kind="change_data_value",
        action=ChangeDataValue(field="region", value="ROW"),
        choices=(
            Choice(
                conditions=(FieldFilter(field="country", op="is", values=("US",)),),
                action=ChangeDataValue(field="region", value="NA"),
            ),
            Choice(
                conditions=(FieldFilter(field="country", op="is", values=("DE",)), ListFilter(list="MQL")),
                action=ChangeDataValue(field="region", value="EMEA"),
            ),
        ),
    )
    # no "default": the default choice is "do nothing"; "field" defaults to score
    assert score == Step(
        kind="change_score",
        action=None,
        choices=(
            Choice(
                conditions=(FieldFilter(field="lifecycle_stage", op="is", values=("Known",)),),
                action=ChangeScore(field="score", op="=", amount=5.0),
            ),
        ),
    )


def test_valid_file_requestable_and_batch(valid: model.Scenario) -> None:
    route = valid.campaigns["Route"]
    assert route.kind == "trigger"  # R3: a requestable campaign is a trigger campaign
    assert route.triggers == (
        Trigger(name="campaign_is_requested", constraints=(("source", ("marketo_flow_action", "web_service_api")),)),
    )
    assert route.flow == (
        Step(kind="change_data_value", action=ChangeDataValue(field="lifecycle_stage", value="{{my.sales_queue}}")),
    )
    nightly = valid.campaigns["Nightly"]
    assert nightly.schedule == Schedule(at=7200.0, every=86400.0)  # R2: "daily"
    assert nightly.qualification == Qualification(rule="once")  # R18 default
    assert nightly.triggers == ()
    assert nightly.filters == (ListFilter(list="MQL", member=True),)
    assert nightly.flow == (Step(kind="add_to_list", action=AddToList(list="Nurture")),)


def test_valid_file_activities_sorted_by_time_keeping_file_order_on_ties(valid: model.Scenario) -> None:
    assert [(a.at, a.person, a.type) for a in valid.activities] == [
        (1800.0, "ada", "fill_out_form"),
        (7200.0, "p1", "visit_page"),
        (7200.0, "p2", "request_campaign"),
    ]
    form, page, request = valid.activities
    assert (form.attributes, form.fields) == ({"form": "Demo"}, {"country": "US"})
    assert page.attributes == {"page": "/pricing"}
    assert request.attributes == {"campaign": "Route", "source": "web_service_api"}  # the default source


def test_valid_file_generators(valid: model.Scenario) -> None:
    (generator,) = valid.generators
    assert generator.type == "fill_out_form"
    assert generator.rate == pytest.approx(20000 / 3600)  # per second
    assert (generator.start, generator.stop) == (3600.0, 86400.0)
    assert generator.attributes == {"form": "Contact Us"}
    assert generator.fields == {"country": ("US", "DE")}


def test_example_lead_lifecycle_loads() -> None:
    loaded = load_scenario(EXAMPLES / "lead-lifecycle.toml")
    assert loaded.source == str(EXAMPLES / "lead-lifecycle.toml")
    assert {name: c.kind for name, c in loaded.campaigns.items()} == {
        "Form Fill - Lifecycle": "trigger",
        "Normalize Country": "executable",
        "Score Lead": "executable",
        "Route Lead": "trigger",
        "Nightly Nurture": "batch",
    }
    assert loaded.population == 1000
    assert len(loaded.generators) == 2
    assert len(loaded.activities) == 1


def test_load_scenario_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(scenario(FORM_FILL), encoding="utf-8")
    assert list(load_scenario(path).campaigns) == ["Form Fill"]


# --- campaign kinds: R1, R2, R4 -----------------------------------------------------


@pytest.mark.parametrize(
    "campaign",
    [
        '[campaigns.T]\nflow = [{ step = "send_email", email = "x" }]\n',
        '[campaigns.T]\nkind = "trigger"\ntriggers = []\n',
    ],
    ids=["no-triggers-key", "empty-triggers"],
)
def test_R1_trigger_campaign_without_triggers(campaign: str) -> None:
    problem = only_problem(scenario(campaign), 'campaign "T"')
    assert_words(problem.message, ("trigger campaign needs at least one trigger", "(R1)"))


def test_R2_trigger_campaign_with_schedule() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        schedule = { at = "1h" }
        """)
    problem = only_problem(text, 'campaign "T"')
    assert_words(problem.message, ("trigger campaign has no schedule", 'kind = "batch"', "(R2)"))


def test_R2_batch_campaign_without_schedule() -> None:
    text = scenario("""
        [campaigns.B]
        kind = "batch"
        flow = [{ step = "add_to_list", list = "MQL" }]
        """)
    problem = only_problem(text, 'campaign "B"')
    assert_words(problem.message, ("batch campaign needs a schedule", "(R2)"))


def test_R2_batch_campaign_with_triggers() -> None:
    text = scenario("""
        [campaigns.B]
        kind = "batch"
        schedule = { at = "1h", every = "daily" }
        triggers = [{ trigger = "fills_out_form" }]
        """)
    problem = only_problem(text, 'campaign "B"')
    assert_words(problem.message, ("batch campaign", "filters only, no triggers", "(R2)"))


def test_R4_R9_executable_with_triggers() -> None:
    text = scenario("""
        [campaigns.E]
        kind = "executable"
        triggers = [{ trigger = "fills_out_form" }]
        """)
    problem = only_problem(text, 'campaign "E"')
    assert_words(problem.message, ("executable", "filters only, not triggers", "R9"))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('schedule = { at = "1h" }', ("executable campaign is never scheduled", "R4")),
        ("active = true", ("executable campaign is never activated", 'remove "active"', "(R4)")),
        ("active = false", ("executable campaign is never activated", "(R4)")),
    ],
)
def test_R4_executable_with_schedule_or_active(line: str, words: tuple[str, ...]) -> None:
    text = scenario(f'[campaigns.E]\nkind = "executable"\n{line}\n')
    problem = only_problem(text, 'campaign "E"')
    assert_words(problem.message, words)


def test_unknown_campaign_kind() -> None:
    problem = only_problem(scenario('[campaigns.T]\nkind = "requestable"\n'), 'campaign "T"')
    assert_words(problem.message, ('kind "requestable" is not a campaign kind', '"executable"'))


def test_marketo_id_is_read_dumped_and_must_be_unique() -> None:
    """`sim import` writes each campaign's Marketo id; `sim compare` matches by it."""
    text = scenario(FORM_FILL, '[campaigns.A]\nmarketo_id = 1001\ntriggers = [{ trigger = "fills_out_form" }]\n')
    read = parse_scenario(text, source="x.toml")
    assert read.campaigns["A"].marketo_id == 1001
    assert read.campaigns["Form Fill"].marketo_id is None
    assert parse_scenario(dump_scenario(read), source="x.toml") == read
    twice = scenario(
        '[campaigns.A]\nmarketo_id = 7\ntriggers = [{ trigger = "fills_out_form" }]\n',
        '[campaigns.B]\nmarketo_id = 7\ntriggers = [{ trigger = "fills_out_form" }]\n',
    )
    problem = only_problem(twice, 'campaign "B"')
    assert problem.message == '"marketo_id" 7 is also campaign "A"\'s; each Marketo campaign is imported once'
    refused = {"0": ("is 0", "from 1 up"), '"7"': ('"marketo_id" must be an integer', 'not a string ("7")')}
    for bad, words in refused.items():
        text = scenario(f'[campaigns.A]\nmarketo_id = {bad}\ntriggers = [{{ trigger = "fills_out_form" }}]\n')
        assert_words(only_problem(text, 'campaign "A"').message, words)


# --- R9, R16: Wait and Call Webhook -------------------------------------------------


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        ('{ step = "wait", duration = "1h" }', "wait"),
        ('{ step = "call_webhook", webhook = "enrich" }', "call_webhook"),
        # inside a choice: the step's kind is still Wait / Call Webhook
        (
            '{ step = "wait", choices = [{ if = { field = "score", op = "at least", value = 5 }, duration = "1h" }] }',
            "wait",
        ),
        (
            '{ step = "call_webhook", webhook = "enrich", '
            'choices = [{ if = { list = "MQL" }, webhook = "vip" }], default = "do nothing" }',
            "call_webhook",
        ),
    ],
    ids=["wait", "webhook", "wait-in-choice", "webhook-in-choice"],
)
def test_R9_wait_or_webhook_in_executable(step: str, kind: str) -> None:
    text = scenario(f"""
        [campaigns.E]
        kind = "executable"
        flow = [{{ step = "add_to_list", list = "MQL" }}, {step}]
        """)
    problem = only_problem(text, f'campaign "E", step 2 ({kind})')
    assert_words(problem.message, (kind, "not allowed in an executable", "(R9)"))


def test_R16_webhook_in_batch_campaign() -> None:
    text = scenario("""
        [campaigns.B]
        kind = "batch"
        schedule = { at = "1h" }
        flow = [{ step = "call_webhook", webhook = "enrich" }]
        """)
    problem = only_problem(text, 'campaign "B", step 1 (call_webhook)')
    assert_words(problem.message, ("call_webhook is only valid in trigger campaigns", "batch", "(R16)"))


def test_R16_webhook_in_trigger_campaign_is_fine() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "call_webhook", webhook = "enrich", latency = "40s", status = 504 }]
        """)
    (step,) = parse_scenario(text, source="x.toml").campaigns["T"].flow
    assert step.action == CallWebhook(webhook="enrich", latency=40.0, status=504)


# --- R3: Request Campaign -----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "words"),
    [
        (
            'active = false\ntriggers = [{ trigger = "campaign_is_requested" }]',
            ("it is inactive", "must be active", "(R3)"),
        ),
        (
            'triggers = [{ trigger = "fills_out_form" }]',
            ("no campaign_is_requested trigger", "(R3)"),
        ),
        (
            'kind = "executable"',
            ("executable", "cannot be requested", "execute_campaign"),
        ),
        (
            'triggers = [{ trigger = "campaign_is_requested", source = "web_service_api" }]',
            ('does not accept source "marketo_flow_action"', "(R3)"),
        ),
    ],
    ids=["inactive", "no-requested-trigger", "executable", "source-not-accepted"],
)
def test_R3_request_campaign_step_refused(target: str, words: tuple[str, ...]) -> None:
    text = scenario(
        f"[campaigns.Target]\n{target}\n",
        """
        [campaigns.Caller]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "send_email", email = "x" }, { step = "request_campaign", campaign = "Target" }]
        """,
    )
    problem = only_problem(text, 'campaign "Caller", step 2 (request_campaign)')
    assert_words(problem.message, ('cannot request "Target"', *words))


def test_R3_request_campaign_in_a_choice_is_checked() -> None:
    text = scenario("""
        [campaigns.Target]
        active = false
        triggers = [{ trigger = "campaign_is_requested" }]

        [campaigns.Caller]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "request_campaign", choices = [{ if = { list = "MQL" }, campaign = "Target" }] }]
        """)
    problem = only_problem(text, 'campaign "Caller", step 1 (request_campaign)')
    assert_words(problem.message, ('cannot request "Target"', "inactive", "(R3)"))


def test_R3_request_campaign_accepted_from_flow_action() -> None:
    text = scenario("""
        [campaigns.Target]
        triggers = [{ trigger = "campaign_is_requested", source = "marketo_flow_action" }]

        [campaigns.Caller]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "request_campaign", campaign = "Target" }]
        """)
    loaded = parse_scenario(text, source="x.toml")
    assert loaded.campaigns["Caller"].flow[0].action == RequestCampaign(campaign="Target")


@pytest.mark.parametrize(
    ("target", "activity", "words"),
    [
        (
            'triggers = [{ trigger = "campaign_is_requested", source = "marketo_flow_action" }]',
            "",  # the default source is the Web Service API
            ('does not accept source "web_service_api"', "(R3)"),
        ),
        (
            'active = false\ntriggers = [{ trigger = "campaign_is_requested" }]',
            'source = "sales_insight"',
            ("inactive", "(R3)"),
        ),
        ('kind = "executable"', "", ("executable", "cannot be requested")),
        ('triggers = [{ trigger = "visits_page" }]', "", ("no campaign_is_requested trigger", "(R3)")),
    ],
    ids=["source-not-accepted", "inactive", "executable", "no-requested-trigger"],
)
def test_R3_external_request_activity_cannot_reach_target(target: str, activity: str, words: tuple[str, ...]) -> None:
    text = scenario(
        f"[campaigns.Target]\n{target}\n",
        f"""
        [[activities]]
        at = "1h"
        person = "p1"
        type = "request_campaign"
        campaign = "Target"
        {activity}
        """,
    )
    problem = only_problem(text, "[[activities]] 1 (request_campaign)")
    assert_words(problem.message, ('cannot request "Target"', *words))


def test_R3_external_request_generator_cannot_reach_target() -> None:
    text = scenario("""
        [campaigns.Target]
        triggers = [{ trigger = "campaign_is_requested", source = "sales_insight" }]

        [[load]]
        type = "request_campaign"
        campaign = "Target"
        source = "web_service_api"
        rate = "10/h"
        """)
    problem = only_problem(text, "[[load]] 1 (request_campaign)")
    assert_words(problem.message, ('cannot request "Target"', 'does not accept source "web_service_api"'))


def test_R3_external_request_of_unknown_campaign() -> None:
    text = scenario(
        FORM_FILL,
        """
        [[activities]]
        at = "1h"
        person = "p1"
        type = "request_campaign"
        campaign = "Form Fil"
        """,
    )
    problem = only_problem(text, "[[activities]] 1 (request_campaign)")
    assert_words(problem.message, ('unknown campaign "Form Fil"', 'did you mean "Form Fill"?'))


def test_R3_unknown_request_source() -> None:
    text = scenario('[campaigns.R]\ntriggers = [{ trigger = "campaign_is_requested", source = "api" }]\n')
    problem = only_problem(text, 'campaign "R", trigger 1')
    assert_words(problem.message, ('source "api" is not a request source', "web_service_api"))


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ('[campaigns.Target]\nactive = false\ntriggers = [{ trigger = "campaign_is_requested" }]\n', "request"),
        ('[campaigns.Target]\ntriggers = [{ trigger = "fills_out_form" }]\n', "execute"),
    ],
    ids=["request", "execute"],
)
def test_R3_R4_cross_campaign_check_counts_steps_that_had_problems(target: str, kind: str) -> None:
    """Step 2 stays step 2 in the where even when step 1 was rejected for its own problem."""
    text = scenario(
        target,
        f"""
        [campaigns.Caller]
        triggers = [{{ trigger = "fills_out_form" }}]
        flow = [{{ step = "wait", duration = "later" }}, {{ step = "{kind}_campaign", campaign = "Target" }}]
        """,
    )
    problems = problems_of(text)
    assert wheres(problems) == ['campaign "Caller", step 1 (wait)', f'campaign "Caller", step 2 ({kind}_campaign)']
    assert_words(problems[1].message, (f'cannot {kind} "Target"',))


# --- R4, R8: Execute Campaign -------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ('triggers = [{ trigger = "fills_out_form" }]', "trigger"),
        ('kind = "batch"\nschedule = { at = "1h" }', "batch"),
    ],
)
def test_R4_execute_campaign_on_non_executable(target: str, kind: str) -> None:
    text = scenario(
        f"[campaigns.Target]\n{target}\n",
        """
        [campaigns.Caller]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "send_email", email = "x" }, { step = "execute_campaign", campaign = "Target" }]
        """,
    )
    problem = only_problem(text, 'campaign "Caller", step 2 (execute_campaign)')
    words = ('cannot execute "Target"', f"it is a {kind} campaign", 'kind = "executable"', "(R4)")
    assert_words(problem.message, words)


def executables(*calls: tuple[str, str]) -> str:
    """A trigger campaign "Top" executing "A", plus executables each executing the next."""
    parts = [
        '[campaigns.Top]\ntriggers = [{ trigger = "fills_out_form" }]\n'
        'flow = [{ step = "send_email", email = "x" }, { step = "execute_campaign", campaign = "A" }]\n'
    ]
    for caller, callee in calls:
        flow = '{ step = "send_email", email = "x" }'
        if callee:
            flow = f'{{ step = "execute_campaign", campaign = "{callee}" }}'
        parts.append(f'[campaigns.{caller}]\nkind = "executable"\nflow = [{flow}]\n')
    return scenario(*parts)


CYCLE = executables(("A", "B"), ("B", "A"))
SELF_CYCLE = scenario('[campaigns.S]\nkind = "executable"\nflow = [{ step = "execute_campaign", campaign = "S" }]\n')
#: Top > A > B > C > D: D sits four levels below the top parent.
TOO_DEEP = executables(("A", "B"), ("B", "C"), ("C", "D"), ("D", ""))


@pytest.mark.parametrize(
    ("text", "chain"),
    [(CYCLE, '"A" > "B" > "A"'), (SELF_CYCLE, '"S" > "S"')],
    ids=["A>B>A", "self"],
)
def test_R8_execute_cycle_reported_once_with_its_chain(text: str, chain: str) -> None:
    """A cycle is one problem, however many of its campaigns (or callers) lead into it."""
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    assert_words(problems[0].message, ("Execute Campaign cycle", chain, "(R8)"))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (CYCLE, 'campaign "A", step 1 (execute_campaign)'),
        (SELF_CYCLE, 'campaign "S", step 1 (execute_campaign)'),
    ],
    ids=["A>B>A", "self"],
)
def test_R8_execute_cycle_names_the_step(text: str, where: str) -> None:
    """The cycle is written at an execute_campaign step: the where names it by index and kind."""
    assert [p.where for p in problems_of(text) if "cycle" in p.message] == [where]


def test_R8_nesting_deeper_than_three_levels_shows_the_chain() -> None:
    problems = problems_of(TOO_DEEP)
    assert len(problems) == 1, [str(p) for p in problems]
    assert_words(problems[0].message, ("nests deeper than 3 levels", '"Top" > "A" > "B" > "C" > "D"', "(R8)"))


def test_R8_nesting_too_deep_names_the_top_parents_step() -> None:
    (problem,) = problems_of(TOO_DEEP)
    assert problem.where == 'campaign "Top", step 2 (execute_campaign)'


def test_R8_exactly_three_levels_is_fine() -> None:
    """Top > A (child) > B (grandchild) > C (great-grandchild)."""
    loaded = parse_scenario(executables(("A", "B"), ("B", "C"), ("C", "")), source="x.toml")
    assert loaded.campaigns["B"].flow[0].action == ExecuteCampaign(campaign="C")


def test_R8_deep_chain_of_uncalled_executables_is_fine() -> None:
    """Executables are never the top parent: A > B > C > D > E alone never runs too deep."""
    parts = [
        f'[campaigns.{a}]\nkind = "executable"\nflow = [{{ step = "execute_campaign", campaign = "{b}" }}]\n'
        for a, b in zip("ABCD", "BCDE", strict=True)
    ]
    parts.append('[campaigns.E]\nkind = "executable"\n')
    assert list(parse_scenario(scenario(*parts), source="x.toml").campaigns) == list("ABCDE")


# --- unknown names, with a suggestion -----------------------------------------------


@pytest.mark.parametrize(
    ("campaign", "where", "words"),
    [
        (
            'flow = [{ step = "request_campaign", campaign = "Form Fil" }]',
            'campaign "T", step 1 (request_campaign)',
            ('unknown campaign "Form Fil"', 'did you mean "Form Fill"?'),
        ),
        (
            'flow = [{ step = "send_email", email = "x" }, { step = "execute_campaign", campaign = "Form Fil" }]',
            'campaign "T", step 2 (execute_campaign)',
            ('unknown campaign "Form Fil"', 'did you mean "Form Fill"?'),
        ),
        (
            'flow = [{ step = "add_to_list", list = "MQl" }]',
            'campaign "T", step 1 (add_to_list)',
            ('unknown list "MQl"', 'did you mean "MQL"?'),
        ),
        (
            'filters = [{ list = "Nurtur" }]',
            'campaign "T", filter 1',
            ('unknown list "Nurtur"', 'did you mean "Nurture"?'),
        ),
        (
            'flow = [{ step = "change_data_value", field = "countyr", value = "US" }]',
            'campaign "T", step 1 (change_data_value)',
            ('unknown field "countyr"', 'did you mean "country"?'),
        ),
        (
            'filters = [{ field = "regoin", op = "is", value = "NA" }]',
            'campaign "T", filter 1',
            ('unknown field "regoin"', 'did you mean "region"?'),
        ),
        (
            'program = "Lead Lifecycel"',
            'campaign "T"',
            ('unknown program "Lead Lifecycel"', 'did you mean "Lead Lifecycle"?'),
        ),
        (
            'program = "Lead Lifecycle"\nflow = [{ step = "change_program_status", status = "Membr" }]',
            'campaign "T", step 1 (change_program_status)',
            ('status "Membr"', 'program "Lead Lifecycle"', 'did you mean "Member"?'),
        ),
        (
            'program = "Lead Lifecycle"\n'
            'flow = [{ step = "interesting_moment", description = "Queue {{my.sales_queu}}" }]',
            'campaign "T", step 1 (interesting_moment)',
            ('unknown token "{{my.sales_queu}}"', 'program "Lead Lifecycle"', 'did you mean "sales_queue"?'),
        ),
        (
            'flow = [{ step = "change_data_value", field = "region", value = "{{lead.countyr}}" }]',
            'campaign "T", step 1 (change_data_value)',
            ('unknown token "{{lead.countyr}}"', 'no field "countyr"', 'did you mean "country"?'),
        ),
    ],
    ids=[
        "campaign-request",
        "campaign-execute",
        "list-step",
        "list-filter",
        "field-step",
        "field-filter",
        "program",
        "program-status",
        "my-token",
        "lead-token",
    ],
)
def test_unknown_name_with_suggestion(campaign: str, where: str, words: tuple[str, ...]) -> None:
    text = scenario(FORM_FILL, f'[campaigns.T]\ntriggers = [{{ trigger = "fills_out_form" }}]\n{campaign}\n')
    problem = only_problem(text, where)
    assert_words(problem.message, words)


def test_unknown_program_status_in_filter() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        filters = [{ program = "Lead Lifecycle", status = "MQl" }]
        """)
    problem = only_problem(text, 'campaign "T", filter 1')
    assert_words(problem.message, ('status "MQl"', 'program "Lead Lifecycle"', 'did you mean "MQL"?'))


def test_unknown_name_in_a_choice_names_the_choice() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "add_to_list", choices = [{ if = { list = "MQL" }, list = "Nuture" }] }]
        """)
    problem = only_problem(text, 'campaign "T", step 1 (add_to_list), choice 1')
    assert_words(problem.message, ('unknown list "Nuture"', 'did you mean "Nurture"?'))


def test_unknown_trigger_with_suggestion() -> None:
    text = scenario('[campaigns.T]\ntriggers = [{ trigger = "fills_out_from" }]\n')
    problem = only_problem(text, 'campaign "T", trigger 1')
    assert_words(problem.message, ('unknown trigger "fills_out_from"', 'did you mean "fills_out_form"?'))


def test_unknown_step_with_suggestion() -> None:
    text = scenario('[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\nflow = [{ step = "send_emial" }]\n')
    problem = only_problem(text, 'campaign "T", step 1 (send_emial)')
    assert_words(problem.message, ('unknown step "send_emial"', 'did you mean "send_email"?'))


# --- malformed values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "where", "words"),
    [
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\n'
            'flow = [{ step = "wait", duration = "4 hourz" }]',
            'campaign "T", step 1 (wait)',
            ('"duration"', '"4 hourz" is not a duration', '"4 hours"'),
        ),
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\n'
            'flow = [{ step = "call_webhook", webhook = "w", latency = "soon" }]',
            'campaign "T", step 1 (call_webhook)',
            ('"latency"', '"soon" is not a duration'),
        ),
        (
            '[campaigns.B]\nkind = "batch"\nschedule = { at = "2 oclock" }',
            'campaign "B"',
            ('"at"', '"2 oclock" is not a duration'),
        ),
        (
            '[campaigns.B]\nkind = "batch"\nschedule = { at = "2h", every = "dialy" }',
            'campaign "B"',
            ('"every"', '"dialy" is not a duration'),
        ),
        ('[sim]\nduration = "3 dayz"', "[sim]", ('"duration"', '"3 dayz" is not a duration')),
        (
            '[[activities]]\nat = "soon"\nperson = "p1"\ntype = "visit_page"\npage = "/"',
            "[[activities]] 1 (visit_page)",
            ('"at"', '"soon" is not a duration'),
        ),
    ],
    ids=["wait", "webhook-latency", "schedule-at", "schedule-every", "sim-duration", "activity-at"],
)
def test_malformed_duration(snippet: str, where: str, words: tuple[str, ...]) -> None:
    problem = only_problem(scenario(snippet), where)
    assert_words(problem.message, words)


@pytest.mark.parametrize("change", ['"+ten"', '"10"', '"*2"', '"+"', "1.5"])
def test_R14_malformed_score_change(change: str) -> None:
    text = scenario(f"""
        [campaigns.T]
        triggers = [{{ trigger = "fills_out_form" }}]
        flow = [{{ step = "change_score", change = {change} }}]
        """)
    problem = only_problem(text, 'campaign "T", step 1 (change_score)')
    assert "change" in problem.message
    if change.startswith('"'):
        assert_words(problem.message, ("is not a score change", '"+N", "-N" or "=N"', "(R14)"))


@pytest.mark.parametrize(("change", "op", "amount"), [('"+10"', "+", 10.0), ('"- 5"', "-", 5.0), ('"=0"', "=", 0.0)])
def test_R14_score_change_forms(change: str, op: str, amount: float) -> None:
    text = scenario(f"""
        [campaigns.T]
        triggers = [{{ trigger = "fills_out_form" }}]
        flow = [{{ step = "change_score", change = {change} }}]
        """)
    (step,) = parse_scenario(text, source="x.toml").campaigns["T"].flow
    assert step.action == ChangeScore(field="score", op=op, amount=amount)  # type: ignore[arg-type]


def test_R14_score_change_on_a_text_field() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "change_score", field = "country", change = "+1" }]
        """)
    problem = only_problem(text, 'campaign "T", step 1 (change_score)')
    assert_words(problem.message, ('field "country" is not numeric',))


@pytest.mark.parametrize("rate", ['"40 per hour"', '"40"', '"x/h"', '"5/0s"', "40"])
def test_malformed_generator_rate(rate: str) -> None:
    text = scenario(f'[[load]]\ntype = "visit_page"\npage = "/"\nrate = {rate}\n')
    problem = only_problem(text, "[[load]] 1 (visit_page)")
    assert '"rate"' in problem.message


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("once", Qualification(rule="once")),
        ("every time", Qualification(rule="every_time")),
        ("every_time", Qualification(rule="every_time")),
        ("once every 2 days", Qualification(rule="once_every", interval=2 * 86400.0)),
        ("once every 12 hours", Qualification(rule="once_every", interval=12 * 3600.0)),
        ("once every 1 month", Qualification(rule="once_every", interval=30 * 86400.0)),  # R18: 30 days
    ],
)
def test_R18_qualification_rules(rule: str, expected: Qualification) -> None:
    text = scenario(f'[campaigns.T]\ntriggers = [{{ trigger = "fills_out_form" }}]\nqualification = "{rule}"\n')
    assert parse_scenario(text, source="x.toml").campaigns["T"].qualification == expected


@pytest.mark.parametrize("rule", ['"twice"', '"once every"', '"once every 0 days"', '"once every 2 fortnights"', "2"])
def test_R18_malformed_qualification_rule(rule: str) -> None:
    text = scenario(f'[campaigns.T]\ntriggers = [{{ trigger = "fills_out_form" }}]\nqualification = {rule}\n')
    problem = only_problem(text, 'campaign "T"')
    assert "qualification" in problem.message
    if rule != "2":
        assert_words(problem.message, ("is not a rule", '"once every N days"', "(R18)"))


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\n'
            'flow = [{ step = "change_data_value", field = "score", value = "high" }]',
            'campaign "T", step 1 (change_data_value)',
        ),
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\nflow = [{ step = "change_data_value", '
            'field = "region", choices = [{ if = { list = "MQL" }, field = "score", value = "high" }] }]',
            'campaign "T", step 1 (change_data_value), choice 1',
        ),
        ('[[person]]\nid = "ada"\nfields = { score = "high" }', 'person "ada"'),
        (
            '[[activities]]\nat = "1h"\nperson = "p1"\ntype = "change_data_value"\nfield = "score"\nvalue = "high"',
            "[[activities]] 1 (change_data_value)",
        ),
        (
            '[[activities]]\nat = "1h"\nperson = "p1"\ntype = "fill_out_form"\nform = "f"\nfields = { score = "high" }',
            "[[activities]] 1 (fill_out_form)",
        ),
    ],
    ids=["step", "choice", "person", "activity", "form-fields"],
)
def test_text_value_for_a_numeric_field(snippet: str, where: str) -> None:
    problem = only_problem(scenario(snippet), where)
    assert_words(problem.message, ('field "score" holds numbers', '"high" is not a number'))


def test_numeric_filter_compares_numbers() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        filters = [{ field = "score", op = "at least", value = "fifty" }]
        """)
    problem = only_problem(text, 'campaign "T", filter 1')
    assert_words(problem.message, ('op "at least" compares numbers', '"fifty" is not a number'))


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (scenario('[sim]\nseed = "42"'), "[sim]", ('"seed" must be an integer', "not a string")),
        (scenario("[sim]\nstep_budget = true"), "[sim]", ('"step_budget" must be an integer', "not a boolean")),
        ("[people]\ncount = 2.5", "[people]", ('"count" must be an integer', "not a number")),
        (
            scenario('[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\nactive = "yes"'),
            'campaign "T"',
            ('"active" must be a boolean', "not a string"),
        ),
        (
            scenario(
                '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\n'
                'flow = [{ step = "call_webhook", webhook = "w", status = "200" }]'
            ),
            'campaign "T", step 1 (call_webhook)',
            ('"status" must be an integer', "not a string"),
        ),
    ],
    ids=["seed", "step_budget", "count", "active", "webhook-status"],
)
def test_value_of_the_wrong_type(text: str, where: str, words: tuple[str, ...]) -> None:
    problem = only_problem(text, where)
    assert_words(problem.message, words)


@pytest.mark.parametrize(
    ("key", "where"),
    [
        ("fields", "[fields]"),
        ("programs", "[programs]"),
        ("person", "[[person]]"),
        ("campaigns", "[campaigns]"),
        ("activities", "[[activities]]"),
        ("load", "[[load]]"),
        ("generators", "[[generators]]"),
        ("lists", "lists"),
        ("sim", "[sim]"),
        ("people", "[people]"),
    ],
)
def test_section_of_the_wrong_type_is_a_problem_not_a_crash(key: str, where: str) -> None:
    """Errors a user can cause are messages, never tracebacks (DESIGN.md)."""
    problem = only_problem(f"{key} = 1\n", where)
    assert_words(problem.message, ("must be", "not an integer"))


# --- unknown keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "where", "words"),
    [
        (
            '[campaign.T]\nkind = "batch"',
            "",
            ('unknown key "campaign" in the scenario file', 'did you mean "campaigns"?'),
        ),
        ("[sim]\nsed = 1", "[sim]", ('unknown key "sed" in [sim]', 'did you mean "seed"?')),
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\nqualifcation = "every time"',
            'campaign "T"',
            ('unknown key "qualifcation" in a campaign', 'did you mean "qualification"?'),
        ),
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form", from = "Demo" }]',
            'campaign "T", trigger 1',
            ('unknown key "from" in trigger "fills_out_form"', 'did you mean "form"?'),
        ),
        (
            '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\n'
            'flow = [{ step = "wait", duration = "1h", durations = "2h" }]',
            'campaign "T", step 1 (wait)',
            ('unknown key "durations" in a wait step', 'did you mean "duration"?'),
        ),
        (
            '[campaigns.B]\nkind = "batch"\nschedule = { at = "1h", evry = "daily" }',
            'campaign "B"',
            ('unknown key "evry" in "schedule"', 'did you mean "every"?'),
        ),
        (
            '[[activities]]\nat = "1h"\nperson = "p1"\ntype = "visit_page"\npage = "/"\nform = "x"',
            "[[activities]] 1 (visit_page)",
            ('unknown key "form" in a visit_page activity',),
        ),
    ],
    ids=["top-level", "sim", "campaign", "trigger", "step", "schedule", "activity"],
)
def test_unknown_key(snippet: str, where: str, words: tuple[str, ...]) -> None:
    problem = only_problem(scenario(snippet), where)
    assert_words(problem.message, words)


def test_misspelt_step_parameter_also_reports_the_missing_one() -> None:
    text = scenario("""
        [campaigns.T]
        triggers = [{ trigger = "fills_out_form" }]
        flow = [{ step = "send_email", emial = "Welcome" }]
        """)
    problems = problems_of(text)
    assert wheres(problems) == ['campaign "T", step 1 (send_email)'] * 2
    assert_words(problems[0].message, ('unknown key "emial" in a send_email step', 'did you mean "email"?'))
    assert_words(problems[1].message, ('"email" is required',))


# --- TOML syntax, files -------------------------------------------------------------


def test_toml_syntax_error_reports_line_and_column() -> None:
    text = 'lists = ["MQL"]\n\n[campaigns.T]\nkind = "trigger\n'
    problem = only_problem(text, "")
    assert_words(problem.message, ("TOML syntax error", "line 4", "column"))
    assert str(problem).startswith("x.toml: TOML syntax error")


def test_load_scenario_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.where) == (str(path), "")
    assert_words(problem.message, ("cannot read", "No such file"))
    assert str(problem) == f"{path}: {problem.message}"
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback


def test_problem_prints_as_file_where_message() -> None:
    problem = Problem(file="x.toml", where='campaign "E", step 2 (wait)', message="no (R9)")
    assert str(problem) == 'x.toml: campaign "E", step 2 (wait): no (R9)'
    assert str(Problem(file="x.toml", where="", message="bad")) == "x.toml: bad"


# --- people and activities ----------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "words"),
    [
        ('[[person]]\nid = "ada"\n[[person]]\nid = "ada"\n', ("this person id is used twice",)),
        ('[[person]]\nid = "p2"\n', ('"p2" clashes with a generated person', "p1..p3")),
    ],
    ids=["twice", "clashes-with-generated"],
)
def test_duplicate_person_id(people: str, words: tuple[str, ...]) -> None:
    person = "ada" if "ada" in people else "p2"
    problem = only_problem(scenario(people), f'person "{person}"')
    assert_words(problem.message, words)


def test_activity_for_unknown_person() -> None:
    text = scenario(
        '[[person]]\nid = "ada"\n',
        '[[activities]]\nat = "1h"\nperson = "p4"\ntype = "click_link"\nlink = "Demo"\n',
    )
    problem = only_problem(text, "[[activities]] 1 (click_link)")
    assert_words(problem.message, ('unknown person "p4"', "[[person]]", "[people] count", "fill_out_form"))


def test_generator_without_any_people() -> None:
    problem = only_problem('[[load]]\ntype = "visit_page"\npage = "/"\nrate = "1/h"\n', "[people]")
    assert_words(problem.message, ("there are no people", "[people] count = N", "[[person]]"))


def test_activity_without_any_people() -> None:
    text = '[[activities]]\nat = "1h"\nperson = "p1"\ntype = "visit_page"\npage = "/"\n'
    problem = only_problem(text, "[[activities]] 1 (visit_page)")
    assert_words(problem.message, ('unknown person "p1"', "[people] count"))


# --- no cascades: one mistake, one problem ------------------------------------------


def test_broken_campaign_is_not_also_reported_unknown_by_an_activity() -> None:
    """The campaign exists (with a bad kind); the activity naming it must not say "unknown"."""
    text = scenario(
        '[campaigns.R]\nkind = "requestable"\ntriggers = [{ trigger = "campaign_is_requested" }]\n',
        '[[activities]]\nat = "1h"\nperson = "p1"\ntype = "request_campaign"\ncampaign = "R"\n',
    )
    problem = only_problem(text, 'campaign "R"')
    assert "kind" in problem.message


def test_broken_person_is_not_also_reported_unknown_by_an_activity() -> None:
    """The person is declared (with an unknown list); the activity for it must not say "unknown"."""
    text = scenario(
        '[[person]]\nid = "ada"\nlists = ["VIP"]\n',
        '[[activities]]\nat = "1h"\nperson = "ada"\ntype = "visit_page"\npage = "/"\n',
    )
    problem = only_problem(text, 'person "ada"')
    assert 'unknown list "VIP"' in problem.message


def test_R2_batch_with_malformed_schedule_is_not_also_missing_one() -> None:
    text = scenario('[campaigns.B]\nkind = "batch"\nschedule = { at = "tonight" }\n')
    problem = only_problem(text, 'campaign "B"')
    assert '"tonight" is not a duration' in problem.message


# --- all problems at once -----------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    text = scenario(
        """
        [[person]]
        id = "ada"
        fields = { score = "high" }

        [campaigns.Exec]
        kind = "executable"
        flow = [{ step = "add_to_list", list = "MQL" }, { step = "wait", duration = "1h" }]

        [campaigns.Batch]
        kind = "batch"
        flow = [{ step = "add_to_list", list = "MQl" }]

        [campaigns.Caller]
        qualification = "twice"
        triggers = [{ trigger = "fills_out_form" }]
        flow = [
          { step = "change_score", change = "+ten" },
          { step = "execute_campaign", campaign = "Batch" },
          { step = "call_webhook", webhook = "w" },
        ]

        [campaigns.Hook]
        kind = "batch"
        schedule = { at = "1h", every = "daily" }
        flow = [{ step = "call_webhook", webhook = "w" }]

        [[activities]]
        at = "1h"
        person = "p9"
        type = "click_link"
        link = "Demo"

        [[load]]
        type = "visit_page"
        page = "/"
        rate = "lots"
        """
    )
    problems = problems_of(text)
    assert wheres(problems) == [
        'person "ada"',
        'campaign "Exec", step 2 (wait)',
        'campaign "Batch"',
        'campaign "Batch", step 1 (add_to_list)',
        'campaign "Caller"',
        'campaign "Caller", step 1 (change_score)',
        'campaign "Hook", step 1 (call_webhook)',
        'campaign "Caller", step 2 (execute_campaign)',
        "[[activities]] 1 (click_link)",
        "[[load]] 1 (visit_page)",
    ]
    keys = ["holds numbers", "(R9)", "(R2)", 'did you mean "MQL"', "(R18)", "(R14)", "(R16)", "(R4)", "p9", "rate"]
    for problem, key in zip(problems, keys, strict=True):
        assert key in problem.message, str(problem)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="x.toml")
    assert str(info.value).splitlines() == [str(p) for p in problems]


def test_program_status_trigger_constraints_name_real_statuses() -> None:
    text = """
[programs.P]
statuses = ["Not in Program", "Member", "MQL"]

[campaigns.T]
triggers = [
  { trigger = "program_status_is_changed", program = "P", new_status = "MQLL" },
  { trigger = "program_status_is_changed", old_status = "Membr" },
]
flow = []
"""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    assert [str(p) for p in info.value.problems] == [
        's.toml: campaign "T", trigger 1: unknown status "MQLL" of program "P"; did you mean "MQL"?',
        's.toml: campaign "T", trigger 2: unknown status "Membr" of any program; did you mean "Member"?',
    ]


def test_null_in_a_trigger_constraint_is_the_empty_value() -> None:
    text = """
[fields]
owner = "x"

[campaigns.T]
triggers = [{ trigger = "data_value_changes", field = "owner", new_value = "NULL" }]
flow = []
"""
    trigger = parse_scenario(text).campaigns["T"].triggers[0]
    assert trigger.constraints == (("field", ("owner",)), ("new_value", (None,)))


def test_a_misspelt_shared_parameter_is_reported_once_at_the_step() -> None:
    text = """
[campaigns.T]
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "send_email", emial = "x", choices = [{ if = { field = "score", op = "is", value = 1 }, email = "a" }] },
]
"""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    assert [str(p) for p in info.value.problems] == [
        's.toml: campaign "T", step 1 (send_email): unknown key "emial" in a send_email step; did you mean "email"?'
    ]


@pytest.mark.parametrize("token", ["{{my}}", "{{lead.}}", "{{trigger}}", "{{}}"])
def test_malformed_tokens_are_reported(token: str) -> None:
    text = f"""
[campaigns.T]
triggers = [{{ trigger = "fills_out_form" }}]
flow = [{{ step = "interesting_moment", description = "x {token} y" }}]
"""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    assert [p.message for p in info.value.problems] == [
        f'malformed token "{token}"; write {{{{my.NAME}}}}, {{{{lead.FIELD}}}} or {{{{trigger.NAME}}}}'
    ]


def test_an_empty_campaign_name_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"a campaign needs a name"):
        parse_scenario('[campaigns."  "]\ntriggers = [{ trigger = "fills_out_form" }]\n', source="s.toml")


def test_a_huge_population_is_refused_quickly_without_listing_it() -> None:
    text = '[people]\ncount = 99999999999999999999\n[[activities]]\nat = "1m"\nperson = "p5"\ntype = "visit_page"\n'
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    first = info.value.problems[0]
    assert first.where == "[people]"
    assert "more people than any machine holds; at most 1,000,000,000" in first.message


def test_generated_people_are_known_without_being_listed() -> None:
    text = '[people]\ncount = 5000000\n[[activities]]\nat = "1m"\nperson = "p4999999"\ntype = "visit_page"\n'
    assert parse_scenario(text).activities[0].person == "p4999999"
    with pytest.raises(ScenarioError, match='unknown person "p05"'):
        parse_scenario(text.replace("p4999999", "p05"))


def test_every_problem_of_one_step_and_one_activity_is_reported() -> None:
    text = """
[campaigns.T]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "call_webhook", webhook = "w", status = 99, latency = "-1s" }]

[[activities]]
type = "visit_page"
person = "nobody"
page = "/"
"""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    assert [(p.where, p.message.split(";")[0]) for p in info.value.problems] == [
        ('campaign "T", step 1 (call_webhook)', '"latency": "-1s" is not a duration'),
        ('campaign "T", step 1 (call_webhook)', '"status" 99 is not an HTTP status code (100-599)'),
        ("[[activities]] 1 (visit_page)", '"at" is required (a duration such as "5m")'),
        ("[[activities]] 1 (visit_page)", 'unknown person "nobody"'),
    ]


def test_valid_but_suspicious_designs_load_with_warnings() -> None:
    text = """
[sim]
duration = "1h"

[[person]]
id = "ann"

[campaigns.Unused]
kind = "executable"
flow = [{ step = "send_email", email = "x" }]

[campaigns.Late]
kind = "batch"
schedule = { at = "2h" }
filters = [{ field = "score", op = "at least", value = 0 }]
flow = []

[[activities]]
at = "3h"
person = "ann"
type = "visit_page"
page = "/"

[[load]]
type = "visit_page"
page = "/"
rate = "1/m"
start = "1h"
"""
    scenario = parse_scenario(text, source="s.toml")
    assert [str(w) for w in scenario.warnings] == [
        's.toml: campaign "Unused": no campaign executes it, so it never runs (R4)',
        's.toml: campaign "Late": its schedule starts at 2h, not before [sim] duration (1h)',
        's.toml: campaign "Late": its flow has no steps',
        "s.toml: [[activities]]: timed activities at or after [sim] duration (1h) never happen (1 of them)",
        "s.toml: [[load]] 1 (visit_page): it starts at or after [sim] duration (1h), so it never fires",
    ]


def test_the_examples_have_no_warnings() -> None:
    for path in sorted(EXAMPLES.glob("*.toml")):
        assert load_scenario(path).warnings == (), path


def test_null_is_the_empty_value_only_for_new_and_old_values() -> None:
    text = '[campaigns.T]\ntriggers = [{ trigger = "data_value_changes", field = "NULL" }]\nflow = []\n'
    with pytest.raises(ScenarioError, match='unknown field "NULL"'):
        parse_scenario(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, "TOML nested too deeply to read"),
        ("x = " + "9" * 5000, "TOML value cannot be read"),
    ],
)
def test_unreadable_toml_is_a_problem_not_a_crash(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text)


def test_a_date_time_is_named_as_toml_writes_it() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario("[sim]\nseed = 1979-05-27T07:32:00Z\n", source="s.toml")
    assert str(info.value.problems[0]) == (
        's.toml: [sim]: "seed" must be an integer, not a date-time (1979-05-27T07:32:00+00:00)'
    )


def test_tokens_are_checked_as_they_are_resolved() -> None:
    base = '[campaigns.T]\ntriggers = [{ trigger = "fills_out_form" }]\nflow = [{ step = "interesting_moment", '
    with pytest.raises(ScenarioError, match=r'unknown token "\{\{lead\.nope'):
        parse_scenario(base + 'description = "a {{lead.nope\\n}} b" }]\n')
    # A brace before a token is text; the token after it is checked and resolved.
    assert parse_scenario(base + 'description = "{{{lead.score}}}" }]\n').campaigns["T"].flow


def test_load_denser_than_the_microsecond_grid_is_refused() -> None:
    text = '[[person]]\nid = "a"\n[[load]]\ntype = "visit_page"\npage = "/"\nrate = "2000000/s"\n'
    with pytest.raises(ScenarioError, match=r'"rate": "2000000/s" is over 1,000,000/s'):
        parse_scenario(text)


def test_generator_field_with_no_value_to_draw_is_refused() -> None:
    # Found by the dump round trip: this passed the checks and crashed `sim run`.
    text = (
        '[fields]\nowner = ""\n[[person]]\nid = "a"\n'
        '[[load]]\ntype = "fill_out_form"\nrate = "1/h"\nfields = { owner = [] }\n'
    )
    problem = only_problem(text, "[[load]] 1 (fill_out_form)")
    assert problem.message == '"fields": "owner" = [] has no value to draw; give one or more'


def test_generator_arrivals_are_constant_or_poisson() -> None:
    base = '[[person]]\nid = "a"\n[[load]]\ntype = "visit_page"\nrate = "1/h"\n'
    assert parse_scenario(base).generators[0].arrivals == "constant"
    assert parse_scenario(base + 'arrivals = "poisson"\n').generators[0].arrivals == "poisson"
    problem = only_problem(base + 'arrivals = "bursty"\n', "[[load]] 1 (visit_page)")
    assert problem.message == '"arrivals" is "bursty"; use "constant" (evenly spaced) or "poisson"'


def test_a_daily_profile_has_24_rates_and_no_rate() -> None:
    base = '[[person]]\nid = "a"\n[[load]]\ntype = "visit_page"\n'
    hours = ", ".join(['"10/h"'] * 12 + ['"0/h"'] * 12)
    generator = parse_scenario(base + f"daily = [{hours}]\n").generators[0]
    assert generator.daily == (10 / 3600,) * 12 + (0.0,) * 12
    assert generator.rate == 5 / 3600
    where = "[[load]] 1 (visit_page)"
    assert only_problem(base + 'daily = ["1/h"]\n', where).message == (
        '"daily" needs 24 rates, one per hour of the day from 0h; it has 1'
    )
    assert only_problem(base + f'rate = "1/h"\ndaily = [{hours}]\n', where).message == (
        'give "rate" or "daily" (24 rates, one per hour of the day), not both'
    )
    bad = ", ".join(['"10/h"'] * 23 + ['"often"'])
    assert only_problem(base + f"daily = [{bad}]\n", where).message.startswith('"daily" hour 23: "often" is not a rate')


# --- [[load]]: the old name, new people, CSV replays ---------------------------------------

LOAD = '[[load]]\ntype = "visit_page"\npage = "/"\nrate = "1/h"\n'


def test_generators_is_the_old_name_of_load_and_still_loads_with_a_warning() -> None:
    visits = '[campaigns.C]\ntriggers = [{ trigger = "visits_page" }]\nflow = [{ step = "send_email", email = "E" }]\n'
    old = parse_scenario(BASE + visits + LOAD.replace("[[load]]", "[[generators]]"), source="s.toml")
    new = parse_scenario(BASE + visits + LOAD, source="s.toml")
    assert old.generators == new.generators
    assert new.warnings == ()
    assert [str(w) for w in old.warnings] == [
        "s.toml: [[generators]]: now called [[load]]; rename the tables (the old name still works)"
    ]
    problem = only_problem(BASE + LOAD + LOAD.replace("[[load]]", "[[generators]]"), "[[generators]]")
    assert problem.message == (
        "this file has both [[load]] and [[generators]], the old name of [[load]]; "
        "move the [[generators]] tables into [[load]]"
    )


def test_new_people_is_a_share_for_form_fills_only() -> None:
    form = '[[load]]\ntype = "fill_out_form"\nrate = "1/h"\n'
    assert parse_scenario(BASE + form + "new_people = 0.25\n").generators[0].new_people == 0.25
    assert parse_scenario(BASE + form + "new_people = 1\n").generators[0].new_people == 1.0
    assert parse_scenario(BASE + form).generators[0].new_people == 0.0
    problem = only_problem(BASE + form + "new_people = 1.5\n", "[[load]] 1 (fill_out_form)")
    assert problem.message == (
        '"new_people" is 1.5; give the share of arrivals from new people, from 0 to 1 (0.25: one in four)'
    )
    problem = only_problem(BASE + form + 'new_people = "25%"\n', "[[load]] 1 (fill_out_form)")
    assert problem.message == '"new_people" must be a number, not a string ("25%")'
    problem = only_problem(BASE + LOAD + "new_people = 0.5\n", "[[load]] 1 (visit_page)")
    assert_words(problem.message, ('"new_people" belongs to fill_out_form', "unknown visitor"))


def test_a_table_of_new_visitors_only_needs_no_declared_people() -> None:
    form = '[[load]]\ntype = "fill_out_form"\nrate = "1/h"\n'
    assert parse_scenario(form + "new_people = 1\n").generators[0].new_people == 1.0
    problem = only_problem(form + "new_people = 0.5\n", "[people]")
    assert_words(problem.message, ("there are no people",))


def test_the_ids_new_people_creates_are_reserved() -> None:
    form = '[[load]]\ntype = "fill_out_form"\nrate = "1/h"\nnew_people = 0.5\n'
    problem = only_problem(scenario('[[person]]\nid = "new2"\n', form), 'person "new2"')
    assert problem.message == '"new2" clashes with the people new_people creates (new1, new2, ...); pick another id'
    fill = '[[activities]]\nat = "1m"\nperson = "new1"\ntype = "fill_out_form"\n'
    problem = only_problem(scenario(fill, form), "[[activities]] 1 (fill_out_form)")
    assert problem.message.startswith('person "new1" clashes with the people new_people creates')
    # Without new_people, "new1" is a name like any other.
    assert parse_scenario(scenario('[[person]]\nid = "new2"\n', fill)).people[0].id == "new2"


def test_a_form_fill_by_an_unknown_person_creates_them_for_later_activities() -> None:
    fill = '[[activities]]\nat = "{at}"\nperson = "lena"\ntype = "fill_out_form"\n'
    click = '[[activities]]\nat = "{at}"\nperson = "lena"\ntype = "click_link"\n'
    loaded = parse_scenario(scenario(fill.format(at="1m"), click.format(at="2m")))
    assert [a.person for a in loaded.activities] == ["lena", "lena"]
    # At the same time, file order decides.
    assert parse_scenario(scenario(fill.format(at="1m"), click.format(at="1m"))).activities[1].type == "click_link"
    problem = only_problem(scenario(click.format(at="1m"), fill.format(at="1m")), "[[activities]] 1 (click_link)")
    assert problem.message == (
        'unknown person "lena"; declare it with [[person]] or [people] count (only a fill_out_form creates a '
        "person); the form fill that creates it comes later"
    )
    problem = only_problem(scenario(fill.format(at="2m"), click.format(at="1m")), "[[activities]] 2 (click_link)")
    assert problem.message.endswith("the form fill that creates it comes later")


# CSV replays: every problem names the file and the line, as the path reads from where `sim` runs.

CSV_BASE = BASE + FORM_FILL + '[[load]]\ncsv = "fills.csv"\n'


def csv_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: str, text: str = CSV_BASE) -> list[str]:
    """The problems of ``text`` replaying ``rows`` as fills.csv, both in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fills.csv").write_text(rows, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    return [str(p) for p in info.value.problems]


def load_csv(tmp_path: Path, rows: str, text: str = CSV_BASE) -> model.Scenario:
    (tmp_path / "fills.csv").write_text(rows, encoding="utf-8")
    return parse_scenario(text, source=str(tmp_path / "s.toml"))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("60,p1,fill_form,F", 'unknown activity "fill_form"; did you mean "fill_out_form"?'),
        ("60,p1,,F", '"activity" is empty; give an activity type such as "fill_out_form"'),
        (
            "3x,p1,fill_out_form,F",
            '"time": "3x" is not a duration; write a number and a unit, e.g. "30s", "5m", "2h", "1h30m", "3d" or '
            '"4 hours"',
        ),
        ("-5,p1,fill_out_form,F", '"time": -5.0 is negative; a duration is zero or more'),
        (",p1,fill_out_form,F", '"time" is empty'),
        ("60,,fill_out_form,F", '"person" is empty'),
        ("60,p1,click_link,F", '"form" does not belong to a click_link activity; leave that cell empty'),
        (
            "60,bob,click_link,",
            'unknown person "bob"; declare it with [[person]] or [people] count (only a fill_out_form creates a '
            "person)",
        ),
        ("60,p1,fill_out_form", "3 cells, but the header names 4 columns"),
        ("60,p1,fill_out_form,F,x", "5 cells, but the header names 4 columns"),
    ],
)
def test_a_bad_csv_row_is_reported_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, message: str
) -> None:
    rows = f"time,person,activity,form\n10,p1,fill_out_form,F\n{row}\n"
    assert csv_problems(tmp_path, monkeypatch, rows) == [f"fills.csv:3: {message}"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "60,p1,change_data_value,,,",
            '"field" and "value" are required for change_data_value; write NULL to empty the field',
        ),
        ("60,p1,change_data_value,contry,US,", 'unknown field "contry"; did you mean "country"?'),
        ("60,p1,change_data_value,score,high,", '"value": field "score" holds numbers; "high" is not a number'),
        ("60,p1,fill_out_form,,,x", '"field.score": field "score" holds numbers; "x" is not a number'),
        ("60,p1,click_link,,,5", '"field.score" belongs to fill_out_form rows only; leave that cell empty'),
    ],
)
def test_csv_values_are_checked_against_their_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, message: str
) -> None:
    rows = f"time,person,activity,field,value,field.score\n{row}\n"
    assert csv_problems(tmp_path, monkeypatch, rows) == [f"fills.csv:2: {message}"]


def test_csv_requests_are_checked_like_activities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = scenario(
        FORM_FILL,
        '[campaigns.Route]\ntriggers = [{ trigger = "campaign_is_requested", source = "marketo_flow_action" }]\n',
        '[[load]]\ncsv = "fills.csv"\n',
    )
    rows = "time,person,activity,campaign,source\n60,p1,request_campaign,,\n60,p1,request_campaign,Rout,\n"
    rows += "60,p1,request_campaign,Route,\n60,p1,request_campaign,Route,zapier\n"
    assert csv_problems(tmp_path, monkeypatch, rows, text) == [
        'fills.csv:2: "campaign" is required for request_campaign',
        'fills.csv:3: unknown campaign "Rout"; did you mean "Route"?',
        'fills.csv:4: cannot request "Route": its campaign_is_requested trigger does not accept source '
        '"web_service_api" (R3)',
        'fills.csv:5: source "zapier" is not a request source; use one of marketo_flow_action, web_service_api, '
        "sales_insight",
    ]


@pytest.mark.parametrize(
    ("header", "messages"),
    [
        ("time,person,activity,from", ['unknown column "from"; did you mean "form"?']),
        (
            "time,person,activity,zzz",
            [
                'unknown column "zzz"; the columns are time, person, activity, form, link, page, field, value, '
                "campaign, source and field.NAME"
            ],
        ),
        (
            "time,person,activity,field.contry",
            ['column "field.contry": unknown field "contry"; did you mean "country"?'],
        ),
        ("time,person,activity,form,form", ['column "form" appears twice']),
        (
            "time,activity",
            ['the header has no "person" column; "time", "person" and "activity" are required'],
        ),
        (
            "60,p1,fill_out_form",
            ['the first row must name the columns, e.g. "time,person,activity,form"; it is "60,p1,fill_out_form"'],
        ),
    ],
)
def test_a_bad_csv_header_is_reported_at_line_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: str, messages: list[str]
) -> None:
    rows = f"{header}\n60,p1,fill_out_form,F\n"
    assert csv_problems(tmp_path, monkeypatch, rows) == [f"fills.csv:1: {m}" for m in messages]


def test_an_empty_csv_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert csv_problems(tmp_path, monkeypatch, "") == [
        'fills.csv:1: the file is empty; the first row names the columns, e.g. "time,person,activity"'
    ]


def test_a_missing_csv_file_names_the_path_as_written_and_as_resolved(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(CSV_BASE.replace("fills.csv", "data/fills.csv"), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.toml")
    resolved = tmp_path.resolve() / "data" / "fills.csv"
    assert [str(p) for p in info.value.problems] == [
        f'{tmp_path / "s.toml"}: [[load]] 1 (csv): csv "data/fills.csv": cannot read {resolved}: No such file or '
        "directory; a relative path starts from the scenario file's folder"
    ]


def test_a_csv_path_is_relative_to_the_scenario_file_or_else_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "time,person,activity\n60,p1,click_link\n"
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "fills.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "here" / "s.toml").write_text(CSV_BASE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    loaded = load_scenario(Path("here") / "s.toml")
    assert loaded.replays[0].csv == str((tmp_path / "here" / "fills.csv").resolve())
    monkeypatch.chdir(tmp_path / "here")
    from_stdin = parse_scenario(CSV_BASE, source="<stdin>")
    assert from_stdin.replays == loaded.replays
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match="a relative path starts from the working directory"):
        parse_scenario(CSV_BASE, source="<stdin>")


def test_csv_cells_become_typed_values(tmp_path: Path) -> None:
    """Numbers in numeric fields, true/false in boolean ones, NULL the empty value; times in
    seconds or as durations; spaces around header names; a byte-order mark; blank lines."""
    text = scenario('[fields.opted_in]\ndefault = false\n[fields.stage]\ndefault = "Known"\n', FORM_FILL)
    text += '[[load]]\ncsv = "fills.csv"\n'
    rows = (
        "\ufefftime, person ,activity,form,field.score,field.opted_in,field.stage,field.country\n"
        "1h30m,p1,fill_out_form,F,12,TRUE,42,NULL\n"
        "\n"
        "90.5,p2,fill_out_form,,2.5,maybe,,\n"
    )
    second, first = load_csv(tmp_path, rows, text).replays[0].activities()  # sorted by time
    assert (second.at, second.person, second.attributes, second.fields) == (
        90.5,
        "p2",
        {},
        {"score": 2.5, "opted_in": "maybe"},
    )
    assert (first.at, first.attributes) == (5400.0, {"form": "F"})
    assert first.fields == {"score": 12, "opted_in": True, "stage": "42", "country": None}
    assert type(first.fields["score"]) is int


def test_csv_rows_are_sorted_by_time_and_merged_after_activities(tmp_path: Path) -> None:
    text = CSV_BASE + '[[activities]]\nat = "2m"\nperson = "p3"\ntype = "click_link"\n'
    rows = "time,person,activity\n3m,p1,click_link\n2m,p2,click_link\n2m,p1,click_link\n60,p2,click_link\n"
    loaded = load_csv(tmp_path, rows, text)
    assert [(a.at, a.person) for a in loaded.replays[0].activities()] == [
        (60.0, "p2"),
        (120.0, "p2"),
        (120.0, "p1"),
        (180.0, "p1"),
    ]
    merged = [(a.at, a.person) for a in external_activities(loaded)]
    assert merged == [(60.0, "p2"), (120.0, "p3"), (120.0, "p2"), (120.0, "p1"), (180.0, "p1")]


def test_csv_and_activities_share_the_people_form_fills_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A click in [[activities]] by a visitor a CSV form fill created earlier is fine; one
    before that fill is not, and the problem names the activity."""
    rows = "time,person,activity\n2m,lena,fill_out_form\n"
    click = '[[activities]]\nat = "{at}"\nperson = "lena"\ntype = "click_link"\n'
    assert load_csv(tmp_path, rows, CSV_BASE + click.format(at="3m")).activities[0].person == "lena"
    assert csv_problems(tmp_path, monkeypatch, rows, CSV_BASE + click.format(at="1m")) == [
        's.toml: [[activities]] 1 (click_link): unknown person "lena"; declare it with [[person]] or [people] count '
        "(only a fill_out_form creates a person); the form fill that creates it comes later"
    ]


def test_at_most_20_problems_per_csv_file_are_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "time,person,activity\n" + "60,p1,fill_form\n" * 25 + "60,bob,click_link\n"
    found = csv_problems(tmp_path, monkeypatch, rows)
    assert len(found) == 21
    assert found[0] == 'fills.csv:2: unknown activity "fill_form"; did you mean "fill_out_form"?'
    assert found[19].startswith("fills.csv:21: ")
    assert found[20] == "fills.csv: 6 more problems in this file not shown"


def test_csv_warnings(tmp_path: Path) -> None:
    text = CSV_BASE.replace("[people]", '[sim]\nduration = "1h"\n\n[people]')
    loaded = load_csv(tmp_path, "time,person,activity\n30m,p1,click_link\n1h,p1,click_link\n2h,p2,click_link\n", text)
    assert [f"{w.where}: {w.message}" for w in loaded.warnings] == [
        "[[load]] 1 (csv): rows at or after [sim] duration (1h) never happen (2 of them)"
    ]
    empty = load_csv(tmp_path, "time,person,activity\n", text)
    assert [w.message for w in empty.warnings] == [f"{tmp_path / 'fills.csv'} has no rows"]


def test_each_csv_table_reports_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = CSV_BASE.replace('csv = "fills.csv"', 'csv = "gone.csv"') + '[[load]]\ncsv = "fills.csv"\n'
    found = csv_problems(tmp_path, monkeypatch, "time,person,activity\n60,p1,fill_form\n", text)
    assert found == [
        f's.toml: [[load]] 1 (csv): csv "gone.csv": cannot read {tmp_path.resolve() / "gone.csv"}: No such file or '
        "directory; a relative path starts from the working directory",
        'fills.csv:2: unknown activity "fill_form"; did you mean "fill_out_form"?',
    ]


# --- numbers at their extremes: a message naming where, never an OverflowError ------------

#: Where a number may be written: (snippet with X for the number, where, words of the message).
ON_FILL = '[campaigns.{}]\ntriggers = [{{ trigger = "fills_out_form" }}]\n'
EMAIL = 'flow = [{ step = "send_email", email = "E" }]\n'
BATCH = '[campaigns.B]\nkind = "batch"\nschedule = SCHEDULE\n' + EMAIL
WHERE_STEP = 'campaign "{}", step 1 ({})'
NUMBER_KEYS = {
    "[sim] duration": ("[sim]\nduration = X\n", "[sim]", '"duration"'),
    "wait duration": (
        ON_FILL.format("W") + 'flow = [{ step = "wait", duration = X }]\n',
        WHERE_STEP.format("W", "wait"),
        '"duration"',
    ),
    "activity at": (
        '[[activities]]\nat = X\nperson = "p1"\ntype = "visit_page"\n',
        "[[activities]] 1 (visit_page)",
        '"at"',
    ),
    "schedule at": (BATCH.replace("SCHEDULE", "{ at = X }"), 'campaign "B"', '"at"'),
    "schedule every": (BATCH.replace("SCHEDULE", '{ at = "1h", every = X }'), 'campaign "B"', '"every"'),
    "priority_from": (
        '[queue]\n[campaigns.P]\npriority = "high"\npriority_from = X\n'
        + ON_FILL.format("P").split("\n", 1)[1]
        + EMAIL,
        'campaign "P"',
        '"priority_from"',
    ),
    "webhook latency": (
        ON_FILL.format("H") + 'flow = [{ step = "call_webhook", webhook = "w", latency = X }]\n',
        WHERE_STEP.format("H", "call_webhook"),
        '"latency"',
    ),
    "queue service": ("[queue]\nservice = { send_email = X }\n", "[queue.service] send_email", '"send_email"'),
    "queue service mean": (
        '[queue]\nservice = { send_email = { distribution = "exponential", mean = X } }\n',
        "[queue.service] send_email",
        '"mean"',
    ),
    "change_score": (
        ON_FILL.format("S") + 'flow = [{ step = "change_score", change = X }]\n',
        WHERE_STEP.format("S", "change_score"),
        '"change"',
    ),
    "filter value": (
        ON_FILL.format("F") + 'filters = [{ field = "score", op = "at least", value = X }]\n' + EMAIL,
        'campaign "F", filter 1',
        '"value"',
    ),
    "choice value": (
        ON_FILL.format("C")
        + 'flow = [{ step = "send_email", choices = [{ if = { field = "score", op = "is", value = X }, '
        + 'email = "A" }] }]\n',
        WHERE_STEP.format("C", "send_email") + ", choice 1",
        '"value"',
    ),
    "field default": ("[fields.revenue]\ndefault = X\n", 'field "revenue"', '"default"'),
    "field values": ("[fields.revenue]\nvalues = [1, X]\n", 'field "revenue"', "a field value"),
    "weights": ('[fields.tier]\nvalues = ["a", "b"]\nweights = [1, X]\n', 'field "tier"', '"weights"'),
    "person field": ('[[person]]\nid = "ann"\nfields = { score = X }\n', 'person "ann"', 'value of "score"'),
    "form field": (
        '[[activities]]\nat = "1m"\nperson = "p1"\ntype = "fill_out_form"\nfields = { score = X }\n',
        "[[activities]] 1 (fill_out_form)",
        'value of "score"',
    ),
    "load field": (
        '[[load]]\ntype = "fill_out_form"\nrate = "1/h"\nfields = { score = [X] }\n',
        "[[load]] 1 (fill_out_form)",
        'value of "score"',
    ),
    "webhook response": (
        ON_FILL.format("H") + 'flow = [{ step = "call_webhook", webhook = "w", response = { score = X } }]\n',
        WHERE_STEP.format("H", "call_webhook"),
        'value of "score"',
    ),
    "change_data_value": (
        ON_FILL.format("D") + 'flow = [{ step = "change_data_value", field = "score", value = X }]\n',
        WHERE_STEP.format("D", "change_data_value"),
        'value of "score"',
    ),
    "trigger constraint": (
        '[campaigns.T]\ntriggers = [{ trigger = "data_value_changes", field = "score", new_value = X }]\n' + EMAIL,
        'campaign "T", trigger 1',
        'constraint "new_value"',
    ),
}
#: Numbers no run can use: an integer no float holds (TOML allows it), the largest floats,
#: and the floats that are not numbers.
EXTREMES = ("1" + "0" * 309, "-1" + "0" * 309, "1e308", "-1e308", "inf", "-inf", "nan")


@pytest.mark.parametrize("number", EXTREMES, ids=lambda x: x if len(x) < 10 else "10**309")
@pytest.mark.parametrize("key", NUMBER_KEYS, ids=list(NUMBER_KEYS))
def test_an_extreme_number_anywhere_is_one_problem_naming_where_and_the_key(key: str, number: str) -> None:
    snippet, where, words = NUMBER_KEYS[key]
    problem = only_problem(scenario(snippet.replace("X", number)), where)
    assert words in problem.message
    assert len(problem.message) < 300  # 10**309 is shown cut, not in full


def test_durations_are_at_most_100_years_and_kept_to_the_microsecond() -> None:
    problem = only_problem(scenario('[sim]\nduration = "999999d"\n'), "[sim]")
    assert problem.message == '"duration": "999999d" is too long; a duration is at most 36500d (100 years)'
    assert parse_scenario(scenario('[sim]\nduration = "36500d"\n')).duration == 36500 * 86400.0
    assert parse_scenario(scenario('[sim]\nduration = "0.1234567s"\n')).duration == 0.123457


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            "1" + "0" * 5000,
            'field "score": "1' + "0" * 48 + "... (5,003 characters) is too large",
        ),
        ("1e400", 'field "score": "1e400" is too large'),
        ("nan", 'field "score": "nan" is not a number sim can compare or add'),
        ("-inf", 'field "score": "-inf" is not a number sim can compare or add'),
    ],
    ids=["10**5000", "1e400", "nan", "-inf"],
)
def test_a_csv_cell_beyond_the_numbers_is_a_problem_at_its_line(cell: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text(f"time,person,activity,field.score\n1m,p1,fill_out_form,{cell}\n")
    (tmp_path / "s.toml").write_text(scenario(FORM_FILL, '[[load]]\ncsv = "rows.csv"\n'), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.toml")
    (problem,) = info.value.problems
    assert problem.file.endswith("rows.csv:2")
    assert problem.message.startswith(f'"field.score": {message}')


@pytest.mark.parametrize("cell", ["999999d", "1e300", "-5"])
def test_a_csv_time_beyond_100_years_or_negative_is_a_problem(cell: str, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text(f"time,person,activity\n{cell},p1,fill_out_form\n")
    (tmp_path / "s.toml").write_text(scenario(FORM_FILL, '[[load]]\ncsv = "rows.csv"\n'), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.toml")
    (problem,) = info.value.problems
    assert problem.message.startswith('"time": ')


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("once every 36501d", 'qualification "once every 36501d": "36501d" is too long; a duration is at most 36500d'),
        ("once every 0.0000001s", 'qualification "once every 0.0000001s": the interval is zero at the microsecond'),
    ],
)
def test_r18_an_interval_out_of_range_says_why(rule: str, message: str) -> None:
    text = scenario(f'[campaigns.Q]\nqualification = "{rule}"\ntriggers = [{{ trigger = "fills_out_form" }}]\n')
    problem = only_problem(text, 'campaign "Q"')
    assert problem.message.startswith(message)


def test_one_mistake_is_one_problem_not_a_cascade() -> None:
    """A field declared with a problem is not also "unknown" where it is used; a bad
    people count is not also "there are no people"."""
    text = (
        '[fields]\ncountry = { values = ["US", nan] }\n[[person]]\nid = "alice"\nfields = { country = "US" }\n'
        '[campaigns.C]\ntriggers = [{ trigger = "fills_out_form" }]\n'
        'filters = [{ field = "country", op = "is", value = "US" }]\n'
        'flow = [{ step = "send_email", email = "E" }]\n'
    )
    problem = only_problem(text, 'field "country"')
    assert "nan is not a number" in problem.message
    for count in ("1e308", "-5"):
        text = f'[people]\ncount = {count}\n[campaigns.C]\ntriggers = [{{ trigger = "fills_out_form" }}]\n'
        only_problem(text, "[people]")


@pytest.mark.parametrize("token", ["nan", "inf", "1e400"])
def test_a_my_token_that_is_no_usable_number_is_a_problem(token: str) -> None:
    text = scenario(f"[programs.P]\ntokens = {{ x = {token} }}\n")
    problem = only_problem(text, 'program "P"')
    assert problem.message.startswith('token "x": ')
