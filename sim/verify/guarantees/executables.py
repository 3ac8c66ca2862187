"""Guarantees 2 and 2b, the runs of one task: executable contiguity (R6, R7, R8) and
Remove from Flow (R11).

An executed child runs inside its parent's task, between the parent's Execute Campaign
step and its next step, nested at most three deep; Remove from Flow ends exactly the runs
under way of the campaigns it names, with the runs sharing their task.
"""

from __future__ import annotations

from collections import defaultdict

from sim.run.activity import RUN_STARTED, Activity
from sim.run.conditions import all_hold
from sim.scenario.people import Person
from sim.verify.guarantees.log import EXECUTED, Log, Report, RunRecord, Violation, reporter
from sim.verify.guarantees.replay import Probe, Replay, probed

#: Run endings that also end every run of the same task (R11, the step budget).
_ABRUPT = ("run_removed", "run_stopped")


class ChildFilters(Probe):
    """R7: whether the child's filters held when each Execute Campaign step ran (its seq ->)."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.held: dict[int, bool] = {}

    def after(self, activity: Activity, person: Person) -> None:
        if activity.type == "execute_campaign":
            child = self.log.campaign(str(activity.details.get("campaign")))
            if child is not None:
                self.held[activity.seq] = all_hold(child.filters, person, self.log.scenario.programs)


def check_executable_contiguity(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """Between a parent's Execute Campaign step and its next step, only the child runs.

    In the task of the top run: right after an ``execute_campaign`` activity comes the
    child's run_started (or run_skipped when it did not qualify, R7), then only the
    child's and its own children's activities up to the child's end, then the parent's
    next activity; a child that was removed or stopped takes the parent with it (R11).
    Nesting is at most three deep (R8).
    """
    bad = reporter("executable contiguity", "R6, R7, R8")
    out: list[Violation] = []
    for record in log.runs.values():
        if record.via == EXECUTED and record.depth > 3:
            out.append(bad(f"an executable nested {record.depth} levels deep (at most 3)", record.first))
    held = probed(log, replayed, ChildFilters).held
    for task in log.tasks.values():
        for index, activity in enumerate(task):
            if activity.type == "execute_campaign":
                out.extend(_check_call(log, task, index, bad))
                qualified = activity.details.get("qualified")
                if held.get(activity.seq) is False and qualified is not False:
                    out.append(bad("the child ran though its smart list filters did not hold (R7)", activity))
                elif held.get(activity.seq) and qualified is False:
                    skip = next((a for a in task[index + 1 : index + 2] if a.type == "run_skipped"), None)
                    if skip is None or not str(skip.details.get("reason", "")).startswith("qualification"):
                        out.append(
                            bad(
                                "the child was skipped though its filters held (R7)",
                                activity,
                                *task[index + 1 : index + 2],
                            )
                        )
            elif activity.type in (RUN_STARTED, "run_skipped"):
                assert activity.run is not None
                record = log.runs[activity.run]
                if record.via != EXECUTED:
                    continue
                before = task[index - 1] if index else None
                if (
                    before is None
                    or before.type != "execute_campaign"
                    or before.run != record.parent
                    or before.details.get("campaign") != record.campaign
                ):
                    out.append(bad("an executed run that no Execute Campaign step just called", activity))
    return out


def _check_call(log: Log, task: list[Activity], index: int, bad: Report) -> list[Violation]:
    call = task[index]
    target = call.details.get("campaign")
    nxt = task[index + 1] if index + 1 < len(task) else None
    child = log.runs.get(nxt.run) if nxt is not None and nxt.run is not None else None
    if (
        nxt is None
        or child is None
        or nxt is not child.first
        or child.via != EXECUTED
        or child.parent != call.run
        or child.campaign != target
    ):
        return [
            bad(f'Execute Campaign "{target}" is not followed at once by its child run', call, *task[index + 1 :][:2])
        ]
    if child.skipped != (call.details.get("qualified") is False):
        return [bad("the child's run_skipped does not match the step's qualified flag", call, child.first)]
    if child.skipped:
        return []
    subtree = {child.id}
    for position in range(index + 2, len(task)):
        activity = task[position]
        run = log.runs.get(activity.run) if activity.run is not None else None
        if run is not None and run.parent in subtree and run.via == EXECUTED:
            subtree.add(run.id)
        if activity.run not in subtree:
            return [bad("the parent's next activity came before its child run ended", call, activity)]
        if any(activity is end for end in child.endings):
            if activity.type in _ABRUPT:
                after = task[position + 1] if position + 1 < len(task) else None
                if after is None or after.run != call.run or after.type != activity.type:
                    return [
                        bad(
                            f"the child's {activity.type} did not end its parent too (R11)",
                            activity,
                            *task[position + 1 :][:1],
                        )
                    ]
            return []
    if log.scenario.queue is not None:
        return []  # the window ended in the middle of a child step's service time (R22)
    return [bad(f'the child run of "{target}" never ended', call, child.first)]


# -- Remove from Flow (R11) --------------------------------------------------------------


def check_removal(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """Remove from Flow ends exactly the runs it should, and they end at once (R11).

    Each run a ``remove_from_flow`` lists runs no step after it and ends with
    ``run_removed`` naming the remover; every ``run_removed`` goes back to such a step.
    Every run of a named campaign under way at that moment is listed, with the runs that
    share its task (an executable's parent, R11), and no other: a requester is not removed
    with the campaign it requested.
    """
    bad = reporter("removal", "R11")
    out: list[Violation] = []
    removed_by: dict[int, Activity] = {}
    by_person: dict[str, list[RunRecord]] = defaultdict(list)
    for record in log.runs.values():
        by_person[record.person].append(record)
    for activity in log.activities:
        if activity.type != "remove_from_flow":
            continue
        runs = by_person[activity.person]
        listed = [int(run) for run in activity.details.get("removed_runs", ())]
        # A run an earlier step removed is on its way out, not under way: its task has not
        # had its turn to log run_removed yet.
        gone = set(removed_by)
        for run in listed:
            removed_by.setdefault(run, activity)
        named = set(activity.details.get("campaigns", ()))
        under_way = {
            record.top
            for record in runs
            if record.campaign in named
            and not record.skipped
            and record.first.seq < activity.seq
            and not _ended_before(record, activity)
        }
        must = {r.id for r in runs if r.top in under_way and not r.skipped and not _ended_before(r, activity)} - gone
        # runs admitted at this instant and not started yet may be listed too
        may = must | {r.id for r in runs if r.first.seq > activity.seq and r.first.time == activity.time}
        if not must <= set(listed) or not set(listed) <= may:
            out.append(
                bad(
                    f"removed runs {sorted(listed)}, but the runs under way of {sorted(named)} were {sorted(must)}",
                    activity,
                )
            )
    for record in log.runs.values():
        ends = [e for e in record.endings if e.type == "run_removed"]
        remover = removed_by.get(record.id)
        if ends and (remover is None or ends[0].details.get("by_run") != remover.run or ends[0].seq < remover.seq):
            out.append(bad("a run_removed that no Remove from Flow step asked for", ends[0]))
        if remover is not None:
            # Under a queue (R22) a listed run may be in a step's service time when the
            # window ends: it has no ending yet, and the check below still holds it.
            unended = log.scenario.queue is not None and not record.endings
            if not ends and not unended:
                out.append(bad("a run listed by Remove from Flow did not end removed", remover, *record.endings[:1]))
            late = [a for a in record.own if a.step is not None and a.seq > remover.seq]
            if late:
                out.append(bad("a removed run ran a step after its removal", remover, late[0]))
    return out


def _ended_before(record: RunRecord, activity: Activity) -> bool:
    return any(end.seq < activity.seq for end in record.endings)
