"""Guarantee 1, step order (R12, R13): a run's activities follow its flow.

Started first (after ``run_queued`` when it waited for a worker, R22), its steps in flow
order, one ending, last; each step does what its choices pick on the person's state at
that moment, and a step that always logs logged exactly once (R14).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sim.run.activity import RUN_QUEUED, RUN_STARTED, Activity
from sim.run.conditions import all_hold
from sim.scenario import model
from sim.scenario.people import Person
from sim.verify.guarantees.log import Log, Report, RunRecord, Violation, is_write_back, reporter
from sim.verify.guarantees.replay import Probe, Replay, probed


def check_step_order(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """A run's activities follow its flow: started first, steps in order, one end, last."""
    bad = reporter("step order", "R12, R13")
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
    out.extend(probed(log, replayed, StepChoices).found)
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


def _missing_steps(record: RunRecord, flow: Sequence[model.Step], last: int, bad: Report) -> list[Violation]:
    """Steps that must have logged: every step that always logs, up to the last step the run
    reached (all of them when it completed)."""
    reached = len(flow) if any(e.type == "run_completed" for e in record.endings) else last
    logged = Counter(a.step for a in record.own if a.step is not None and a.type == a.kind)
    out = []
    for index, step in enumerate(flow[:reached], 1):
        # With None for a default of "do nothing": such a step does not always log.
        actions = [step.action, *(choice.action for choice in step.choices)]
        if all(isinstance(action, _ALWAYS_LOGS) for action in actions) and logged[index] != 1:
            out.append(bad(f"step {index} ({step.kind}) always logs, but logged {logged[index]} times", record.first))
    return out


class StepChoices(Probe):
    """R13: the first activity of each step is what the step's choices pick, evaluated on
    the person's state at that moment (R12: a change is seen by the very next step)."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.bad = reporter("step order", "R12, R13")
        self.found: list[Violation] = []
        self.seen: set[tuple[int, int]] = set()

    def before(self, index: int, activity: Activity | None, people: Mapping[str, Person]) -> None:
        if activity is None or activity.run is None or activity.step is None or is_write_back(activity):
            return
        if (activity.run, activity.step) in self.seen:
            return
        self.seen.add((activity.run, activity.step))
        campaign = self.log.campaign(activity.campaign or "")
        person = people.get(activity.person)
        if campaign is None or person is None or not 1 <= activity.step <= len(campaign.flow):
            return  # reported by check_step_order
        step = campaign.flow[activity.step - 1]
        action = step.action
        for choice in step.choices:
            if all_hold(choice.conditions, person, self.log.scenario.programs):
                action = choice.action
                break
        bad = self.bad
        if action is None:
            self.found.append(
                bad(f"step {activity.step} logged {activity.type}, but its choices pick do nothing", activity)
            )
        elif not _logged_by(action, activity):
            self.found.append(
                bad(f"step {activity.step} logged {activity.type}, but its choices pick {action!r}", activity)
            )


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
