"""The checks across sections of a scenario file, run once every section is read.

- R3, R4, R8, R9: what Request and Execute Campaign steps require of the campaigns they
  name (`check_requests_and_executes`; `request_refusal` also serves timed activities);
- unknown people: an activity for a person nobody declared needs an earlier form fill
  that creates them (`note_person`, `check_new_people`), and a scenario needs people;
- warnings: what is valid but almost surely not meant (`warnings`);
- the estimates of memory and work, on the whole scenario (`estimates`).

What one campaign or step may hold (R1, R2, R9, R16, R18, R21) is checked where it is read.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping

import attrs

from sim.scenario import model
from sim.scenario.estimate import memory_problem, work_warning
from sim.scenario.model import Campaign, Problem
from sim.scenario.read_problems import Reader
from sim.scenario.units import format_duration

#: Executable nesting limit below the top parent (R8).
MAX_EXECUTE_DEPTH = 3

#: The ids of the people ``new_people`` creates.
_NEW_ID = re.compile(r"new[1-9]\d*")


@attrs.frozen(kw_only=True)
class Call:
    """A Request or Execute Campaign action and where it was written."""

    campaign: str
    where: str
    action: model.RequestCampaign | model.ExecuteCampaign


# --- R3, R4, R8, R9: requests and executes -------------------------------------------


def request_refusal(target: Campaign | None, source: str) -> str | None:
    """Why ``target`` cannot be requested from ``source`` (R3, R9), or None if it can."""
    if target is None:
        return None  # reported as an unknown name already
    if target.kind == "executable":
        return "it is an executable campaign; executables cannot be requested, use execute_campaign (R9)"
    requested = [t for t in target.triggers if t.name == "campaign_is_requested"]
    if not requested:
        return 'it has no campaign_is_requested trigger; add triggers = [{ trigger = "campaign_is_requested" }] (R3)'
    if not target.active:
        return "it is inactive; a requested campaign must be active (R3)"
    if not any(_accepts_source(t, source) for t in requested):
        return f'its campaign_is_requested trigger does not accept source "{source}" (R3)'
    return None


def _accepts_source(trigger: model.Trigger, source: str) -> bool:
    for key, values in trigger.constraints:
        if key == "source" and source not in values:
            return False
    return True


def check_requests_and_executes(r: Reader, campaigns: Mapping[str, Campaign]) -> None:
    """Each Request Campaign step names a campaign it may request (R3, R9); each Execute
    Campaign step an executable (R4), with no cycle and no deeper nesting than allowed (R8)."""
    executes: dict[str, list[Call]] = {}
    for call in r.calls:
        action = call.action
        if isinstance(action, model.RequestCampaign):
            reason = request_refusal(campaigns.get(action.campaign), "marketo_flow_action")
            if reason:
                r.problem(f'cannot request "{action.campaign}": {reason}', where=call.where)
            continue
        target = campaigns.get(action.campaign)
        if target is None:
            continue
        if target.kind != "executable":
            r.problem(
                f'cannot execute "{action.campaign}": it is a {target.kind} campaign; '
                'only campaigns with kind = "executable" can be executed (R4)',
                where=call.where,
            )
        executes.setdefault(call.campaign, []).append(call)
    # R8: cycles and depth, each reported once, at the step that starts the chain
    reported: set[frozenset[str] | tuple[str, ...]] = set()
    for name in campaigns:
        for first, chain, problem in _execute_chains(executes, (name,)):
            if problem == "depth" and campaigns[chain[0]].kind == "executable":
                continue  # an executable is never the top parent; its callers report it
            key: frozenset[str] | tuple[str, ...] = frozenset(chain) if problem == "cycle" else chain
            if key in reported:
                continue
            reported.add(key)
            shown = " > ".join(f'"{c}"' for c in chain)
            if problem == "cycle":
                message = f"Execute Campaign cycle: {shown} (R8)"
            else:
                message = f"Execute Campaign nests deeper than {MAX_EXECUTE_DEPTH} levels: {shown} (R8)"
            r.problem(message, where=first.where)


def check_marketo_ids(r: Reader, campaigns: Mapping[str, Campaign]) -> None:
    """Each Marketo campaign id names one campaign, so `sim compare` can match by it."""
    first: dict[int, str] = {}
    for name, campaign in campaigns.items():
        if campaign.marketo_id is None:
            continue
        if campaign.marketo_id in first:
            r.problem(
                f'"marketo_id" {campaign.marketo_id} is also campaign "{first[campaign.marketo_id]}"\'s; '
                "each Marketo campaign is imported once",
                where=f'campaign "{name}"',
            )
        else:
            first[campaign.marketo_id] = name


def _execute_chains(
    executes: Mapping[str, list[Call]], chain: tuple[str, ...], calls: tuple[Call, ...] = ()
) -> Iterator[tuple[Call, tuple[str, ...], str]]:
    """Yield (call that starts it, chain, "cycle" | "depth") for every bad Execute path.

    ``calls[i]`` is the step of ``chain[i]`` that executes ``chain[i + 1]``.
    """
    for call in executes.get(chain[-1], ()):
        target = call.action.campaign
        longer, path = (*chain, target), (*calls, call)
        if target in chain:
            start = chain.index(target)
            yield path[start], longer[start:], "cycle"
        elif len(longer) - 1 > MAX_EXECUTE_DEPTH:
            yield path[0], longer, "depth"
        else:
            yield from _execute_chains(executes, longer, path)


# --- who the timed activities are for: declared people, and people form fills create ----


def note_person(
    r: Reader, person: str, type_: str, order: tuple[float, int, int], file: str, where: str, slot: int | None = None
) -> None:
    """An activity for ``person``, who is not declared: a form fill creates them, any
    other activity needs an earlier form fill (checked in `check_new_people`).

    ``order`` is the activity's place among all timed activities (time, source, then
    place in the source), the order the engine runs them in. ``slot`` is where its
    problem, if any, goes among the others (default: after those found so far).
    """
    slot = len(r.problems) if slot is None else slot
    if type_ == "fill_out_form":
        first = r.created.get(person)
        if first is None or order < first[0]:
            r.created[person] = (order, file, where, slot)
    else:
        r.uncreated.append((order, person, file, where, slot))


def check_new_people(r: Reader, generators: list[model.Generator]) -> None:
    """Activities for people nobody declared: each must come after a form fill that
    creates the person; no created id may clash with ``new_people``'s new1, new2, ..."""
    late: list[tuple[int, Problem]] = []

    def problem(slot: int, file: str, where: str, message: str) -> None:
        late.append((slot, Problem(file=file, where=where, message=message)))

    if any(generator.new_people > 0 for generator in generators):
        clash = '"{}" clashes with the people new_people creates (new1, new2, ...); pick another id'
        for pid in sorted(r.person_ids):
            if _NEW_ID.fullmatch(pid):
                problem(len(r.problems), r.source, f'person "{pid}"', clash.format(pid))
        for pid, (_, file, where, slot) in r.created.items():
            if _NEW_ID.fullmatch(pid):
                problem(slot, file, where, f"person {clash.format(pid)}")
    for order, pid, file, where, slot in r.uncreated:
        first = r.created.get(pid)
        if first is None or first[0] > order:
            later = "" if first is None else "; the form fill that creates it comes later"
            message = (
                f'unknown person "{pid}"; declare it with [[person]] or [people] count '
                f"(only a fill_out_form creates a person){later}"
            )
            if order[1] == 0 or r.row_problem_allowed(order[1]):
                problem(slot, file, where, message)
    # Each problem goes where it was found among the others, so problems stay in file order.
    for slot, found in reversed(sorted(late, key=lambda pair: pair[0])):  # equal slots: file order
        r.problems.insert(slot, found)


def check_some_people(
    r: Reader, population: int, people: list[model.PersonSpec], generators: list[model.Generator]
) -> None:
    """A problem if there are no people, when nothing else says so."""
    people_wrong = any(problem.where == "[people]" for problem in r.problems)  # count is: said so
    if population == 0 and not people and not people_wrong and any(g.new_people < 1 for g in generators):
        # Timed activities name their people: an unknown one is reported there.
        r.problem("there are no people; add [people] count = N or [[person]] tables", where="[people]")


# --- the whole scenario ---------------------------------------------------------------


def warnings(
    r: Reader,
    duration: float,
    campaigns: Mapping[str, Campaign],
    activities: list[model.ExternalActivity],
    generators: list[model.Generator],
    replays: list[model.Replay],
    queue: model.Queue | None,
) -> tuple[Problem, ...]:
    """Things that are valid but almost surely not what the author meant."""
    out: list[Problem] = []

    def warn(where: str, message: str) -> None:
        out.append(Problem(file=r.source, where=where, message=message))

    end = f"[sim] duration ({format_duration(duration)})"
    if not campaigns:
        warn("[campaigns]", "there are no campaigns, so nothing runs; add [campaigns.NAME] tables")
    executed = {call.action.campaign for call in r.calls if isinstance(call.action, model.ExecuteCampaign)}
    for campaign in campaigns.values():
        where = f'campaign "{campaign.name}"'
        if campaign.kind == "executable" and campaign.name not in executed:
            warn(where, "no campaign executes it, so it never runs (R4)")
        if campaign.schedule is not None and campaign.schedule.at >= duration:
            warn(where, f"its schedule starts at {format_duration(campaign.schedule.at)}, not before {end}")
        if not campaign.flow:
            warn(where, "its flow has no steps")
        if campaign.priority is not None and queue is None:
            warn(where, '"priority" has no effect without a [queue] table: runs never wait for a worker (R21)')
        elif campaign.priority is not None and campaign.priority_from >= duration:
            when = format_duration(campaign.priority_from)
            warn(where, f'"priority_from" ({when}) is not before {end}, so the override never applies (R21)')
    late = [a for a in activities if a.at >= duration]
    if late:
        warn("[[activities]]", f"timed activities at or after {end} never happen ({len(late)} of them)")
    for index, generator in enumerate(generators, 1):
        if generator.start >= duration:
            warn(r.load_where["rate", index], f"it starts at or after {end}, so it never fires")
    for number, replay in zip(r.replay_numbers, replays, strict=True):
        where = r.load_where["csv", number]
        if not replay.times:
            warn(where, f"{r.csv_shown[number]} has no rows")
        after = len(replay.times) - bisect.bisect_left(replay.times, duration)
        if after:
            warn(where, f"rows at or after {end} never happen ({after:,} of them)")
    if r.renamed:
        warn("[[generators]]", "now called [[load]]; rename the tables (the old name still works)")
    return tuple(out)


def estimates(r: Reader, scenario: model.Scenario) -> model.Scenario:
    """A problem if the people would not fit in this machine's memory, and a warning if the
    run is long; only for a scenario without problems, as the estimates need a whole one."""
    if not r.problems:
        problem = memory_problem(scenario)
        if problem is not None:
            r.problem(problem, where="[people]")
        warning = work_warning(scenario)
        if warning is not None:
            scenario = attrs.evolve(
                scenario, warnings=(*scenario.warnings, Problem(file=r.source, where="", message=warning))
            )
    return scenario
