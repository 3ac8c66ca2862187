"""sim.marketo.map_flows: each Marketo flow action -> sim's step, choices included (R13);
what cannot be written is skipped or dropped with the reason."""

from __future__ import annotations

import pytest

from sim.marketo.asset_records import ChoiceRule, FlowStep, StepChoice
from sim.marketo.declarations import Declarations
from sim.marketo.map_flows import FlowContext, Target, map_step, tokens

TARGETS = {
    "Sync": Target(name="Sync", kind="trigger", requestable=True),
    "Nightly": Target(name="Nightly", kind="batch", requestable=False),
    "Score": Target(name="Score", kind="executable", requestable=False),
    "Route": Target(name="Route", kind="executable", requestable=False),
}


def context(kind: str = "trigger", program: str | None = "Webinar") -> FlowContext:
    return FlowContext(
        d=Declarations(numeric={"Lead Score"}),
        kind=kind,
        program=program,
        resolve=TARGETS.get,
        cycles=frozenset({"Route"}),
    )


def plain(name: str, **attributes: str) -> FlowStep:
    attrs = {key.replace("_", " "): value for key, value in attributes.items()}
    return FlowStep(
        number=1, type_id=None, type_name=name, choices=(StepChoice(default=True, attributes=attrs, rule=None),)
    )


@pytest.mark.parametrize(
    ("step", "outcome", "detail"),
    [
        (
            plain("Change Data Value", Attribute="Lead Status", New_Value="MQL"),
            "mapped",
            '{ step = "change_data_value", field = "Lead Status", value = "MQL" }',
        ),
        (
            plain("Change Data Value", Attribute="Lead Score", New_Value="high"),
            "skipped",
            '"high" is not a number, and Lead Score holds numbers',
        ),
        (
            plain("Change Score", Score_Name="Lead Score", Change="10"),
            "mapped",
            '{ step = "change_score", field = "Lead Score", change = "+10" }',
        ),
        (
            plain("Change Score", Score_Name="Lead Score", Change="{{my.Points}}"),
            "skipped",
            'change "{{my.Points}}" is not "+N", "-N" or "=N" (a token is not modelled)',
        ),
        (
            plain("Change Score", Score_Name="Lead Score", Change="+abc"),
            "skipped",
            'change "+abc" is not "+N", "-N" or "=N"',
        ),
        (
            plain("Wait", Wait_Until="Monday 9:00 AM"),
            "skipped",
            "waits until a date or a weekday: not modelled (sim's Wait is a duration)",
        ),
        (
            plain("Change Status in Progression", New_Status="Attended"),
            "mapped",
            '{ step = "change_program_status", status = "Attended" }',
        ),
        (
            plain("Change Program Status", Program="Nurture", New_Status="Member"),
            "mapped",
            '{ step = "change_program_status", program = "Nurture", status = "Member" }',
        ),
        (plain("Add to List", List="MQL"), "mapped", '{ step = "add_to_list", list = "MQL" }'),
        (plain("Remove from List", List="MQL"), "mapped", '{ step = "remove_from_list", list = "MQL" }'),
        (
            plain("Interesting Moment", Description="Hi {{lead.First Name:default=you}} {{company.Name}}"),
            "approximated",
            '{ step = "interesting_moment", description = "Hi {{lead.First Name}} " }; '
            "{{company.Name}} not modelled: left out",
        ),
        (plain("Send Email", Email="Welcome"), "mapped", '{ step = "send_email", email = "Welcome" }'),
        (
            plain("Send Alert", Alert="New lead", Send_To="sales@acme.example"),
            "mapped",
            '{ step = "send_alert", alert = "New lead", to = "sales@acme.example" }',
        ),
        (plain("Wait", Wait_Duration="2 days"), "mapped", '{ step = "wait", duration = "2 days" }'),
        (
            plain("Wait", Wait_Duration="until Monday 9am"),
            "skipped",
            '"until Monday 9am" is not a duration (waiting until a date or a weekday is not modelled)',
        ),
        (plain("Request Campaign", Campaign="Sync"), "mapped", '{ step = "request_campaign", campaign = "Sync" }'),
        (
            plain("Request Campaign", Campaign="Nightly"),
            "skipped",
            '"Nightly" cannot be requested by a flow: no active Campaign is Requested trigger (R3)',
        ),
        (plain("Request Campaign", Campaign="Gone"), "skipped", 'campaign "Gone" is not in the export'),
        (
            plain("Execute Campaign", Campaign="Score", Use_Parent_Campaign_Token_Context="true"),
            "mapped",
            '{ step = "execute_campaign", campaign = "Score", use_parent_tokens = true }',
        ),
        (plain("Execute Campaign", Campaign="Sync"), "skipped", '"Sync" is not an executable campaign (R4)'),
        (
            plain("Execute Campaign", Campaign="Route"),
            "skipped",
            'executing "Route" calls this campaign back: a cycle (R8)',
        ),
        (
            plain("Remove from Flow", Campaigns="Sync, Gone"),
            "approximated",
            '{ step = "remove_from_flow", campaigns = "Sync" }; "Gone" not in the export, left out',
        ),
        (
            plain("Call Webhook", Webhook="Enrich"),
            "approximated",
            '{ step = "call_webhook", webhook = "Enrich" }; its response (latency, status, mappings) is not exported: '
            "sim's defaults",
        ),
        (plain("Sync Lead to SFDC"), "skipped", "not modelled: sim has no such flow action"),
        (plain("Send Email"), "skipped", 'no "Email" attribute'),
    ],
)
def test_each_flow_action(step: FlowStep, outcome: str, detail: str) -> None:
    _, got, said = map_step(step, context())
    assert (got, said) == (outcome, detail)


def test_wait_and_webhook_where_they_are_not_allowed() -> None:
    assert map_step(plain("Wait", Wait_Duration="1 day"), context("executable"))[1:] == (
        "skipped",
        "a Wait is not allowed in an executable's flow (R9)",
    )
    assert map_step(plain("Call Webhook", Webhook="Enrich"), context("batch"))[1:] == (
        "skipped",
        "Call Webhook is only valid in trigger campaigns, not in a batch campaign (R16)",
    )


def choice(value: str, rule: ChoiceRule | None) -> StepChoice:
    return StepChoice(default=rule is None, attributes={"Attribute": "Segment", "New Value": value}, rule=rule)


def test_choices_keep_their_order_and_drop_what_sim_cannot_test() -> None:
    """R13: the first matching choice applies; a dropped choice lets its people fall through."""
    step = FlowStep(
        number=2,
        type_id=13,
        type_name="Change Data Value",
        choices=(
            choice("Exec", ChoiceRule(name="Job Title", operator="starts with", rule_type="Attribute", values=("VP",))),
            choice("Recent", ChoiceRule(name="Created At", operator="in past", rule_type="Attribute", values=("7",))),
            choice("Visitor", ChoiceRule(name="Visited Web Page", operator="is", rule_type="Activity", values=("/",))),
            choice("Other", None),
        ),
    )
    table, outcome, detail = map_step(step, context())
    assert table == {
        "step": "change_data_value",
        "choices": [
            {"if": {"field": "Job Title", "op": "starts with", "value": "VP"}, "field": "Segment", "value": "Exec"}
        ],
        "default": {"field": "Segment", "value": "Other"},
    }
    assert outcome == "approximated"
    assert detail.endswith(
        '; choice 2 dropped: operator "in past" has no sim equivalent (dates are not modelled); '
        'choice 3 dropped: the activity condition "Visited Web Page" is not modelled'
    )


def test_a_do_nothing_default_and_a_step_with_nothing_left() -> None:
    rule = ChoiceRule(name="Member of List", operator="in", rule_type="Activity", values=("MQL",))
    nothing = StepChoice(default=True, attributes={"Choice": "Do Nothing"}, rule=None)
    step = FlowStep(number=1, type_id=None, type_name="Change Data Value", choices=(choice("A", rule), nothing))
    table, outcome, _ = map_step(step, context())
    assert (table, outcome) == (
        {
            "step": "change_data_value",
            "choices": [{"if": {"list": "MQL"}, "field": "Segment", "value": "A"}],
            "default": "do nothing",
        },
        "mapped",
    )
    dates = ChoiceRule(name="Created At", operator="before", rule_type="Attribute", values=("2026",))
    empty = FlowStep(number=1, type_id=None, type_name="Change Data Value", choices=(choice("A", dates), nothing))
    assert map_step(empty, context())[:2] == (None, "skipped")


def test_a_step_named_only_by_its_activity_type_id() -> None:
    step = FlowStep(
        number=1, type_id=24, type_name="", choices=(StepChoice(default=True, attributes={"List": "MQL"}, rule=None),)
    )
    assert map_step(step, context())[0] == {"step": "add_to_list", "list": "MQL"}


def test_tokens_declare_what_they_read() -> None:
    ctx = context(program=None)
    text, note = tokens("{{lead.Country}} {{my.Owner}} {{trigger.Web Form}}", ctx)
    assert (text, note) == ("{{lead.Country}}  {{trigger.Web Form}}", "{{my.Owner}} not modelled: left out")
    assert ctx.d.fields == {"Country": None}
    inside = context()
    assert tokens("{{my.Owner}}", inside) == ("{{my.Owner}}", "")
    assert inside.d.tokens == {"Webinar": {"Owner": ""}}
