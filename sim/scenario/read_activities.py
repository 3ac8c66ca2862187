"""Reading ``[[activities]]``: the timed activities of external systems (a form fill at 1h).

Also what every kind of load shares: an activity type and its attributes, which
``[[load]]`` tables (`sim.scenario.read_load`) give too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial
from typing import Any

from sim.scenario import model
from sim.scenario.cross_checks import note_person, request_refusal
from sim.scenario.model import Campaign, Value
from sim.scenario.read_problems import Reader, Skip, kind_of, suggest


def read_activities(
    r: Reader, data: Mapping[str, Any], campaigns: Mapping[str, Campaign]
) -> list[model.ExternalActivity]:
    """The ``[[activities]]`` tables, sorted by time (file order at the same time)."""
    raw = r.section(data, "activities", list, "[[activities]]")
    out: list[tuple[model.ExternalActivity, str, int]] = []  # with where, and its problems' place
    for index, item in enumerate(raw, 1):
        with r.at(f"[[activities]] {index}"):
            type_ = external_type(r, item, "activity", ("at", "person", "type", "fields"))
            try:
                at, person, fields, attributes = r.all_of(
                    partial(r.duration, item, "at"),
                    partial(r.get, item, "person", str),
                    partial(_form_fields, r, item, type_),
                    partial(activity_attributes, r, item, type_, campaigns),
                )
            except Skip:
                # Its time may be unknown: its person is unknown only if nothing creates them.
                pid = item.get("person")
                if isinstance(pid, str) and type_ != "fill_out_form" and not r.is_person(pid):
                    note_person(r, pid, type_, (math.inf, 0, index), r.source, r.where)
                raise
            activity = model.ExternalActivity(at=at, person=person, type=type_, attributes=attributes, fields=fields)
            out.append((activity, r.where, len(r.problems)))
    out.sort(key=lambda item: item[0].at)  # stable: same time keeps file order
    for order, (activity, where, slot) in enumerate(out):
        if not r.is_person(activity.person):
            note_person(r, activity.person, activity.type, (activity.at, 0, order), r.source, where, slot)
    return [activity for activity, _, _ in out]


def external_type(r: Reader, item: object, noun: str, keys: tuple[str, ...]) -> str:
    """The activity type of one [[activities]] or [[load]] table, with its keys checked.

    ``keys`` are the table's own keys; the type's attributes are added to them.
    """
    if not isinstance(item, dict):
        raise r.fail(f"must be a table, not {kind_of(item)}")
    type_: str = r.get(item, "type", str)
    if type_ not in model.EXTERNAL_ACTIVITIES:
        raise r.fail(f'unknown activity type "{type_}"{suggest(type_, model.EXTERNAL_ACTIVITIES)}')
    r.where = f"{r.where} ({type_})"
    r.check_keys(item, (*keys, *model.EXTERNAL_ACTIVITIES[type_]), f"a {type_} {noun}")
    return type_


def activity_attributes(
    r: Reader, raw: Mapping[str, Any], type_: str, campaigns: Mapping[str, Campaign]
) -> dict[str, Value]:
    """The attributes of a ``type_`` activity (the form, the field and value, ...), checked."""
    allowed = model.EXTERNAL_ACTIVITIES[type_]
    attributes: dict[str, Value] = {}
    for key in allowed:
        if key in raw:
            attributes[key] = r.value(raw[key], f'"{key}"')
    if type_ == "change_data_value":
        field = r.field_name(r.get(raw, "field", str))
        attributes["value"] = r.field_value(field, r.get(raw, "value", (str, int, float, bool)))
    if type_ == "request_campaign":
        target = r.get(raw, "campaign", str)
        source = r.get(raw, "source", str, "web_service_api")
        if source not in model.REQUEST_SOURCES:
            raise r.fail(f'source "{source}" is not a request source; use one of {", ".join(model.REQUEST_SOURCES)}')
        attributes["source"] = source
        r.name("campaign", target, r.campaign_names)
        reason = request_refusal(campaigns.get(target), source)
        if reason:
            raise r.fail(f'cannot request "{target}": {reason}')
    return attributes


def _form_fields(r: Reader, item: Mapping[str, Any], type_: str) -> dict[str, Value]:
    fields = r.field_values(r.get(item, "fields", dict, {}))
    if fields and type_ != "fill_out_form":
        raise r.fail('"fields" belongs to fill_out_form activities only')
    return fields
