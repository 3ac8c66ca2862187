"""Reading an instance's activities: a Bulk Activity Extract CSV, Get Lead Activities JSON
pages, and the activity types (`activities/types.json`), as Marketo's REST API documents
them ("Bulk Activity Extract", "Lead Database: Activities", "Get Activity Types").

- A Bulk Activity Extract file is CSV with a header naming its columns, in any order:
  ``marketoGUID, leadId, activityDate, activityTypeId, campaignId,
  primaryAttributeValueId, primaryAttributeValue, attributes`` (a JSON object in one
  cell) and, optionally, ``actionResult``. A job may select fewer columns: ``leadId``,
  ``activityDate`` and ``activityTypeId`` are required, the others optional.
- A Get Lead Activities page is ``{"success": true, "result": [{"id", "marketoGUID",
  "leadId", "activityDate", "activityTypeId", "campaignId", "primaryAttributeValueId",
  "primaryAttributeValue", "attributes": [{"name", "value"}, ...]}, ...],
  "nextPageToken", "moreResult"}``; several pages are several files.
- ``activities/types.json`` is ``{"success": true, "result": [{"id", "name",
  "description", "primaryAttribute", "attributes"}, ...]}``.

A file is told apart by its content (JSON starts with ``{`` or ``[``), not its name. Every
malformed row or record is an `ExportProblem` naming the file and its line (CSV) or JSON
path; at most `PROBLEMS_PER_FILE` are shown per file, then how many more, and the reader
raises one `ExportError` with all of them. CSV files are streamed: a record is made per
row as it is read, and nothing of the file is kept.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import attrs

from sim.marketo.activity_types import DEFAULT_ACTIVITY_TYPES, ActivityType
from sim.marketo.dates import parse_datetime
from sim.marketo.json_payload import MAX_JSON_BYTES, api_errors
from sim.marketo.problems import ExportError, ExportProblem
from sim.scenario.read_csv import MAX_CSV_LINE, LineTooLong, bounded_lines

#: Problems shown per file; the rest are counted (as a CSV replay's, docs/scenarios.md).
PROBLEMS_PER_FILE = 20

#: The Bulk Activity Extract's columns (docs "Bulk Activity Extract"): required first.
REQUIRED_COLUMNS = ("leadId", "activityDate", "activityTypeId")
COLUMNS = (
    "marketoGUID",
    *REQUIRED_COLUMNS,
    "campaignId",
    "primaryAttributeValueId",
    "primaryAttributeValue",
    "attributes",
    "actionResult",
)

#: An attribute's value as an export gives it.
Scalar = str | int | float | bool | None


@attrs.frozen(kw_only=True)
class ActivityRecord:
    """One activity of an export, checked: who, when, what type, by which campaign."""

    guid: str  # marketoGUID ("" when the export has none)
    lead: str  # leadId, as text (the person's id in sim)
    date: datetime  # activityDate, in UTC
    type_id: int
    campaign_id: int | None  # the campaign whose flow produced it; None: from outside
    primary_id: int | None
    primary: str  # primaryAttributeValue ("" when none)
    attributes: Mapping[str, Scalar]
    action_result: str = ""
    file: str = ""
    where: str = ""  # the CSV line or the JSON path, for messages


@attrs.define(eq=False)
class Problems:
    """The problems of several files, at most `PROBLEMS_PER_FILE` shown per file."""

    shown: list[ExportProblem] = attrs.field(factory=list)
    counts: dict[str, int] = attrs.field(factory=dict)

    def add(self, file: str, where: str | int, message: str) -> None:
        count = self.counts[file] = self.counts.get(file, 0) + 1
        if count <= PROBLEMS_PER_FILE:
            self.shown.append(ExportProblem(file=file, where=str(where), message=message))

    def all(self) -> list[ExportProblem]:
        """The problems shown, and one per file with more, counting the rest."""
        found = list(self.shown)
        for file, count in self.counts.items():
            if count > PROBLEMS_PER_FILE:
                more = count - PROBLEMS_PER_FILE
                found.append(
                    ExportProblem(file=file, where="", message=f"{more:,} more problems in this file not shown")
                )
        return found

    def raise_any(self) -> None:
        if self.shown:
            raise ExportError(self.all())


# --- activity types ----------------------------------------------------------------


def read_activity_types(path: str) -> dict[int, ActivityType]:
    """An instance's activity types (``activities/types.json``), by id; raises ExportError."""
    problems = Problems()
    data = _json_file(path, problems)
    types: dict[int, ActivityType] = {}
    described = False  # a record with the keys only an activity type has
    if data is not None:
        for at, item in _results(path, data, problems):
            described = described or (isinstance(item, dict) and ("primaryAttribute" in item or "attributes" in item))
            type_id = item.get("id") if isinstance(item, dict) else None
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(item, dict):
                problems.add(path, at, f"an activity type must be an object, not {_kind(item)}")
            elif not _is_id(type_id):
                problems.add(path, f"{at}.id", f"the id must be a whole number >= 1, not {_shown(type_id)}")
            elif not isinstance(name, str) or not name.strip():
                problems.add(path, f"{at}.name", f"the name must be a non-empty string, not {_shown(name)}")
            elif int(type_id) in types:  # type: ignore[arg-type]  # _is_id: a whole number
                problems.add(path, f"{at}.id", f"activity type {type_id} appears twice")
            else:
                types[int(type_id)] = ActivityType(id=int(type_id), name=name.strip())  # type: ignore[arg-type]
        if not types and not problems.shown:
            problems.add(path, "$.result", "no activity types; give the Get Activity Types response")
        elif types and not described and not problems.shown:
            problems.add(path, "$.result", _NOT_TYPES)
        for type_id, expected in _FIXED_TYPES.items():
            if type_id in types and _folded(types[type_id].name) != _folded(expected):
                problems.add(
                    path,
                    "$.result",
                    f'activity type {type_id} is "{types[type_id].name}" here, but "{expected}" in every Marketo '
                    "instance: is this an instance's GET /rest/v1/activities/types.json?",
                )
    problems.raise_any()
    return types


#: The activity types whose ids Marketo fixes for every instance and the load is made of: a
#: types file naming them otherwise is another kind of file, or edited.
_FIXED_TYPES = {type_id: DEFAULT_ACTIVITY_TYPES[type_id] for type_id in (1, 2, 3)}
_NOT_TYPES = (
    "these records have no primaryAttribute or attributes: not an activity types answer (GET "
    "/rest/v1/activities/types.json); a smart campaigns answer belongs among the export's files, not --types"
)


def _folded(name: str) -> str:
    return "".join(name.split()).casefold()


# --- activities -------------------------------------------------------------------


def read_activity_records(path: str, problems: Problems) -> Iterator[ActivityRecord]:
    """The activities of one file (CSV or JSON, told by its content), in file order; each
    problem goes to ``problems`` and its row is left out."""
    if Path(path).is_dir():
        problems.add(
            path, "", "a folder: give the export's files (Bulk Activity Extract CSV, Get Lead Activities JSON)"
        )
        return
    try:
        stream = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        problems.add(path, "", f"cannot read: {exc.strerror}")
        return
    with stream:
        try:
            first = stream.read(1)
            while first.isspace():
                first = stream.read(1)
            stream.seek(0)
            if first in ("{", "["):  # JSON; anything else is read as CSV
                data = _json_text(path, stream, problems)
                if data is not None:
                    yield from _json_records(path, data, problems)
            else:
                yield from _csv_records(path, stream, problems)
        except UnicodeDecodeError as exc:
            problems.add(path, "", f"not UTF-8 text: {exc}")
        except OSError as exc:
            problems.add(path, "", f"cannot read: {exc.strerror}")


def _csv_records(path: str, stream: TextIO, problems: Problems) -> Iterator[ActivityRecord]:
    reader = csv.reader(bounded_lines(stream))
    try:
        header = next(reader, None)
        if header is None:
            problems.add(path, 1, f"the file is empty; a Bulk Activity Extract starts with {','.join(COLUMNS[:-1])}")
            return
        columns = _header(path, header, problems)
        if columns is None:
            return
        for row in reader:
            if len(row) != len(header):
                if row:
                    problems.add(path, reader.line_num, f"{len(row)} cells, but the header names {len(header)} columns")
                continue
            cells = {name: row[at] for name, at in columns.items()}
            record = _record(path, str(reader.line_num), cells, problems, csv_cell=True)
            if record is not None:
                yield record
    except csv.Error as exc:
        problems.add(path, reader.line_num, f"not a CSV file the csv module can read: {exc}")
    except LineTooLong:
        problems.add(
            path, reader.line_num + 1, f"a line longer than {MAX_CSV_LINE // 2**20} MB: not an activity export"
        )


def _header(path: str, header: list[str], problems: Problems) -> dict[str, int] | None:
    names = [name.strip() for name in header]
    if len(names) == 1 and ";" in names[0] and set(names[0].split(";")) & set(COLUMNS):
        problems.add(
            path,
            1,
            "the columns are separated by ';' (a spreadsheet's export in some locales): save it "
            "as CSV with commas, as Marketo's Bulk Activity Extract writes it",
        )
        return None
    if not set(names) & set(COLUMNS):
        problems.add(
            path, 1, f'the first row must name the columns, e.g. "{",".join(COLUMNS[:-1])}"; it is "{",".join(header)}"'
        )
        return None
    ok = True
    columns: dict[str, int] = {}
    for at, name in enumerate(names):
        if name in columns:
            problems.add(path, 1, f'column "{name}" appears twice')
            ok = False
        elif name not in COLUMNS:
            problems.add(path, 1, f'unknown column "{name}"{_suggest(name, COLUMNS)}')
            ok = False
        columns.setdefault(name, at)
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.add(path, 1, f'the header has no "{name}" column; {", ".join(REQUIRED_COLUMNS)} are required')
            ok = False
    return columns if ok else None


def _json_records(path: str, data: Any, problems: Problems) -> Iterator[ActivityRecord]:
    for at, item in _results(path, data, problems):
        if not isinstance(item, dict):
            problems.add(path, at, f"an activity must be an object, not {_kind(item)}")
            continue
        other = _other_answer(item)
        if other:  # one message for the file, not one per record
            problems.add(path, "$.result", other)
            return
        cells = dict(item)
        attributes = item.get("attributes", [])
        if isinstance(attributes, list):
            bad = [
                i
                for i, pair in enumerate(attributes)
                if not isinstance(pair, dict) or not isinstance(pair.get("name"), str)
            ]
            if bad:
                problems.add(path, f"{at}.attributes[{bad[0]}]", 'an attribute must be {"name": ..., "value": ...}')
                continue
            cells["attributes"] = {pair["name"]: pair.get("value") for pair in attributes}
        record = _record(path, at, cells, problems, csv_cell=False)
        if record is not None:
            yield record


def _other_answer(item: Mapping[str, Any]) -> str:
    """What answer of Marketo's a record that is no lead activity comes from, and where to
    give it; "" for an activity (or a record too broken to tell: its problems say why)."""
    if "leadId" in item or "activityTypeId" in item:
        return ""
    if "primaryAttribute" in item:
        return "this is the activity types answer (activities/types.json), not activities: give it with --types"
    if "smartListId" in item or "flowId" in item or "rules" in item:
        return (
            "this is an Asset API answer (smart campaigns or smart lists), not activities: give it as the export, "
            "before --activities"
        )
    return ""


def _record(
    path: str, where: str, cells: Mapping[str, Any], problems: Problems, *, csv_cell: bool
) -> ActivityRecord | None:
    """One row or record checked, or None (its problem added). The first problem of a row
    is reported: the rest usually follow from it."""
    json_path = where.startswith("$")

    def at(name: str) -> str:
        return f"{where}.{name}" if json_path else where

    def fail(name: str, message: str) -> None:
        problems.add(path, at(name), message if json_path else f'"{name}": {message}')

    lead = cells.get("leadId")
    if not _is_id(lead):
        fail("leadId", f"a lead id is a whole number >= 1, not {_shown(lead)}")
        return None
    date = parse_datetime(cells.get("activityDate"), date_only=True)
    if date is None:
        fail(
            "activityDate",
            f'{_shown(cells.get("activityDate"))} is not an ISO 8601 date and time such as "2024-03-04T09:15:00Z"',
        )
        return None
    type_id = cells.get("activityTypeId")
    if not _is_id(type_id):
        fail("activityTypeId", f"an activity type id is a whole number >= 1, not {_shown(type_id)}")
        return None
    optional: dict[str, int | None] = {}
    for name in ("campaignId", "primaryAttributeValueId"):
        value = cells.get(name)
        if value is None or value == "" or (csv_cell and value == "null"):
            optional[name] = None
        elif _is_id(value):
            optional[name] = int(value)
        else:
            fail(name, f"an id is a whole number >= 1 or empty, not {_shown(value)}")
            return None
    attributes = _attributes(cells.get("attributes"), csv_cell=csv_cell)
    if isinstance(attributes, str):
        fail("attributes", attributes)
        return None
    primary = cells.get("primaryAttributeValue")
    if primary is not None and not isinstance(primary, (str, int, float)):
        fail("primaryAttributeValue", f"must be text, not {_kind(primary)}")
        return None
    return ActivityRecord(
        guid=str(cells.get("marketoGUID") or cells.get("id") or ""),
        lead=str(int(lead)),  # type: ignore[arg-type]  # checked by _is_id
        date=date,
        type_id=int(type_id),  # type: ignore[arg-type]
        campaign_id=optional["campaignId"],
        primary_id=optional["primaryAttributeValueId"],
        primary="" if primary is None else str(primary),
        attributes=attributes,
        action_result=str(cells.get("actionResult") or ""),
        file=path,
        where=where,
    )


def _attributes(value: Any, *, csv_cell: bool) -> dict[str, Scalar] | str:
    """The attributes as a mapping, or what is wrong with them."""
    if value is None or value == "":
        return {}
    if csv_cell:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return f"not a JSON object: {_shown(value)}"
        if value == []:
            return {}
    if not isinstance(value, dict):
        return f"must be a JSON object of name: value, not {_kind(value)}"
    for name, item in value.items():
        if isinstance(item, (dict, list)) or (isinstance(item, float) and not math.isfinite(item)):
            return f'attribute "{name}" must be a plain value (text, number, true/false or null)'
    return value


# --- JSON envelopes ----------------------------------------------------------------


def _json_file(path: str, problems: Problems) -> Any:
    try:
        with open(path, encoding="utf-8-sig") as stream:
            return _json_text(path, stream, problems)
    except OSError as exc:
        problems.add(path, "", f"cannot read: {exc.strerror}")
    except UnicodeDecodeError as exc:
        problems.add(path, "", f"not UTF-8 text: {exc}")
    return None


def _json_text(path: str, stream: TextIO, problems: Problems) -> Any:
    text = stream.read(MAX_JSON_BYTES + 1)
    if len(text) > MAX_JSON_BYTES:
        problems.add(path, "", f"larger than {MAX_JSON_BYTES // 2**20} MB: not one page of an API response")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(path, "", f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    except (ValueError, RecursionError) as exc:
        problems.add(path, "", f"not JSON: {exc}")
    return None


def _results(path: str, data: Any, problems: Problems) -> Iterator[tuple[str, Any]]:
    """(JSON path, item) of a REST response's ``result`` array, after checking the envelope."""
    if not isinstance(data, dict):
        problems.add(path, "$", f'a REST response is an object {{"success": ..., "result": [...]}}, not {_kind(data)}')
        return
    failed = api_errors(data)
    if failed is not None:
        said = " ".join(failed[0]).strip() if failed else "?"
        problems.add(path, "$.success", f"the response says the request failed ({said}); fetch it again")
        return
    result = data.get("result", [])
    if not isinstance(result, list):
        problems.add(path, "$.result", f"must be an array, not {_kind(result)}")
        return
    for index, item in enumerate(result):
        yield f"$.result[{index}]", item


# --- small helpers -------------------------------------------------------------------


def _is_id(value: Any) -> bool:
    """A whole number >= 1 (as text in a CSV cell, as a JSON number or text otherwise)."""
    if type(value) is str:
        return _text_id(value) is not None
    return type(value) is int and value >= 1


@functools.lru_cache(maxsize=2**16)
def _text_id(text: str) -> int | None:
    """The id a cell holds, or None; remembered, as a lead, type or campaign id recurs."""
    text = text.strip()
    if not (text.isdigit() and text.isascii()):
        return None
    number = int(text)
    return number if number >= 1 else None


def _kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "empty"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + '..."'


def _suggest(name: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f'; did you mean "{close[0]}"?' if close else f"; the columns are {', '.join(known)}"
