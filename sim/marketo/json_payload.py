"""Reading one JSON payload of Marketo's REST API with every problem named by its file and
JSON path (``smartCampaigns.json: $.result[3].name: ...``), never a traceback.

`load_json` parses a file (a syntax error names its line and column); `Payload` reads
values out of it by key, checking each one's type, and collects an `ExportProblem` for
each missing key or wrong type, so that one pass over an export finds them all.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from sim.marketo.problems import ExportProblem

#: The largest JSON file read, by the asset and the activity readers alike: a browse of
#: thousands of campaigns is a few MB, a Get Lead Activities page at most 300 activities.
MAX_JSON_BYTES = 64 * 2**20


class Unreadable(Exception):
    """The file cannot be read as JSON; ``problem`` says why."""

    def __init__(self, problem: ExportProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def load_json(path: Path, shown: str) -> object:
    """The JSON value in ``path`` (``shown``: the path as the user wrote it), or
    `Unreadable` naming the file, and for bad syntax its line and column."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise Unreadable(ExportProblem(file=shown, where="", message=f"cannot read: {exc.strerror}")) from None
    if len(data) > MAX_JSON_BYTES:
        message = f"larger than {MAX_JSON_BYTES // 2**20} MB; no Marketo asset payload is that large"
        raise Unreadable(ExportProblem(file=shown, where="", message=message))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(ExportProblem(file=shown, where="", message=f"not UTF-8 text: {exc}")) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(ExportProblem(file=shown, where=str(exc.lineno), message=_json_error(exc, text))) from None
    except RecursionError:
        raise Unreadable(ExportProblem(file=shown, where="", message="JSON nested too deeply to read")) from None


def _json_error(exc: json.JSONDecodeError, text: str) -> str:
    """What is wrong, and the likeliest cause: an activity export given as the export, or
    a file cut off (a download or copy that stopped)."""
    first = text.lstrip()[:200].split("\n", 1)[0]
    if "leadId" in first and "activityTypeId" in first:
        return "an activity export (a CSV), not an API answer: give it with --activities"
    if exc.pos >= len(text.rstrip()) or not text.rstrip().endswith(("}", "]")):
        return f"not valid JSON: the file ends too soon ({exc.msg}): it looks cut off; export or download it again"
    return f"not valid JSON: {exc.msg} (column {exc.colno}); the API's answers are JSON as it sent them"


def api_errors(answer: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """The (code, message) pairs of an answer that says ``"success": false`` (its
    ``errors``, those that are objects), or None when it does not say so. One reading for
    the asset reader, the activity reader and the live fetch."""
    if answer.get("success", True) is not False:
        return None
    errors = answer.get("errors")
    listed = errors if isinstance(errors, list) else []
    return [(str(e.get("code", "?")), str(e.get("message", ""))) for e in listed if isinstance(e, dict)]


def json_kind(value: object) -> str:
    """What a JSON value is, for a message: 'a string', 'an array', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return {int: "an integer", float: "a number", str: "a string", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__
    )


#: Type -> how a message names it.
_NAMES: Mapping[type, str] = {
    int: "an integer",
    str: "a string",
    bool: "true or false",
    list: "an array",
    dict: "an object",
}


@attrs.define(eq=False)
class Payload:
    """The problems of one JSON file, and typed access to its values by JSON path."""

    file: str
    problems: list[ExportProblem] = attrs.field(factory=list)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(ExportProblem(file=self.file, where=where, message=message))

    def get(self, obj: Mapping[str, Any], path: str, key: str, kind: type, *, required: bool = True) -> Any:
        """``obj[key]`` if it is of ``kind`` (None when absent or null and not
        ``required``); else a problem at ``path`` and None. An integer is not a bool,
        and a whole float (``1001.0``) reads as an integer."""
        if key not in obj or obj[key] is None:
            if required:
                shown = "null" if key in obj else "missing"
                self.problem(path, f'"{key}" is {shown}; the API always sends it here')
            return None
        value = obj[key]
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            shown = json.dumps(value)[:60]
            self.problem(f"{path}.{key}", f"must be {_NAMES[kind]}, not {json_kind(value)} ({shown})")
            return None
        return value

    def name(self, obj: Mapping[str, Any], path: str, key: str, what: str) -> str | None:
        """``obj[key]``, a name sim writes into the scenario (a campaign's, a program's, a
        field's): a string, not empty, without control characters; else a problem at its
        path and None."""
        value = self.get(obj, path, key, str)
        return None if value is None else self.checked_name(value, f"{path}.{key}", what)

    def checked_name(self, value: str, where: str, what: str) -> str | None:
        """``value`` if it can name ``what`` in a scenario; else a problem at ``where`` and None."""
        if not value.strip():
            self.problem(where, f"the {what}'s name is empty ({json.dumps(value)}); name it in Marketo")
            return None
        control = next((c for c in value if unicodedata.category(c) == "Cc"), None)
        if control is not None:
            self.problem(
                where,
                f"the {what}'s name {json.dumps(value)} holds a control character (U+{ord(control):04X}), "
                "which a scenario file cannot hold; rename it in Marketo",
            )
            return None
        return value

    def objects(
        self, obj: Mapping[str, Any], path: str, key: str, *, required: bool = True
    ) -> list[tuple[str, dict[str, Any]]]:
        """The objects of the array ``obj[key]``, each with its path; a problem for the
        array if it is not one, and for each item that is not an object."""
        items = self.get(obj, path, key, list, required=required)
        found = []
        for index, item in enumerate(items or []):
            where = f"{path}.{key}[{index}]"
            if isinstance(item, dict):
                found.append((where, item))
            else:
                self.problem(where, f"must be an object, not {json_kind(item)}")
        return found

    def texts(self, obj: Mapping[str, Any], path: str, key: str) -> tuple[str, ...]:
        """An optional array of values as text (``values``: strings, numbers as written)."""
        items = self.get(obj, path, key, list, required=False)
        texts = []
        for index, item in enumerate(items or []):
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                texts.append(json.dumps(item))
            else:
                self.problem(f"{path}.{key}[{index}]", f"must be a string or a number, not {json_kind(item)}")
        return tuple(texts)

    def text(self, obj: Mapping[str, Any], path: str, key: str) -> str | None:
        """An optional scalar as text: a string, or a number or boolean as JSON writes it."""
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)):  # bool included: "true"
            return json.dumps(value)
        self.problem(f"{path}.{key}", f"must be a string or a number, not {json_kind(value)}")
        return None
