"""The text of `sim explore`: an `Exploration`'s outcome classes and their witnesses."""

from __future__ import annotations

from collections.abc import Sequence

from sim.observe.report import count_of, format_number, format_value
from sim.verify.exhaustive import Exhaustive
from sim.verify.explore import Exploration, OutcomeClass
from sim.verify.outcomes import Difference

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
    """``sim explore --exhaustive``: the schedules run, whether they were all of them
    ("complete") or the bound stopped the search ("bounded"), then each outcome class as
    `format_exploration` gives it."""
    exploration = exhaustive.exploration
    runs, classes = exploration.runs, exploration.classes
    cost = f" in {seconds:.2f}s" if seconds else ""
    out = [
        f"{exploration.source}: {count_of(runs, 'schedule')} (exhaustive, depth first){cost}: "
        f"{count_of(len(classes), 'outcome class', 'outcome classes')}"
    ]
    if exhaustive.complete:
        out.append("complete: these are all the outcomes of this scenario under the model's choice points")
        if len(classes) == 1:
            out.append("Every schedule gave the same outcome: no race, for these people and this load.")
    elif exploration.interrupted:
        out.append(
            f"INTERRUPTED after {count_of(runs, 'schedule')}: not complete; the classes below are those of the "
            "schedules run"
        )
    else:
        out.append(
            f"bounded: stopped at {count_of(runs, 'schedule')} (--max-schedules {exhaustive.max_schedules:,}); "
            "more schedules may give more outcome classes"
        )
    out.extend(_format_classes(exploration, file=file))
    return "\n".join(out)


def _format_classes(exploration: Exploration, *, file: str) -> list[str]:
    """The lines after the heading: each detailed class, a count of the rest, and how to replay a witness."""
    classes = exploration.classes
    out: list[str] = []
    detailed = [found for found in classes if found.detailed]
    for number, found in enumerate(detailed, 1):
        out.append("")
        out.extend(_format_class(exploration, number, found))
    rest = classes[len(detailed) :]
    if rest:
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
