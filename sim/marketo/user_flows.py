"""The user's own flows (``sim import --flows FILE``), for instances whose API does not
return flow steps: a TOML file whose keys are campaigns (by Marketo name, or id) and whose
values are arrays of steps in sim's own syntax (docs/scenarios.md, "Flow steps")::

    "Score Lead" = [
      { step = "change_score", field = "Lead Score", change = "+5" },
      { step = "execute_campaign", campaign = "Route Lead" },
    ]

    [["1004"]]
    step = "add_to_list"
    list = "MQL"

The lists, fields and program statuses the steps name are declared in the scenario like
those of the export; the steps themselves are checked by the scenario loader.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from sim.marketo.declarations import Declarations
from sim.marketo.problems import ExportError, ExportProblem
from sim.scenario.read_problems import kind_of


@attrs.frozen(kw_only=True)
class UserFlows:
    file: str
    #: Campaign (a Marketo name, or an id as text) -> its steps, as written.
    flows: Mapping[str, tuple[dict[str, Any], ...]]


def read_user_flows(path: str | Path) -> UserFlows:
    """Read and shape-check a flows file; raises ExportError with every problem."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ExportError([ExportProblem(file=shown, where="", message=f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ExportError([ExportProblem(file=shown, where="", message=f"not UTF-8 text: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ExportError([ExportProblem(file=shown, where="", message=f"TOML syntax error: {exc}")]) from None
    problems, flows = [], {}
    for key, steps in data.items():
        where = f'campaign "{key}"'
        if not isinstance(steps, list):
            example = '[{ step = "change_score", change = "+5" }]'
            message = f"{where}: must be an array of steps like {example}, not {kind_of(steps)}"
            problems.append(ExportProblem(file=shown, where="", message=message))
            continue
        bad = [n for n, step in enumerate(steps, 1) if not isinstance(step, dict) or "step" not in step]
        for number in bad:
            message = f'{where}, step {number}: a step is a table with "step" (its kind) and its parameters'
            problems.append(ExportProblem(file=shown, where="", message=message))
        flows[key] = tuple(steps)
    if not data:
        problems.append(ExportProblem(file=shown, where="", message="no flows in it; see docs/import.md"))
    if problems:
        raise ExportError(problems)
    return UserFlows(file=shown, flows=flows)


#: sim's number comparisons (docs/scenarios.md, "Filters"): their field holds numbers.
NUMBER_COMPARISONS = frozenset(("greater than", "less than", "at least", "at most"))


def declare(steps: tuple[dict[str, Any], ...], d: Declarations, program: str | None) -> None:
    """Declare what the steps name: lists, fields (a score's numeric), program statuses."""
    for table, of in _tables(steps):
        _declare(table, of, d, program)


def numeric_fields(flows: Iterable[tuple[dict[str, Any], ...]]) -> set[str]:
    """The fields the flows use as numbers (scores they change, number comparisons in
    their choices), known before any campaign is mapped: a filter on one compares numbers."""
    found: set[str] = set()
    for steps in flows:
        for table, kind in _tables(steps):
            field = table.get("field")
            if isinstance(field, str) and (kind == "change_score" or table.get("op") in NUMBER_COMPARISONS):
                found.add(field)
    return found


def _tables(steps: tuple[dict[str, Any], ...]) -> Iterator[tuple[dict[str, Any], object]]:
    """Every table of the steps (steps, choices, conditions, defaults), with the kind of
    step it belongs to (None for a condition)."""
    for step in steps:
        kind = step.get("step")
        tables: list[tuple[Any, object]] = [(step, kind)]
        choices = step.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            conditions = choice.get("if") if isinstance(choice, dict) else None
            tables.append((choice, kind))
            tables += [(c, None) for c in (conditions if isinstance(conditions, list) else [conditions])]
        tables.append((step.get("default"), kind))
        yield from ((table, of) for table, of in tables if isinstance(table, dict))


def _declare(table: Mapping[str, Any], kind: object, d: Declarations, program: str | None) -> None:
    if isinstance(table.get("list"), str):
        d.list(table["list"])
    if isinstance(table.get("field"), str):
        if kind == "change_score":
            d.numeric.add(table["field"])
        d.field(table["field"])
    status = table.get("status")
    owner = table.get("program", program if kind == "change_program_status" else None)
    if isinstance(status, str) and isinstance(owner, str):
        d.program(owner, [status])


def user_executed(flows: Iterable[tuple[dict[str, Any], ...]]) -> list[str]:
    """The campaigns the steps execute (so that they are imported as executables, R4)."""
    found = []
    for steps in flows:
        for step in steps:
            if step.get("step") != "execute_campaign":
                continue
            choices = step.get("choices")
            tables = [step, step.get("default"), *(choices if isinstance(choices, list) else [])]
            found += [t["campaign"] for t in tables if isinstance(t, dict) and isinstance(t.get("campaign"), str)]
    return found
