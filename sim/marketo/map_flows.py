"""Flow steps -> sim steps (docs/scenarios.md, "Flow steps"), choices included (R13).

Each Marketo step is ``{activityTypeName, stepChoice[]}``; each choice carries the step's
parameters as ``attributes`` (by name: "Attribute", "New Value", "Score Name", "Change",
"List", "Campaign", ...) and, unless it is the default, a ``rule``. A choice whose rule or
parameters sim cannot express is dropped (a person it would have caught falls through to
the next choice or the default: approximated); a step with nothing left is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from sim.marketo.activity_types import DEFAULT_ACTIVITY_TYPES
from sim.marketo.asset_records import ChoiceRule, FlowStep, StepChoice
from sim.marketo.declarations import Declarations
from sim.marketo.import_report import Outcome
from sim.marketo.map_rules import (
    LIST_FILTERS,
    NUMBER_OPERATORS,
    PROGRAM_FILTERS,
    Mapped,
    Table,
    field_filter,
    inline,
    list_filter,
    quoted,
)
from sim.scenario.model import TOKEN
from sim.scenario.units import parse_duration

#: Marketo flow action (or its activity type's name) -> sim step kind.
STEP_KINDS = {
    "change data value": "change_data_value",
    "change score": "change_score",
    "change program status": "change_program_status",
    "change status in progression": "change_program_status",
    "add to list": "add_to_list",
    "remove from list": "remove_from_list",
    "interesting moment": "interesting_moment",
    "send email": "send_email",
    "send alert": "send_alert",
    "wait": "wait",
    "request campaign": "request_campaign",
    "execute campaign": "execute_campaign",
    "remove from flow": "remove_from_flow",
    "call webhook": "call_webhook",
}

_SCORE_CHANGE = re.compile(r"^\s*([+\-=]?)\s*(\d+(?:\.\d+)?)\s*$")
_TRUE = ("true", "yes", "1", "on")

#: What a step's parameters came to: the parameters (None: not buildable) and a note
#: (why not, or what was approximated; "" when exact).
Built = tuple[Table | None, str]


@attrs.frozen(kw_only=True)
class Target:
    """A campaign a flow step names, as imported."""

    name: str  # its sim name
    kind: str
    #: An active trigger campaign whose Campaign is Requested accepts a flow's request (R3).
    requestable: bool


@attrs.frozen(kw_only=True)
class FlowContext:
    """What mapping one campaign's flow needs to know."""

    d: Declarations
    kind: str  # the campaign's sim kind
    program: str | None
    resolve: Callable[[str], Target | None]  # a campaign named by name or id
    #: Executables this campaign may not execute: they would call it back (R8).
    cycles: frozenset[str] = frozenset()


def step_kind(step: FlowStep) -> str | None:
    name = step.type_name or DEFAULT_ACTIVITY_TYPES.get(step.type_id or 0, "")
    return STEP_KINDS.get(name.strip().casefold())


def map_step(step: FlowStep, ctx: FlowContext) -> tuple[Table | None, Outcome, str]:
    """One flow step with its choices; None when nothing of it can be written."""
    kind = step_kind(step)
    if kind is None:
        return None, "skipped", "not modelled: sim has no such flow action"
    default = next((c for c in step.choices if c.default), None)
    rules = [c for c in step.choices if not c.default]
    if not rules:
        params, note = _build(kind, default or StepChoice(default=True, attributes={}, rule=None), ctx)
        if params is None:
            return None, "skipped", note
        table = {"step": kind} | params
        return table, "approximated" if note else "mapped", inline(table) + (f"; {note}" if note else "")
    choices, notes = _choices(kind, rules, ctx)
    fallback: Table | str = "do nothing"
    if default is not None and not _does_nothing(default):
        params, note = _build(kind, default, ctx)
        if params is None:
            notes.append(f"default choice dropped ({note}): does nothing")
        else:
            fallback = params
            notes += [f"default choice: {note}"] if note else []
    if not choices:
        if isinstance(fallback, str):
            return None, "skipped", "; ".join(notes)
        result: Table = {"step": kind} | fallback
    else:
        result = {"step": kind, "choices": choices, "default": fallback}
    return result, "approximated" if notes else "mapped", inline(result) + "".join(f"; {n}" for n in notes)


def _choices(kind: str, rules: list[StepChoice], ctx: FlowContext) -> tuple[list[Table], list[str]]:
    choices, notes = [], []
    for number, choice in enumerate(rules, 1):
        assert choice.rule is not None
        filters, outcome, detail = choice_filter(choice.rule, ctx.d)
        if not filters:
            notes.append(f"choice {number} dropped: {detail}")
            continue
        if outcome != "mapped":
            notes.append(f"choice {number}: {detail}")
        params, note = _build(kind, choice, ctx)
        if params is None:
            notes.append(f"choice {number} dropped: {note}")
            continue
        notes += [f"choice {number}: {note}"] if note else []
        choices.append({"if": filters[0] if len(filters) == 1 else filters} | params)
    return choices, notes


def choice_filter(rule: ChoiceRule, d: Declarations) -> Mapped:
    """A choice's ``if``: a field comparison, list membership or program membership."""
    name = rule.name.casefold()
    if name in LIST_FILTERS:
        return list_filter(rule.operator, rule.values, d)
    if name in PROGRAM_FILTERS and len(rule.values) == 1:
        negate = rule.operator.casefold() in ("not in", "is not")
        table = {"program": d.program(rule.values[0]), "status": "Not in Program"}
        table |= {} if negate else {"op": "is not"}
        return [table], "mapped", inline(table)
    if rule.rule_type.casefold() == "activity":
        return [], "skipped", f'the activity condition "{rule.name}" is not modelled'
    return field_filter(rule.name, rule.operator, rule.values, d)


def _does_nothing(choice: StepChoice) -> bool:
    return not choice.attributes or any(v.strip().casefold() == "do nothing" for v in choice.attributes.values())


def _build(kind: str, choice: StepChoice, ctx: FlowContext) -> Built:
    return _BUILDERS[kind](choice, ctx)


def _missing(*names: str) -> Built:
    return None, f'no "{names[0]}" attribute'


def _change_data_value(c: StepChoice, ctx: FlowContext) -> Built:
    field, text = c.attribute("Attribute", "Field"), c.attribute("New Value", "Value")
    if field is None or text is None:
        return _missing("Attribute" if field is None else "New Value")
    value = ctx.d.value(ctx.d.field(field), text)
    if value is None:
        return None, f'"{text}" is not a number, and {field} holds numbers'
    note = ""
    if isinstance(value, str):
        value, note = tokens(value, ctx)
    return {"field": field, "value": value}, note


def _change_score(c: StepChoice, ctx: FlowContext) -> Built:
    field, change = c.attribute("Score Name", "Score"), c.attribute("Change", "Score Change")
    if field is None or change is None:
        return _missing("Score Name" if field is None else "Change")
    match = _SCORE_CHANGE.match(change)
    if match is None:
        token = " (a token is not modelled)" if "{{" in change else ""
        return None, f'change "{change}" is not "+N", "-N" or "=N"{token}'
    ctx.d.field(field)
    return {"field": field, "change": f"{match.group(1) or '+'}{match.group(2)}"}, ""


def _change_program_status(c: StepChoice, ctx: FlowContext) -> Built:
    program = c.attribute("Program", "Program Name") or ctx.program
    status = c.attribute("New Status", "Program Status", "Status")
    if status is None:
        return _missing("New Status")
    if program is None:
        return None, "no program: the campaign is in none and the step names none"
    ctx.d.program(program, [status])
    return ({} if program == ctx.program else {"program": program}) | {"status": status}, ""


def _list_step(c: StepChoice, ctx: FlowContext) -> Built:
    name = c.attribute("List", "List Name", "Static List")
    return _missing("List") if name is None else ({"list": ctx.d.list(name)}, "")


def _interesting_moment(c: StepChoice, ctx: FlowContext) -> Built:
    description = c.attribute("Description")
    if description is None:
        return _missing("Description")
    text, note = tokens(description, ctx)
    return {"description": text}, note


def _send_email(c: StepChoice, ctx: FlowContext) -> Built:
    email = c.attribute("Email", "Email Name")
    return _missing("Email") if email is None else ({"email": email}, "")


def _send_alert(c: StepChoice, ctx: FlowContext) -> Built:
    alert = c.attribute("Alert", "Email", "Alert Email")
    if alert is None:
        return _missing("Alert")
    to = c.attribute("Send To", "To Other Emails", "To")
    return {"alert": alert} | ({"to": to} if to else {}), ""


def _wait(c: StepChoice, ctx: FlowContext) -> Built:
    if ctx.kind == "executable":
        return None, "a Wait is not allowed in an executable's flow (R9)"
    text = c.attribute("Wait Duration", "Duration", "Wait")
    if text is None:
        if c.attribute("Wait Until", "Until", "Day of Week", "Date") is not None:
            return None, "waits until a date or a weekday: not modelled (sim's Wait is a duration)"
        return _missing("Wait Duration")
    try:
        parse_duration(text)
    except ValueError:
        return None, f'"{text}" is not a duration (waiting until a date or a weekday is not modelled)'
    return {"duration": text}, ""


def _target(c: StepChoice, ctx: FlowContext) -> tuple[Target | None, str]:
    """The campaign a Request or Execute Campaign choice names, or why there is none."""
    ref = c.attribute("Campaign", "Campaign Name")
    if ref is None:
        return None, 'no "Campaign" attribute'
    target = ctx.resolve(ref)
    return target, "" if target is not None else f'campaign "{ref}" is not in the export'


def _request_campaign(c: StepChoice, ctx: FlowContext) -> Built:
    target, why = _target(c, ctx)
    if target is None:
        return None, why
    if not target.requestable:
        return None, f'"{target.name}" cannot be requested by a flow: no active Campaign is Requested trigger (R3)'
    return {"campaign": target.name}, ""


def _execute_campaign(c: StepChoice, ctx: FlowContext) -> Built:
    target, why = _target(c, ctx)
    if target is None:
        return None, why
    if target.kind != "executable":
        return None, f'"{target.name}" is not an executable campaign (R4)'
    if target.name in ctx.cycles:
        return None, f'executing "{target.name}" calls this campaign back: a cycle (R8)'
    parent = (c.attribute("Use Parent Campaign Token Context", "Use Parent Token Context") or "").casefold()
    return {"campaign": target.name} | ({"use_parent_tokens": True} if parent in _TRUE else {}), ""


def _remove_from_flow(c: StepChoice, ctx: FlowContext) -> Built:
    refs = c.attribute("Campaigns", "Campaign", "Remove from Flow")
    if refs is None:
        return _missing("Campaigns")
    names, unknown = [], []
    for ref in (part.strip() for part in refs.split(",") if part.strip()):
        target = ctx.resolve(ref)
        names.append(target.name) if target is not None else unknown.append(ref)
    if not names:
        return None, f"none of the campaigns {quoted(unknown)} is in the export"
    note = f"{quoted(unknown)} not in the export, left out" if unknown else ""
    return {"campaigns": names[0] if len(names) == 1 else names}, note


def _call_webhook(c: StepChoice, ctx: FlowContext) -> Built:
    if ctx.kind != "trigger":
        return None, f"Call Webhook is only valid in trigger campaigns, not in a {ctx.kind} campaign (R16)"
    webhook = c.attribute("Webhook", "Webhook Name")
    if webhook is None:
        return _missing("Webhook")
    return {"webhook": webhook}, "its response (latency, status, mappings) is not exported: sim's defaults"


_BUILDERS: dict[str, Callable[[StepChoice, FlowContext], Built]] = {
    "change_data_value": _change_data_value,
    "change_score": _change_score,
    "change_program_status": _change_program_status,
    "add_to_list": _list_step,
    "remove_from_list": _list_step,
    "interesting_moment": _interesting_moment,
    "send_email": _send_email,
    "send_alert": _send_alert,
    "wait": _wait,
    "request_campaign": _request_campaign,
    "execute_campaign": _execute_campaign,
    "remove_from_flow": _remove_from_flow,
    "call_webhook": _call_webhook,
}


def tokens(text: str, ctx: FlowContext) -> tuple[str, str]:
    """``text`` with its tokens as sim reads them (R10): ``{{lead.F}}`` declares field F
    (a ``:default=`` is left out), ``{{my.T}}`` declares my-token T (empty) on the
    campaign's program, ``{{trigger.X}}`` stays; any other (``{{company.X}}``,
    ``{{system.X}}``, a my-token outside a program) becomes empty text, noted."""
    dropped = []

    def replace(match: re.Match[str]) -> str:
        scope, name = match.group(1).lower(), match.group(2).split(":default=")[0].strip()
        if scope == "lead":
            return "{{lead." + ctx.d.field(name) + "}}"
        if scope == "trigger":
            return "{{trigger." + name + "}}"
        if scope == "my" and ctx.program is not None:
            ctx.d.token(ctx.program, name)
            return "{{my." + name + "}}"
        dropped.append(match.group(0))
        return ""

    result = TOKEN.sub(replace, text)
    return result, f"{', '.join(dropped)} not modelled: left out" if dropped else ""


def flow_numeric_fields(steps: tuple[FlowStep, ...]) -> set[str]:
    """The fields a flow uses as numbers: scores it changes, number comparisons in choices."""
    found: set[str] = set()
    for step in steps:
        for choice in step.choices:
            if step_kind(step) == "change_score":
                found.update(v for v in [choice.attribute("Score Name", "Score")] if v)
            if choice.rule is not None and choice.rule.operator.strip().casefold() in NUMBER_OPERATORS:
                found.add(choice.rule.name)
    return found


def executed(steps: tuple[FlowStep, ...]) -> list[str]:
    """The campaigns a flow's Execute Campaign steps name (as written)."""
    return [
        ref
        for step in steps
        if step_kind(step) == "execute_campaign"
        for choice in step.choices
        if (ref := choice.attribute("Campaign", "Campaign Name")) is not None
    ]
