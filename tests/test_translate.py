"""sim.marketo.translate: an export (and its traffic) -> a scenario that loads, and the
report. The acme fixture's scenario and report are pinned byte for byte; generated payloads
must always give a scenario the loader accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from marketo_payloads import campaign, choice, condition, export_of, payloads, rule, smart_list, step

from sim.marketo.assets import read_export
from sim.marketo.import_report import format_report
from sim.marketo.problems import ExportError
from sim.marketo.traffic import Traffic
from sim.marketo.translate import translate
from sim.marketo.user_flows import read_user_flows
from sim.scenario import parse_scenario
from sim.scenario.model import ChangeScore, ExecuteCampaign, Schedule

DATA = Path(__file__).parent / "data" / "marketo"
ACME = DATA / "acme"


def test_acme_imports_to_the_expected_scenario() -> None:
    translation = translate(read_export([ACME]))
    assert translation.text == (DATA / "acme-import-expected.toml").read_text(encoding="utf-8")
    assert translation.replay is None


def test_acme_report_says_what_became_of_every_rule_and_step() -> None:
    report = translate(read_export([ACME])).report
    assert format_report(report) == (DATA / "acme-import-report.txt").read_text(encoding="utf-8")
    assert report.counts() == {
        "trigger": {"mapped": 4, "approximated": 0, "skipped": 1},
        "filter": {"mapped": 3, "approximated": 0, "skipped": 1},
        "step": {"mapped": 13, "approximated": 0, "skipped": 1},
        "todo": {},
    }


def test_the_acme_scenario_loads_with_kinds_and_marketo_ids() -> None:
    scenario = parse_scenario(translate(read_export([ACME])).text)
    kinds = {name: (c.kind, c.marketo_id) for name, c in scenario.campaigns.items()}
    assert kinds == {
        "Contact Us Form Fill": ("trigger", 1001),
        "Score Lead": ("executable", 1002),  # R4: executed by 1001's flow, no flag in the API
        "Sync to Sales": ("trigger", 1003),
        "Route Lead": ("executable", 1004),
        "Nightly Nurture": ("batch", 1005),
        "Pricing Interest": ("trigger", 1006),
    }
    assert scenario.campaigns["Nightly Nurture"].schedule == Schedule(at=7200.0, every=86400.0)  # R2
    assert scenario.campaigns["Pricing Interest"].qualification.interval == 86400.0  # R18
    assert scenario.campaigns["Contact Us Form Fill"].flow[3].action == ExecuteCampaign(
        campaign="Score Lead",
        use_parent_tokens=True,  # R10
    )
    assert scenario.programs["Lead Lifecycle"].statuses == ("Not in Program", "Member", "MQL")


def traffic(**more: object) -> Traffic:
    replay = (
        "time,person,activity,form,field.Country\n"
        "0,5001,fill_out_form,Contact Us,US\n"
        "600,5002,fill_out_form,Contact Us,\n"
    )
    fields: dict[str, str | float] = {"Country": ""}
    values: dict[str, object] = dict(
        start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        duration=4 * 3600.0,
        replay=replay,
        people=("5001",),
        fields=fields,
        requested=(),
        external={"Fill Out Form": 2},
        produced={"Change Score": 3},
        skipped={"Open Email": 1},
    )
    return Traffic(**(values | more))  # type: ignore[arg-type]


def test_traffic_declares_its_people_fields_duration_and_replay(tmp_path: Path) -> None:
    translation = translate(read_export([ACME]), traffic=traffic(), replay_name="acme-activities.csv")
    assert translation.replay is not None and translation.replay_name == "acme-activities.csv"
    (tmp_path / "acme-activities.csv").write_text(translation.replay, encoding="utf-8")
    scenario = parse_scenario(translation.text, source=str(tmp_path / "acme.toml"))
    assert [p.id for p in scenario.people] == ["5001"]
    assert scenario.duration == 4 * 3600.0
    assert len(scenario.replays) == 1 and len(scenario.replays[0]) == 2
    # Time zero is the first activity (08:00Z): the 02:00Z daily batch first runs at 18h.
    assert scenario.campaigns["Nightly Nurture"].schedule == Schedule(at=18 * 3600.0, every=86400.0)
    notes = translation.report.notes
    assert notes[0] == "time zero is 2026-03-02 08:00:00Z (the first external activity)"
    assert notes[1:4] == [
        "activities load: 2 Fill Out Form",
        "activities produced: 3 Change Score",
        "activities skipped: 1 Open Email",
    ]


def test_traffic_requesting_a_campaign_the_api_cannot_request_is_a_problem_at_its_first_row() -> None:
    requests = {
        ("Sync to Sales", "web_service_api"): ("acts.csv", "7"),
        ("Nope", "sales_insight"): ("page.json", "$.result[2]"),
        ("Email Engagement", "web_service_api"): ("acts.csv", "9"),
    }
    with pytest.raises(ExportError) as caught:
        translate(read_export([ACME]), traffic=traffic(requests=requests))
    assert [str(p) for p in caught.value.problems] == [
        'acts.csv:7: the first row requesting campaign "Sync to Sales" from Web Service API (R3): it has no Campaign '
        'is Requested trigger whose source is Web Service API; make campaign "Sync to Sales" requestable from Web '
        "Service API, or leave its rows out of the activity export",
        'page.json: $.result[2]: the first row requesting campaign "Nope" from Sales Insight (R3): the export has no '
        'campaign of that name; make campaign "Nope" requestable from Sales Insight, or leave its rows out of the '
        "activity export",
        'acts.csv:9: the first row requesting campaign "Email Engagement" from Web Service API (R3): it is not '
        'written (none of its triggers is modelled); make campaign "Email Engagement" requestable from Web Service '
        "API, or leave its rows out of the activity export",
    ]


def test_a_sales_insight_request_of_a_campaign_requestable_from_sales_insight_imports() -> None:
    requested = rule("Campaign is Requested", "is", condition("Source", "is", "Sales Insight"))
    export = export_of([campaign(7, "SI")], [smart_list(7, [requested])])
    translation = translate(export, traffic=traffic(requests={("SI", "sales_insight"): ("acts.csv", "2")}))
    assert 'source = "sales_insight"' in translation.text
    with pytest.raises(ExportError) as caught:
        translate(export, traffic=traffic(requests={("SI", "web_service_api"): ("acts.csv", "2")}))
    assert "it has no Campaign is Requested trigger whose source is Web Service API" in str(caught.value)


def test_without_flow_steps_each_campaign_gets_a_todo_and_the_flows_file_fills_them() -> None:
    files = [ACME / "smartCampaigns.json", *sorted(ACME.glob("smartCampaign/*/smartList.json"))]
    bare = translate(read_export(files))
    assert bare.text.count("# TODO: flow: the flow steps were not exported") == 6
    assert bare.report.counts()["todo"] == {"flow": 6}
    assert format_report(bare.report).endswith("to do: 6 flows not in the export (the TODO lines above)\n")
    flows = read_user_flows(DATA / "acme-flows.toml")
    filled = translate(read_export(files), flows=flows)
    scenario = parse_scenario(filled.text)
    assert scenario.campaigns["Score Lead"].kind == "executable"  # its caller is in the flows file
    assert scenario.campaigns["Score Lead"].flow[0].action == ChangeScore(field="Lead Score", op="+", amount=5.0)
    assert [s.kind for s in scenario.campaigns["Route Lead"].flow] == ["change_data_value", "add_to_list"]
    assert filled.user_flow_campaigns == {"Contact Us Form Fill", "Score Lead", "Route Lead"}
    assert filled.text.count("# TODO: flow") == 3


def test_a_field_the_flows_file_scores_is_numeric_in_the_filters_mapped_before_it(tmp_path: Path) -> None:
    form = rule("Fills Out Form", "is", condition("Form", "is", "Contact"))
    score = rule("Lead Score", "is", condition("Lead Score", "is", "5"), rule_type="Attribute")
    export = export_of([campaign(2, "A")], [smart_list(2, [form], [score])])
    path = tmp_path / "flows.toml"
    path.write_text('A = [{ step = "change_score", field = "Lead Score", change = "+5" }]\n', encoding="utf-8")
    translation = translate(export, flows=read_user_flows(path))
    assert '{ field = "Lead Score", op = "is", value = 5 }' in translation.text  # a number, not "5"
    assert parse_scenario(translation.text).fields["Lead Score"].default == 0


def test_a_batch_that_ended_is_inactive_and_does_not_set_time_zero() -> None:
    score = rule("Lead Score", "greater than", condition("Lead Score", "greater than", "10"), rule_type="Attribute")
    old = {"startAt": "2025-01-01T02:00:00Z+0000", "endAt": "2025-02-01T02:00:00Z+0000", "intervalType": "Daily"}
    now = {"startAt": "2026-03-02T10:00:00Z+0000", "intervalType": "Weekly", "interval": 1, "dayOfWeek": "Monday"}
    export = export_of(
        [campaign(8, "Old", "batch", recurrence=old), campaign(9, "Now", "batch", recurrence=now)],
        [smart_list(8, [], [score]), smart_list(9, [], [score])],
    )
    translation = translate(export)
    scenario = parse_scenario(translation.text)
    assert not scenario.campaigns["Old"].active and scenario.campaigns["Now"].active
    assert scenario.duration == 86400.0 and scenario.campaigns["Now"].schedule == Schedule(at=36000.0, every=604800.0)
    assert translation.report.notes[0] == "time zero is 2026-03-02 00:00:00Z (midnight UTC of the first batch start)"
    lines = {(c.name, e.subject): (e.outcome, e.detail) for c in translation.report.campaigns for e in c.lines}
    assert lines["Old", "schedule"] == (
        "skipped",
        "ended (2025-02-01 02:00Z, endAt) before time zero: written inactive",
    )
    assert lines["Now", "schedule"] == (
        "approximated",
        '{ at = "10h", every = "weekly" } (starts 2026-03-02 10:00Z); a fixed UTC period: daylight saving time not '
        "modelled; recurrence dayOfWeek not read",
    )


def test_a_control_character_in_a_commented_value_is_escaped_and_the_file_loads() -> None:
    form = rule("Fills Out Form", "contains", condition("Form", "contains", "Contact\aUs"))
    translation = translate(export_of([campaign(2, "A")], [smart_list(2, [form])]))
    assert 'Form contains "Contact\\x07Us" dropped' in translation.text
    assert list(parse_scenario(translation.text).campaigns) == ["A"]


def test_a_flows_file_naming_an_unknown_campaign_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "flows.toml"
    path.write_text('"Scroe Lead" = [{ step = "change_score", change = "+5" }]\n', encoding="utf-8")
    with pytest.raises(ExportError) as caught:
        translate(read_export([ACME / "smartCampaigns.json"]), flows=read_user_flows(path))
    message = str(caught.value.problems[0])
    assert message.startswith(f'{path}: campaign "Scroe Lead": no such campaign in the export; known: "Contact Us')


def test_campaigns_that_share_a_name_are_made_unique_and_reported() -> None:
    requested = rule("Campaign is Requested", "is", condition("Source", "is", "Web Service API"))
    export = export_of(
        [campaign(1, "Route"), campaign(2, "Route")], [smart_list(1, [requested]), smart_list(2, [requested])]
    )
    translation = translate(export)
    assert list(parse_scenario(translation.text).campaigns) == ["Route", "Route (2)"]
    line = translation.report.campaigns[1].lines[0]
    assert (line.subject, line.outcome, line.detail) == (
        "name",
        "approximated",
        'another campaign is also called "Route": written as "Route (2)"',
    )


def test_a_suffixed_name_already_taken_is_suffixed_again_and_no_campaign_is_lost() -> None:
    form = rule("Fills Out Form", "is", condition("Form", "is", "Contact"))
    export = export_of(
        [campaign(2, "A (5)"), campaign(3, "A"), campaign(5, "A")],
        [smart_list(2, [form]), smart_list(3, [form]), smart_list(5, [form])],
    )
    translation = translate(export)
    assert list(parse_scenario(translation.text).campaigns) == ["A (5)", "A", "A (5, 2)"]
    assert [c.sim_name for c in translation.report.campaigns] == ["A (5)", "A", "A (5, 2)"]
    assert (
        translation.report.campaigns[2].lines[0].detail == 'another campaign is also called "A": written as "A (5, 2)"'
    )


def test_an_inactive_trigger_campaign_is_written_inactive_and_a_flow_may_not_request_it() -> None:
    requested = rule("Campaign is Requested", "is", condition("Source", "is", "Marketo Flow Action"))
    fill = rule("Fills Out Form", "is", condition("Form", "is", "Demo"))
    request = step("Request Campaign", choice({"Campaign": "Sync"}))
    export = export_of(
        [campaign(1, "Sync", isActive=False), campaign(2, "Fill", flow={"steps": [request]})],
        [smart_list(1, [requested]), smart_list(2, [fill])],
    )
    translation = translate(export)
    scenario = parse_scenario(translation.text)
    assert scenario.campaigns["Sync"].active is False
    assert scenario.campaigns["Fill"].flow == ()
    line = translation.report.campaigns[1].lines[-1]
    assert (line.outcome, line.detail) == (
        "skipped",
        '"Sync" cannot be requested by a flow: no active Campaign is Requested trigger (R3)',
    )


def test_an_execute_campaign_cycle_is_skipped_not_written() -> None:
    call = {"Score": "Route", "Route": "Score"}
    campaigns = [
        campaign(i, name, "default", flow={"steps": [step("Execute Campaign", choice({"Campaign": call[name]}))]})
        for i, name in ((1, "Score"), (2, "Route"))
    ]
    translation = translate(export_of(campaigns))
    scenario = parse_scenario(translation.text)  # R8: a cycle would not load
    assert all(c.kind == "executable" and c.flow == () for c in scenario.campaigns.values())
    assert (
        translation.report.campaigns[0].lines[-1].detail == 'executing "Route" calls this campaign back: a cycle (R8)'
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_any_well_formed_export_imports_to_a_scenario_that_loads(generated: tuple[list, list]) -> None:
    records, lists = generated
    translation = translate(export_of(records, lists))
    scenario = parse_scenario(translation.text)
    written = {c.marketo_id for c in scenario.campaigns.values()}
    assert written == {c.marketo_id for c in translation.report.campaigns if c.sim_name is not None}


def test_a_requestable_campaign_without_its_smart_list_keeps_its_api_trigger() -> None:
    """R3: isRequestable means an active Campaign is Requested trigger with source Web Service API."""
    translation = translate(export_of([campaign(1, "Sync", isRequestable=True), campaign(2, "Other")]))
    scenario = parse_scenario(translation.text)
    assert list(scenario.campaigns) == ["Sync"]  # "Other" has no trigger sim knows of: not written
    (trigger,) = scenario.campaigns["Sync"].triggers
    assert (trigger.name, trigger.constraints) == ("campaign_is_requested", (("source", ("web_service_api",)),))
    assert [(line.subject, line.outcome) for line in translation.report.campaigns[0].lines][:2] == [
        ("smart list", "todo"),
        ("trigger", "approximated"),
    ]


def test_a_scheduled_campaign_an_execute_step_runs_becomes_an_executable_and_says_so() -> None:
    """R4: an executable is never scheduled; its recurrence is not silently dropped."""
    monthly = {"startAt": "2026-03-02T10:00:00Z+0000", "intervalType": "Monthly", "interval": 1}
    caller = campaign(
        1, "Caller", "default", flow={"steps": [step("Execute Campaign", choice({"Campaign": "Monthly"}))]}
    )
    export = export_of([caller, campaign(2, "Monthly", "batch", recurrence=monthly)])
    translation = translate(export)
    assert parse_scenario(translation.text).campaigns["Monthly"].kind == "executable"
    lines = {(c.name, e.subject): (e.outcome, e.detail) for c in translation.report.campaigns for e in c.lines}
    assert lines["Monthly", "schedule"] == (
        "skipped",
        "an executable is never scheduled (R4): its recurrence is left out, and it runs only when executed",
    )
