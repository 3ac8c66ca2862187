"""Builders of Asset API payloads (campaign records, smart lists, flow steps) for the
importer's tests, an `Export` made from them without files, and Hypothesis strategies of
well-formed payloads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from sim.marketo.asset_records import read_campaign, read_program, read_smart_list
from sim.marketo.assets import Export
from sim.marketo.json_payload import Payload

Json = dict[str, Any]


def campaign(id_: int, name: str, type_: str = "trigger", **more: Any) -> Json:
    record: Json = {
        "id": id_,
        "name": name,
        "type": type_,
        "isActive": True,
        "isRequestable": False,
        "qualificationRuleType": "once",
        "recurrence": {"weekdayOnly": False},
        "smartListId": id_ + 3000,
        "flowId": id_ + 4000,
        "status": "Active",
    }
    return record | more


def condition(name: str, operator: str, *values: str, primary: bool = True) -> Json:
    return {"activityAttributeName": name, "operator": operator, "values": list(values), "isPrimary": primary}


def rule(name: str, operator: str = "is", *conditions: Json, rule_type: str = "Activity") -> Json:
    return {
        "id": 1,
        "name": name,
        "ruleTypeId": 1,
        "ruleType": rule_type,
        "operator": operator,
        "conditions": list(conditions),
    }


def field_rule(name: str, operator: str, *values: str) -> Json:
    return rule(name, operator, condition(name, operator, *values), rule_type="Attribute")


def smart_list(campaign_id: int, triggers: Sequence[Json] = (), filters: Sequence[Json] = (), **rules: Any) -> Json:
    return {
        "id": campaign_id + 3000,
        "name": "sl",
        "rules": {"filterMatchType": "all", "triggers": list(triggers), "filters": list(filters)} | rules,
    }


def step(name: str, *choices: Json) -> Json:
    return {"id": 1, "activityTypeName": name, "stepChoice": list(choices)}


def choice(attributes: dict[str, str], rule: Json | None = None) -> Json:
    found: Json = {
        "id": 1,
        "default": rule is None,
        "attributes": [{"id": 1, "name": k, "value": v} for k, v in attributes.items()],
    }
    if rule is not None:
        found["rule"] = rule
    return found


def export_of(campaigns: Sequence[Json], smart_lists: Sequence[Json] = (), programs: Sequence[Json] = ()) -> Export:
    """The Export of these payload records, read as `read_export` reads them; the records
    must be well-formed."""
    p = Payload(file="test.json")
    records = [read_campaign(p, f"$.result[{i}]", raw) for i, raw in enumerate(campaigns)]
    lists = [read_smart_list(p, f"$.result[{i}]", raw) for i, raw in enumerate(smart_lists)]
    found = [read_program(p, f"$.result[{i}]", raw) for i, raw in enumerate(programs)]
    assert p.problems == [], p.problems
    return Export(
        campaigns={r.id: r for r in records if r is not None},
        smart_lists={s.id: s for s in lists if s is not None},
        programs={p.id: p for p in found if p is not None},
    )


# --- strategies of well-formed payloads ------------------------------------------------------

NAMES = ("Form Fill", "Score", "Route", "Nurture", "Sync", "form fill")
FIELDS = ("Lead Status", "Country", "Lead Score", "Job Title")
VALUES = ("US", "Engaged", "50", "7.5", "NULL", "", "{{lead.Country}}", "{{my.Owner}}", "{{company.Name}}", "any")
OPERATORS = (
    "is",
    "is not",
    "contains",
    "starts with",
    "greater than",
    "at least",
    "between",
    "is empty",
    "in past",
    "ends with",
)
TRIGGERS = (
    "Fills Out Form",
    "Data Value Changes",
    "Score is Changed",
    "Added to List",
    "Campaign is Requested",
    "Clicks Link",
    "Visits Web Page",
    "Program Status is Changed",
    "Opens Email",
)
ATTRIBUTES = (
    "Form",
    "Attribute",
    "New Value",
    "Previous Value",
    "Score Name",
    "List",
    "Source",
    "Program",
    "New Status",
    "Link",
    "Web Page",
)
STEPS = (
    "Change Data Value",
    "Change Score",
    "Change Program Status",
    "Add to List",
    "Remove from List",
    "Interesting Moment",
    "Send Email",
    "Send Alert",
    "Wait",
    "Request Campaign",
    "Execute Campaign",
    "Remove from Flow",
    "Call Webhook",
    "Sync Lead to SFDC",
)
STEP_ATTRIBUTES = (
    "Attribute",
    "New Value",
    "Score Name",
    "Change",
    "Program",
    "New Status",
    "List",
    "Description",
    "Email",
    "Alert",
    "Wait Duration",
    "Campaign",
    "Campaigns",
    "Webhook",
    "Use Parent Campaign Token Context",
)
STEP_VALUES = (
    *VALUES,
    *("+10", "-5", "=0", "1 day", "Form Fill", "Score", "Route", "1", "2", "true", "Lead Lifecycle", "MQL"),
    "Do Nothing",
)

texts = st.sampled_from
conditions = st.builds(
    condition, texts(ATTRIBUTES), texts(OPERATORS), texts(VALUES), primary=st.booleans()
) | st.builds(
    lambda n, o, a, b: condition(n, o, a, b), texts(ATTRIBUTES), texts(OPERATORS), texts(VALUES), texts(VALUES)
)
triggers = st.builds(lambda n, cs: rule(n, "is", *cs), texts(TRIGGERS), st.lists(conditions, max_size=3))
filters = st.builds(
    lambda n, o, vs: field_rule(n, o, *vs), texts(FIELDS), texts(OPERATORS), st.lists(texts(VALUES), max_size=2)
) | st.builds(
    lambda n, o, cs, t: rule(n, o, *cs, rule_type=t),
    texts(("Member of List", "Member of Program", "Visited Web Page")),
    texts(("in", "not in", "is")),
    st.lists(conditions, max_size=2),
    texts(("Activity", "Attribute")),
)
#: The attributes each flow action's choices carry, as the API names them.
STEP_PARAMETERS = {
    "Change Data Value": ("Attribute", "New Value"),
    "Change Score": ("Score Name", "Change"),
    "Change Program Status": ("Program", "New Status"),
    "Add to List": ("List",),
    "Remove from List": ("List",),
    "Interesting Moment": ("Type", "Description"),
    "Send Email": ("Email",),
    "Send Alert": ("Alert", "Send To"),
    "Wait": ("Wait Duration",),
    "Request Campaign": ("Campaign",),
    "Execute Campaign": ("Campaign", "Use Parent Campaign Token Context"),
    "Remove from Flow": ("Campaigns",),
    "Call Webhook": ("Webhook",),
    "Sync Lead to SFDC": ("Assign to",),
}
PARAMETER_VALUES = {
    "Attribute": FIELDS,
    "Score Name": ("Lead Score", "Lead Status"),
    "Change": ("+10", "-5", "=0", "7", "{{my.Points}}"),
    "Program": ("Lead Lifecycle", "Webinar"),
    "New Status": ("Member", "MQL", "Not in Program"),
    "List": ("Newsletter", "MQL"),
    "Wait Duration": ("1 day", "2 hours", "until Monday"),
    "Campaign": (*NAMES, "1001", "1003", "9999"),
    "Campaigns": ("Form Fill", "Score, Route", "9999"),
    "Use Parent Campaign Token Context": ("true", "false"),
}


@st.composite
def step_choice(draw: st.DrawFn, name: str, ruled: bool) -> Json:
    """A choice of a ``name`` step: its attributes (now and then one left out)."""
    attributes = {}
    for parameter in STEP_PARAMETERS[name]:
        if draw(st.integers(0, 9)) > 0:
            attributes[parameter] = draw(texts(PARAMETER_VALUES.get(parameter, STEP_VALUES)))
    if not ruled:
        return choice(attributes)
    rule_ = {
        "name": draw(texts((*FIELDS, "Member of List", "Member of Program", "Visited Web Page"))),
        "operator": draw(texts(OPERATORS)),
        "ruleType": draw(texts(("Attribute", "Attribute", "Activity"))),
        "values": draw(st.lists(texts(VALUES), max_size=2)),
    }
    return choice(attributes, rule_)


@st.composite
def steps(draw: st.DrawFn) -> Json:
    name = draw(texts(STEPS))
    ruled = draw(st.lists(step_choice(name, True), max_size=2))
    return step(name, *ruled, *draw(st.lists(step_choice(name, False), max_size=1)))


@st.composite
def payloads(draw: st.DrawFn) -> tuple[list[Json], list[Json]]:
    """Campaign records (with flows, or not) and their smart lists: well-formed, as the
    API could send them, and in every combination the importer must cope with."""
    count = draw(st.integers(1, 5))
    records, lists = [], []
    for index in range(count):
        id_ = 1001 + index
        more: Json = {
            "isActive": draw(st.booleans()),
            "qualificationRuleType": draw(texts(("once", "any", "interval"))),
            "qualificationRuleInterval": draw(st.integers(1, 5)),
            "qualificationRuleUnit": draw(texts(("hour", "day", "week", "month"))),
            "isExecutable": draw(st.sampled_from([False, False, True])),
            "parentProgramId": draw(st.sampled_from([None, 2001])),
        }
        if draw(st.booleans()):
            more["recurrence"] = {
                "startAt": draw(
                    texts(("2026-03-02T02:00:00Z+0000", "2026-03-01T23:30:00Z", "2026-03-05T10:00:00+0100"))
                ),
                "intervalType": draw(texts(("Daily", "Weekly", "Hourly", "Monthly", "Yearly"))),
                "interval": draw(st.integers(1, 3)),
                "weekdayOnly": draw(st.booleans()),
            }
        if draw(st.booleans()):
            more["flow"] = {"steps": draw(st.lists(steps(), max_size=4))}
        records.append(campaign(id_, draw(texts(NAMES)), draw(texts(("trigger", "batch", "default"))), **more))
        if draw(st.booleans()):
            filter_rules = draw(st.lists(filters, max_size=3))
            match = draw(texts(("all", "any", "All", "Any", "custom", "Advanced")))
            logic = " and ".join(str(n) for n in range(1, len(filter_rules) + 1)) or "1"
            if len(filter_rules) >= 3:
                logic = "1 and (2 or 3)"
            lists.append(
                smart_list(
                    id_,
                    draw(st.lists(triggers, max_size=3)),
                    filter_rules,
                    filterMatchType=match,
                    filterCustomRuleLogic=logic,
                )
            )
    return records, lists
