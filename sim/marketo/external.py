"""What each activity of an export is to sim: external (it arrived on its own and becomes
a row of the load), produced (a campaign's flow made it: kept for `sim compare`), or
skipped (sim does not model it); and the CSV replay row of an external one.

The rules, by the activity type's name (an instance's own `activities/types.json`, or the
documented defaults), are in docs/compare.md:

- Fill Out Form, Visit Webpage, Click Link: external whatever their campaignId (no flow
  step fills a form or visits a page). ``fill_out_form`` (form = primaryAttributeValue,
  ``field.NAME`` from "Form Fields"), ``visit_page`` (page = "Webpage URL", else
  primaryAttributeValue), ``click_link`` (link = primaryAttributeValue, else "Link").
- Request Campaign: external when its "Source" is the Web Service API or Sales Insight,
  or it has neither a Source nor a campaignId: ``request_campaign`` (campaign = the
  requested one: its primaryAttributeValueId through the scenario's ``marketo_id``, else
  primaryAttributeValue; source ``web_service_api`` or ``sales_insight``). Otherwise
  (Marketo Flow Action) produced.
- Change Data Value: produced with a campaignId. Without one external
  (``change_data_value``: field = primaryAttributeValue, else "Attribute Name"; value =
  "New Value", NULL when empty), unless its "Source" or "Reason" says a form fill wrote
  it: then skipped, since the fill's Form Fields replay the write.
- Any other type sim models (Change Score, Add to List, ...): produced with a
  campaignId, skipped without.
- A type sim does not model, or one missing from the activity types: skipped.

A row whose ``actionResult`` is given and is not "succeeded" did nothing: it is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Literal

import attrs

from sim.marketo.activities import ActivityRecord, Scalar
from sim.marketo.activity_types import ActivityType
from sim.marketo.map_rules import OUTSIDE_REQUEST_SOURCES as REQUEST_SOURCES

#: The activity types that arrive from outside (Marketo names) whatever their campaignId.
ALWAYS_EXTERNAL = {"Fill Out Form": "fill_out_form", "Visit Webpage": "visit_page", "Click Link": "click_link"}

#: Hidden fields Marketo's forms submit with every fill (tracking, routing): not person
#: fields, so not replayed.
FORM_SYSTEM_FIELDS = frozenset(
    (
        "formid",
        "formvid",
        "munchkinid",
        "lpid",
        "subid",
        "lpurl",
        "followuplpid",
        "cr",
        "kw",
        "q",
        "_mkt_trk",
        "_mktoreferrer",
        "returnurl",
        "returnlpid",
        "returl",
        "checksum",
        "checksumfields",
    )
)

Kind = Literal["external", "produced", "skipped"]


@attrs.frozen(kw_only=True)
class Classified:
    """What an activity is: ``label`` names its type for the counts (the Marketo name,
    with why it was skipped when that is not plain); ``row`` is an external activity's
    replay row: (activity, attributes, form fields)."""

    kind: Kind
    label: str
    row: tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] | None = None
    #: A campaign's flow did it (a campaignId, done), modelled or not: `sim compare` keeps it.
    by_campaign: bool = False


def classify(
    record: ActivityRecord, types: Mapping[int, ActivityType], campaign_names: Mapping[int, str]
) -> Classified:
    """``record`` as external, produced or skipped (the table above)."""
    activity_type = types.get(record.type_id)
    if activity_type is None:
        return Classified(kind="skipped", label=f"type {record.type_id} (not in the activity types)")
    name, sim = activity_type.name, activity_type.sim_activity
    result = record.action_result.strip().lower()
    if result and result not in ("succeeded", "success"):
        return Classified(kind="skipped", label=f"{name} ({record.action_result})")
    attributes = record.attributes
    if name in ALWAYS_EXTERNAL:
        return Classified(kind="external", label=name, row=_row(ALWAYS_EXTERNAL[name], record))
    if sim == "request_campaign":
        source = _text(attributes.get("Source")).strip().lower()
        if source in REQUEST_SOURCES or (not source and record.campaign_id is None):
            return Classified(kind="external", label=name, row=_request(record, source, campaign_names))
    elif sim == "change_data_value" and record.campaign_id is None:
        said = f"{_text(attributes.get('Source'))} {_text(attributes.get('Reason'))}".lower()
        if re.search(r"form ?fill", said):
            return Classified(kind="skipped", label=f"{name} (written by a form fill)")
        return Classified(kind="external", label=name, row=_change(record))
    if record.campaign_id is None:
        return Classified(kind="skipped", label=name if sim is None else f"{name} (no campaignId)")
    return Classified(kind="produced" if sim is not None else "skipped", label=name, by_campaign=True)


def _row(activity: str, record: ActivityRecord) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    attributes = record.attributes
    if activity == "fill_out_form":
        fields = form_fields(attributes.get("Form Fields"))
        return activity, (("form", record.primary),) if record.primary else (), fields
    if activity == "visit_page":
        page = _text(attributes.get("Webpage URL")) or record.primary
        return activity, (("page", page),) if page else (), ()
    link = record.primary or _text(attributes.get("Link"))
    return activity, (("link", link),) if link else (), ()


def _request(
    record: ActivityRecord, source: str, campaign_names: Mapping[int, str]
) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    named = campaign_names.get(record.primary_id) if record.primary_id is not None else None
    campaign = named or record.primary
    return "request_campaign", (("campaign", campaign), ("source", REQUEST_SOURCES.get(source, "web_service_api"))), ()


def _change(record: ActivityRecord) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    field = record.primary or _text(record.attributes.get("Attribute Name"))
    value = _text(record.attributes.get("New Value")) or "NULL"
    return "change_data_value", (("field", field), ("value", value)), ()


def _text(value: Scalar) -> str:
    """An attribute value as a replay cell: true/false, numbers as written, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_fields(value: Scalar) -> tuple[tuple[str, str], ...]:
    """A Fill Out Form's "Form Fields": the values it submitted, as (field, cell) pairs.

    Marketo writes them as a PHP-serialized array (``a:2:{s:7:"Country";s:2:"US";...}``);
    a JSON object is read too. Empty values and Marketo's hidden form fields
    (`FORM_SYSTEM_FIELDS`) are left out; anything that cannot be read gives no fields.
    """
    if not isinstance(value, str) or not value.strip():
        return ()
    text = value.strip()
    pairs: Mapping[str, Scalar] | None
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            return ()
        pairs = loaded if isinstance(loaded, dict) else None
    else:
        pairs = _php_array(text.encode("utf-8"))
    if not pairs:
        return ()
    found = []
    for name, item in pairs.items():
        cell = _text(item) if not isinstance(item, (dict, list)) else ""
        if cell and str(name).strip() and str(name).lower() not in FORM_SYSTEM_FIELDS:
            found.append((str(name).strip(), cell))
    return tuple(found)


_PHP_SCALAR = re.compile(rb'(?:s:(\d+):"|i:(-?\d+);|d:([^;]+);|b:([01]);|(N);)')


def _php_array(data: bytes) -> dict[str, Scalar] | None:
    """A flat PHP-serialized array of scalars (``a:N:{key;value;...}``), or None."""
    head = re.match(rb"a:(\d+):\{", data)
    if head is None:
        return None
    at, items = head.end(), []
    while at < len(data) and data[at : at + 1] != b"}":
        match = _PHP_SCALAR.match(data, at)
        if match is None:
            return None
        length, integer, real, boolean, null = match.groups()
        value: Scalar
        if length is not None:
            start = match.end()
            end = start + int(length)
            if data[end : end + 2] != b'";':
                return None
            value, at = data[start:end].decode("utf-8", "replace"), end + 2
        else:
            at = match.end()
            if integer is not None:
                value = int(integer)
            elif real is not None:
                try:
                    value = float(real)
                except ValueError:
                    return None
            else:
                value = None if null else boolean == b"1"
        items.append(value)
    if len(items) % 2:
        return None
    return {str(items[i]): items[i + 1] for i in range(0, len(items), 2)}
