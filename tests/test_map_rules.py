"""sim.marketo.map_rules: each Marketo trigger and filter -> sim's, or approximated, or
skipped, with what the report says (docs/import.md's table)."""

from __future__ import annotations

import pytest

from sim.marketo.asset_records import Condition, Rule
from sim.marketo.declarations import Declarations
from sim.marketo.map_rules import inline, map_filter, map_trigger, rule_numeric_fields


def rule(name: str, operator: str = "is", *conditions: Condition, rule_type: str = "Activity") -> Rule:
    return Rule(number=1, name=name, rule_type=rule_type, operator=operator, conditions=conditions)


def cond(name: str, *values: str, operator: str = "is", primary: bool = False) -> Condition:
    return Condition(name=name, operator=operator, values=values, primary=primary)


@pytest.mark.parametrize(
    ("marketo", "outcome", "detail"),
    [
        (
            rule("Fills Out Form", "is", cond("Form", "Contact Us", "Demo")),
            "mapped",
            '{ trigger = "fills_out_form", form = ["Contact Us", "Demo"] }',
        ),
        (
            rule("Fills Out Form", "is", cond("Form", "Contact", operator="contains")),
            "approximated",
            '{ trigger = "fills_out_form" }; Form contains "Contact" dropped (sim matches "is" '
            "only) (fires more often)",
        ),
        (
            rule("Fills Out Form", "is", cond("Form", "Demo", primary=True), cond("Querystring", "utm")),
            "approximated",
            '{ trigger = "fills_out_form", form = "Demo" }; Querystring ignored (fires more often)',
        ),
        (
            rule("Clicks Link", "is", cond("Link", "https://acme.example/pricing")),
            "mapped",
            '{ trigger = "clicks_link", link = "https://acme.example/pricing" }',
        ),
        (
            rule("Visits Web Page", "is", cond("Web Page", "/pricing")),
            "mapped",
            '{ trigger = "visits_page", page = "/pricing" }',
        ),
        (rule("Added to List", "is", cond("List", "MQL")), "mapped", '{ trigger = "added_to_list", list = "MQL" }'),
        (
            rule(
                "Data Value Changes",
                "is",
                cond("Attribute", "Lead Status", primary=True),
                cond("New Value", "MQL"),
                cond("Previous Value", "Known", "NULL"),
            ),
            "mapped",
            '{ trigger = "data_value_changes", field = "Lead Status", new_value = "MQL", old_value '
            '= ["Known", "NULL"] }',
        ),
        (
            rule("Score is Changed", "is", cond("Score Name", "Lead Score"), cond("Change", "10", operator="at least")),
            "approximated",
            '{ trigger = "score_is_changed", field = "Lead Score" }; Change ignored (fires more often)',
        ),
        (
            rule("Campaign is Requested", "is", cond("Source", "Web Service API", "Marketo Flow Action")),
            "mapped",
            '{ trigger = "campaign_is_requested", source = ["web_service_api", "marketo_flow_action"] }',
        ),
        (
            rule("Campaign is Requested", "is", cond("Source", "Salesforce")),
            "approximated",
            '{ trigger = "campaign_is_requested" }; source "Salesforce" not modelled, so any source '
            "is accepted (fires more often)",
        ),
        (
            rule(
                "Program Status is Changed",
                "is",
                cond("Program", "Webinar", primary=True),
                cond("New Status", "Attended"),
            ),
            "mapped",
            '{ trigger = "program_status_is_changed", program = "Webinar", new_status = "Attended" }',
        ),
        (
            rule("Opens Email", "is", cond("Email", "March")),
            "skipped",
            "not modelled: sim has no such trigger, so this campaign never fires on it",
        ),
    ],
)
def test_triggers(marketo: Rule, outcome: str, detail: str) -> None:
    tables, got, said = map_trigger(marketo, Declarations())
    assert (got, said) == (outcome, detail)
    assert (tables == []) is (outcome == "skipped")


def field(name: str, operator: str, *values: str) -> Rule:
    return rule(name, operator, cond(name, *values, operator=operator, primary=True), rule_type="Attribute")


@pytest.mark.parametrize(
    ("marketo", "outcome", "detail"),
    [
        (field("Country", "is", "US", "USA"), "mapped", '{ field = "Country", op = "is", value = ["US", "USA"] }'),
        (field("Country", "is not empty"), "mapped", '{ field = "Country", op = "is not empty" }'),
        (
            field("Title", "does not contain", "Intern"),
            "mapped",
            '{ field = "Title", op = "not contains", value = "Intern" }',
        ),
        (field("Title", "starts with", "VP"), "mapped", '{ field = "Title", op = "starts with", value = "VP" }'),
        (field("Lead Score", "less than", "50"), "mapped", '{ field = "Lead Score", op = "less than", value = 50 }'),
        (field("Lead Score", "at least", "7.5"), "mapped", '{ field = "Lead Score", op = "at least", value = 7.5 }'),
        (
            field("Lead Score", "between", "10", "20"),
            "approximated",
            '{ field = "Lead Score", op = "at least", value = 10 } and { field = "Lead Score", op = '
            '"at most", value = 20 } '
            "(between, bounds included)",
        ),
        (
            field("Created At", "in past", "7 days"),
            "skipped",
            'operator "in past" has no sim equivalent (dates are not modelled)',
        ),
        (field("Lead Score", "greater than", "lots"), "skipped", 'greater than "lots": not a number'),
        (rule("Member of List", "in", cond("List", "Newsletter", primary=True)), "mapped", '{ list = "Newsletter" }'),
        (
            rule("Member of List", "not in", cond("List", "A", "B", primary=True)),
            "mapped",
            '{ list = "A", member = false } and { list = "B", member = false }',
        ),
        (
            rule("Member of List", "in", cond("List", "A", "B", primary=True)),
            "approximated",
            '{ list = "A" }; member of any of "A", "B": kept the first list only',
        ),
        (
            rule("Member of Program", "in", cond("Program", "Webinar", primary=True)),
            "mapped",
            '{ program = "Webinar", status = "Not in Program", op = "is not" }',
        ),
        (
            rule("Member of Program", "not in", cond("Program", "Webinar", primary=True)),
            "mapped",
            '{ program = "Webinar", status = "Not in Program" }',
        ),
        (
            rule(
                "Member of Program", "in", cond("Program", "Webinar", primary=True), cond("Program Status", "Attended")
            ),
            "mapped",
            '{ program = "Webinar", status = "Attended" }',
        ),
        (
            rule("Visited Web Page", "occurs", cond("Web Page", "/pricing")),
            "skipped",
            "activity-history filters are not modelled (sim filters see a person's state only)",
        ),
    ],
)
def test_filters(marketo: Rule, outcome: str, detail: str) -> None:
    d = Declarations(numeric={"Lead Score"})
    _, got, said = map_filter(marketo, d)
    assert (got, said) == (outcome, detail)


def test_names_are_declared_as_they_are_met() -> None:
    d = Declarations()
    map_filter(rule("Member of Program", "in", cond("Program", "Webinar", primary=True), cond("Status", "Attended")), d)
    map_trigger(rule("Added to List", "is", cond("List", "MQL")), d)
    map_filter(field("Country", "is", "US"), d)
    assert (d.programs, d.lists, d.fields) == (
        {"Webinar": {"Not in Program": None, "Attended": None}},
        {"MQL": None},
        {"Country": None},
    )


def test_numeric_fields_are_scores_and_number_comparisons() -> None:
    assert rule_numeric_fields(rule("Score is Changed", "is", cond("Score Name", "Behavior Score"))) == {
        "Behavior Score"
    }
    assert rule_numeric_fields(field("Employees", "between", "1", "9")) == {"Employees"}
    assert rule_numeric_fields(field("Country", "is", "US")) == set()


def test_inline_writes_toml() -> None:
    assert inline({"a": [1, "x"], "b": True, "c": {"d": 2.5}}) == '{ a = [1, "x"], b = true, c = { d = 2.5 } }'
