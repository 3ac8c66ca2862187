"""Reading ``[campaigns.NAME]``: each campaign's kind, program, smart list, qualification,
schedule, priority override and flow, with the rules of what each kind may hold (R1-R4, R9).

The smart list's triggers and filters are read by `sim.scenario.read_smart_lists`, the flow's
steps by `sim.scenario.read_flows`; what campaigns require of each other (R3, R4, R8) is
checked once all are read, in `sim.scenario.cross_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.cross_checks import Call
from sim.scenario.model import Campaign, Step
from sim.scenario.read_flows import read_step
from sim.scenario.read_problems import Reader, article, kind_of
from sim.scenario.read_smart_lists import read_filter, read_trigger
from sim.scenario.units import parse_duration, show


def read_campaigns(r: Reader, data: Mapping[str, Any]) -> dict[str, Campaign]:
    """Every campaign that can be read, by name in file order; all names are known first,
    so a step may request or execute a campaign written after it."""
    raw_campaigns: Mapping[str, Any] = r.section(data, "campaigns", dict, "[campaigns]")
    r.campaign_names = dict.fromkeys(raw_campaigns)  # file order, for stable messages
    campaigns: dict[str, Campaign] = {}
    for name, raw in raw_campaigns.items():
        with r.at(f'campaign "{name}"'):
            if not name.strip():
                raise r.fail('a campaign needs a name; [campaigns.""] is empty')
            campaigns[name] = read_campaign(r, name, raw)
    return campaigns


def read_campaign(r: Reader, name: str, raw: object) -> Campaign:
    """One campaign table; its flow is read by `_read_flow`."""
    if not isinstance(raw, dict):
        raise r.fail(f"a campaign must be a table, not {kind_of(raw)}")
    allowed = (
        *("kind", "program", "active", "qualification", "triggers", "filters", "schedule", "flow"),
        *("priority", "priority_from", "marketo_id"),
    )
    r.check_keys(raw, allowed, "a campaign")
    kind = r.get(raw, "kind", str, "trigger")
    if kind not in ("trigger", "batch", "executable"):
        raise r.fail(f'kind "{kind}" is not a campaign kind; use "trigger", "batch" or "executable"')
    r.kind = kind
    program = r.guard(lambda: r.optional_name(raw, "program", "program", r.programs), None)
    active = r.guard(lambda: r.get(raw, "active", bool, True), True)
    triggers = tuple(r.collect(r.get(raw, "triggers", list, []), "trigger", lambda item: read_trigger(r, item)))
    filters = tuple(r.collect(r.get(raw, "filters", list, []), "filter", lambda item: read_filter(r, item)))
    qualification = r.guard(lambda: _read_qualification(r, raw.get("qualification", "once")), model.Qualification())
    schedule = None
    if "schedule" in raw:
        schedule = r.guard(lambda: _read_schedule(r, raw["schedule"]), None)
    # R1-R4, R9: what each kind may hold
    if kind == "trigger":
        if not raw.get("triggers"):
            r.problem('a trigger campaign needs at least one trigger (R1); add triggers = [{ trigger = "..." }]')
        if schedule is not None:
            r.problem('a trigger campaign has no schedule; use kind = "batch" for a scheduled run (R2)')
    elif kind == "batch":
        if triggers:
            r.problem("a batch campaign's smart list has filters only, no triggers (R2)")
        if "schedule" not in raw:
            r.problem('a batch campaign needs a schedule, e.g. schedule = { at = "1h" } (R2)')
    else:
        if triggers:
            r.problem("an executable campaign's smart list may hold filters only, not triggers (R4, R9)")
        if schedule is not None:
            r.problem("an executable campaign is never scheduled; it runs only from Execute Campaign (R4, R9)")
        if "active" in raw:
            r.problem('an executable campaign is never activated; remove "active" (R4)')
    no_override: tuple[model.Priority | None, float] = (None, 0.0)
    priority, priority_from = r.guard(lambda: _read_priority(r, raw, kind), no_override)
    flow = _read_flow(r, name, raw, kind, program)
    marketo_id = r.guard(lambda: _read_marketo_id(r, raw), None)
    return Campaign(
        name=name,
        kind=kind,
        program=program,
        active=active if kind != "executable" else True,
        triggers=triggers,
        filters=filters,
        qualification=qualification,
        schedule=schedule,
        flow=flow,
        priority=priority,
        priority_from=priority_from,
        marketo_id=marketo_id,
    )


def _read_marketo_id(r: Reader, raw: Mapping[str, Any]) -> int | None:
    """The Marketo smart campaign id `sim import` wrote: `sim compare` matches by it."""
    if "marketo_id" not in raw:
        return None
    value = r.get(raw, "marketo_id", int)
    if value < 1:
        raise r.fail(f'"marketo_id" is {value}; a Marketo campaign id is a whole number from 1 up')
    return int(value)


def _read_flow(r: Reader, name: str, raw: Mapping[str, Any], kind: str, program: str | None) -> tuple[Step, ...]:
    """The steps of campaign ``name``'s flow; its Request and Execute Campaign actions are
    noted on the reader for the checks across campaigns."""
    flow_raw = r.get(raw, "flow", list, [])
    steps: list[Step] = []
    for index, step_raw in enumerate(flow_raw, 1):
        step_kind = step_raw.get("step", "?") if isinstance(step_raw, dict) else "?"
        with r.at(f'campaign "{name}", step {index} ({step_kind})'):
            step = read_step(r, step_raw, kind, program)
            steps.append(step)
            for action in step.actions():
                if isinstance(action, (model.RequestCampaign, model.ExecuteCampaign)):
                    r.calls.append(Call(campaign=name, where=r.where, action=action))
    return tuple(steps)


def _read_priority(r: Reader, raw: Mapping[str, Any], kind: str) -> tuple[model.Priority | None, float]:
    """R21: an admin's override of a trigger campaign's priority, from a time on."""
    if "priority" not in raw:
        if "priority_from" in raw:
            raise r.fail('"priority_from" needs "priority" (the class it switches to, R21)')
        return None, 0.0
    priority = r.get(raw, "priority", str)
    if priority not in model.PRIORITIES:
        raise r.fail(f'"priority" is "{priority}"; use "high", "medium" or "low" (R19)')
    if kind != "trigger":
        raise r.fail(
            f"only a trigger campaign's priority can be overridden (R21), not {article(kind)} {kind} campaign's"
        )
    return priority, r.duration(raw, "priority_from", 0.0)


def _read_qualification(r: Reader, raw: object) -> model.Qualification:
    """R18: "once", "every time" or "once every N days" (a duration)."""
    if not isinstance(raw, str):
        raise r.fail(f'"qualification" must be a string, not {kind_of(raw)} ({show(raw)})')
    text = " ".join(raw.lower().replace("_", " ").split())
    if text == "once":
        return model.Qualification(rule="once")
    if text == "every time":
        return model.Qualification(rule="every_time")
    if text.startswith("once every "):
        written = text[len("once every ") :]
        try:
            interval = parse_duration(written)
        except ValueError as exc:
            if "too long" in str(exc):
                raise r.fail(f'qualification "{raw}": {exc}') from None
        else:
            if interval > 0:
                return model.Qualification(rule="once_every", interval=interval)
            if re.match(r"\d*\.?\d*[1-9]", written):  # not zero as written: below 1 µs
                zero = "the interval is zero at the microsecond; give 1 µs or more"
                raise r.fail(f'qualification "{raw}": {zero}')
    raise r.fail(f'qualification "{raw}" is not a rule; use "once", "every time" or "once every N days" (R18)')


def _read_schedule(r: Reader, raw: object) -> model.Schedule:
    """A batch campaign's ``schedule = { at = ..., every = ... }``."""
    if not isinstance(raw, dict):
        raise r.fail(f'"schedule" must be a table like {{ at = "1h", every = "1d" }}, not {kind_of(raw)}')
    r.check_keys(raw, ("at", "every"), '"schedule"')
    at = r.duration(raw, "at", 0.0)
    every = None
    if "every" in raw:
        named = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}
        every = named.get(raw["every"]) if isinstance(raw["every"], str) else None
        if every is None:
            every = r.duration(raw, "every")
        if every < 1e-6:
            raise r.fail('"every" must be at least 1 µs: times are kept to the microsecond')
    return model.Schedule(at=at, every=every)
