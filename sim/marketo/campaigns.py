"""One smart campaign record -> the parts of a sim campaign: its kind, its smart list (the
triggers, and the filters under the list's logic), its qualification rule (R18) and, for a
batch, its schedule (R2). Each part adds its lines to the campaign's report.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime, timedelta

from sim.marketo.asset_records import CampaignRecord, SmartListRecord
from sim.marketo.declarations import Declarations
from sim.marketo.import_report import CampaignReport
from sim.marketo.map_rules import Table, inline, map_filter, map_trigger
from sim.marketo.rule_logic import match_logic
from sim.scenario.units import format_duration

#: recurrence.intervalType -> seconds of one interval; a month is 30 days (R18's month).
INTERVALS = {"hourly": 3600, "daily": 86_400, "weekly": 604_800, "monthly": 30 * 86_400}
_NAMED = {3600: "hourly", 86_400: "daily", 604_800: "weekly"}


def campaign_kind(record: CampaignRecord, smart_list: SmartListRecord | None, executed: Collection[int]) -> str:
    """sim's kind for a record (R1, R2, R4). The documented API has no executable flag
    (``type`` is batch, trigger or default): a campaign is executable when the payload
    says so (``isExecutable``) or another campaign's Execute Campaign step names it and it
    has no triggers, since only executables can be executed (R4)."""
    has_triggers = smart_list is not None and bool(smart_list.triggers)
    if record.is_executable or (record.id in executed and not has_triggers):
        return "executable"
    if record.type == "trigger" or has_triggers:
        return "trigger"
    return "batch"


def map_triggers(smart_list: SmartListRecord, kind: str, d: Declarations, report: CampaignReport) -> list[Table]:
    triggers: list[Table] = []
    for rule in smart_list.triggers:
        subject = f'trigger {rule.number} "{rule.name}"'
        if kind != "trigger":
            report.add(subject, "skipped", f"an {kind} campaign has no triggers (R4)", "trigger")
            continue
        tables, outcome, detail = map_trigger(rule, d)
        triggers += tables
        report.add(subject, outcome, detail, "trigger")
    return triggers


def map_filters(smart_list: SmartListRecord, d: Declarations, report: CampaignReport) -> list[Table]:
    """The filters sim ANDs: every OR of the list's logic by its first branch
    (`sim.marketo.rule_logic`), each filter mapped on its own."""
    rules = smart_list.filters
    if not rules:
        return []
    try:
        logic = match_logic(smart_list.match, len(rules), smart_list.logic)
    except ValueError as exc:
        report.add("filter logic", "approximated", f"{exc}: every filter ANDed")
        logic = match_logic("all", len(rules), None)
    kept = set(logic.kept())
    if not logic.exact():
        written = smart_list.logic if smart_list.match == "custom" else smart_list.match
        shown = " and ".join(str(n) for n in logic.kept())
        report.add(
            "filter logic",
            "approximated",
            f'"{written}" kept as {shown}: sim ANDs filters, so each OR keeps its first branch (admits fewer people)',
        )
    filters: list[Table] = []
    for rule in rules:
        subject = f'filter {rule.number} "{rule.name}"'
        tables, outcome, detail = map_filter(rule, d)  # declares the names it uses, even if left out
        if rule.number not in kept:
            report.add(subject, "skipped", "left out by the filter logic above", "filter")
            continue
        if not tables:
            detail += " (admits more people)"
        filters += tables
        report.add(subject, outcome, detail, "filter")
    return filters


def qualification(record: CampaignRecord, report: CampaignReport) -> str | None:
    """R18: "once" (None: the default), "every time" or "once every N unit"."""
    if record.qualification == "any":
        report.add("qualification", "mapped", "every time")
        return "every time"
    if record.qualification == "interval" and record.qualification_interval and record.qualification_unit:
        plural = "" if record.qualification_interval == 1 else "s"
        rule = f"once every {record.qualification_interval} {record.qualification_unit}{plural}"
        month = " (a month is 30 days)" if record.qualification_unit == "month" else ""
        report.add("qualification", "mapped", rule + month)
        return rule
    return None


def first_start(records: Collection[CampaignRecord]) -> datetime | None:
    """Time zero without a traffic export: midnight (UTC) of the day of the first batch
    start, so each batch keeps its time of day. A batch that has ended (its endAt before
    the latest batch start, the export's most recent schedule) does not count."""
    scheduled = [r.recurrence for r in records if r.recurrence.start_at is not None]
    if not scheduled:
        return None
    latest = max(r.start_at for r in scheduled if r.start_at is not None)
    starts = [r.start_at for r in scheduled if r.start_at is not None and (r.end_at is None or r.end_at >= latest)]
    first = min(starts or [latest])
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


def schedule(record: CampaignRecord, zero: datetime | None, report: CampaignReport) -> tuple[Table, float | None]:
    """A batch's ``schedule`` (R2) and whether it is active. The first run is
    ``recurrence.startAt`` from time zero, moved on by whole intervals when it falls
    before; a batch never scheduled (no startAt), or ended before time zero (its endAt), is
    written inactive (None: the first run's time otherwise)."""
    recurrence = record.recurrence
    if recurrence.start_at is None or zero is None:
        report.add("schedule", "skipped", "not scheduled in Marketo (no recurrence.startAt): written inactive")
        return {"at": "0s"}, None
    if recurrence.end_at is not None and recurrence.end_at < zero:
        ended = f"{recurrence.end_at:%Y-%m-%d %H:%M}Z"
        report.add("schedule", "skipped", f"ended ({ended}, endAt) before time zero: written inactive")
        return {"at": "0s"}, None
    every: int | None = None
    notes = []
    if recurrence.interval_type is not None:
        unit = INTERVALS.get(recurrence.interval_type.casefold())
        if unit is None:
            notes.append(f'interval "{recurrence.interval_type}" not modelled: runs once')
        else:
            every = unit * (recurrence.interval or 1)
            if recurrence.interval_type.casefold() == "monthly":
                notes.append("monthly as every 30 days")
            if unit % 86_400 == 0:
                notes.append("a fixed UTC period: daylight saving time not modelled")
    if recurrence.weekday_only:
        notes.append("weekdayOnly not modelled: runs on weekends too")
    if recurrence.unread:
        notes.append(f"recurrence {', '.join(recurrence.unread)} not read")
    at = (recurrence.start_at - zero).total_seconds()
    if at < 0 and every is not None:
        at += math.ceil(-at / every) * every  # the first run at or after time zero
    if at < 0:
        once = f"{recurrence.start_at:%Y-%m-%d %H:%M}Z"
        report.add("schedule", "skipped", f"its one run ({once}) is before time zero: inactive")
        return {"at": "0s"}, None
    if recurrence.end_at is not None:
        ends = (recurrence.end_at - zero) / timedelta(seconds=1)
        notes.append(f"endAt (at {format_duration(ends)}) not modelled: keeps running")
    table: Table = {"at": format_duration(at)}
    if every is not None:
        table["every"] = _NAMED.get(every) or format_duration(every)
    started = f"{recurrence.start_at:%Y-%m-%d %H:%M}Z"
    if notes:
        report.add("schedule", "approximated", f"{inline(table)} (starts {started}); " + "; ".join(notes))
    else:
        report.add("schedule", "mapped", f"{inline(table)} (starts {started})")
    return table, at
