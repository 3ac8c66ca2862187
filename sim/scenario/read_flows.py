"""Reading a campaign's flow: its steps, their choices, and the action of each.

A step is ``{ step = "KIND", PARAMETERS ... }``, or with ``choices`` (each an ``if`` of
filters and parameters) and a ``default``; parameters on the step are shared by all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.model import Action, Choice, Step, Value
from sim.scenario.read_problems import Reader, Skip, is_number, kind_of, number_problem, suggest
from sim.scenario.read_smart_lists import read_filter
from sim.scenario.units import show

_SCORE_CHANGE = re.compile(r"^\s*([+\-=])\s*(\d+(?:\.\d+)?)\s*$")


def read_step(r: Reader, raw: object, campaign_kind: str, program: str | None) -> Step:
    """One flow step of a ``campaign_kind`` campaign in ``program`` (None: in no program)."""
    if not isinstance(raw, dict):
        raise r.fail(f'a step must be a table like {{ step = "change_score", change = "+10" }}, not {kind_of(raw)}')
    kind = r.get(raw, "step", str)
    if kind not in model.STEP_KINDS:
        raise r.fail(f'unknown step "{kind}"{suggest(kind, model.STEP_KINDS)}')
    # R9, R16: where Wait and Call Webhook may stand
    if campaign_kind == "executable" and kind in ("wait", "call_webhook"):
        r.problem(f"{kind} is not allowed in an executable campaign's flow (R9)")
    elif kind == "call_webhook" and campaign_kind != "trigger":
        r.problem(f"call_webhook is only valid in trigger campaigns, not in a {campaign_kind} campaign (R16)")
    if "choices" not in raw:
        if "default" in raw:
            r.problem('"default" goes with "choices"; without choices, put the parameters on the step')
        params = {k: v for k, v in raw.items() if k not in ("step", "default")}
        return Step(kind=kind, action=read_action(r, kind, params, program))
    choices_raw = r.get(raw, "choices", list)
    # Parameters on the step itself are shared by every choice and the default.
    shared = {k: v for k, v in raw.items() if k not in ("step", "choices", "default")}
    allowed = _STEPS[kind][0]
    r.check_keys(shared, (*allowed, "step", "choices", "default"), f"a {kind} step")
    shared = {k: v for k, v in shared.items() if k in allowed}  # reported once, here
    outer = r.where
    choices: list[Choice] = []
    for index, choice_raw in enumerate(choices_raw, 1):
        r.where = f"{outer}, choice {index}"
        try:
            choices.append(_read_choice(r, kind, choice_raw, shared, program))
        except Skip:
            pass
    r.where = f"{outer}, default choice"
    default_raw = raw.get("default", "do nothing")
    action: Action | None = None
    if default_raw != "do nothing":
        if not isinstance(default_raw, dict):
            raise r.fail(f'"default" must be a table of {kind} parameters or "do nothing"')
        action = read_action(r, kind, {**shared, **default_raw}, program)
    r.where = outer
    return Step(kind=kind, action=action, choices=tuple(choices))


def _read_choice(r: Reader, kind: str, raw: object, shared: Mapping[str, Any], program: str | None) -> Choice:
    """One of a step's ``choices``: the filters of its ``if`` and its action."""
    if not isinstance(raw, dict) or "if" not in raw:
        raise r.fail('a choice must be a table with "if" (a filter or an array of filters) and the step parameters')
    conditions_raw = raw["if"] if isinstance(raw["if"], list) else [raw["if"]]
    conditions = tuple(read_filter(r, c) for c in conditions_raw)
    params = {**shared, **{k: v for k, v in raw.items() if k != "if"}}
    return Choice(conditions=conditions, action=read_action(r, kind, params, program))


def read_action(r: Reader, kind: str, params: Mapping[str, Any], program: str | None) -> Action:
    """The action of a ``kind`` step with these parameters (any others are a problem)."""
    allowed, read = _STEPS[kind]
    r.check_keys(params, allowed, f"a {kind} step")
    return read(r, params, program)


def _tokens_in(r: Reader, text: str, program: str | None) -> None:
    """A problem for each token in ``text`` that is malformed or names nothing."""
    for loose in re.finditer(r"\{\{[^{]*?\}\}", text, re.DOTALL):
        match = model.TOKEN.fullmatch(loose.group(0))
        if match is None:
            forms = "{{my.NAME}}, {{lead.FIELD}} or {{trigger.NAME}}"
            r.problem(f'malformed token "{loose.group(0)}"; write {forms}')
            continue
        scope, name = match.group(1), match.group(2)
        if scope == "my":
            tokens = r.programs[program].tokens if program else {}
            where = f'program "{program}"' if program else "this campaign (it is in no program)"
            if r.kind == "executable":
                # R10: with use_parent_tokens the value comes from the caller's program.
                tokens = {k: v for p in r.programs.values() for k, v in p.tokens.items()}
                where = "any program (an executable may use its caller's with use_parent_tokens)"
            if name not in tokens:
                r.problem(f'unknown token "{{{{my.{name}}}}}": not a my-token of {where}{suggest(name, tokens)}')
        elif scope == "lead":
            if name not in r.fields:
                r.problem(f'unknown token "{{{{lead.{name}}}}}": no field "{name}"{suggest(name, r.fields)}')
        elif scope != "trigger":
            r.problem(f'unknown token scope "{scope}" in "{match.group(0)}"; use my., lead. or trigger.')


# --- the action of each step kind (`read_action` checks its parameters) ---------------


def _change_data_value(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    field, raw = r.all_of(
        lambda: r.field_name(r.get(p, "field", str)), lambda: r.get(p, "value", (str, int, float, bool))
    )
    if isinstance(raw, str) and "{{" in raw:
        _tokens_in(r, raw, program)
        return model.ChangeDataValue(field=field, value=raw)
    return model.ChangeDataValue(field=field, value=r.field_value(field, raw))


def _change_score(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    field, change = r.all_of(lambda: _score_field(r, p), lambda: r.get(p, "change", (str, int)))
    match = _SCORE_CHANGE.match(str(change)) if isinstance(change, str) else None
    if not isinstance(change, int) and match is None:
        raise r.fail(f'change {show(change)} is not a score change; write "+N", "-N" or "=N", e.g. "+10" (R14)')
    # The amount as written: an int compared as it is (10**309 has no float).
    amount = abs(change) if isinstance(change, int) else float(match.group(2)) if match else 0.0
    problem = number_problem(amount, shown=None if isinstance(change, int) else change)
    if problem is not None:
        raise r.fail(f'"change": {problem}')
    if isinstance(change, int):
        return model.ChangeScore(field=field, op="+" if change >= 0 else "-", amount=float(amount))
    assert match is not None
    return model.ChangeScore(field=field, op=match.group(1), amount=amount)  # type: ignore[arg-type]


def _score_field(r: Reader, p: Mapping[str, Any]) -> str:
    field = r.field_name(r.get(p, "field", str, "score"))
    default = r.fields[field].default
    if not is_number(default):
        raise r.fail(f'field "{field}" is not numeric (its default is {show(default)}); a score needs a number')
    return field


def _change_program_status(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    name = r.name("program", r.get(p, "program", str, program) if program else r.get(p, "program", str), r.programs)
    status = r.name("status", r.get(p, "status", str), r.programs[name].statuses, of=f'of program "{name}"')
    return model.ChangeProgramStatus(program=name, status=status)


def _add_to_list(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    return model.AddToList(list=r.name("list", r.get(p, "list", str), r.lists))


def _remove_from_list(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    return model.RemoveFromList(list=r.name("list", r.get(p, "list", str), r.lists))


def _interesting_moment(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    text = r.get(p, "description", str)
    _tokens_in(r, text, program)
    return model.InterestingMoment(description=text)


def _send_email(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    return model.SendEmail(email=r.get(p, "email", str))


def _send_alert(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    alert, to = r.all_of(lambda: r.get(p, "alert", str), lambda: r.get(p, "to", str, ""))
    return model.SendAlert(alert=alert, to=to)


def _call_webhook(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    webhook, latency, status, mappings, payload = r.all_of(
        lambda: r.get(p, "webhook", str),
        lambda: r.duration(p, "latency", 0.5),
        lambda: _http_status(r, p),
        lambda: _response_mappings(r, p),
        lambda: r.get(p, "payload", str, ""),
    )
    _tokens_in(r, payload, program)
    return model.CallWebhook(webhook=webhook, latency=latency, status=status, response=mappings, payload=payload)


def _http_status(r: Reader, p: Mapping[str, Any]) -> int:
    status: int = r.get(p, "status", int, 200)
    if not 100 <= status <= 599:
        raise r.fail(f'"status" {status} is not an HTTP status code (100-599)')
    return status


def _response_mappings(r: Reader, p: Mapping[str, Any]) -> tuple[tuple[str, Value], ...]:
    mappings = []
    for field, raw in r.get(p, "response", dict, {}).items():
        try:
            field = r.field_name(field)  # first: field_value needs a known field
            mappings.append((field, r.field_value(field, raw)))
        except Skip:
            pass
    return tuple(mappings)


def _wait(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    return model.Wait(duration=r.duration(p, "duration"))


def _request_campaign(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    return model.RequestCampaign(campaign=r.name("campaign", r.get(p, "campaign", str), r.campaign_names))


def _execute_campaign(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    campaign, use_parent_tokens = r.all_of(
        lambda: r.name("campaign", r.get(p, "campaign", str), r.campaign_names),
        lambda: r.get(p, "use_parent_tokens", bool, False),
    )
    return model.ExecuteCampaign(campaign=campaign, use_parent_tokens=use_parent_tokens)


def _remove_from_flow(r: Reader, p: Mapping[str, Any], program: str | None) -> Action:
    raw = r.get(p, "campaigns", (list, str))
    names = [raw] if isinstance(raw, str) else raw
    if not names:
        raise r.fail('"campaigns" must name at least one campaign')
    return model.RemoveFromFlow(campaigns=tuple(r.name("campaign", n, r.campaign_names) for n in names))


#: Step kind -> the parameters it takes (besides step, choices and default), and how its
#: action is read from them (and its campaign's program).
_STEPS: dict[str, tuple[tuple[str, ...], Callable[[Reader, Mapping[str, Any], str | None], Action]]] = {
    "change_data_value": (("field", "value"), _change_data_value),
    "change_score": (("field", "change"), _change_score),
    "change_program_status": (("program", "status"), _change_program_status),
    "add_to_list": (("list",), _add_to_list),
    "remove_from_list": (("list",), _remove_from_list),
    "interesting_moment": (("description",), _interesting_moment),
    "send_email": (("email",), _send_email),
    "send_alert": (("alert", "to"), _send_alert),
    "call_webhook": (("webhook", "latency", "status", "response", "payload"), _call_webhook),
    "wait": (("duration",), _wait),
    "request_campaign": (("campaign",), _request_campaign),
    "execute_campaign": (("campaign", "use_parent_tokens"), _execute_campaign),
    "remove_from_flow": (("campaigns",), _remove_from_flow),
}

#: Step kind -> the keys a step of that kind takes besides ``step``, ``choices`` and ``default``.
STEP_PARAMS: dict[str, tuple[str, ...]] = {kind: params for kind, (params, _) in _STEPS.items()}
