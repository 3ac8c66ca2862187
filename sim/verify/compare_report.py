"""`sim compare`'s output: the comparison as plain-text tables, what its differences may
mean, and the same as JSON (docs/compare.md)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from sim.observe.metrics import Percentiles
from sim.scenario.units import format_duration
from sim.verify.compare import CampaignComparison, Comparison, counted

#: The width the header lines and notes are wrapped to.
WIDTH = 110
#: A lag differs enough to be worth a note when one side's p50 is this many times the other's.
LAG_RATIO = 2.0


def format_comparison(comparison: Comparison) -> str:
    """The plain-text report: header, counts table, lag table, unmatched rows, notes."""
    traffic = comparison.traffic
    external = sum(traffic.external.values())
    produced = sum(traffic.produced.values())
    skipped = sum(traffic.skipped.values())
    files = counted(len(traffic.files), "file")
    records = counted(traffic.records, "activity", "activities")
    out = [
        f"sim compare: {comparison.source}, seed {comparison.seed}, {format_duration(comparison.duration)} simulated",
        f"export: {files}, {records}: {external:,} external, {produced:,} produced by "
        f"campaigns, {skipped:,} skipped (not modelled)"
        + (f", {counted(traffic.duplicates, 'duplicate')} left out" if traffic.duplicates else ""),
        f"t = 0 is {traffic.start.strftime('%Y-%m-%dT%H:%M:%SZ')}, the first external activity",
        *textwrap.wrap(f"load: {comparison.load.note}", WIDTH, subsequent_indent="  "),
        "",
        *textwrap.wrap(
            "Runs and activities per campaign (sim: this run; instance: the export; difference: sim - instance). "
            "A run is a lead's activities of the campaign after one external activity of theirs, counted alike on "
            "both sides; only the activity types both sides record are counted:",
            WIDTH,
        ),
    ]
    rows = []
    for campaign in comparison.campaigns:
        mid = str(campaign.marketo_id) if campaign.marketo_id is not None else "-"
        rows.append([campaign.name, mid, "runs", *_counts(campaign.runs)])
        for kind, pair in campaign.activities.items():
            rows.append(["", "", kind, *_counts(pair)])
        for name, count in campaign.not_modelled.items():
            rows.append(["", "", f"{name} (not modelled)", "-", f"{count:,}", "-"])
    out += _table(["campaign", "marketo_id", "activity", "sim", "instance", "difference"], rows)
    out += _lag_table(comparison)
    if comparison.unmatched:
        out += ["", "Rows whose campaignId matches no campaign of the scenario (not imported, or no marketo_id):"]
        unmatched = [
            [str(cid), f"{total:,}", ", ".join(f"{name} {n:,}" for name, n in kinds.items())]
            for cid, (total, kinds) in comparison.unmatched.items()
        ]
        out += _table(["campaignId", "rows", "types"], unmatched)
    if comparison.undeclared:
        shown = ", ".join(comparison.undeclared[:5]) + (", ..." if len(comparison.undeclared) > 5 else "")
        out.append("")
        out += textwrap.wrap(
            f"Leads in the export only in rows campaigns produced (a batch campaign's members, say), which the "
            f"scenario does not declare: {len(comparison.undeclared):,} ({shown}). The sim has fewer people than the "
            "instance and runs nothing for them; declare them with [[person]] (with the field values and lists the "
            "campaigns' filters look at) to compare their runs too.",
            WIDTH,
        )
    if comparison.before_start:
        one = comparison.before_start == 1
        out += [
            "",
            f"{counted(comparison.before_start, 'produced row')} {'comes' if one else 'come'} before t = 0 and "
            f"{'is' if one else 'are'} not compared.",
        ]
    out += ["", "What the differences may mean:"]
    for note in notes(comparison):
        out += textwrap.wrap(note, WIDTH, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(out) + "\n"


def _lag_table(comparison: Comparison) -> list[str]:
    """The lag table, and the campaigns left out of it (a schedule starts their runs)."""
    out = [
        "",
        "Lag from cause to effect, seconds (an external activity to the campaign's first activity for its lead):",
    ]
    lag_rows = []
    for campaign in comparison.campaigns:
        sim, instance = campaign.lag
        if sim.count or instance.count:
            mid = str(campaign.marketo_id) if campaign.marketo_id is not None else "-"
            lag_rows.append([campaign.name, mid, f"{sim.count:,}/{instance.count:,}", _spread(sim), _spread(instance)])
    header = ["campaign", "marketo_id", "samples sim/instance", "sim p50/p95/p99", "instance p50/p95/p99"]
    out += _table(header, lag_rows) if lag_rows else ["  (no samples on either side)"]
    scheduled = [f'"{c.name}"' for c in comparison.campaigns if c.scheduled]
    if scheduled:
        out += textwrap.wrap(
            f"  Left out, as a schedule starts their runs (a batch campaign, or an executable only batch campaigns "
            f"execute) and a lag would run from an unrelated earlier activity: {', '.join(scheduled)}. Their runs are "
            "counted one per lead.",
            WIDTH,
            subsequent_indent="  ",
        )
    return out


def notes(comparison: Comparison) -> list[str]:
    """A line per kind of difference found, saying what may cause it; the general ones first."""
    found = []
    matched = any(
        (campaign.runs[1] or 0) > 0 or any(instance for _, instance in campaign.activities.values())
        for campaign in comparison.campaigns
    )
    if comparison.unmatched and not matched:
        found.append(
            "None of the export's campaignIds matches a marketo_id of the scenario: is the export from the "
            "instance this scenario was imported from? (`sim import` writes each campaign's marketo_id.)"
        )
    if not comparison.has_queue:
        found.append(
            "The scenario has no [queue]: every run starts at once and its steps take no time, so the sim's lags are "
            "0. Add a [queue] with the instance's workers and service times (docs/queue.md, R19-R22) to model its "
            "delays, then compare again."
        )
    for campaign in comparison.campaigns:
        found += _campaign_notes(campaign, queued=comparison.has_queue)
    if comparison.unmatched:
        found.append(
            "Rows of campaigns the scenario does not hold: a campaign whose triggers sim does not model is not "
            "imported; give an imported campaign its marketo_id to compare it."
        )
    if not found:
        found.append("None: the counts agree, and the lags are within a factor of 2.")
    return found


def _campaign_notes(campaign: CampaignComparison, *, queued: bool) -> list[str]:
    name = f'"{campaign.name}"'
    if campaign.marketo_id is None:
        return [f"{name} has no marketo_id: nothing of the export is matched to it."]
    found = []
    fewer = [kind for kind, (sim, instance) in campaign.activities.items() if instance is not None and sim < instance]
    more = [kind for kind, (sim, instance) in campaign.activities.items() if instance is not None and sim > instance]
    if fewer:
        found.append(
            f"{name}: the instance recorded more {', '.join(fewer)}: a flow step or choice missing from the imported "
            "flow (a campaign imported with an empty flow and a TODO), a trigger not mapped, or people the sim does "
            "not know (a batch campaign runs over the instance's whole database)."
        )
    if more:
        found.append(
            f"{name}: the sim produced more {', '.join(more)}: a filter or qualification rule (R18) the import could "
            "not map, people the instance turned away, or an export limited to some activity types."
        )
    sim, instance = campaign.lag
    if queued and sim.count and instance.count:
        if instance.p50 > LAG_RATIO * sim.p50:
            found.append(
                f"{name}: the instance took longer (p50 {_s(instance.p50)}s against {_s(sim.p50)}s): fewer free "
                "workers or slower steps than the model's [queue] (R19-R22), or other campaigns' work queued ahead "
                "of it. A delay before every run starts, whatever the load, is not in sim's model: it shows here "
                "as a lag more workers do not shorten."
            )
        elif sim.p50 > LAG_RATIO * instance.p50:
            found.append(
                f"{name}: the sim took longer (p50 {_s(sim.p50)}s against {_s(instance.p50)}s): the model's queue is "
                "slower than the instance's; give it more workers or shorter service times."
            )
    return found


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison as JSON data (``--json``)."""
    traffic = comparison.traffic
    return {
        "scenario": comparison.source,
        "seed": comparison.seed,
        "duration": comparison.duration,
        "load": {"mode": comparison.load.load, "note": comparison.load.note},
        "export": {
            "files": list(traffic.files),
            "start": traffic.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "activities": traffic.records,
            "duplicates": traffic.duplicates,
            "external": dict(traffic.external),
            "produced": dict(traffic.produced),
            "skipped": dict(traffic.skipped),
        },
        "campaigns": [
            {
                "name": c.name,
                "marketo_id": c.marketo_id,
                "runs": _pair(c.runs),
                "started": c.started,
                "activities": {kind: _pair(pair) for kind, pair in c.activities.items()},
                "not_modelled": dict(c.not_modelled),
                "scheduled": c.scheduled,
                "lag": {"sim": _percentiles(c.lag[0]), "instance": _percentiles(c.lag[1])},
            }
            for c in comparison.campaigns
        ],
        "unmatched": [
            {"campaignId": cid, "rows": total, "types": dict(kinds)}
            for cid, (total, kinds) in comparison.unmatched.items()
        ],
        "before_start": comparison.before_start,
        "undeclared": list(comparison.undeclared),
        "notes": notes(comparison),
    }


def _pair(pair: tuple[int, int | None]) -> dict[str, int | None]:
    sim, instance = pair
    return {"sim": sim, "instance": instance, "difference": None if instance is None else sim - instance}


def _percentiles(p: Percentiles) -> dict[str, float | int]:
    return {"count": p.count, "mean": p.mean, "p50": p.p50, "p95": p.p95, "p99": p.p99, "max": p.max}


def _counts(pair: tuple[int, int | None]) -> list[str]:
    sim, instance = pair
    if instance is None:
        return [f"{sim:,}", "-", "-"]
    return [f"{sim:,}", f"{instance:,}", f"{sim - instance:+,}" if sim != instance else "0"]


def _spread(p: Percentiles) -> str:
    """p50/p95/p99 in seconds, or "-" without samples (not a lag of 0)."""
    return f"{_s(p.p50)}/{_s(p.p95)}/{_s(p.p99)}" if p.count else "-"


def _s(seconds: float) -> str:
    """Seconds as the table shows them: tenths below 100 s, whole seconds above (a lag
    measured in export timestamps, whole seconds, needs no more)."""
    if seconds >= 100:
        return f"{seconds:.0f}"
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns aligned: the first three to the left (names), the rest to the right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines
