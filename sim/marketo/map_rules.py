"""Smart-list rules -> sim triggers and filters (docs/scenarios.md, "Triggers", "Filters"),
each with what became of it for the report (docs/import.md has the table).

A trigger's constraints are "any of" values (R1): a Marketo condition with operator "is"
(or "in") maps exactly; any other operator ("contains", "is not", ...) cannot be written,
so the constraint is dropped and the trigger fires on more activities than Marketo's would
(approximated). A filter maps exactly when sim has its operator; "between" becomes two
filters; date and activity-history filters are skipped (sim's filters see a person's
state, not their history).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sim.marketo.asset_records import Condition, Rule
from sim.marketo.declarations import Declarations, as_number
from sim.marketo.import_report import Outcome

Table = dict[str, Any]

#: sim's request sources (R3) -> Marketo's names for them (Campaign is Requested, "Source").
SOURCE_NAMES = {
    "marketo_flow_action": "Marketo Flow Action",
    "web_service_api": "Web Service API",
    "sales_insight": "Sales Insight",
}
#: Marketo's request sources, case-folded -> sim's (R3).
REQUEST_SOURCES = {name.casefold(): source for source, name in SOURCE_NAMES.items()}
#: The sources an activity export's Request Campaign row comes from outside with (the load's).
OUTSIDE_REQUEST_SOURCES = {name: source for name, source in REQUEST_SOURCES.items() if source != "marketo_flow_action"}

#: Marketo field-filter operators -> sim's (docs/scenarios.md, "Filters").
FIELD_OPERATORS = {
    "is": "is",
    "is not": "is not",
    "contains": "contains",
    "not contains": "not contains",
    "does not contain": "not contains",
    "starts with": "starts with",
    "begins with": "starts with",
    "greater than": "greater than",
    "less than": "less than",
    "at least": "at least",
    "at most": "at most",
    "is empty": "is empty",
    "is not empty": "is not empty",
}
NUMBER_OPERATORS = ("greater than", "less than", "at least", "at most", "between")

#: Simple triggers: Marketo name -> (sim trigger, the primary attribute's names, constraint).
SIMPLE_TRIGGERS = {
    "fills out form": ("fills_out_form", ("Form", "Web Form", "Form Name"), "form"),
    "clicks link": ("clicks_link", ("Link", "Link Name", "Web Page Link"), "link"),
    "clicks link on web page": ("clicks_link", ("Link", "Link Name", "Web Page Link"), "link"),
    "visits web page": ("visits_page", ("Web Page", "Page", "Webpage"), "page"),
    "added to list": ("added_to_list", ("List", "List Name"), "list"),
}
OTHER_TRIGGERS = ("Data Value Changes", "Score is Changed", "Campaign is Requested", "Program Status is Changed")
#: Triggers and filters sim knows by name but models by name only (for the messages).
LIST_FILTERS = ("member of list",)
PROGRAM_FILTERS = ("member of program", "program status")

#: A mapping's result: the sim tables (none: skipped), the outcome and what to say.
Mapped = tuple[list[Table], Outcome, str]


def inline(table: Table) -> str:
    """A table as a TOML inline table, for the report: ``{ trigger = "fills_out_form" }``."""
    return "{ " + ", ".join(f"{key} = {_toml(value)}" for key, value in table.items()) + " }"


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return inline(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def quoted(values: Sequence[str]) -> str:
    """``"A", "B"``: values as a message shows them."""
    return ", ".join(f'"{v}"' for v in values)


def one_or_many(values: Sequence[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def constraint(condition: Condition | None) -> tuple[tuple[str, ...] | None, str]:
    """The values a trigger constraint takes from ``condition`` (None: any), and what was
    dropped ("" when nothing was)."""
    if condition is None or not condition.values:
        return None, ""
    values = tuple(v for v in condition.values if v.casefold() != "any")
    if not values:
        return None, ""
    operator = condition.operator.casefold()
    if operator in ("is", "in", "is any", "is any of", "equals"):
        return values, ""
    shown = ", ".join(f'"{v}"' for v in values)
    return None, f'{condition.name} {condition.operator} {shown} dropped (sim matches "is" only)'


def map_trigger(rule: Rule, d: Declarations) -> Mapped:
    """One smart-list trigger (R1)."""
    name = rule.name.casefold()
    if name in SIMPLE_TRIGGERS:
        trigger, attributes, key = SIMPLE_TRIGGERS[name]
        condition = rule.condition(*attributes) or rule.primary()
        values, dropped = constraint(condition)
        table: Table = {"trigger": trigger}
        if values is not None:
            table[key] = one_or_many([d.list(v) for v in values] if key == "list" else list(values))
        return _result(table, dropped, rule, condition)
    special = _SPECIAL_TRIGGERS.get(name)
    if special is None:
        return [], "skipped", "not modelled: sim has no such trigger, so this campaign never fires on it"
    return special(rule, d)


def _result(table: Table, dropped: str, rule: Rule, *used: Condition | None) -> Mapped:
    ignored = [c.name for c in rule.conditions if c not in used]
    notes = [note for note in (dropped, ", ".join(ignored) + " ignored" if ignored else "") if note]
    if notes:
        return [table], "approximated", f"{inline(table)}; " + "; ".join(notes) + " (fires more often)"
    return [table], "mapped", inline(table)


def _data_value_changes(rule: Rule, d: Declarations) -> Mapped:
    attribute = rule.condition("Attribute", "Field") or rule.primary()
    if attribute is None or len(attribute.values) != 1:
        return [], "skipped", 'no single "Attribute" condition naming the field'
    field = d.field(attribute.values[0])
    table: Table = {"trigger": "data_value_changes", "field": field}
    pairs = (("new_value", ("New Value",)), ("old_value", ("Previous Value", "Old Value")))
    return _changes(rule, table, attribute, pairs, lambda values: [d.value(field, v) for v in values])


def _changes(
    rule: Rule,
    table: Table,
    primary: Condition,
    pairs: tuple[tuple[str, tuple[str, ...]], ...],
    convert: Callable[[tuple[str, ...]], list[Any]],
) -> Mapped:
    """A trigger on a change: each (key, condition names) pair is a constraint on the
    new or old value, its values as ``convert`` makes them (None: not one it can hold)."""
    notes = []
    used: list[Condition | None] = [primary]
    for key, names in pairs:
        condition = rule.condition(*names)
        used.append(condition)
        values, dropped = constraint(condition)
        notes += [dropped] if dropped else []
        if values is not None:
            converted = convert(values)
            if any(v is None for v in converted):
                notes.append(f"{key} {quoted(values)} dropped: {table.get('field')} holds numbers")
            else:
                table[key] = one_or_many(converted)
    return _result(table, "; ".join(notes), rule, *used)


def _score_is_changed(rule: Rule, d: Declarations) -> Mapped:
    score = rule.condition("Score Name", "Score") or rule.primary()
    if score is None or len(score.values) != 1:
        return [{"trigger": "score_is_changed"}], "approximated", 'no "Score Name": fires on any score change'
    table = {"trigger": "score_is_changed", "field": d.field(score.values[0])}
    return _result(table, "", rule, score)


def _campaign_is_requested(rule: Rule, d: Declarations) -> Mapped:
    source = rule.condition("Source")
    values, dropped = constraint(source)
    table: Table = {"trigger": "campaign_is_requested"}
    if values is not None:
        known = [REQUEST_SOURCES[v.casefold()] for v in values if v.casefold() in REQUEST_SOURCES]
        unknown = [v for v in values if v.casefold() not in REQUEST_SOURCES]
        if known:
            table["source"] = one_or_many(known)
        if unknown:
            dropped = f"source {quoted(unknown)} not modelled" + ("" if known else ", so any source is accepted")
    return _result(table, dropped, rule, source)


def _program_status_is_changed(rule: Rule, d: Declarations) -> Mapped:
    program = rule.condition("Program") or rule.primary()
    if program is None or len(program.values) != 1:
        return [], "skipped", 'no single "Program" condition naming the program'
    name = d.program(program.values[0])
    table: Table = {"trigger": "program_status_is_changed", "program": name}
    pairs = (("new_status", ("New Status", "Status")), ("old_status", ("Previous Status", "Old Status")))

    def statuses(values: tuple[str, ...]) -> list[Any]:
        d.program(name, values)  # declared as statuses of the program
        return list(values)

    return _changes(rule, table, program, pairs, statuses)


_SPECIAL_TRIGGERS: dict[str, Callable[[Rule, Declarations], Mapped]] = {
    "data value changes": _data_value_changes,
    "score is changed": _score_is_changed,
    "campaign is requested": _campaign_is_requested,
    "program status is changed": _program_status_is_changed,
}


# --- filters ------------------------------------------------------------------------------


def map_filter(rule: Rule, d: Declarations) -> Mapped:
    """One smart-list filter (sim ANDs them; the logic is `sim.marketo.rule_logic`'s)."""
    name = rule.name.casefold()
    primary = rule.primary()
    values = primary.values if primary is not None else ()
    operator = rule.operator or (primary.operator if primary is not None else "")
    if name in LIST_FILTERS:
        return list_filter(operator, values, d)
    if name in PROGRAM_FILTERS:
        status = rule.condition("Program Status", "Status")
        program = rule.condition("Program") or primary
        return _program_filter(operator, program.values if program else (), status, d)
    if rule.rule_type.casefold() == "activity":
        return [], "skipped", "activity-history filters are not modelled (sim filters see a person's state only)"
    return field_filter(rule.name, operator, values, d)


def field_filter(field: str, operator: str, values: Sequence[str], d: Declarations) -> Mapped:
    """A filter on a field, from a smart-list filter or a flow step choice's rule."""
    op = operator.strip().casefold()
    if op == "between":
        if len(values) != 2:
            return [], "skipped", f"between needs two values, got {quoted(values)}"
        low, high = (as_number(v) for v in values)
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
            return [], "skipped", f"between {quoted(values)} is not between two numbers (dates are not modelled)"
        tables = [
            {"field": d.field(field), "op": "at least", "value": low},
            {"field": field, "op": "at most", "value": high},
        ]
        shown = " and ".join(inline(t) for t in tables)
        return tables, "approximated", f"{shown} (between, bounds included)"
    sim_op = FIELD_OPERATORS.get(op)
    if sim_op is None:
        return [], "skipped", f'operator "{operator}" has no sim equivalent (dates are not modelled)'
    table: Table = {"field": d.field(field), "op": sim_op}
    if sim_op not in ("is empty", "is not empty"):
        if not values:
            return [], "skipped", f'"{operator}" with no value'
        converted = [as_number(v) if sim_op in NUMBER_OPERATORS else _compared(d, field, v) for v in values]
        if any(v is None for v in converted):
            return [], "skipped", f"{sim_op} {quoted(values)}: not a number"
        table["value"] = one_or_many(converted)
    return [table], "mapped", inline(table)


def _compared(d: Declarations, field: str, text: str) -> Any:
    """A value an "is"/"contains" filter compares with: a number for a numeric field when
    it is one (a number never equals a string), else the text."""
    value = d.value(field, text)
    return text if value is None else value


def list_filter(operator: str, lists: Sequence[str], d: Declarations) -> Mapped:
    op = operator.strip().casefold()
    member = op not in ("not in", "not in list", "is not", "not member of")
    if not lists:
        return [], "skipped", "no list named"
    if member and len(lists) > 1:
        table = {"list": d.list(lists[0])}
        for name in lists[1:]:
            d.list(name)
        return [table], "approximated", f"{inline(table)}; member of any of {quoted(lists)}: kept the first list only"
    tables: list[Table] = [{"list": d.list(name)} | ({} if member else {"member": False}) for name in lists]
    return tables, "mapped", " and ".join(inline(t) for t in tables)


def _program_filter(operator: str, programs: Sequence[str], status: Condition | None, d: Declarations) -> Mapped:
    if len(programs) != 1:
        return [], "skipped", f"needs one program, got {quoted(programs) or 'none'}"
    program = d.program(programs[0])
    negate = operator.strip().casefold() in ("not in", "is not", "not member of")
    statuses = status.values if status is not None else ()
    if not statuses:  # member of the program: any status but "Not in Program"
        table = {"program": program, "status": "Not in Program"} | ({} if negate else {"op": "is not"})
        return [table], "mapped", inline(table)
    d.program(program, statuses)
    if negate:
        table = {"program": program, "status": "Not in Program"}
        return [table], "approximated", f"{inline(table)}; not in the program, whatever the status ({quoted(statuses)})"
    status_negate = status is not None and status.operator.casefold() in ("is not", "not in")
    if len(statuses) > 1 and not status_negate:
        table = {"program": program, "status": statuses[0]}
        return [table], "approximated", f"{inline(table)}; status any of {quoted(statuses)}: kept the first only"
    tables: list[Table] = [
        {"program": program, "status": s} | ({"op": "is not"} if status_negate else {}) for s in statuses
    ]
    return tables, "mapped", " and ".join(inline(t) for t in tables)


def rule_numeric_fields(rule: Rule) -> set[str]:
    """The fields a rule reads as numbers (a score, a number comparison)."""
    name = rule.name.casefold()
    if name == "score is changed":
        score = rule.condition("Score Name", "Score") or rule.primary()
        return set(score.values[:1]) if score is not None else set()
    primary = rule.primary()
    operator = rule.operator or (primary.operator if primary is not None else "")
    if rule.rule_type.casefold() != "activity" and operator.casefold() in NUMBER_OPERATORS:
        return {rule.name}
    return set()
