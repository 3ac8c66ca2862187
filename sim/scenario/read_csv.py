"""Reading CSV replays: a ``[[load]]`` table with ``csv = "FILE"``, whose rows are timed
activities (a Marketo export, say), streamed so that millions of rows load in seconds.

A problem in the file is shown as FILE:LINE; only the first few of each file are shown
(`sim.scenario.read_problems.CSV_PROBLEMS`), the rest counted.
"""

from __future__ import annotations

import array
import csv
import difflib
import operator
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sim.scenario import model
from sim.scenario.cross_checks import note_person, request_refusal
from sim.scenario.model import Campaign, Value
from sim.scenario.read_problems import Reader, is_number, number_problem, suggest
from sim.scenario.units import parse_duration, show

if TYPE_CHECKING:
    import _csv

#: The columns of a CSV replay besides form fields ("field.NAME"): time, person and
#: activity first (required), then the attributes of the external activity types.
CSV_COLUMNS = ("time", "person", "activity", "form", "link", "page", "field", "value", "campaign", "source")

#: The longest line a CSV replay may have: a row of a Marketo export is a few hundred bytes.
MAX_CSV_LINE = 2**20


def read_replay(
    r: Reader, item: Mapping[str, Any], campaigns: Mapping[str, Campaign], number: int
) -> model.Replay | None:
    """Read and check the rows of a ``csv`` table's file; its path is relative to the
    scenario file's folder (the working directory for a scenario without a file)."""
    r.check_keys(item, ("csv",), "a csv [[load]] table")
    written: str = r.get(item, "csv", str)
    path = Path(r.file).parent / written  # the working directory's if there is no file
    resolved = str(path.resolve())
    r.csv_shown[number] = str(path)
    try:
        stream = open(resolved, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        base = "the scenario file's folder" if Path(r.file).is_file() else "the working directory"
        raise r.fail(
            f'csv "{written}": cannot read {resolved}: {exc.strerror}; a relative path starts from {base}'
        ) from None
    with stream:
        return _read_rows(r, stream, resolved, number, campaigns)


def _read_rows(
    r: Reader, stream: TextIO, resolved: str, number: int, campaigns: Mapping[str, Campaign]
) -> model.Replay | None:
    """The rows of CSV replay ``number``, or None (and a problem) if it is not a CSV file."""
    reader = csv.reader(bounded_lines(stream))
    try:
        return _rows(r, reader, resolved, number, campaigns)
    except csv.Error as exc:
        r.csv_problem(number, reader.line_num, f"not a CSV file the csv module can read: {exc}")
        return None
    except LineTooLong:
        message = f"a line longer than {MAX_CSV_LINE // 2**20} MB: not a CSV export (a binary file, /dev/zero?)"
        r.csv_problem(number, reader.line_num + 1, message)
        return None
    except OSError as exc:
        r.csv_problem(number, reader.line_num + 1, f"cannot read: {exc.strerror}")
        return None
    except UnicodeDecodeError as exc:
        r.csv_problem(number, reader.line_num + 1, f"not UTF-8 text: {exc}")
        return None


def _rows(
    r: Reader, reader: _csv.Reader, resolved: str, number: int, campaigns: Mapping[str, Campaign]
) -> model.Replay | None:
    """The rows of a CSV replay, checked, as a `model.Replay` sorted by time.

    Streamed: a row is kept as its time, its person (one string per distinct person)
    and the index of its template (type, attributes and form fields: each distinct one
    is checked and made once), so a million rows load in seconds and take little memory.
    """
    header = next(reader, None)
    if header is None:
        empty = 'the file is empty; the first row names the columns, e.g. "time,person,activity"'
        r.csv_problem(number, 1, empty)
        return None
    columns = _header(r, header, number)
    if columns is None:
        return None
    width = len(header)
    at_time, at_person, at_activity = columns["time"], columns["person"], columns["activity"]
    attributes = [name for name in CSV_COLUMNS[3:] if name in columns]
    fields = [name.removeprefix("field.") for name in columns if name.startswith("field.")]
    shape_of = operator.itemgetter(
        at_activity, *(columns[name] for name in attributes), *(columns[f"field.{name}"] for name in fields)
    )
    times: array.array[float] = array.array("d")
    people: list[str] = []
    kinds: array.array[int] = array.array("I")
    templates: list[model.ExternalActivity] = []
    # A row's type, attribute and field cells -> its template, or what is wrong with them.
    shapes: dict[object, int] = {}
    bad_shapes: dict[object, str] = {}
    seen: dict[str, tuple[str, bool]] = {}  # person -> (one shared string, declared)
    ordered, previous = True, 0.0
    for row in reader:
        if len(row) != width:
            if row:  # not a blank line
                r.csv_problem(number, reader.line_num, f"{len(row)} cells, but the header names {width} columns")
            continue
        cell = row[at_time]
        try:
            try:
                seconds: float | str = float(cell)  # seconds: the common case, and the fast one
            except ValueError:
                seconds = cell  # "1h30m"
            at = parse_duration(seconds)  # checked (negative, nan, over 100 years), on the µs grid
        except ValueError as exc:
            r.csv_problem(number, reader.line_num, '"time" is empty' if not cell else f'"time": {exc}')
            continue
        shape = shape_of(row)
        kind = shapes.get(shape)
        if kind is None:
            made = bad_shapes.get(shape) or _template(r, row, columns, attributes, fields, campaigns, templates)
            if isinstance(made, str):
                bad_shapes[shape] = made
                r.csv_problem(number, reader.line_num, made)
                continue
            kind = shapes[shape] = made
        person, declared = seen.get(row[at_person]) or _person(r, row[at_person], seen)
        if not person:
            r.csv_problem(number, reader.line_num, '"person" is empty')
            continue
        if not declared:
            line = reader.line_num
            note_person(r, person, templates[kind].type, (at, number, line), f"{r.csv_shown[number]}:{line}", "")
        if at < previous:
            ordered = False
        previous = at
        times.append(at)
        people.append(person)
        kinds.append(kind)
    if not ordered:  # sorted by time; rows at the same time keep the file's order
        order = sorted(range(len(times)), key=times.__getitem__)
        times = array.array("d", (times[i] for i in order))
        people = [people[i] for i in order]
        kinds = array.array("I", (kinds[i] for i in order))
    return model.Replay(csv=resolved, times=times, people=tuple(people), kinds=kinds, templates=tuple(templates))


def _header(r: Reader, header: list[str], number: int) -> dict[str, int] | None:
    """Column name -> position, from the first row; None (and problems) if it is bad."""
    names = [name.strip() for name in header]
    if not {"time", "person", "activity"} & set(names):
        shown = ",".join(header)
        r.csv_problem(
            number,
            1,
            f'the first row must name the columns, e.g. "time,person,activity,form"; it is "{shown}"',
        )
        return None
    columns: dict[str, int] = {}
    ok = True
    for position, name in enumerate(names):
        problem = None
        if name in columns:
            problem = f'column "{name}" appears twice'
        elif name.startswith("field."):
            field = name.removeprefix("field.")
            if field not in r.fields:
                problem = f'column "{name}": unknown field "{field}"{suggest(field, r.fields)}'
        elif name not in CSV_COLUMNS:
            close = difflib.get_close_matches(name, CSV_COLUMNS, n=1)
            known = ", ".join(CSV_COLUMNS)
            hint = f'did you mean "{close[0]}"?' if close else f"the columns are {known} and field.NAME"
            problem = f'unknown column "{name}"; {hint}'
        if problem is not None:
            r.csv_problem(number, 1, problem)
            ok = False
        columns.setdefault(name, position)
    for name in ("time", "person", "activity"):
        if name not in columns:
            required = '"time", "person" and "activity" are required'
            r.csv_problem(number, 1, f'the header has no "{name}" column; {required}')
            ok = False
    return columns if ok else None


def _person(r: Reader, person: str, seen: dict[str, tuple[str, bool]]) -> tuple[str, bool]:
    """A person cell seen for the first time: whether the person is declared."""
    entry = seen[person] = (person, r.is_person(person))
    return entry


def _template(
    r: Reader,
    row: list[str],
    columns: Mapping[str, int],
    attributes: list[str],
    fields: list[str],
    campaigns: Mapping[str, Campaign],
    templates: list[model.ExternalActivity],
) -> int | str:
    """A row's type, attributes and form fields, checked, as an index into
    ``templates`` (added if new); or the problem, as text."""
    type_ = row[columns["activity"]]
    if type_ not in model.EXTERNAL_ACTIVITIES:
        if not type_:
            return '"activity" is empty; give an activity type such as "fill_out_form"'
        return f'unknown activity "{type_}"{suggest(type_, model.EXTERNAL_ACTIVITIES)}'
    allowed = model.EXTERNAL_ACTIVITIES[type_]
    given = {name: row[columns[name]] for name in attributes if row[columns[name]]}
    for name in given:
        if name not in allowed:
            return f'"{name}" does not belong to a {type_} activity; leave that cell empty'
    values: dict[str, Value] = {}
    for name in fields:
        cell = row[columns[f"field.{name}"]]
        if cell:
            if type_ != "fill_out_form":
                return f'"field.{name}" belongs to fill_out_form rows only; leave that cell empty'
            try:
                values[name] = _cell_value(r, name, cell)
            except ValueError as exc:
                return f'"field.{name}": {exc}'
    # In the order [[activities]] gives them, so both log the same details.
    attributes_of: dict[str, Value] = {name: given[name] for name in allowed if name in given}
    if type_ == "change_data_value":
        field, value = given.get("field"), given.get("value")
        if field is None or value is None:
            return '"field" and "value" are required for change_data_value; write NULL to empty the field'
        if field not in r.fields:
            return f'unknown field "{field}"{suggest(field, r.fields)}'
        try:
            attributes_of["value"] = _cell_value(r, field, value)
        except ValueError as exc:
            return f'"value": {exc}'
    elif type_ == "request_campaign":
        target = given.get("campaign")
        if target is None:
            return '"campaign" is required for request_campaign'
        if target not in r.campaign_names:
            return f'unknown campaign "{target}"{suggest(target, r.campaign_names)}'
        source = attributes_of["source"] = given.get("source", "web_service_api")
        if source not in model.REQUEST_SOURCES:
            return f'source "{source}" is not a request source; use one of {", ".join(model.REQUEST_SOURCES)}'
        reason = request_refusal(campaigns.get(target), source)
        if reason:
            return f'cannot request "{target}": {reason}'
    templates.append(model.ExternalActivity(at=0.0, person="", type=type_, attributes=attributes_of, fields=values))
    return len(templates) - 1


def _cell_value(r: Reader, field: str, cell: str) -> Value:
    """A CSV cell written to ``field``: NULL is the empty value; a number for a field
    that holds numbers; true or false for a field whose default is a boolean; else text."""
    if cell == "NULL":
        return None
    default = r.fields[field].default
    if is_number(default):
        number: int | float
        try:
            number = int(cell)
        except ValueError:  # also for more than 4,300 digits
            try:
                number = float(cell)
            except ValueError:
                raise ValueError(f'field "{field}" holds numbers; {show(cell)} is not a number') from None
        problem = number_problem(number, shown=cell)
        if problem is not None:
            raise ValueError(f'field "{field}": {problem}')
        return number
    if isinstance(default, bool) and cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    return cell


class LineTooLong(Exception):
    """A CSV line over `MAX_CSV_LINE`: the file is not a CSV export."""


def bounded_lines(stream: TextIO) -> Iterator[str]:
    """The lines of ``stream``, each read with a bound: a file with no newline (``/dev/zero``)
    must not be read into memory whole."""
    while True:
        line = stream.readline(MAX_CSV_LINE + 1)
        if not line:
            return
        if len(line) > MAX_CSV_LINE:
            raise LineTooLong
        yield line
