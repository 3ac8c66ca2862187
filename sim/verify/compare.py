"""`sim compare`: run a scenario on an export's external activities and set what the
simulation did beside what the instance recorded, per campaign: runs, step activities by
type, and the lag from cause to effect (docs/compare.md). A first calibration of the
queue model (R19-R22) against reality.

- The load: the export's external activities (`sim.marketo.traffic.Traffic`). A scenario
  whose CSV replay already holds exactly those rows, cell for cell (one `sim import`
  wrote from this export) runs as it is; any other has its ``[[load]]`` and ``[[activities]]`` replaced by
  the export's replay, and the people and fields the replay needs declared. Either way it
  is simulated for the export's duration (`Traffic.duration`).
- Campaigns are matched by ``marketo_id`` to the export's campaignId.
- Effects: a campaign's activities of a type sim models and Marketo records
  (`COMPARED_TYPES`, `is_effect`), on both sides alike. sim's own wait, execute_campaign,
  send_alert, webhook_response, webhook_timeout activities are not effects (Marketo's
  documented activity types have none of them); an instance row of a type sim does not
  model (Open Email, Email Delivered) is counted as "not modelled" only.
- Counts: a campaign's effects of each type.
- Runs: the export has no run records, so a run is estimated from effects, the same way
  on both sides (`runs_and_lags`): one per lead and cause with at least one effect of the
  campaign. A run that made no effect (only Waits, or steps that changed nothing) is not
  counted on either side. A batch campaign (and an executable only batch campaigns run)
  is started by a schedule: its effects have no cause, count one run per lead, and have
  no lag (`scheduled_campaigns`).
- Lag: the cause of an effect for lead L is L's latest external activity at or before
  it; a campaign's lag for that cause is from it to the campaign's first effect for L
  after it. Measured the same way on both sides, so the two compare.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import math
import re
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from sim.marketo.activity_types import SIM_ACTIVITY
from sim.marketo.traffic import Traffic
from sim.observe.metrics import Percentiles, percentiles
from sim.observe.simulation import Simulation
from sim.run.activity import Activity
from sim.scenario import ScenarioError
from sim.scenario.loader import build_scenario, read_text, read_toml
from sim.scenario.model import ExecuteCampaign, Problem, Replay, Scenario
from sim.scenario.units import parse_duration

#: The sim activity types Marketo records as activities too: the ones compared.
COMPARED_TYPES = tuple(dict.fromkeys(SIM_ACTIVITY.values()))
_COMPARED = frozenset(COMPARED_TYPES)
#: External activity types in sim's log (a cause).
_CAUSES = frozenset(("fill_out_form", "click_link", "visit_page", "change_data_value", "request_campaign"))

#: (time, lead, campaign key) of an effect, in time order.
Effect = tuple[float, str, object]


def is_effect(sim_type: str | None) -> bool:
    """Whether a campaign's activity of this sim type is an effect, compared on both
    sides: a type sim models and Marketo records (`COMPARED_TYPES`). For an instance row,
    ``sim_type`` is its Marketo type's sim type (`SIM_ACTIVITY`), None when not modelled."""
    return sim_type in _COMPARED


@attrs.frozen(kw_only=True)
class Loaded:
    """The scenario as `sim compare` runs it, and what was done to its load."""

    scenario: Scenario
    #: "as is" (it replays the export already) or "replaced".
    load: str
    #: What the output says about it.
    note: str


@attrs.frozen(kw_only=True)
class CampaignComparison:
    """One campaign of the scenario beside its Marketo counterpart."""

    name: str
    marketo_id: int | None
    #: (sim, instance), each estimated from effects (`runs_and_lags`); instance None
    #: without a marketo_id.
    runs: tuple[int, int | None]
    #: The runs the simulation started (a run with no effect included), for reference.
    started: int = 0
    #: sim activity type -> (sim, instance), for the compared types either side has.
    activities: Mapping[str, tuple[int, int | None]]
    lag: tuple[Percentiles, Percentiles]  # (sim, instance), seconds
    #: Marketo type name -> rows of this campaign of a type sim does not model.
    not_modelled: Mapping[str, int] = attrs.field(factory=dict)
    #: A schedule starts its runs (`scheduled_campaigns`): a run is a lead's effects, and
    #: there is no lag.
    scheduled: bool = False


@attrs.frozen(kw_only=True)
class Comparison:
    """Everything `sim compare` prints and writes."""

    source: str
    seed: int
    duration: float
    load: Loaded
    traffic: Traffic
    campaigns: tuple[CampaignComparison, ...]
    #: campaignId -> (rows, {Marketo type name: rows}) of ids no campaign has.
    unmatched: Mapping[int, tuple[int, Mapping[str, int]]]
    #: Produced rows before t = 0 (before the first external activity): not compared.
    before_start: int
    has_queue: bool
    #: Leads only in produced rows, not declared by the scenario (`_undeclared`).
    undeclared: tuple[str, ...] = ()


def load_for_compare(path: str | Path, traffic: Traffic) -> Loaded:
    """The scenario at ``path``, with the export's external activities as its load;
    raises ScenarioError (with the problems of the export's replay named as such)."""
    data = read_toml(read_text(path), source=str(path))
    scenario = build_scenario(data, source=str(path), file=str(path))
    for replay in scenario.replays:
        if _same_rows(replay, traffic):
            rest = len(scenario.replays) + len(scenario.generators) - 1 + (1 if scenario.activities else 0)
            others = f", with its {counted(rest, 'other load table')}" if rest else ""
            note = (
                f'the scenario already replays this export (its [[load]] csv "{Path(replay.csv).name}" holds the '
                f"same {counted(len(replay), 'row')}): run as it is{others}"
            )
            return Loaded(scenario=attrs.evolve(scenario, duration=traffic.duration), load="as is", note=note)
    return _replaced(path, data, scenario, traffic)


def _same_rows(replay: Replay, traffic: Traffic) -> bool:
    """Whether ``replay`` holds exactly the export's external rows: the same times, people,
    activities and every other cell (form, link, page, field, value, campaign, source and
    the form fields), in the same order."""
    rows = traffic.external_rows
    if len(replay) != len(rows) or list(replay.times) != list(rows.times) or list(replay.people) != list(rows.leads):
        return False
    types = [t.type for t in replay.templates]
    if not all(types[a] == rows.names[b] for a, b in zip(replay.kinds, rows.kinds, strict=True)):
        return False
    for in_order in (True, False):
        try:
            with open(replay.csv, encoding="utf-8", newline="") as file:
                mine = _cells(file, in_order=in_order)
                theirs = _cells(io.StringIO(traffic.replay, newline=""), in_order=True)
                if all(a == b for a, b in itertools.zip_longest(mine, theirs)):
                    return True
                for _ in mine:  # a difference: in the file's order, or in the loader's?
                    pass
                return False
        except _OutOfOrder:
            continue  # sorted, as the loader sorts it
        except (OSError, UnicodeDecodeError, csv.Error, ValueError):
            return False
    return False


class _OutOfOrder(Exception):
    """A CSV replay's rows are not in time order (the loader sorts them)."""


def _cells(lines: Iterable[str], *, in_order: bool) -> Iterator[tuple[tuple[str, str], ...]]:
    """A CSV replay's rows, in the order sim's loader keeps them (stably by time), each as
    its non-empty cells but the time, (column, cell) sorted by column: two files that
    differ only in column order, quoting or line ends give the same. ``in_order``: streamed,
    raising `_OutOfOrder` at a row earlier than the one before (as `sim import` writes a
    replay, that does not happen); otherwise read whole and sorted."""
    reader = csv.reader(lines)
    header = next(reader, [])
    if "time" not in header:
        raise ValueError("no time column")
    at = header.index("time")
    held: list[tuple[float, tuple[tuple[str, str], ...]]] = []
    previous = -math.inf
    for row in reader:
        if len(row) != len(header):
            continue  # a blank line (the loader refused any other)
        cells = tuple(sorted((name, row[i]) for i, name in enumerate(header) if row[i] and i != at))
        try:
            seconds: float | str = float(row[at])
        except ValueError:
            seconds = row[at]
        time = parse_duration(seconds)
        if not in_order:
            held.append((time, cells))
            continue
        if time < previous:
            raise _OutOfOrder
        previous = time
        yield cells
    held.sort(key=lambda row: row[0])  # stable: rows at the same time keep the file's order
    for _, cells in held:
        yield cells


def _replaced(path: str | Path, read: Mapping[str, Any], scenario: Scenario, traffic: Traffic) -> Loaded:
    """The scenario's data (``read``, the file as TOML) with its load replaced by the
    export's replay."""
    data: dict[str, Any] = dict(read)
    tables, entries = len(data.get("load", data.get("generators", []))), len(data.get("activities", []))
    replaced = [
        *([counted(tables, "[[load]] table")] if tables else []),
        *([counted(entries, "[[activities]] entry", "[[activities]] entries")] if entries else []),
    ]
    for key in ("load", "generators", "activities"):
        data.pop(key, None)
    data["sim"] = {**data.get("sim", {}), "duration": traffic.duration}
    fields = dict(data.get("fields", {}))
    for name, default in traffic.fields.items():
        fields.setdefault(name, default)
    data["fields"] = fields
    declared = {person.id for person in scenario.people}
    added = [person for person in traffic.people if person not in declared]
    data["person"] = [*data.get("person", []), *({"id": person} for person in added)]
    with tempfile.TemporaryDirectory(prefix="sim-compare-") as folder:
        replay = Path(folder) / "export-replay.csv"
        replay.write_text(traffic.replay, encoding="utf-8")
        data["load"] = [{"csv": str(replay)}]
        try:
            loaded = build_scenario(data, source=str(path), file=str(path))
        except ScenarioError as exc:
            raise ScenarioError(
                Problem(file=_replay_named(p.file, str(replay), traffic.files), where=p.where, message=p.message)
                for p in exc.problems
            ) from None
    what = " and ".join(replaced) if replaced else "no load"
    note = (
        f"the scenario's own load ({what}) was replaced by the export's "
        f"{counted(len(traffic.external_rows), 'external activity', 'external activities')}; "
        f"{counted(len(added), 'person', 'people')} declared for them"
    )
    return Loaded(scenario=loaded, load="replaced", note=note)


def _replay_named(file: str, replay: str, files: Sequence[str]) -> str:
    """A problem's file, the replay compare wrote named as what it is: its line is not a
    line of the user's export (rows are sorted by time), so it is given as a row number."""
    made = f"the export's replay (made from {', '.join(files)})"
    line = re.fullmatch(re.escape(replay) + r":(\d+)", file)
    if line is not None:
        return f"{made}, row {int(line.group(1)) - 1} in time order"
    return file.replace(replay, made)


def counted(number: int, one: str, many: str = "") -> str:
    """``number`` things: "1 row", "2 rows" (``many``: the plural when not ``one`` + "s")."""
    return f"{number:,} {one if number == 1 else (many or one + 's')}"


@attrs.define(eq=False)
class _LogRows:
    """A sink that keeps only what compare reads of the log: causes and effects."""

    causes: list[tuple[float, str]] = attrs.field(factory=list)
    effects: list[tuple[float, str, str, str]] = attrs.field(factory=list)  # time, person, campaign, type

    def write(self, activity: Activity) -> None:
        self.write_fields(
            {
                "t": activity.time,
                "person": activity.person,
                "campaign": activity.campaign,
                "step": activity.step,
                "type": activity.type,
                "details": activity.details,
            }
        )

    def write_fields(self, fields: dict[str, Any]) -> None:
        campaign = fields["campaign"]
        if campaign is None:
            kind = fields["type"]
            if kind in _CAUSES and fields["details"].get("source") not in ("form", "webhook"):
                self.causes.append((fields["t"], fields["person"]))
        elif fields["step"] is not None and is_effect(fields["type"]):
            self.effects.append((fields["t"], fields["person"], campaign, fields["type"]))

    def close(self) -> None:
        pass


def compare(loaded: Loaded, traffic: Traffic, *, seed: int | None = None) -> Comparison:
    """Run ``loaded.scenario`` once (seeded) and compare it with ``traffic``."""
    scenario = loaded.scenario
    log = _LogRows()
    simulation = Simulation(scenario, seed=seed, sinks=[log], measure=False)
    summary = simulation.run_sync()
    scheduled = scheduled_campaigns(scenario)
    sim_runs, sim_lags = runs_and_lags(log.causes, ((t, p, c) for t, p, c, _ in log.effects), causeless=scheduled)
    rows = traffic.produced_rows
    kept = [i for i in range(len(rows)) if rows.times[i] >= 0]
    effect_kinds = {k for k, name in enumerate(rows.names) if is_effect(SIM_ACTIVITY.get(name))}
    instance_runs, instance_lags = runs_and_lags(
        zip(traffic.external_rows.times, traffic.external_rows.leads, strict=True),
        ((rows.times[i], rows.leads[i], rows.campaigns[i]) for i in kept if rows.kinds[i] in effect_kinds),
        causeless={scenario.campaigns[name].marketo_id for name in scheduled},
    )
    sim_counts: dict[tuple[str, str], int] = {}
    for _, _, owner, kind in log.effects:
        sim_counts[owner, kind] = sim_counts.get((owner, kind), 0) + 1
    instance_counts: dict[tuple[int, str], int] = {}
    for i in kept:
        key = (rows.campaigns[i], rows.names[rows.kinds[i]])
        instance_counts[key] = instance_counts.get(key, 0) + 1
    ids = {c.marketo_id for c in scenario.campaigns.values() if c.marketo_id is not None}
    campaigns = []
    for name, campaign in scenario.campaigns.items():
        mid = campaign.marketo_id
        mine = {t: n for (c, t), n in instance_counts.items() if c == mid} if mid is not None else {}
        theirs: dict[str, int] = {}
        for t, n in mine.items():
            if is_effect(SIM_ACTIVITY.get(t)):
                theirs[SIM_ACTIVITY[t]] = theirs.get(SIM_ACTIVITY[t], 0) + n
        types = [t for t in COMPARED_TYPES if sim_counts.get((name, t)) or theirs.get(t)]
        campaigns.append(
            CampaignComparison(
                name=name,
                marketo_id=mid,
                runs=(sim_runs.get(name, 0), instance_runs.get(mid, 0) if mid is not None else None),
                started=summary.campaigns[name].started,
                activities={
                    t: (sim_counts.get((name, t), 0), theirs.get(t, 0) if mid is not None else None) for t in types
                },
                lag=(percentiles(sim_lags.get(name, ())), percentiles(instance_lags.get(mid, ()))),
                not_modelled={t: n for t, n in sorted(mine.items()) if not is_effect(SIM_ACTIVITY.get(t))},
                scheduled=name in scheduled,
            )
        )
    unmatched: dict[int, tuple[int, dict[str, int]]] = {}
    for (cid, kind), n in sorted(instance_counts.items()):
        if cid not in ids:
            total, kinds = unmatched.get(cid, (0, {}))
            unmatched[cid] = (total + n, {**kinds, kind: n})
    return Comparison(
        source=scenario.source,
        seed=scenario.seed if seed is None else seed,
        duration=scenario.duration,
        load=loaded,
        traffic=traffic,
        campaigns=tuple(campaigns),
        unmatched=unmatched,
        before_start=len(rows) - len(kept),
        has_queue=scenario.queue is not None,
        undeclared=_undeclared(scenario, traffic),
    )


def scheduled_campaigns(scenario: Scenario) -> frozenset[str]:
    """The campaigns whose runs a schedule starts, not an activity: batch campaigns, and
    executables that only those execute (R6). Their runs have no cause, so no lag."""
    callers: dict[str, set[str]] = {}
    for name, campaign in scenario.campaigns.items():
        for step in campaign.flow:
            for action in step.actions():
                if isinstance(action, ExecuteCampaign):
                    callers.setdefault(action.campaign, set()).add(name)
    found = {name for name, campaign in scenario.campaigns.items() if campaign.kind == "batch"}
    grown = True
    while grown:
        more = {
            name
            for name, campaign in scenario.campaigns.items()
            if campaign.kind == "executable" and name not in found and callers.get(name) and callers[name] <= found
        }
        found |= more
        grown = bool(more)
    return frozenset(found)


def _undeclared(scenario: Scenario, traffic: Traffic) -> tuple[str, ...]:
    """Leads the export names only in rows campaigns produced (a batch campaign's members,
    say), that the scenario does not declare: the sim knows nothing of them."""
    known = {person.id for person in scenario.people}
    known.update(traffic.external_rows.leads)
    return tuple(dict.fromkeys(lead for lead in traffic.produced_rows.leads if lead not in known))


def runs_and_lags(
    causes: Iterable[tuple[float, str]], effects: Iterable[Effect], *, causeless: Collection[object] = ()
) -> tuple[dict[Any, int], dict[Any, list[float]]]:
    """Runs and lags per campaign key from causes (time, lead) and effects (time, lead,
    campaign), both in time order.

    An effect's cause is its lead's latest cause at or before it. Each (campaign, lead,
    cause) is one run, and its lag is from the cause to the campaign's first effect for
    it; effects with no cause before them count one run per lead and have no lag. The
    campaigns in ``causeless`` (batch campaigns: a schedule starts their runs) have no
    cause: one run per lead, and no lag, since one from an unrelated earlier activity
    would mean nothing.
    """
    times_of: dict[str, list[float]] = {}
    for at, lead in causes:
        times_of.setdefault(lead, []).append(at)
    seen: set[tuple[object, str, int]] = set()
    runs: dict[Any, int] = {}
    lags: dict[Any, list[float]] = {}
    for at, lead, campaign in effects:
        times = times_of.get(lead, [])
        cause = -1 if campaign in causeless else bisect.bisect_right(times, at) - 1
        key = (campaign, lead, cause)
        if key in seen:
            continue
        seen.add(key)
        runs[campaign] = runs.get(campaign, 0) + 1
        if cause >= 0:
            lags.setdefault(campaign, []).append(round(at - times[cause], 6))
    return runs, lags
