"""The Asset API's records as the importer reads them: smart campaigns, their smart lists'
rules, their flow steps and choices, and programs; each parsed from one JSON object with
every problem named by its JSON path (`sim.marketo.json_payload.Payload`).

Field names follow the API: a campaign record (``GET /rest/asset/v1/smartCampaign/{id}.json``,
``smartCampaigns.json``) has ``id``, ``name``, ``type`` (``batch``, ``trigger``,
``default``), ``isActive``, ``isRequestable``, ``qualificationRuleType`` with
``qualificationRuleInterval`` and ``qualificationRuleUnit``, ``recurrence``,
``smartListId``, ``flowId``, ``parentProgramId``, ``status`` and, with
``includeFlowSteps=true``, ``flow.steps[]``. A smart list with ``includeRules=true`` has
``rules`` with ``filterMatchType``, ``filterCustomRuleLogic``, ``triggers`` and ``filters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from sim.marketo.dates import parse_datetime
from sim.marketo.json_payload import Payload

#: ``filterMatchType`` as the API and the UI write it -> how the importer names it.
MATCH_TYPES = {"all": "all", "any": "any", "custom": "custom", "advanced": "custom"}
CAMPAIGN_TYPES = ("batch", "trigger", "default")
QUALIFICATION_TYPES = ("once", "any", "interval")
QUALIFICATION_UNITS = ("hour", "day", "week", "month")


@attrs.frozen(kw_only=True)
class Origin:
    """Where a record was read: its file and JSON path."""

    file: str
    path: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}"


@attrs.frozen(kw_only=True)
class Condition:
    """One condition of a smart-list rule: an attribute, an operator and values."""

    name: str
    operator: str
    values: tuple[str, ...] = ()
    primary: bool = False


@attrs.frozen(kw_only=True)
class Rule:
    """A smart-list trigger or filter; ``number`` is its 1-based place, as in the UI and
    in ``filterCustomRuleLogic``."""

    number: int
    name: str
    rule_type: str
    operator: str
    conditions: tuple[Condition, ...] = ()

    def condition(self, *names: str) -> Condition | None:
        """The first condition on any of ``names`` (case-blind)."""
        wanted = {name.casefold() for name in names}
        return next((c for c in self.conditions if c.name.casefold() in wanted), None)

    def primary(self) -> Condition | None:
        """The primary condition (the rule's main constraint), or the first one."""
        return next((c for c in self.conditions if c.primary), self.conditions[0] if self.conditions else None)


@attrs.frozen(kw_only=True)
class SmartListRecord:
    id: int
    origin: Origin
    match: str  # "all", "any" or "custom"
    logic: str | None
    triggers: tuple[Rule, ...]
    filters: tuple[Rule, ...]


@attrs.frozen(kw_only=True)
class ChoiceRule:
    """The ``if`` of a flow step choice: a field (or activity) compared with values."""

    name: str
    operator: str
    rule_type: str
    values: tuple[str, ...]


@attrs.frozen(kw_only=True)
class StepChoice:
    default: bool
    attributes: Mapping[str, str]  # attribute name -> its value as text
    rule: ChoiceRule | None

    def attribute(self, *names: str) -> str | None:
        """The value of the first attribute named any of ``names`` (case-blind)."""
        folded = {key.casefold(): value for key, value in self.attributes.items()}
        return next((folded[n.casefold()] for n in names if n.casefold() in folded), None)


@attrs.frozen(kw_only=True)
class FlowStep:
    number: int
    type_id: int | None
    type_name: str
    choices: tuple[StepChoice, ...]


@attrs.frozen(kw_only=True)
class Recurrence:
    start_at: datetime | None = None
    end_at: datetime | None = None
    interval_type: str | None = None
    interval: int | None = None
    weekday_only: bool = False
    #: The keys given (not null) that sim does not read (``dayOfWeek``, ``weekdayMask``, ...).
    unread: tuple[str, ...] = ()


#: The recurrence keys the importer reads.
RECURRENCE_KEYS = ("startAt", "endAt", "intervalType", "interval", "weekdayOnly")


@attrs.frozen(kw_only=True)
class CampaignRecord:
    id: int
    name: str
    origin: Origin
    type: str  # "batch", "trigger" or "default"
    is_active: bool = False
    is_requestable: bool = False
    #: An explicit executable flag when the payload has one (``isExecutable``, or
    #: ``type = "executable"``); the documented API has none (docs/import.md).
    is_executable: bool = False
    qualification: str = "once"
    qualification_interval: int | None = None
    qualification_unit: str | None = None
    recurrence: Recurrence = Recurrence()
    smart_list_id: int | None = None
    program_id: int | None = None
    status: str = ""
    #: The flow steps; None when the payload has none (no ``includeFlowSteps``).
    flow: tuple[FlowStep, ...] | None = None


@attrs.frozen(kw_only=True)
class ProgramRecord:
    id: int
    name: str


# --- reading ------------------------------------------------------------------------------


def read_campaign(p: Payload, path: str, raw: Mapping[str, Any]) -> CampaignRecord | None:
    """One smart campaign record, or None (its problems recorded) when unusable."""
    id_, name, kind = p.get(raw, path, "id", int), p.name(raw, path, "name", "campaign"), p.get(raw, path, "type", str)
    active, requestable = p.get(raw, path, "isActive", bool), p.get(raw, path, "isRequestable", bool)
    qualification = p.get(raw, path, "qualificationRuleType", str, required=False) or "once"
    executable = p.get(raw, path, "isExecutable", bool, required=False) or False
    if kind is not None and kind.casefold() == "executable":
        kind, executable = "default", True
    elif kind is not None and kind.casefold() not in CAMPAIGN_TYPES:
        p.problem(f"{path}.type", f'unknown campaign type "{kind}"; the API sends "batch", "trigger" or "default"')
        kind = None
    if qualification.casefold() not in QUALIFICATION_TYPES:
        p.problem(f"{path}.qualificationRuleType", f'unknown rule "{qualification}"; known: "once", "any", "interval"')
        qualification = "once"
    interval, unit = _qualification_interval(p, path, raw, qualification.casefold())
    flow = _read_flow(p, path, raw)
    recurrence = _read_recurrence(p, path, raw)
    if id_ is None or name is None or kind is None or active is None or requestable is None:
        return None
    return CampaignRecord(
        id=id_,
        name=name,
        origin=Origin(file=p.file, path=path),
        type=kind.casefold(),
        is_active=active,
        is_requestable=requestable,
        is_executable=executable,
        qualification=qualification.casefold(),
        qualification_interval=interval,
        qualification_unit=unit,
        recurrence=recurrence,
        smart_list_id=p.get(raw, path, "smartListId", int, required=False),
        program_id=p.get(raw, path, "parentProgramId", int, required=False),
        status=p.get(raw, path, "status", str, required=False) or "",
        flow=flow,
    )


def _qualification_interval(p: Payload, path: str, raw: Mapping[str, Any], rule: str) -> tuple[int | None, str | None]:
    if rule != "interval":
        return None, None
    interval = p.get(raw, path, "qualificationRuleInterval", int)
    unit = p.get(raw, path, "qualificationRuleUnit", str)
    if interval is not None and interval < 1:
        p.problem(f"{path}.qualificationRuleInterval", f"must be at least 1, not {interval}")
        interval = None
    if unit is not None and unit.casefold() not in QUALIFICATION_UNITS:
        p.problem(f"{path}.qualificationRuleUnit", f'unknown unit "{unit}"; known: "hour", "day", "week", "month"')
        unit = None
    return interval, unit.casefold() if unit else None


def _read_recurrence(p: Payload, path: str, raw: Mapping[str, Any]) -> Recurrence:
    table = p.get(raw, path, "recurrence", dict, required=False)
    if table is None:
        return Recurrence()
    where = f"{path}.recurrence"
    interval = p.get(table, where, "interval", int, required=False)
    if interval is not None and interval < 1:
        p.problem(f"{where}.interval", f"must be at least 1, not {interval}")
        interval = None
    return Recurrence(
        start_at=_datetime(p, where, table, "startAt"),
        end_at=_datetime(p, where, table, "endAt"),
        interval_type=p.get(table, where, "intervalType", str, required=False),
        interval=interval,
        weekday_only=p.get(table, where, "weekdayOnly", bool, required=False) or False,
        unread=tuple(sorted(k for k, v in table.items() if k not in RECURRENCE_KEYS and v is not None)),
    )


def _datetime(p: Payload, path: str, raw: Mapping[str, Any], key: str) -> datetime | None:
    text = p.get(raw, path, key, str, required=False)
    if text is None:
        return None
    date = parse_datetime(text)
    if date is None:
        p.problem(f"{path}.{key}", f'"{text}" is not a date-time like "2026-03-02T02:00:00Z"')
    return date


def _read_flow(p: Payload, path: str, raw: Mapping[str, Any]) -> tuple[FlowStep, ...] | None:
    flow = p.get(raw, path, "flow", dict, required=False)
    if flow is None:
        return None
    steps = []
    for number, (where, step) in enumerate(p.objects(flow, f"{path}.flow", "steps"), 1):
        type_id = p.get(step, where, "activityTypeId", int, required=False)
        type_name = p.get(step, where, "activityTypeName", str, required=type_id is None) or ""
        choices = tuple(_read_choice(p, w, c) for w, c in p.objects(step, where, "stepChoice", required=False))
        steps.append(FlowStep(number=number, type_id=type_id, type_name=type_name, choices=choices))
    return tuple(steps)


def _read_choice(p: Payload, path: str, raw: Mapping[str, Any]) -> StepChoice:
    attributes: dict[str, str] = {}
    for where, attribute in p.objects(raw, path, "attributes", required=False):
        name = p.get(attribute, where, "name", str)
        value = p.text(attribute, where, "value")
        if name is not None and value is not None:
            attributes[name] = value
    rule_raw = p.get(raw, path, "rule", dict, required=False)
    rule = None
    if rule_raw is not None:
        where = f"{path}.rule"
        # The flow-step shape is not in Marketo's public docs: a choice's rule names its
        # filter as "name" (as smart-list rules do) or, seen too, as "field"; either is read.
        key = "field" if "name" not in rule_raw and "field" in rule_raw else "name"
        rule = ChoiceRule(
            name=p.get(rule_raw, where, key, str) or "",
            operator=p.get(rule_raw, where, "operator", str) or "",
            rule_type=p.get(rule_raw, where, "ruleType", str, required=False) or "Attribute",
            values=p.texts(rule_raw, where, "values"),
        )
    default = p.get(raw, path, "default", bool, required=False)
    return StepChoice(default=rule is None if default is None else default, attributes=attributes, rule=rule)


def read_smart_list(p: Payload, path: str, raw: Mapping[str, Any]) -> SmartListRecord | None:
    """One smart list with its rules (``includeRules=true``), or None when unusable."""
    id_ = p.get(raw, path, "id", int)
    rules = p.get(raw, path, "rules", dict)
    if id_ is None or rules is None:
        return None
    where = f"{path}.rules"
    match_raw = p.get(rules, where, "filterMatchType", str, required=False) or "all"
    match = MATCH_TYPES.get(match_raw.casefold())
    if match is None:
        p.problem(f"{where}.filterMatchType", f'unknown match type "{match_raw}"; known: "all", "any", "custom"')
        match = "all"
    logic = p.get(rules, where, "filterCustomRuleLogic", str, required=False)
    if match == "custom" and not logic:
        p.problem(where, '"filterMatchType" is custom but "filterCustomRuleLogic" is missing; e.g. "1 and (2 or 3)"')
    return SmartListRecord(
        id=id_,
        origin=Origin(file=p.file, path=path),
        match=match,
        logic=logic if match == "custom" else None,
        triggers=_read_rules(p, where, rules, "triggers"),
        filters=_read_rules(p, where, rules, "filters"),
    )


def _read_rules(p: Payload, path: str, rules: Mapping[str, Any], key: str) -> tuple[Rule, ...]:
    found = []
    for number, (where, raw) in enumerate(p.objects(rules, path, key, required=False), 1):
        name = p.name(raw, where, "name", "rule")
        conditions = []
        for cwhere, condition in p.objects(raw, where, "conditions", required=False):
            cname = condition.get("activityAttributeName") or condition.get("attributeName")
            if not isinstance(cname, str):
                p.problem(cwhere, '"activityAttributeName" (or "attributeName") is missing; it names the attribute')
                continue
            key = "activityAttributeName" if "activityAttributeName" in condition else "attributeName"
            if p.checked_name(cname, f"{cwhere}.{key}", "attribute") is None:
                continue
            conditions.append(
                Condition(
                    name=cname,
                    operator=p.get(condition, cwhere, "operator", str, required=False) or "is",
                    values=p.texts(condition, cwhere, "values"),
                    primary=p.get(condition, cwhere, "isPrimary", bool, required=False) or False,
                )
            )
        if name is not None:
            rule_type = p.get(raw, where, "ruleType", str, required=False) or "Activity"
            operator = p.get(raw, where, "operator", str, required=False) or ""
            found.append(
                Rule(number=number, name=name, rule_type=rule_type, operator=operator, conditions=tuple(conditions))
            )
    return tuple(found)


def read_program(p: Payload, path: str, raw: Mapping[str, Any]) -> ProgramRecord | None:
    id_, name = p.get(raw, path, "id", int), p.name(raw, path, "name", "program")
    return None if id_ is None or name is None else ProgramRecord(id=id_, name=name)
