"""An instance's export, read: every JSON file given (a directory: every ``*.json`` under
it), each classified by what it holds, not by its name.

A file is one answer of Marketo's REST API, ``{"success": true, "errors": [],
"result": [...]}``, whose records are smart campaigns (``smartCampaigns.json``,
``smartCampaign/{id}.json``), smart lists with rules (``smartCampaign/{id}/smartList.json``),
programs (``programs.json``), activity types (``activities/types.json``) or lead activities
(``activities.json``). The last two are not read here: `Export` lists their files for the
activity reader (`sim.marketo.traffic`). Every problem of every file is collected and
raised once as an `ExportError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from sim.marketo.asset_records import (
    CampaignRecord,
    ProgramRecord,
    SmartListRecord,
    read_campaign,
    read_program,
    read_smart_list,
)
from sim.marketo.json_payload import Payload, Unreadable, api_errors, json_kind, load_json
from sim.marketo.problems import ExportError, ExportProblem

R = TypeVar("R", CampaignRecord, SmartListRecord, ProgramRecord)

#: What a payload's records are, by the keys of its first record.
KINDS = ("smart campaigns", "smart lists", "programs", "activity types", "lead activities")

_EXPECTED = (
    'sim import reads answers of Marketo\'s REST API, {"success": true, "result": [...]}, of smart campaigns, '
    "smart lists (with rules), programs, activity types or lead activities (docs/import.md)"
)


@attrs.frozen(kw_only=True)
class Export:
    """What the files of an export hold, by id, in id order."""

    campaigns: Mapping[int, CampaignRecord] = attrs.field(factory=dict)
    smart_lists: Mapping[int, SmartListRecord] = attrs.field(factory=dict)
    programs: Mapping[int, ProgramRecord] = attrs.field(factory=dict)
    #: Files of activity types (``activities/types.json``) and of lead activities (Get
    #: Lead Activities), as given, for the activity reader.
    activity_type_files: tuple[str, ...] = ()
    activity_files: tuple[str, ...] = ()
    #: Every file read, as the user named it (or as found under a directory given).
    files: tuple[str, ...] = ()


def export_files(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Each file to read with the name problems give it: a file as given, a directory's
    ``*.json`` files (at any depth, sorted); raises ExportError for a path that is neither."""
    found: list[tuple[Path, str]] = []
    problems = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.json") if p.is_file())
            if not inside:
                problems.append(ExportProblem(file=str(given), where="", message="a directory with no *.json file"))
            found += [(p, str(p)) for p in inside]
        elif path.exists():
            found.append((path, str(given)))
        else:
            problems.append(ExportProblem(file=str(given), where="", message="no such file or directory"))
    if problems:
        raise ExportError(problems)
    return found


def read_export(paths: Sequence[str | Path]) -> Export:
    """Read every file (`export_files`) and classify each by content; raises ExportError
    with every problem of every file."""
    campaigns: dict[int, CampaignRecord] = {}
    smart_lists: dict[int, SmartListRecord] = {}
    programs: dict[int, ProgramRecord] = {}
    type_files: list[str] = []
    activity_files: list[str] = []
    problems: list[ExportProblem] = []
    files = export_files(paths)
    for path, shown in files:
        try:
            data = load_json(path, shown)
        except Unreadable as exc:
            problems.append(exc.problem)
            continue
        p = Payload(file=shown)
        kind, records = _classify(p, data)
        if kind == "smart campaigns":
            for where, raw in records:
                _keep(campaigns, read_campaign(p, where, raw), _with_flow)
        elif kind == "smart lists":
            for where, raw in records:
                _keep(smart_lists, read_smart_list(p, where, raw), _later)
        elif kind == "programs":
            for where, raw in records:
                _keep(programs, read_program(p, where, raw), _later)
        elif kind == "activity types":
            type_files.append(shown)
        elif kind == "lead activities":
            activity_files.append(shown)
        problems += p.problems
    if problems:
        raise ExportError(problems)
    return Export(
        campaigns=dict(sorted(campaigns.items())),
        smart_lists=dict(sorted(smart_lists.items())),
        programs=dict(sorted(programs.items())),
        activity_type_files=tuple(type_files),
        activity_files=tuple(activity_files),
        files=tuple(shown for _, shown in files),
    )


def _classify(p: Payload, data: object) -> tuple[str | None, list[tuple[str, dict[str, Any]]]]:
    """The kind of records ``data`` holds (None: no records, or a problem recorded) and
    the records, each with its JSON path."""
    failed = api_errors(data) if isinstance(data, dict) else None
    if failed is not None:
        shown = "; ".join(f"{code} {message}" for code, message in failed)
        p.problem("$.success", f"the API answered false ({shown or 'no errors listed'}); fetch it again")
        return None, []
    if isinstance(data, dict) and data.get("success") is True and "result" not in data:
        return None, []  # Marketo leaves "result" out of an empty page (the last of a browse)
    if not isinstance(data, dict) or "result" not in data:
        what = json_kind(data) + (" without a result" if isinstance(data, dict) else "")
        p.problem("$", f"not an API answer: it is {what}; {_EXPECTED}")
        return None, []
    records = p.objects(data, "$", "result")
    if not records:
        return None, []
    kind = _kind_of(records[0][1])
    if kind is None:
        keys = ", ".join(sorted(records[0][1])[:8])
        p.problem("$.result[0]", f"records of an unknown kind (keys: {keys}); {_EXPECTED}")
    return kind, records


def _kind_of(record: Mapping[str, Any]) -> str | None:
    if "rules" in record:
        return "smart lists"
    if "leadId" in record and "activityTypeId" in record:
        return "lead activities"
    if "primaryAttribute" in record:
        return "activity types"
    if "channel" in record:
        return "programs"
    if any(key in record for key in ("smartListId", "flowId", "qualificationRuleType", "isRequestable", "flow")):
        return "smart campaigns"
    return None


def _with_flow(old: CampaignRecord, new: CampaignRecord) -> CampaignRecord:
    """A campaign read twice (a browse and its by-id record): the one with flow steps."""
    return old if old.flow is not None and new.flow is None else new


def _later(old: R, new: R) -> R:
    return new


def _keep(into: dict[int, R], record: R | None, pick: Callable[[R, R], R]) -> None:
    if record is None:
        return
    into[record.id] = pick(into[record.id], record) if record.id in into else record
