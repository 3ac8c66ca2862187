"""An export (and optionally its traffic) -> a scenario file's text and the import report.

`translate` maps every campaign (`sim.marketo.campaigns`: kind, smart list, qualification,
schedule; `sim.marketo.map_flows`: the flow), declares what they name
(`sim.marketo.declarations`), and, given a `Traffic`, the people, fields and duration it
needs and a ``[[load]] csv`` replaying it. The text is TOML as docs/scenarios.md documents
it, with a comment above each campaign naming its Marketo id and what was not mapped
exactly, and a ``TODO`` where the export had no flow. The caller checks the text with the
scenario loader (`sim import` does): it must load.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
import tomli_w

from sim.marketo import campaigns as parts
from sim.marketo.asset_records import CampaignRecord, SmartListRecord
from sim.marketo.assets import Export
from sim.marketo.declarations import Declarations
from sim.marketo.import_report import CampaignReport, ImportReport
from sim.marketo.map_flows import FlowContext, Target, executed, flow_numeric_fields, map_step
from sim.marketo.map_rules import SOURCE_NAMES, Table, inline, rule_numeric_fields
from sim.marketo.problems import ExportError, ExportProblem
from sim.marketo.traffic import Traffic
from sim.marketo.user_flows import UserFlows, declare, numeric_fields, user_executed
from sim.scenario.units import format_duration

DAY = 86_400.0
#: Without traffic, the simulation runs a day, or an hour past the last batch's first run.
AFTER_LAST_BATCH = 3600.0


@attrs.frozen(kw_only=True)
class Translation:
    """A scenario file's text, its report, and the CSV replay to write beside it."""

    text: str
    report: ImportReport
    replay: str | None = None  # the CSV text; None without traffic
    replay_name: str = ""
    #: Campaigns (sim names) whose flow came from the user's flows file, whose file.
    user_flow_campaigns: frozenset[str] = frozenset()
    flows_file: str | None = None


@attrs.define(eq=False, kw_only=True)
class _Import:
    """What translating one export gathers as it goes."""

    export: Export
    d: Declarations
    report: ImportReport
    names: dict[int, str]  # campaign id -> its unique sim name
    programs: dict[int, str | None]
    kinds: dict[int, str]
    smart_lists: dict[int, SmartListRecord | None]
    resolve_id: Callable[[str], int | None]
    tables: dict[int, Table] = attrs.field(factory=dict)
    reports: dict[int, CampaignReport] = attrs.field(factory=dict)
    firsts: list[float] = attrs.field(factory=list)  # first run of each active batch


def translate(
    export: Export,
    *,
    traffic: Traffic | None = None,
    flows: UserFlows | None = None,
    replay_name: str = "activities.csv",
) -> Translation:
    """The scenario for ``export``; raises ExportError when ``flows`` names a campaign the
    export does not have, or ``traffic`` requests one that cannot be requested."""
    records = list(export.campaigns.values())
    resolve_id = _resolver(records)
    smart_lists = {r.id: export.smart_lists.get(r.smart_list_id or -1) for r in records}
    user = _user_flows(flows, records, resolve_id)
    refs = [ref for r in records for ref in executed(r.flow or ())] + user_executed(user.values())
    called = {i for ref in refs if (i := resolve_id(ref)) is not None}
    imp = _Import(
        export=export,
        d=Declarations(numeric=_numeric(records, smart_lists, traffic) | numeric_fields(user.values())),
        report=ImportReport(),
        names=campaign_names(records),
        programs={r.id: _program_name(r, export) for r in records},
        kinds={r.id: parts.campaign_kind(r, smart_lists[r.id], called) for r in records},
        smart_lists=smart_lists,
        resolve_id=resolve_id,
    )
    batches = [r for r in records if imp.kinds[r.id] == "batch"]
    zero = traffic.start if traffic is not None else parts.first_start(batches)
    for record in records:
        _campaign(imp, record, zero)
    _flows(imp, records, user, flows)
    duration = max([DAY] + [at + AFTER_LAST_BATCH for at in imp.firsts])
    if traffic is not None:
        duration = _traffic(imp, traffic)
    _notes(imp, traffic, zero)
    data = _scenario_data(imp, traffic, duration, replay_name)
    return Translation(
        text=_render(data, imp),
        report=imp.report,
        replay=traffic.replay if traffic is not None else None,
        replay_name=replay_name if traffic is not None else "",
        user_flow_campaigns=frozenset(imp.names[i] for i in user if i in imp.tables),
        flows_file=flows.file if flows is not None else None,
    )


# --- before the campaigns: names, programs, numeric fields ----------------------------------


def _resolver(records: list[CampaignRecord]) -> Callable[[str], int | None]:
    """A campaign as a flow step names it (its name, case-blind if need be, or its id) ->
    its id; the lowest id when names repeat."""
    by_id = {r.id for r in records}
    exact: dict[str, int] = {}
    folded: dict[str, int] = {}
    for record in records:
        exact.setdefault(record.name, record.id)
        folded.setdefault(record.name.casefold(), record.id)

    def resolve(ref: str) -> int | None:
        text = ref.strip()
        if text.isdigit() and int(text) in by_id:
            return int(text)
        return exact.get(text, folded.get(text.casefold()))

    return resolve


def campaign_names(records: Iterable[CampaignRecord]) -> dict[int, str]:
    """Each campaign's sim name, by id: its Marketo name, with `` (ID)`` added to every one
    but the first (lowest id) of campaigns that share one (names are unique per program in
    Marketo, but one per scenario in sim); a suffixed name already taken (a campaign is
    called "A (5)") gets ``(ID, 2)``, ``(ID, 3)``, ... until it is free. `sim import` reads
    the traffic with these names, so a request replays against the campaign the export's
    id names."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for record in sorted(records, key=lambda r: r.id):
        name, again = record.name, 1
        while name in taken:
            again += 1
            name = f"{record.name} ({record.id})" if again == 2 else f"{record.name} ({record.id}, {again - 1})"
        taken.add(name)
        names[record.id] = name
    return names


def _program_name(record: CampaignRecord, export: Export) -> str | None:
    if record.program_id is None:
        return None
    program = export.programs.get(record.program_id)
    return program.name if program is not None else f"Program {record.program_id}"


def _numeric(
    records: list[CampaignRecord], smart_lists: Mapping[int, SmartListRecord | None], traffic: Traffic | None
) -> set[str]:
    numeric: set[str] = set()
    for record in records:
        smart_list = smart_lists[record.id]
        for rule in (smart_list.triggers + smart_list.filters) if smart_list is not None else ():
            numeric |= rule_numeric_fields(rule)
        numeric |= flow_numeric_fields(record.flow or ())
    if traffic is not None:
        numeric |= {name for name, default in traffic.fields.items() if not isinstance(default, str)}
    return numeric


def _user_flows(
    flows: UserFlows | None, records: list[CampaignRecord], resolve_id: Callable[[str], int | None]
) -> dict[int, tuple[dict[str, Any], ...]]:
    if flows is None:
        return {}
    found: dict[int, tuple[dict[str, Any], ...]] = {}
    problems = []
    for key, steps in flows.flows.items():
        campaign = resolve_id(key)
        if campaign is None:
            known = ", ".join(f'"{r.name}" ({r.id})' for r in records[:12])
            message = f'campaign "{key}": no such campaign in the export; known: {known}'
            problems.append(ExportProblem(file=flows.file, where="", message=message))
        else:
            found[campaign] = steps
    if problems:
        raise ExportError(problems)
    return found


# --- each campaign --------------------------------------------------------------------------


def _campaign(imp: _Import, record: CampaignRecord, zero: datetime | None) -> None:
    """The campaign's table without its flow, or none (a trigger campaign none of whose
    triggers sim models)."""
    kind, name, program = imp.kinds[record.id], imp.names[record.id], imp.programs[record.id]
    report = CampaignReport(marketo_id=record.id, name=record.name, kind=kind)
    imp.reports[record.id] = report
    imp.report.campaigns.append(report)
    if name != record.name:
        report.add("name", "approximated", f'another campaign is also called "{record.name}": written as "{name}"')
    if kind == "executable" and not record.is_executable:
        report.add("kind", "mapped", "executable: an Execute Campaign step runs it (the API has no executable flag)")
        if record.recurrence.start_at is not None:
            report.add(
                "schedule",
                "skipped",
                "an executable is never scheduled (R4): its recurrence is left out, and it runs only when executed",
            )
    elif kind == "batch" and record.type == "default":
        report.add(
            "kind", "approximated", "no smart list rules, and no flow of the export executes it: an inactive batch"
        )
    table: Table = {"kind": kind}
    if program is not None:
        table["program"] = imp.d.program(program)
    smart_list = imp.smart_lists[record.id]
    triggers, filters = _smart_list(imp, record, smart_list, kind, report)
    if kind == "trigger" and not triggers:
        report.add("campaign", "skipped", "none of its triggers is modelled, so it would never run: not written")
        return
    report.sim_name = name
    active = record.is_active
    if kind == "batch":
        table["schedule"], first = parts.schedule(record, zero, report)
        active = first is not None
        imp.firsts += [first] if first is not None else []
    if kind != "executable" and not active:
        table["active"] = False
        if kind == "trigger":
            report.add("active", "mapped", "inactive")
    rule = parts.qualification(record, report)
    if rule is not None:
        table["qualification"] = rule
    table["marketo_id"] = record.id
    if triggers:
        table["triggers"] = triggers
    if filters:
        table["filters"] = filters
    imp.tables[record.id] = table


def _smart_list(
    imp: _Import, record: CampaignRecord, smart_list: SmartListRecord | None, kind: str, report: CampaignReport
) -> tuple[list[Table], list[Table]]:
    if smart_list is None:
        if record.type != "default":
            report.add(
                "smart list",
                "todo",
                f"not exported (smartCampaign/{record.id}/smartList.json?includeRules=true): no triggers or filters",
            )
        if kind == "trigger" and record.is_requestable:  # the API's word for "requested from the web service API"
            trigger = {"trigger": "campaign_is_requested", "source": "web_service_api"}
            report.add("trigger", "approximated", f"{inline(trigger)}, from isRequestable (R3)", "trigger")
            return [trigger], []
        return [], []
    triggers = parts.map_triggers(smart_list, kind, imp.d, report)
    return triggers, parts.map_filters(smart_list, imp.d, report)


def _flows(
    imp: _Import,
    records: list[CampaignRecord],
    user: Mapping[int, tuple[dict[str, Any], ...]],
    flows: UserFlows | None,
) -> None:
    """Each written campaign's flow: the user's, the exported one mapped, or a TODO."""
    targets = {r.id: _target(imp, r.id) for r in records if r.id in imp.tables}
    calls = {r.id: {t for ref in executed(r.flow or ()) if (t := imp.resolve_id(ref)) is not None} for r in records}
    for record in records:
        table = imp.tables.get(record.id)
        if table is None:
            continue
        report = imp.reports[record.id]
        if record.id in user:
            assert flows is not None
            steps = user[record.id]
            declare(steps, imp.d, imp.programs[record.id])
            table["flow"] = list(steps)
            replaced = " (instead of the exported flow)" if record.flow else ""
            report.add("flow", "mapped", f"{len(steps)} steps from {flows.file}{replaced}")
            continue
        if record.flow is None:
            report.add("flow", "todo", "the flow steps were not exported: written empty; give them with --flows FILE")
            continue
        ctx = FlowContext(
            d=imp.d,
            kind=imp.kinds[record.id],
            program=imp.programs[record.id],
            resolve=lambda ref: targets.get(imp.resolve_id(ref) or -1),
            cycles=frozenset(imp.names[t] for t in calls[record.id] if _reaches(calls, t, record.id)),
        )
        mapped_steps: list[Table] = []
        for step in record.flow:
            mapped, outcome, detail = map_step(step, ctx)
            report.add(f'step {step.number} "{step.type_name or step.type_id}"', outcome, detail, "step")
            mapped_steps += [mapped] if mapped is not None else []
        if mapped_steps:
            table["flow"] = mapped_steps


def _target(imp: _Import, campaign: int) -> Target:
    table = imp.tables[campaign]
    requestable = (
        table["kind"] == "trigger"
        and table.get("active", True)
        and any(_accepts(t, "marketo_flow_action") for t in table.get("triggers", []))
    )
    return Target(name=imp.names[campaign], kind=table["kind"], requestable=requestable)


def _accepts(trigger: Table, source: str) -> bool:
    """Whether a trigger table is a Campaign is Requested that accepts ``source``."""
    if trigger["trigger"] != "campaign_is_requested":
        return False
    sources = trigger.get("source", source)
    return source in (sources if isinstance(sources, list) else [sources])


def _reaches(calls: Mapping[int, set[int]], start: int, goal: int) -> bool:
    """Whether Execute Campaign calls lead from ``start`` to ``goal`` (R8: no cycles)."""
    seen, todo = set(), [start]
    while todo:
        at = todo.pop()
        if at == goal:
            return True
        if at not in seen:
            seen.add(at)
            todo += calls.get(at, set())
    return False


# --- traffic, notes, the file ------------------------------------------------------------------


def _traffic(imp: _Import, traffic: Traffic) -> float:
    """Declare what the replay needs; its duration. A campaign the replay requests through
    the API must be one the export has, active and requestable from the row's source (R3):
    each one that is not is a problem naming the first row requesting it."""
    for name in traffic.fields:
        imp.d.field(name)
    requests = dict(traffic.requests)
    for name in traffic.requested:  # a Traffic built without where its rows are
        if not any(campaign == name for campaign, _ in requests):
            requests[(name, "web_service_api")] = ("the activity export", "")
    problems = []
    for (name, source), (file, where) in requests.items():
        why = _unrequestable(imp, name, source)
        if why is not None:
            shown = SOURCE_NAMES.get(source, source)
            message = (
                f'the first row requesting campaign "{name}" from {shown} (R3): {why}; '
                f'make campaign "{name}" requestable from {shown}, or leave its rows out of the activity export'
            )
            problems.append(ExportProblem(file=file, where=where, message=message))
    if problems:
        raise ExportError(problems)
    return traffic.duration


def _unrequestable(imp: _Import, name: str, source: str) -> str | None:
    """Why campaign ``name`` (a sim name) cannot be requested from ``source``; None: it can."""
    campaign = next((i for i, sim_name in imp.names.items() if sim_name == name), None)
    if campaign is None:
        return "the export has no campaign of that name"
    table = imp.tables.get(campaign)
    if table is None:
        return "it is not written (none of its triggers is modelled)"
    if not any(_accepts(t, source) for t in table.get("triggers", [])):
        return f"it has no Campaign is Requested trigger whose source is {SOURCE_NAMES.get(source, source)}"
    if not table.get("active", True):
        return "it is inactive"
    return None


def _notes(imp: _Import, traffic: Traffic | None, zero: datetime | None) -> None:
    notes = imp.report.notes
    if zero is not None:
        why = "the first external activity" if traffic is not None else "midnight UTC of the first batch start"
        notes.append(f"time zero is {zero:%Y-%m-%d %H:%M:%S}Z ({why})")
    if traffic is None:
        notes.append("no activity export: the scenario has no people and no load; add [people] and [[load]]")
    else:
        for what, counts in (("load", traffic.external), ("produced", traffic.produced), ("skipped", traffic.skipped)):
            if counts:
                notes.append(f"activities {what}: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    fields = ", ".join(f'"{f}"' + (" (numeric)" if f in imp.d.numeric else "") for f in imp.d.fields)
    if fields:
        notes.append(f"fields declared: {fields}")
    for program, statuses in imp.d.programs.items():
        if len(statuses) > 2:
            notes.append(f'program "{program}": statuses in the order first seen: check its channel\'s progression')


def _scenario_data(imp: _Import, traffic: Traffic | None, duration: float, replay_name: str) -> dict[str, Any]:
    d = imp.d
    data: dict[str, Any] = {"sim": {"seed": 0, "duration": format_duration(duration)}}
    if d.lists:
        data["lists"] = list(d.lists)
    if d.fields:
        data["fields"] = {name: d.default(name) for name in d.fields}
    if traffic is not None and traffic.people:
        data["person"] = [{"id": person} for person in traffic.people]
    if d.programs:
        data["programs"] = {
            name: {"statuses": list(statuses)} | ({"tokens": dict(d.tokens[name])} if name in d.tokens else {})
            for name, statuses in d.programs.items()
        }
    if imp.tables:
        data["campaigns"] = {imp.names[i]: table for i, table in imp.tables.items()}
    if traffic is not None:
        data["load"] = [{"csv": replay_name}]
    return data


def _render(data: Mapping[str, Any], imp: _Import) -> str:
    """TOML with a comment above each campaign (its Marketo id, what was not mapped
    exactly, its TODOs) and, at the top, the campaigns not written."""
    comments: dict[str, list[str]] = {}
    for record_id, report in imp.reports.items():
        lines = [f"# Marketo smart campaign {record_id}: {report.name}"]
        for entry in report.lines:
            if entry.outcome != "mapped":
                marker = "TODO" if entry.outcome == "todo" else entry.outcome
                lines.append(f"# {marker}: {entry.subject}: {entry.detail}")
        comments[imp.names[record_id]] = lines
    head = ["# Imported by `sim import` from a Marketo export (docs/import.md); check it with `sim check`."]
    for report in imp.report.campaigns:
        if report.sim_name is None:
            head.append(f'# Not written: Marketo smart campaign {report.marketo_id} "{report.name}":')
            head += [f"#   {entry.outcome}: {entry.subject}: {entry.detail}" for entry in report.lines]
    head = [_comment(line) for line in head]
    comments = {name: [_comment(line) for line in lines] for name, lines in comments.items()}
    out = [*head, ""]
    for line in tomli_w.dumps(data, indent=2).splitlines():
        name = _campaign_header(line)
        if name is not None and name in comments:
            out += comments.pop(name)
        out.append(line)
    return "\n".join(out) + "\n"


def _comment(line: str) -> str:
    """A comment line as TOML allows it: a control character (a value's newline, say) as
    its escape."""
    return "".join(c if c == "\t" or unicodedata.category(c) != "Cc" else ascii(c)[1:-1] for c in line)


def _campaign_header(line: str) -> str | None:
    """The campaign a ``[campaigns."NAME"]`` header line opens (not its sub-tables)."""
    if not line.startswith("[campaigns."):
        return None
    data = tomllib.loads(line)["campaigns"]
    name, inner = next(iter(data.items()))
    return name if inner == {} else None
