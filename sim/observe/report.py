"""The text people read after a run: a `Summary` laid out as tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sim.observe.metrics import Metrics, Percentiles
from sim.observe.races import Access, Race
from sim.observe.summary import Summary
from sim.scenario.model import Scenario, Value
from sim.scenario.units import format_duration


def format_number(value: int) -> str:
    return f"{value:,}"


def format_value(value: Value) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], indent: str = "  ") -> list[str]:
    rows = [list(r) for r in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row in [list(header), *rows]:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def format_summary(summary: Summary, *, wall_seconds: float | None = None, peak_mb: float | None = None) -> str:
    """The run summary: time, people, runs per campaign, steps, activities, final values."""
    out: list[str] = []
    head = f"{summary.source}: seed {summary.seed}, strategy {summary.strategy}"
    out.append(head)
    simulated = f"Simulated {format_duration(summary.virtual_time)} of virtual time"
    if summary.interrupted:
        simulated = (
            f"INTERRUPTED after {format_duration(summary.virtual_time)} of {format_duration(summary.duration)} "
            "of virtual time (partial results)"
        )
    cost = ""
    if wall_seconds is not None:
        cost = f", wall {wall_seconds:.2f}s"
    if peak_mb is not None:
        cost += f", peak memory {peak_mb:,.0f} MB"
    people = count_of(summary.people, "person", "people")
    created = summary.activities.get("person_created", 0)
    if created:  # form fills by unknown visitors made them during the run
        people += f" ({format_number(created)} created by form fills)"
    out.append(f"{simulated}, {people}{cost}")
    out.append("")
    header = ("Campaign", "started", "completed", "skipped", "removed", "stopped", "in progress", "steps")
    rows = [
        (
            name,
            format_number(t.started),
            format_number(t.completed),
            format_number(t.skipped),
            format_number(t.removed),
            format_number(t.stopped),
            format_number(t.in_progress),
            format_number(t.steps),
        )
        for name, t in summary.campaigns.items()
    ]
    out.extend(_table(header, rows, indent=""))
    out.append("")
    out.append(f"Steps executed: {format_number(summary.steps)}")
    total = sum(summary.activities.values())
    out.append(f"Activities: {format_number(total)}")
    out.extend(_table(("type", "count"), ((k, format_number(v)) for k, v in summary.activities.items())))
    if summary.fields or summary.lists or summary.statuses:
        out.append("")
        out.append("Final values the flows changed (value: people):")
        for field, counts in summary.fields.items():
            out.append(f"  {field}: " + _distribution(counts, summary.people))
        for name, members in summary.lists.items():
            out.append(f'  list "{name}": {format_number(members)} members')
        for program, statuses in summary.statuses.items():
            out.append(f'  program "{program}": ' + ", ".join(f'"{s}" {format_number(c)}' for s, c in statuses))
    if summary.budget_exhausted:
        out.append("")
        out.append(
            f"Step budget exhausted ({format_number(summary.step_budget)} steps per person) for "
            f"{count_of(len(summary.budget_exhausted), 'person', 'people')}; their runs were stopped:"
        )
        for report in summary.budget_exhausted[:10]:
            out.append(f'  {report.person}: at {format_duration(report.time)} in campaign "{report.campaign}"')
        if len(summary.budget_exhausted) > 10:
            out.append(f"  ... and {format_number(len(summary.budget_exhausted) - 10)} more")
        out.append(
            '  Most often a campaign whose own activity triggers it again (qualification "every time") '
            "cascades forever: narrow its trigger or filters. If the steps are real work (a heavy load on "
            "few people), raise [sim] step_budget."
        )
    return "\n".join(out)


def format_seconds(seconds: float) -> str:
    """A wait or latency, rounded for a table: 0, 85ms, 2.4s, 3m12s, 2d4h."""
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return format_duration(round(seconds))


def _spread(p: Percentiles) -> list[str]:
    if not p.count:
        return ["-"] * 4  # no sample (e.g. every run still waiting): not a wait of 0
    return [format_seconds(p.p50), format_seconds(p.p95), format_seconds(p.p99), format_seconds(p.max)]


def format_metrics(metrics: Metrics) -> str:
    """The campaign queue section of ``sim run``: backlog, waits, latency (docs/queue.md)."""
    out = ["Campaign queue (R19-R22; waits and latency: p50 / p95 / p99 / max):"]
    header: tuple[str, ...] = (
        "Queue",
        "workers",
        "busy",
        "mean length",
        "max length",
        "wait p50",
        "p95",
        "p99",
        "max",
        "left queued",
    )
    rows = []
    for q in metrics.queues.values():
        left = ", ".join(f"{n:,} {p}" for p, n in q.queued_at_end.items() if n) or "0"
        if q.oldest_queued_at_end:
            left += f" (oldest waiting {format_seconds(q.oldest_queued_at_end)})"
        rows.append(
            (
                q.name,
                format_number(q.workers),
                f"{q.utilization:.0%}",
                f"{q.mean_length:,.1f}",
                format_number(q.max_length),
                *_spread(q.wait),
                left,
            )
        )
    out.extend(_table(header, rows))
    out.append("")
    header = (
        "Campaign",
        "priority",
        "runs",
        "done/h",
        "wait p50",
        "p95",
        "p99",
        "max",
        "latency p50",
        "p95",
        "p99",
        "max",
        "left queued",
    )
    rows = [
        (
            c.name,
            c.priority,
            format_number(c.started),
            f"{c.throughput:,.0f}",
            *_spread(c.wait),
            *_spread(c.latency),
            format_number(c.queued_at_end),
        )
        for c in metrics.campaigns.values()
    ]
    rows.extend(
        (f"(all {name}, all queues)", "", "", "", *_spread(wait), *_spread(latency), "")
        for name, (wait, latency) in metrics.priorities.items()
    )
    out.extend(_table(header, rows))
    out.append("")
    out.append(
        f"Throughput: {metrics.throughput:,.0f} runs completed and {metrics.steps_per_hour:,.0f} steps per hour "
        "of simulated time"
    )
    return "\n".join(out)


def _distribution(counts: Sequence[tuple[Value, int]], people: int, top: int = 8) -> str:
    shown = [f"{format_value(v)}: {format_number(c)} ({100 * c / people:.1f}%)" for v, c in counts[:top]]
    rest = counts[top:]
    if rest:
        shown.append(f"{len(rest)} other values: {format_number(sum(c for _, c in rest))}")
    numbers = [(v, c) for v, c in counts if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) > 1:
        weight = sum(c for _, c in numbers)
        mean = sum(float(v) * c for v, c in numbers) / weight
        low = min(float(v) for v, _ in numbers)
        high = max(float(v) for v, _ in numbers)
        shown.append(f"[min {low:g}, mean {mean:.4g}, max {high:g}]")
    return ", ".join(shown)


def format_check(scenario: Scenario) -> str:
    """The one-line verdict of ``sim check`` on a valid file."""
    kinds: dict[str, int] = {}
    for campaign in scenario.campaigns.values():
        kinds[campaign.kind] = kinds.get(campaign.kind, 0) + 1
    described = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"
    steps = sum(len(c.flow) for c in scenario.campaigns.values())
    people = scenario.population + len(scenario.people)
    timed = count_of(
        len(scenario.activities) + sum(len(replay) for replay in scenario.replays), "timed activity", "timed activities"
    )
    if scenario.replays:
        timed += f" ({count_of(len(scenario.replays), 'CSV file')})"
    return (
        f"{scenario.source}: ok: {count_of(len(scenario.campaigns), 'campaign')} ({described}), "
        f"{count_of(steps, 'step')}, {count_of(people, 'person', 'people')}, "
        f"{timed}, "
        f"{count_of(len(scenario.generators), 'generator')}, "
        f"{format_duration(scenario.duration)} simulated"
    )


def count_of(number: int, one: str, many: str = "") -> str:
    return f"{format_number(number)} {one if number == 1 else (many or one + 's')}"


def describe_item(item: str) -> str:
    """A race's item in words: a field, a list, a program status, a rule's record."""
    kind, _, name = item.partition(":")
    if item == "person":
        return "whether the person exists yet (a form fill by an unknown visitor creates it)"
    if not name:
        return f'field "{item}"'
    return {
        "list": f'membership of list "{name}"',
        "program": f'status in program "{name}"',
        "qualification": f'who has run through "{name}" (its qualification rule, R18)',
        "flow": f'whether a run is still in the flow of "{name}" (Remove from Flow, R11)',
    }[kind]


def _did(access: Access, item: str) -> str:
    """What an access did: "read", "add" (a score increment), "write "US"", ..."""
    if item == "person":
        return "create" if access.op == "update" else access.op
    kind, _, name = item.partition(":")
    shown = (not name or kind == "program") and access.op in ("write", "update", "raise")
    if shown:
        return f"{'write' if access.op == 'update' else access.op} {format_value(access.value)}"
    return access.op


def format_races(races: Sequence[Race], *, accesses: int) -> str:
    """``sim run --races``: every pair of conflicting accesses nothing orders, deduplicated
    across people (docs/races.md). Races at the same instant in full, then those only time
    kept apart, a line each, the closest calls first."""
    checked = f"{format_number(accesses)} accesses to people's state checked"
    if not races:
        return f"No races: {checked}; every pair of conflicting accesses is ordered."
    out = [f"Races: {count_of(len(races), 'pair', 'pairs')} of conflicting accesses that nothing orders ({checked})"]
    now = [race for race in races if race.same_instant]
    later = sorted((race for race in races if not race.same_instant), key=lambda race: race.gap)
    if now:
        out.append("")
        out.append(f"At the same instant, so the schedule alone decides ({len(now)}; sim explore can show each):")
    for number, race in enumerate(now, 1):
        out.append("")
        out.append(f"{number}. {describe_item(race.item)}: {_people(race)}")
        width = max(len(_did(race.first, race.item)), len(_did(race.second, race.item)))
        for access in (race.first, race.second):
            out.append(f"  {_did(access, race.item):<{width}}  {access.site.describe()}")
            out.append(f"  {'':<{width}}  by {access.chain[0] if access.chain else race.common}")
        out.append(f"  why: {race.why}")
        out.append(f"  e.g. {race.person} at {_time(race.first.time)}")
    if later:
        out.append("")
        out.append(
            f"Kept apart only by time ({len(later)}; a queue backlog, a Wait or a slow webhook can swap them), "
            "closest calls first:"
        )
        for number, race in enumerate(later, len(now) + 1):
            first, second = race.first, race.second
            did, other = _did(first, race.item), _did(second, race.item)
            out.append(
                f"{number}. {describe_item(race.item)}: {did} {first.site.describe()} ({first.by}) / "
                f"{other} {second.site.describe()} ({second.by}); {_people(race)}; "
                f"{race.person} at {_time(first.time)} and {_time(second.time)}"
            )
    out.append("")
    out.extend(_advice(races))
    return "\n".join(out)


def _advice(races: Sequence[Race]) -> list[str]:
    sides = [access for race in races for access in (race.first, race.second)]
    out = [
        "To order two accesses, make them steps of one run, or of executables one parent runs in turn",
        "(R6, R12). A trigger or a Request Campaign orders only what its cause did before it, not what",
        "the cause does next (R5).",
    ]
    if any(access.by.startswith("the webhook response") for access in sides):
        out.append("A webhook's write-back is ordered before nothing: read the field in a campaign its data")
        out.append("value change triggers (R16).")
    if any(access.by.startswith("the schedule of batch") for access in sides):
        out.append("A batch reads its smart list at its scheduled time, after the load of earlier instants only:")
        out.append("runs started before it may not have finished (R2).")
    return out


def _people(race: Race) -> str:
    shown = ", ".join(race.people[:5]) + (", ..." if len(race.people) > 5 else "")
    return f"{count_of(len(race.people), 'person', 'people')} ({shown})"


def _time(seconds: float) -> str:
    return format_duration(round(seconds, 3))
