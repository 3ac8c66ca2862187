"""The text of `sim explore`: an `Exploration`'s outcome classes and their witnesses."""

from __future__ import annotations

from collections.abc import Sequence

from sim.observe.report import count_of, format_number, format_value
from sim.verify.exhaustive import Exhaustive
from sim.verify.explore import Exploration, OutcomeClass
from sim.verify.group_report import GroupedOutcomes, RacingGroup
from sim.verify.groups import person_order
from sim.verify.outcomes import Difference
from sim.verify.search import Search

#: The differences shown per outcome class; the rest are counted.
_SHOWN_DIFFERENCES = 20


def format_exploration(
    exploration: Exploration,
    *,
    file: str,
    explore_seconds: float | None = None,
    shrink_seconds: float | None = None,
) -> str:
    """``sim explore``: each outcome class, how often, how it differs, and its witness.

    ``explore_seconds`` is the time spent running the schedules (the schedules/s figure
    counts that alone), ``shrink_seconds`` the time spent shrinking witnesses."""
    out = _format_heading(exploration, cost=_format_cost(exploration, explore_seconds, shrink_seconds))
    out.extend(_format_classes(exploration, file=file))
    return "\n".join(out)


def format_exhaustive(exhaustive: Exhaustive, *, file: str, seconds: float | None = None) -> str:
    """``sim explore --exhaustive``: the schedules run and the traces found, whether those
    are all the outcomes ("complete") or what stopped the search ("bounded", "INTERRUPTED"),
    then each kind of racing group with its outcomes and their witnesses."""
    found = exhaustive.search
    bound = "" if found.preemption_bound is None else f", preemption bound {found.preemption_bound}"
    cost = f" in {seconds:.2f}s" if seconds else ""
    out = [
        f"{exhaustive.source}: {count_of(found.schedules, 'schedule')} (exhaustive, source-DPOR{bound}){cost}: "
        + _format_traces(found)
    ]
    runs = count_of(found.schedules, "schedule")
    if found.complete:
        out.append(
            "complete: these are all the outcomes of this scenario (its people, its load) under the model's "
            "choice points"
        )
    elif found.stopped_by == "interrupted":
        out.append(f"INTERRUPTED after {runs}: not complete; the outcomes below are those of the schedules run")
    elif found.stopped_by == "preemptions":
        out.append(
            f"bounded: the preemption bound {found.preemption_bound} cut some schedules short; outcomes that need "
            "more deviations from the oldest-first order may be missing (raise --preemption-bound, or drop it)"
        )
    else:
        out.append(
            f"bounded: stopped at {runs} (--max-schedules {found.max_schedules:,}); more schedules may give "
            "more outcomes"
        )
    if found.unexplored:
        left = sorted(found.unexplored, key=person_order)
        out.append(f"  not explored: {_format_people(left)} (racing groups the search did not reach)")
    out.extend(format_groups(exhaustive.grouped, unit="trace", complete=found.complete))
    if exhaustive.grouped.racing:
        out.append("")
        out.append(f"Replay a witness: sim run {file} --schedule STRING --log -")
    return "\n".join(out)


def _format_traces(found: Search) -> str:
    """The traces of the groups with more than one outcome, how many people there are, and
    the schedules cut short."""
    racing = [group for group in found.groups if len(group.classes) > 1]
    everyone = sum(len(group.people) for group in found.groups) + len(found.untouched) + len(found.unexplored)
    people = count_of(everyone, "person", "people")
    blocked, cut = sum(group.blocked for group in found.groups), sum(group.cut for group in found.groups)
    repeats = f"; {count_of(blocked, 'schedule')} cut short as repeats of a trace run before" if blocked else ""
    repeats += f"; {count_of(cut, 'schedule')} cut short by the preemption bound" if cut else ""
    if not found.schedules:
        return "interrupted before the first schedule ended"
    if not racing:
        return f"no race {'among' if found.complete else 'found so far among'} {people}{repeats}"
    traces = count_of(sum(group.traces for group in racing), "trace")
    groups = count_of(len(racing), "group")
    return f"{traces} of {groups} of people with more than one outcome, {people} in all{repeats}"


def format_groups(grouped: GroupedOutcomes, *, unit: str, complete: bool) -> list[str]:
    """The outcomes by group of people: each kind of racing group, its outcomes (``unit``:
    what they count, "trace" or "schedule") and witnesses, then the rest in one line."""
    sampled = "" if complete else ", in the schedules run (more may show more outcomes)"
    out = ["", f"Outcomes by group of people (people whose runs never depend on each other are apart){sampled}:"]
    for group in grouped.racing:
        out.extend(_format_group(group, unit=unit))
    if grouped.calm_people:
        people = count_of(grouped.calm_people, "person", "people")
        rest = "the rest" if grouped.racing else "every group"
        sure = "" if complete else " in the schedules run"
        out.append(f"  {rest}: 1 outcome each{sure} ({people} in {count_of(grouped.calm_groups, 'group')})")
    if not grouped.racing:
        out.append("No race: every schedule gave the same outcome" + ("." if complete else " so far."))
    return out


def _format_group(group: RacingGroup, *, unit: str) -> list[str]:
    """A kind of racing group: its first group's outcomes, how they differ, their witnesses."""
    single = len(group.people) == 1
    labels = [what if single else f"{person} {what}" for person, what in group.differing]
    summary = ""
    if len(labels) == 1:  # more values than one: each outcome's line says them
        summary = f" ({labels[0]} {' | '.join(format_value(found.values[0]) for found in group.classes)})"
    so_far = "" if group.complete else " so far, not all explored"
    alike = ""
    if group.alike:
        others = [person for people in group.alike for person in people]
        kind = (
            count_of(len(others), "more person", "more people") if single else count_of(len(group.alike), "more group")
        )
        alike = f"; {kind} the same ({_format_people(others)})"
    many = f" ({count_of(len(group.people), 'person', 'people')})" if len(group.people) > 5 else ""
    out = [f"  {_format_people(group.people)}{many}: {count_of(len(group.classes), 'outcome')}{so_far}{summary}{alike}"]
    for number, found in enumerate(group.classes, 1):
        values = "".join(f"{label} {format_value(value)}, " for label, value in zip(labels, found.values, strict=True))
        witness = f'--schedule "{found.witness}"' if found.witness else "the default order (oldest first)"
        shrunk = "" if found.minimal or not found.witness else " (not shrunk to the fewest deviations)"
        out.append(f"    {number}. {values}{count_of(found.runs, unit)}; witness {witness}{shrunk}")
        for label, writer in zip(labels, found.writers or [None] * len(labels), strict=True):  # none: not replayed
            if writer is not None:
                wrote = f'"{writer.campaign}" run {writer.run} step {writer.step} ({writer.kind})'
                out.append(f"         {label} written by {wrote}")
    return out


def _format_people(people: Sequence[str]) -> str:
    """Up to five people's ids, then the last."""
    shown = ", ".join(people[:5])
    return shown if len(people) <= 5 else f"{shown}, ... {people[-1]}"


def _format_classes(exploration: Exploration, *, file: str) -> list[str]:
    """The lines after the heading: each detailed class, a count of the rest, and how to replay a witness."""
    classes = exploration.classes
    out: list[str] = []
    detailed = [found for found in classes if found.detailed]
    for number, found in enumerate(detailed, 1):
        out.append("")
        out.extend(_format_class(exploration, number, found))
    rest = classes[len(detailed) :]
    if rest and not detailed and exploration.racing_groups > 1:
        out.append("")
        out.append(
            f"The {count_of(len(rest), 'outcome class', 'outcome classes')} each combine the outcomes of "
            f"{exploration.racing_groups:,} racing groups of people, below one by one: counted, not shrunk or compared"
        )
    elif rest:
        out.append("")
        out.append(
            f"... and {count_of(len(rest), 'more outcome class', 'more outcome classes')} "
            f"({count_of(sum(found.runs for found in rest), 'schedule')}), not shrunk or compared: "
            "explore a smaller design to see each race on its own"
        )
    if len(classes) > 1:
        out.append("")
        out.append(f"Replay a witness: sim run {file} --schedule STRING --log -")
        out.append(f"See which accesses race, in one run: sim run {file} --races")
    return out


def _format_cost(exploration: Exploration, explore_seconds: float | None, shrink_seconds: float | None) -> str:
    """What the exploration took, as the heading says it: "" when it was not timed."""
    runs = exploration.runs
    cost = ""
    if explore_seconds and runs:
        cost = f" in {explore_seconds:.2f}s ({runs / explore_seconds:,.1f} schedules/s)"
    if shrink_seconds and exploration.classes:
        shrinking = any(found.replays for found in exploration.classes)
        cost += f", witnesses {'found and shrunk' if shrinking else 'found'} in {shrink_seconds:.2f}s"
    return cost


def _format_heading(exploration: Exploration, *, cost: str) -> list[str]:
    """The lines before the classes: whether a signal cut the exploration short, what was
    explored and how many classes it gave, and whether that means no race was found."""
    classes = exploration.classes
    runs = exploration.runs
    out = []
    if exploration.interrupted and runs < exploration.planned:
        out.append(
            f"INTERRUPTED after {format_number(runs)} of {count_of(exploration.planned, 'schedule')} (partial results: "
            "the classes below are those of the schedules explored)"
        )
    elif exploration.interrupted:
        out.append(
            f"INTERRUPTED while finding witnesses: all {count_of(runs, 'schedule')} explored, the witnesses "
            "below not shrunk further"
        )
    first, last = exploration.seed, exploration.seed + runs - 1
    dash = " to " if first < 0 else "-"  # "seeds -1 to 3", not "seeds -1-3"
    seeds = f"seeds {first}{dash}{last}" if runs else "no schedule explored"
    out.append(
        f"{exploration.source}: {count_of(runs, 'schedule')} ({exploration.strategy}, {seeds})"
        f"{cost}: "
        f"{count_of(len(classes), 'outcome class', 'outcome classes')}"
    )
    if len(classes) == 1:
        out.append("Every schedule gave the same outcome: no race found (more --runs look harder).")
    return out


def _format_class(exploration: Exploration, number: int, found: OutcomeClass) -> list[str]:
    """Outcome class ``number`` (from 1): its share of the schedules and its witness, then
    how it differs from class 1 (class 1 itself is the outcome the others are compared to)."""
    classes = exploration.classes
    share = f"{found.runs / exploration.runs:.0%}"
    witness = f'--schedule "{found.witness}"' if found.witness else "the default order (oldest first)"
    shrunk = ""
    if not found.minimal:
        shrunk = f" (not minimal after {count_of(found.replays, 'replay')}: " + (
            "shrinking was stopped)"
            if found.replays < exploration.shrink_replays
            else "the shrinking budget; --shrink-replays N allows more)"
        )
    out = [f"Class {number}: {count_of(found.runs, 'schedule')} ({share}); witness: {witness}{shrunk}"]
    if number == 1:
        if len(classes) > 1:
            out.append("  the most common outcome; the other classes say how they differ from it")
        return out
    out.extend(_format_differences(found.differences))
    assert found.outcome is not None and classes[0].outcome is not None  # detailed classes keep theirs
    mine, theirs = set(found.outcome.campaigns), set(classes[0].outcome.campaigns)
    for name in sorted(mine - theirs):
        out.append(f'  campaign "{name}" ran (not in class 1)')
    for name in sorted(theirs - mine):
        out.append(f'  campaign "{name}" did not run (it did in class 1)')
    return out


def _format_differences(differences: Sequence[Difference]) -> list[str]:
    """The first values that differ from class 1, each with the flow step that wrote it, and how many more."""
    out = []
    for difference in differences[:_SHOWN_DIFFERENCES]:
        writer = difference.writer
        wrote = (
            f'written by "{writer.campaign}" run {writer.run} step {writer.step} ({writer.kind})'
            if writer is not None
            else "not written by a flow"
        )
        out.append(
            f"  {difference.person} {difference.what}: {format_value(difference.value)} "
            f"(class 1: {format_value(difference.common)}), {wrote}"
        )
    if len(differences) > _SHOWN_DIFFERENCES:
        out.append(f"  ... and {format_number(len(differences) - _SHOWN_DIFFERENCES)} more differences")
    return out
