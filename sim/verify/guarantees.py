"""The ordering guarantees of docs/marketo.md, as checks over an activity log.

Each check reads a whole log (and the scenario that made it) and returns the
`Violation` records it finds, each with the activities that show it. They are what the
property tests in tests/test_guarantees.py assert over generated designs, and what
`sim.testing.assert_guarantees` runs on a log of your own. docs/guarantees.md states each
one with its rule.

The log alone is the evidence: a check never looks inside the engine. Person state at any
moment is rebuilt by replaying the log's change activities over the scenario's people
(and the people ``person_created`` adds, with the fields it logs), which is itself a check
(`check_replay`): each change must start from the value the log says the person had.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from sim.observe.summary import Summary
from sim.run.activity import RUN_ENDINGS, RUN_QUEUED, RUN_STARTED, Activity
from sim.run.conditions import all_hold, trigger_matches
from sim.run.load import arrival_times, external_activities, new_arrivals, schedule_times
from sim.scenario import model
from sim.scenario.model import Campaign, Scenario
from sim.scenario.people import Person, is_generated_id, make_people
from sim.scenario.units import later, micros

#: Run endings that also end every run of the same task (R11, the step budget).
_ABRUPT = ("run_removed", "run_stopped")
_EXECUTED = "execute_campaign"  # the ``via`` of an executed run


@attrs.frozen(kw_only=True)
class Violation:
    """One place where a log breaks a guarantee, with the activities that show it."""

    guarantee: str
    rules: str
    message: str
    evidence: tuple[Activity, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.guarantee} ({self.rules}): {self.message}"]
        lines.extend(f"    {format_activity(a)}" for a in self.evidence)
        return "\n".join(lines)


def format_activity(activity: Activity) -> str:
    """One activity on one line, for messages: seq, time, person, run, step and details."""
    where = ""
    if activity.campaign is not None:
        step = f" step {activity.step} ({activity.kind})" if activity.step is not None else ""
        parent = f" parent {activity.parent}" if activity.parent is not None else ""
        where = f' "{activity.campaign}" run {activity.run}{parent}{step}'
    details = ", ".join(f"{k}={v!r}" for k, v in activity.details.items())
    return f"#{activity.seq} t={activity.time:g} {activity.person}{where}: {activity.type}" + (
        f" {{{details}}}" if details else ""
    )


def is_write_back(activity: Activity) -> bool:
    """A webhook response and the fields it writes: a task of their own, not the run's (R16)."""
    return activity.type == "webhook_response" or (
        activity.type == "change_data_value" and activity.details.get("source") == "webhook"
    )


@attrs.define(eq=False)
class RunRecord:
    """What the log says about one run: how it began, its own activities, how it ended."""

    id: int
    campaign: str
    person: str
    parent: int | None
    via: str
    cause: int | None
    first: Activity  # run_started or run_skipped
    own: list[Activity] = attrs.field(factory=list)  # in log order; no write-backs
    endings: list[Activity] = attrs.field(factory=list)
    top: int = 0  # the run whose task this run's steps run in (itself unless executed)
    depth: int = 0  # executable nesting below the top run (R8)

    @property
    def skipped(self) -> bool:
        return self.first.type == "run_skipped"

    @property
    def started(self) -> bool:
        """Whether the run got under way (not skipped, not still waiting for a worker)."""
        return any(activity.type == RUN_STARTED for activity in self.own)


@attrs.define(eq=False)
class Log:
    """An activity log indexed for the checks: runs, tasks, and the activity by seq."""

    scenario: Scenario
    activities: Sequence[Activity]
    by_seq: dict[int, Activity] = attrs.field(factory=dict)
    runs: dict[int, RunRecord] = attrs.field(factory=dict)
    #: top run id -> the activities of its task (the run and its executables), in order.
    tasks: dict[int, list[Activity]] = attrs.field(factory=dict)
    #: cause seq -> the runs (started or skipped) it led to.
    caused: dict[int, list[RunRecord]] = attrs.field(factory=lambda: defaultdict(list))
    #: Activities of runs with no run_started/run_skipped before them.
    orphans: list[Activity] = attrs.field(factory=list)
    #: What the run itself reported, when known: checked against the log.
    summary: Summary | None = None
    people: Mapping[str, Person] | None = None

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        activities: Iterable[Activity],
        *,
        summary: Summary | None = None,
        people: Mapping[str, Person] | None = None,
    ) -> Log:
        """Index ``activities``; ``summary`` and ``people`` (the end state) are optional."""
        log = cls(scenario=scenario, activities=list(activities), summary=summary, people=people)
        for activity in log.activities:
            log.by_seq.setdefault(activity.seq, activity)
            if activity.run is None or activity.campaign is None:
                continue
            record = log.runs.get(activity.run)
            if record is None:
                if activity.type not in (RUN_STARTED, "run_skipped", RUN_QUEUED):
                    log.orphans.append(activity)
                    continue
                record = log._open(activity)
            if is_write_back(activity):
                continue
            record.own.append(activity)
            if activity.type in RUN_ENDINGS and activity.type != "run_skipped":
                record.endings.append(activity)
            if not record.skipped:
                log.tasks.setdefault(record.top, []).append(activity)
        return log

    def _open(self, first: Activity) -> RunRecord:
        assert first.run is not None and first.campaign is not None
        details = first.details
        record = RunRecord(
            id=first.run,
            campaign=first.campaign,
            person=first.person,
            parent=first.parent,
            via=str(details.get("via", "")),
            cause=details.get("cause"),
            first=first,
        )
        record.top = record.id
        parent = self.runs.get(first.parent) if first.parent is not None else None
        if record.via == _EXECUTED and parent is not None:
            record.top = parent.top
            record.depth = parent.depth + 1
            if record.skipped:  # a skipped child is still a step of its parent's task (R7)
                self.tasks.setdefault(record.top, []).append(first)
        self.runs[record.id] = record
        if record.cause is not None:
            self.caused[record.cause].append(record)
        return record

    def campaign(self, name: str) -> Campaign | None:
        return self.scenario.campaigns.get(name)


def _violation(guarantee: str, rules: str) -> Callable[..., Violation]:
    def make(message: str, *evidence: Activity) -> Violation:
        return Violation(guarantee=guarantee, rules=rules, message=message, evidence=tuple(evidence))

    return make


# -- 1. step order (R12) ------------------------------------------------------------


def check_step_order(log: Log) -> list[Violation]:
    """A run's activities follow its flow: started first, steps in order, one end, last."""
    bad = _violation("step order", "R12, R13")
    out = [bad("an activity of a run that never started", a) for a in log.orphans]
    for record in log.runs.values():
        own = record.own
        if record.skipped:
            if len(own) > 1:
                out.append(bad("a skipped run has activities besides run_skipped", *own[:3]))
            continue
        campaign = log.campaign(record.campaign)
        flow = campaign.flow if campaign is not None else ()
        if own[0].type == RUN_QUEUED:  # it waited for a worker (R22)
            own = own[1:]
            if not own:
                continue
        if own[0].type != RUN_STARTED:
            out.append(bad("a run's first activity is not run_started", own[0]))
        if len(record.endings) > 1:
            out.append(bad("a run ended more than once", *record.endings))
        elif record.endings and own[-1] is not record.endings[0]:
            out.append(bad("a run has activities after its end", record.endings[0], own[-1]))
        last = 0
        for activity in own:
            step = activity.step
            if step is None:
                continue
            if not 1 <= step <= len(flow) or flow[step - 1].kind != activity.kind:
                out.append(bad(f"step {step} ({activity.kind}) is not in the campaign's flow", activity))
            elif step < last:
                out.append(bad(f"step {step} ran after step {last}", activity))
            last = max(last, step)
        out.extend(_missing_steps(record, flow, last, bad))
    out.extend(_check_choices(log))
    return out


#: Actions that log an activity every time they run (R14): their step cannot pass unseen.
_ALWAYS_LOGS = (
    model.SendEmail,
    model.SendAlert,
    model.InterestingMoment,
    model.Wait,
    model.CallWebhook,
    model.RequestCampaign,
    model.ExecuteCampaign,
    model.RemoveFromFlow,
)


def _missing_steps(
    record: RunRecord, flow: Sequence[model.Step], last: int, bad: Callable[..., Violation]
) -> list[Violation]:
    """Steps that must have logged: every step that always logs, up to the last step the run
    reached (all of them when it completed)."""
    reached = len(flow) if any(e.type == "run_completed" for e in record.endings) else last
    logged = Counter(a.step for a in record.own if a.step is not None and a.type == a.kind)
    out = []
    for index, step in enumerate(flow[:reached], 1):
        actions = [step.action, *(choice.action for choice in step.choices)]
        if all(isinstance(action, _ALWAYS_LOGS) for action in actions) and logged[index] != 1:
            out.append(bad(f"step {index} ({step.kind}) always logs, but logged {logged[index]} times", record.first))
    return out


def _check_choices(log: Log) -> list[Violation]:
    """R13: the first activity of each step is what the step's choices pick, evaluated on
    the person's state at that moment (R12: a change is seen by the very next step)."""
    bad = _violation("step order", "R12, R13")
    out: list[Violation] = []
    seen: set[tuple[int, int]] = set()

    def check(index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        if activity is None or activity.run is None or activity.step is None or is_write_back(activity):
            return
        if (activity.run, activity.step) in seen:
            return
        seen.add((activity.run, activity.step))
        campaign = log.campaign(activity.campaign or "")
        person = people.get(activity.person)
        if campaign is None or person is None or not 1 <= activity.step <= len(campaign.flow):
            return  # reported by check_step_order
        step = campaign.flow[activity.step - 1]
        action = step.action
        for choice in step.choices:
            if all_hold(choice.conditions, person, log.scenario.programs):
                action = choice.action
                break
        if action is None:
            out.append(bad(f"step {activity.step} logged {activity.type}, but its choices pick do nothing", activity))
        elif not _logged_by(action, activity):
            out.append(bad(f"step {activity.step} logged {activity.type}, but its choices pick {action!r}", activity))

    replay(log, before=check)
    return out


def _logged_by(action: model.Action, activity: Activity) -> bool:
    """Whether ``activity`` is what ``action`` logs (a token-built text is not compared)."""
    d = activity.details
    if isinstance(action, model.ChangeDataValue):
        text = isinstance(action.value, str) and "{{" in action.value
        return (
            activity.type == "change_data_value"
            and d["field"] == action.field
            and (text or d["new_value"] == action.value)
        )
    if isinstance(action, model.ChangeScore):
        return (
            activity.type == "change_score"
            and d["field"] == action.field
            and d["change"] == f"{action.op}{action.amount:g}"
        )
    if isinstance(action, model.ChangeProgramStatus):
        return activity.type == "change_program_status" and (d["program"], d["new_status"]) == (
            action.program,
            action.status,
        )
    if isinstance(action, model.AddToList):
        return activity.type == "add_to_list" and d["list"] == action.list
    if isinstance(action, model.RemoveFromList):
        return activity.type == "remove_from_list" and d["list"] == action.list
    if isinstance(action, model.InterestingMoment):
        return activity.type == "interesting_moment" and (
            "{{" in action.description or d["description"] == action.description
        )
    if isinstance(action, model.SendEmail):
        return activity.type == "send_email" and d["email"] == action.email
    if isinstance(action, model.SendAlert):
        return activity.type == "send_alert" and (d["alert"], d["to"]) == (action.alert, action.to)
    if isinstance(action, model.Wait):
        return activity.type == "wait" and d["duration"] == action.duration
    if isinstance(action, model.CallWebhook):
        return activity.type == "call_webhook" and d["webhook"] == action.webhook
    if isinstance(action, model.RequestCampaign):
        return activity.type == "request_campaign" and d["campaign"] == action.campaign
    if isinstance(action, model.ExecuteCampaign):
        return activity.type == "execute_campaign" and d["campaign"] == action.campaign
    if isinstance(action, model.RemoveFromFlow):
        return activity.type == "remove_from_flow" and list(d["campaigns"]) == list(action.campaigns)
    return False


# -- 2. executable contiguity (R6, R7, R8) -------------------------------------------


def check_executable_contiguity(log: Log) -> list[Violation]:
    """Between a parent's Execute Campaign step and its next step, only the child runs.

    In the task of the top run: right after an ``execute_campaign`` activity comes the
    child's run_started (or run_skipped when it did not qualify, R7), then only the
    child's and its own children's activities up to the child's end, then the parent's
    next activity; a child that was removed or stopped takes the parent with it (R11).
    Nesting is at most three deep (R8).
    """
    bad = _violation("executable contiguity", "R6, R7, R8")
    out: list[Violation] = []
    for record in log.runs.values():
        if record.via == _EXECUTED and record.depth > 3:
            out.append(bad(f"an executable nested {record.depth} levels deep (at most 3)", record.first))
    # R7: whether the child's filters held when the Execute Campaign step ran
    held: dict[int, bool] = {}

    def observe(activity: Activity, person: Person) -> None:
        if activity.type == "execute_campaign":
            child = log.campaign(str(activity.details.get("campaign")))
            if child is not None:
                held[activity.seq] = all_hold(child.filters, person, log.scenario.programs)

    replay(log, observe=observe)  # its own findings are check_replay's to report
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
                if record.via != _EXECUTED:
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


def _check_call(log: Log, task: list[Activity], index: int, bad: Callable[..., Violation]) -> list[Violation]:
    call = task[index]
    target = call.details.get("campaign")
    nxt = task[index + 1] if index + 1 < len(task) else None
    child = log.runs.get(nxt.run) if nxt is not None and nxt.run is not None else None
    if (
        nxt is None
        or child is None
        or nxt is not child.first
        or child.via != _EXECUTED
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
        if run is not None and run.parent in subtree and run.via == _EXECUTED:
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


def check_removal(log: Log) -> list[Violation]:
    """Remove from Flow ends exactly the runs it should, and they end at once (R11).

    Each run a ``remove_from_flow`` lists runs no step after it and ends with
    ``run_removed`` naming the remover; every ``run_removed`` goes back to such a step.
    Every run of a named campaign under way at that moment is listed, with the runs that
    share its task (an executable's parent, R11), and no other: a requester is not removed
    with the campaign it requested.
    """
    bad = _violation("removal", "R11")
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


# -- 3. request causality (R5) and 5. trigger causality (R1, R17) --------------------


def check_request_causality(log: Log) -> list[Violation]:
    """A requested run starts after the request that caused it; every request gets its run."""
    bad = _violation("request causality", "R5")
    out: list[Violation] = []
    for activity in log.activities:
        if activity.type != "request_campaign":
            continue
        target = activity.details.get("campaign")
        runs = [r for r in log.caused.get(activity.seq, ()) if r.campaign == target]
        if len(runs) != 1:
            out.append(bad(f'a request for "{target}" led to {len(runs)} runs, not 1', activity))
        for record in runs:
            first = record.first
            if first.seq <= activity.seq or first.time < activity.time:
                out.append(bad("a requested run started before its request", first, activity))
            if record.person != activity.person or record.parent != activity.run:
                out.append(bad("a requested run's person or parent is not its requester's", activity, first))
    for record in log.runs.values():
        if record.via == "campaign_is_requested":
            cause = log.by_seq.get(record.cause) if record.cause is not None else None
            if cause is None or cause.type != "request_campaign":
                out.append(bad("a requested run with no request before it", record.first))
    return out


def check_trigger_causality(log: Log) -> list[Violation]:
    """A triggered run starts after the activity that fired it, when its filters held then.

    And the converse, so nothing is lost: every activity that matches an active trigger
    campaign's trigger, with the campaign's filters holding at that moment, starts exactly
    one run (or one skipped run) of it (R1, R17).
    """
    bad = _violation("trigger causality", "R1, R17")
    scenario = log.scenario
    listeners: dict[str, list[tuple[Campaign, model.Trigger]]] = defaultdict(list)
    for campaign in scenario.campaigns.values():
        if campaign.kind == "trigger" and campaign.active:
            for trigger in campaign.triggers:
                listeners[trigger.activity].append((campaign, trigger))
    out: list[Violation] = []
    #: (cause seq, campaign) -> did the filters hold when the trigger fired?
    expected: dict[tuple[int, str], bool] = {}

    def observe(activity: Activity, person: Person) -> None:
        for campaign, trigger in listeners.get(activity.type, ()):
            if (activity.seq, campaign.name) in expected or not trigger_matches(trigger, activity.details):
                continue
            if activity.type == "request_campaign" and activity.details.get("campaign") != campaign.name:
                continue
            expected[activity.seq, campaign.name] = all_hold(campaign.filters, person, scenario.programs)

    out.extend(replay(log, observe=observe, guarantee="trigger causality"))
    for record in log.runs.values():
        if record.via not in model.TRIGGER_ACTIVITIES:
            continue
        cause = log.by_seq.get(record.cause) if record.cause is not None else None
        if cause is None or cause.seq >= record.first.seq or cause.time > record.first.time:
            out.append(bad("a triggered run with no activity before it that fired it", record.first))
            continue
        held = expected.get((cause.seq, record.campaign))
        if held is None or cause.person != record.person:
            out.append(bad(f'"{record.campaign}" ran for an activity none of its triggers match', cause, record.first))
        elif held is False and record.first.details.get("reason") != "smart list filters do not hold":
            out.append(bad("a triggered run whose smart list filters did not hold when it fired", cause, record.first))
        elif held is True and record.skipped and not str(record.first.details.get("reason", "")).startswith("qualif"):
            out.append(bad("a run skipped for its filters, which held when it fired", cause, record.first))
    for (seq, name), held in expected.items():
        runs = [r for r in log.caused.get(seq, ()) if r.campaign == name]
        requested = log.by_seq[seq].type == "request_campaign"
        want = 1 if held or requested else 0
        if len(runs) != want:
            out.append(
                bad(f'an activity that should fire "{name}" {want} time(s) fired it {len(runs)}', log.by_seq[seq])
            )
    return out


# -- batch runs (R2) -----------------------------------------------------------------------


def check_batches(log: Log) -> list[Violation]:
    """A batch campaign runs at its scheduled times only, and then exactly the people whose
    filters hold at that moment (R2), whether they start or are turned away (R18).

    The batch admits everybody at one point of the log without letting any other run in,
    so some position at that time must give exactly the people it admitted.
    """
    bad = _violation("batch", "R2")
    scenario = log.scenario
    index_of = {activity.seq: index for index, activity in enumerate(log.activities)}
    times = [activity.time for activity in log.activities]
    runs_at: dict[tuple[str, float], list[RunRecord]] = defaultdict(list)
    for record in log.runs.values():
        if record.via == "batch":
            runs_at[record.campaign, record.first.time].append(record)  # admission (R22: run_queued)
    ticks: list[tuple[Campaign, float]] = []
    for campaign in scenario.campaigns.values():
        if campaign.kind == "batch" and campaign.active and campaign.schedule is not None:
            ticks.extend((campaign, t) for t in schedule_times(campaign.schedule, scenario.duration))
    out = [
        bad(f'"{name}" ran at t={t:g}, which its schedule does not have', records[0].first)
        for (name, t), records in runs_at.items()
        if (name, t) not in {(c.name, tick) for c, tick in ticks}
    ]
    windows: dict[int, list[tuple[Campaign, float]]] = defaultdict(list)
    for campaign, t in ticks:
        low, high = bisect.bisect_left(times, t), bisect.bisect_right(times, t)
        records = runs_at.get((campaign.name, t), [])
        if records:  # before the first of them started (or was queued, R22)
            high = min(index_of[r.first.seq] for r in records)
        for position in range(low, high + 1):
            windows[position].append((campaign, t))
    seen: dict[tuple[str, float], list[frozenset[str]]] = defaultdict(list)

    def before(index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        for campaign, t in windows.get(index, ()):
            held = frozenset(pid for pid, p in people.items() if all_hold(campaign.filters, p, scenario.programs))
            seen[campaign.name, t].append(held)

    replay(log, before=before)
    for campaign, t in ticks:
        admitted = frozenset(r.person for r in runs_at.get((campaign.name, t), []))
        if admitted not in seen[campaign.name, t]:
            expected = sorted(seen[campaign.name, t][0]) if seen[campaign.name, t] else []
            out.append(
                bad(f'"{campaign.name}" at t={t:g} admitted {sorted(admitted)}; its filters held for {expected}')
            )
    return out


# -- 6. qualification (R18) ----------------------------------------------------------


def check_qualification(log: Log) -> list[Violation]:
    """ "once": at most one run per person; "once every N": runs at least N apart; no
    person turned away without a run that justifies it."""
    bad = _violation("qualification", "R18")
    out: list[Violation] = []
    # A run's first activity is its admission (run_queued when it waited for a worker,
    # R22): the rule applies then, not when a worker takes it up.
    started: dict[tuple[str, str], list[Activity]] = defaultdict(list)
    for record in log.runs.values():
        if not record.skipped:
            started[record.campaign, record.person].append(record.first)
    for (name, _person), firsts in started.items():
        campaign = log.campaign(name)
        if campaign is None:
            continue
        rule = campaign.qualification
        if rule.rule == "once" and len(firsts) > 1:
            out.append(bad(f'"{name}" is "once" but ran {len(firsts)} times for one person', *firsts[:3]))
        elif rule.rule == "once_every":
            for a, b in itertools.pairwise(firsts):
                if micros(b.time) - micros(a.time) < micros(rule.interval):  # on the µs grid, as the engine
                    out.append(bad(f'"{name}" is "once every {rule.interval:g}s" but ran twice within it', a, b))
    for record in log.runs.values():
        reason = str(record.first.details.get("reason", "")) if record.skipped else ""
        if not reason.startswith("qualification"):
            continue
        campaign = log.campaign(record.campaign)
        time = record.first.time
        earlier = [a for a in started.get((record.campaign, record.person), ()) if a.time <= time]
        if campaign is None or campaign.qualification.rule == "every_time":
            out.append(bad('a run turned away by qualification under "every time"', record.first))
        elif campaign.qualification.rule == "once" and not earlier:
            out.append(bad('a "once" run turned away with no earlier run', record.first))
        elif campaign.qualification.rule == "once_every" and not any(
            micros(time) - micros(a.time) < micros(campaign.qualification.interval) for a in earlier
        ):
            out.append(bad('a "once every" run turned away with no run within the period', record.first))
    return out


# -- 7. conservation ------------------------------------------------------------------


def check_conservation(log: Log) -> list[Violation]:
    """Every run that starts ends once or is still waiting at the end (for a worker too,
    R22); every external
    activity of the scenario is in the log; the summary counts what the log holds."""
    bad = _violation("conservation", "R15, R16, R17")
    out: list[Violation] = []
    in_progress: Counter[str] = Counter()
    queued = log.scenario.queue is not None
    for record in log.runs.values():
        if record.skipped or record.endings or not record.started:
            continue  # (one still waiting for its first worker is not in progress, R22)
        in_progress[record.campaign] += 1
        task = log.tasks[record.top]
        last = task[-1]
        # With a queue, a run may be in a step's service or waiting for a worker (R22).
        if not queued and not _parked_past_end(log, last):
            out.append(bad("a run that never ended and is not waiting past the end", record.first, last))
    out.extend(_check_external(log, bad))
    out.extend(_check_writes(log, bad))
    out.extend(_check_webhooks(log, bad))
    summary = log.summary
    if summary is not None:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for activity in log.activities:
            if activity.type in (RUN_STARTED, *RUN_ENDINGS) and activity.campaign is not None:
                counts[activity.campaign][activity.type] += 1
        for name, tally in summary.campaigns.items():
            c = counts[name]
            logged = (c["run_started"], c["run_completed"], c["run_skipped"], c["run_removed"], c["run_stopped"])
            told = (tally.started, tally.completed, tally.skipped, tally.removed, tally.stopped)
            if logged != told or tally.in_progress != in_progress[name]:
                out.append(bad(f'the summary of "{name}" says {told} runs, the log {logged}'))
    return out


def _goes_on_at(log: Log, activity: Activity) -> list[float]:
    """When the task that logged ``activity`` may log its next one: after a Wait, its
    duration later; after a webhook call, at the response or the 30 s timeout (R16, one
    time per latency the step may have had); else at once."""
    if activity.type == "wait":
        return [later(activity.time, activity.details["duration"])]
    if activity.type == "call_webhook":
        return [later(activity.time, min(lat, model.WEBHOOK_TIMEOUT)) for lat in _latencies(log, activity)]
    return [activity.time]


def _parked_past_end(log: Log, last: Activity) -> bool:
    """Whether a task's last activity leaves it asleep until the end of the window or later."""
    return last.type in ("wait", "call_webhook") and any(t >= log.scenario.duration for t in _goes_on_at(log, last))


def _latencies(log: Log, call: Activity) -> list[float]:
    """The latencies the webhook step that logged ``call`` may have had (its choices too)."""
    campaign = log.campaign(call.campaign or "")
    if campaign is None or call.step is None or not 1 <= call.step <= len(campaign.flow):
        return []
    step = campaign.flow[call.step - 1]
    actions = [step.action, *(choice.action for choice in step.choices)]
    return [a.latency for a in actions if isinstance(a, model.CallWebhook) and a.webhook == call.details.get("webhook")]


def _check_external(log: Log, bad: Callable[..., Violation]) -> list[Violation]:
    """Each timed activity (CSV rows too) and generator arrival before the end is logged
    once, at its time; so is each person they create, and no other."""
    scenario = log.scenario
    end = scenario.duration
    expected: Counter[tuple[float, str, str, str]] = Counter()
    declared = {person.id for person in scenario.people}
    created: Counter[tuple[float, str]] = Counter()  # (time, id) of people timed form fills create
    known: set[str] = set()
    for item in external_activities(scenario):
        if item.at >= end:
            break
        if item.type != "change_data_value":  # a change logs only if it changes
            expected[item.at, item.person, item.type, _key(item.attributes)] += 1
        pid = item.person
        if pid not in declared and pid not in known and not is_generated_id(pid, scenario.population):
            known.add(pid)
            created[item.at, pid] += 1
    generated: Counter[tuple[float, str, str]] = Counter()
    new: Counter[float] = Counter()  # times at which new_people creates someone
    for index, generator in enumerate(scenario.generators):
        times = arrival_times(generator, seed=scenario.seed, index=index, end=end)
        for due, is_new in zip(times, new_arrivals(generator, seed=scenario.seed, index=index), strict=False):
            if generator.type != "change_data_value":
                generated[due, generator.type, _key(generator.attributes)] += 1
            new[due] += is_new
    out: list[Violation] = []
    number = 1  # new_people's people are new1, new2, ... in the order they are created
    for activity in log.activities:
        if activity.type != "person_created" or activity.run is not None:
            continue
        if created[activity.time, activity.person]:
            created[activity.time, activity.person] -= 1
        elif new[activity.time] and activity.person == f"new{number}":
            new[activity.time] -= 1
            number += 1
        else:
            out.append(bad("a person created that the scenario does not create (or not then)", activity))
    for at, pid in +created:
        out.append(bad(f"{pid}, created by a form fill at t={at:g}, was never created"))
    for at, count in (+new).items():
        out.append(bad(f"{count} new people (new_people) due at t={at:g} were never created"))
    logged = [a for a in log.activities if a.run is None and a.type not in ("change_data_value", "person_created")]
    for activity in logged:
        key = (activity.time, activity.person, activity.type, _key(activity.details))
        if expected[key]:
            expected[key] -= 1
        elif generated[activity.time, activity.type, key[3]]:
            generated[activity.time, activity.type, key[3]] -= 1
        else:
            out.append(bad("an external activity that the scenario does not have", activity))
    for (at, person, type_, attributes), count in (+expected).items():
        out.append(bad(f"{count} timed {type_} activity for {person} at t={at:g} {attributes} is missing"))
    for (at, type_, attributes), count in (+generated).items():
        out.append(bad(f"{count} generated {type_} activity at t={at:g} {attributes} is missing"))
    return out


def _check_writes(log: Log, bad: Callable[..., Violation]) -> list[Violation]:
    """External field writes land: a timed change, and the fields a form fill writes.

    A write that changes nothing logs nothing, so each is checked on the replayed state:
    the field holds the written value at some point of its time (a timed change), or just
    before its ``fill_out_form`` (a form's fields; a generator's come from its values).
    """
    scenario = log.scenario
    times = [activity.time for activity in log.activities]
    timed = [a for a in external_activities(scenario) if a.type in ("change_data_value", "fill_out_form")]
    changes = [a for a in timed if a.type == "change_data_value" and a.at < scenario.duration]
    windows: dict[int, list[int]] = defaultdict(list)  # position -> changes that may land there
    for number, item in enumerate(changes):
        for position in range(bisect.bisect_left(times, item.at), bisect.bisect_right(times, item.at) + 1):
            windows[position].append(number)
    landed: set[int] = set()
    timed_fills: dict[tuple[float, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for item in timed:
        if item.type == "fill_out_form":
            timed_fills[item.at, item.person, _key(item.attributes)].append(item.fields)
    generated = [g for g in scenario.generators if g.type == "fill_out_form"]
    out: list[Violation] = []

    def before(index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        for number in windows.get(index, ()):
            item = changes[number]
            if item.person not in people:
                continue  # not created yet (a form fill at the same time creates them)
            value = people[item.person].fields.get(str(item.attributes["field"]))
            if value == item.attributes["value"] and type(value) is type(item.attributes["value"]):
                landed.add(number)
        if activity is None or activity.run is not None or activity.type != "fill_out_form":
            return
        if activity.person not in people:
            return  # reported by the replay: an activity of an unknown person
        fields = people[activity.person].fields
        written = timed_fills.get((activity.time, activity.person, _key(activity.details)), [])
        if any(all(fields.get(f) == v and type(fields.get(f)) is type(v) for f, v in w.items()) for w in written):
            return
        drawn = [g for g in generated if _key(g.attributes) == _key(activity.details)]
        if any(all(fields.get(f) in values for f, values in g.fields.items()) for g in drawn):
            return
        if written or any(g.fields for g in drawn):
            out.append(bad("a form fill's fields were not written before it", activity))

    replay(log, before=before)
    for number, item in enumerate(changes):
        if number not in landed:
            field, value = item.attributes["field"], item.attributes["value"]
            out.append(
                bad(f"the external change of {field} to {value!r} for {item.person} at t={item.at:g} never landed")
            )
    return out


def _check_webhooks(log: Log, bad: Callable[..., Violation]) -> list[Violation]:
    """Each webhook call gets one response at its latency unless that is past the end, and
    its mappings write fields only after a 2xx response (R16)."""
    out: list[Violation] = []
    responses: dict[tuple[int | None, int | None], list[Activity]] = defaultdict(list)
    last_response: dict[tuple[int | None, int | None], Activity] = {}
    for activity in log.activities:
        key = (activity.run, activity.step)
        if activity.type == "webhook_response":
            responses[key].append(activity)
            last_response[key] = activity
        elif is_write_back(activity):
            response = last_response.get(key)
            if response is None or not 200 <= int(response.details.get("status", 0)) < 300:
                out.append(bad("a webhook wrote a field without a 2xx response before it (R16)", activity))
    for activity in log.activities:
        if activity.type != "call_webhook":
            continue
        latencies = _latencies(log, activity)
        got = responses.get((activity.run, activity.step), [])
        due = [later(activity.time, latency) for latency in latencies]
        if len(got) > 1:
            out.append(bad(f"a webhook call got {len(got)} responses", activity, *got))
        elif got and got[0].time not in due:
            out.append(bad(f"a webhook response came at t={got[0].time:g}, not at {due}", activity, got[0]))
        elif not got and not any(time >= log.scenario.duration for time in due):
            out.append(bad("a webhook call whose response was due before the end never got one", activity))
    return out


def _key(attributes: Mapping[str, Any]) -> str:
    return repr(sorted(attributes.items()))


# -- 9. time (R15) ----------------------------------------------------------------------


def check_time(log: Log) -> list[Violation]:
    """Time never goes back; a step takes no time; a wait lasts exactly its duration.

    Within one task, the activity after a ``wait`` comes exactly ``duration`` later (or
    earlier, when a Remove from Flow ends the run, R11); after ``call_webhook`` the run
    waits for the response or 30 s, whichever is first (R16); otherwise no time passes.
    With a campaign queue (R22) steps take service time and runs wait for workers, so
    each of those comes at that time or later.
    """
    bad = _violation("time", "R15, R16")
    out: list[Violation] = []
    previous: Activity | None = None
    for position, activity in enumerate(log.activities, 1):
        if activity.seq != position:
            out.append(bad(f"activity number {position} has seq {activity.seq}: the log has a gap", activity))
            break
        if not 0 <= activity.time < log.scenario.duration:
            out.append(bad("an activity outside the simulated window", activity))
        if previous is not None and activity.time < previous.time:
            out.append(bad("time went backwards", previous, activity))
        previous = activity
    queued = log.scenario.queue is not None
    for task in log.tasks.values():
        for a, b in itertools.pairwise(task):
            due = _goes_on_at(log, a)
            if b.time in due or (queued and b.time >= min(due, default=a.time)):
                continue  # with a queue, steps take time and runs wait for workers (R22)
            if b.type == "run_removed" and a.time <= b.time <= max(due):
                continue  # woken early by Remove from Flow (R11)
            out.append(bad(f"the next activity of this task came at t={b.time:g}, not at {due}", a, b))
    return out


# -- 8. replay ---------------------------------------------------------------------------


#: Called with the position in the log (0 .. len), the activity there (None at the end)
#: and everybody's state just before it.
Before = Callable[[int, "Activity | None", Mapping[str, Person]], None]


def replay(
    log: Log,
    *,
    before: Before | None = None,
    observe: Callable[[Activity, Person], None] | None = None,
    final: Mapping[str, Person] | None = None,
    guarantee: str = "replay",
) -> list[Violation]:
    """Rebuild people from the log's changes; each change must start from the replayed value.

    A ``person_created`` activity adds its person, with the fields it logs.

    ``before`` sees every position of the log with everybody's state there; ``observe``
    sees every activity with its person's state just after it (when triggers fire). With
    ``final`` (the engine's people at the end), the replayed end state must equal it: the
    log holds every change, nothing lost (R12, R17).
    """
    bad = _violation(guarantee, "R12, R17")
    scenario = log.scenario
    people = make_people(scenario)
    out: list[Violation] = []
    for index, activity in enumerate(log.activities):
        if before is not None:
            before(index, activity, people)
        person = people.get(activity.person)
        if activity.type == "person_created":
            # A form fill by an unknown visitor: the person starts with the logged fields.
            if person is not None:
                out.append(bad("a person created who already exists", activity))
            person = people[activity.person] = Person(id=activity.person, fields=dict(activity.details["fields"]))
        if person is None:
            out.append(bad("an activity of an unknown person", activity))
            continue
        message = _apply(scenario, person, activity)
        if message:
            out.append(bad(message, activity))
        if observe is not None:
            observe(activity, person)
    if before is not None:
        before(len(log.activities), None, people)
    if final is not None:
        for pid, person in people.items():
            other = final.get(pid)
            state = (person.fields, person.lists, person.statuses)
            if other is None or state != (other.fields, other.lists, other.statuses):
                out.append(bad(f"replaying the log gives {pid} {state}, the run ended with another state"))
        extra = [pid for pid in final if pid not in people]
        if extra:
            out.append(bad(f"the run ended with people the log never created: {extra[:5]}"))
    return out


def _apply(scenario: Scenario, person: Person, activity: Activity) -> str | None:
    """Apply one change activity to ``person``; say what is wrong if it does not fit.

    The change is applied even then, so one bad activity is reported once, not again at
    every later one.
    """
    details = activity.details
    kind = activity.type
    problem = None
    if kind in ("change_data_value", "change_score"):
        field = details["field"]
        old = person.fields.get(field)
        if not (old == details["old_value"] and type(old) is type(details["old_value"])):
            problem = f"{field} was {old!r}, the change says {details['old_value']!r}"
        person.fields[field] = details["new_value"]
    elif kind in ("add_to_list", "remove_from_list"):
        name = details["list"]
        if (name in person.lists) == (kind == "add_to_list"):
            problem = f"membership of {name} did not change"
        if kind == "add_to_list":
            person.lists.add(name)
        else:
            person.lists.discard(name)
    elif kind == "change_program_status":
        statuses = scenario.programs[details["program"]].statuses
        current = statuses[person.statuses.get(details["program"], 0)]
        new = statuses.index(details["new_status"])
        if current != details["old_status"] or new <= statuses.index(current):
            problem = (
                f"status was {current!r}, the change says {details['old_status']!r}; statuses only move forward (R14)"
            )
        person.statuses[details["program"]] = new
    return problem


def check_replay(log: Log) -> list[Violation]:
    """Replaying the log's changes is consistent, and gives the run's end state if known."""
    return replay(log, final=log.people)


# -- all of them ------------------------------------------------------------------------


#: Name -> check, in the numbering of docs/guarantees.md.
CHECKS: Mapping[str, Callable[[Log], list[Violation]]] = {
    "step order": check_step_order,
    "executable contiguity": check_executable_contiguity,
    "removal": check_removal,
    "request causality": check_request_causality,
    "trigger causality": check_trigger_causality,
    "qualification": check_qualification,
    "batch": check_batches,
    "conservation": check_conservation,
    "replay": check_replay,
    "time": check_time,
}


def check_guarantees(
    scenario: Scenario,
    activities: Iterable[Activity],
    *,
    summary: Summary | None = None,
    people: Mapping[str, Person] | None = None,
) -> list[Violation]:
    """Every check over one log. ``scenario`` must be the one run, with the run's seed."""
    log = Log.of(scenario, activities, summary=summary, people=people)
    return [violation for check in CHECKS.values() for violation in check(log)]
