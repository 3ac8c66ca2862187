"""Guarantee 9, time (R15, R16): when each activity of a task may come.

Time never goes back and seq has no gaps; a step takes no time; a Wait lasts exactly its
duration and a webhook call waits for its response or the 30 s timeout. The helpers here
(`goes_on_at`, `webhook_latencies`) also tell conservation when a task is parked past the end.
"""

from __future__ import annotations

import itertools

from sim.run.activity import Activity
from sim.scenario import model
from sim.scenario.units import later
from sim.verify.guarantees.log import Log, Violation, reporter
from sim.verify.guarantees.replay import Replay


def check_time(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """Time never goes back; a step takes no time; a wait lasts exactly its duration.

    Within one task, the activity after a ``wait`` comes exactly ``duration`` later (or
    earlier, when a Remove from Flow ends the run, R11); after ``call_webhook`` the run
    waits for the response or 30 s, whichever is first (R16); otherwise no time passes.
    With a campaign queue (R22) steps take service time and runs wait for workers, so
    each of those comes at that time or later.
    """
    bad = reporter("time", "R15, R16")
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
            due = goes_on_at(log, a)
            if b.time in due or (queued and b.time >= min(due, default=a.time)):
                continue  # with a queue, steps take time and runs wait for workers (R22)
            if b.type == "run_removed" and a.time <= b.time <= max(due):
                continue  # woken early by Remove from Flow (R11)
            out.append(bad(f"the next activity of this task came at t={b.time:g}, not at {due}", a, b))
    return out


def goes_on_at(log: Log, activity: Activity) -> list[float]:
    """When the task that logged ``activity`` may log its next one: after a Wait, its
    duration later; after a webhook call, at the response or the 30 s timeout (R16, one
    time per latency the step may have had); else at once."""
    if activity.type == "wait":
        return [later(activity.time, activity.details["duration"])]
    if activity.type == "call_webhook":
        return [later(activity.time, min(lat, model.WEBHOOK_TIMEOUT)) for lat in webhook_latencies(log, activity)]
    return [activity.time]


def parked_past_end(log: Log, last: Activity) -> bool:
    """Whether a task's last activity leaves it asleep until the end of the window or later."""
    return last.type in ("wait", "call_webhook") and any(t >= log.scenario.duration for t in goes_on_at(log, last))


def webhook_latencies(log: Log, call: Activity) -> list[float]:
    """The latencies the webhook step that logged ``call`` may have had (its choices too)."""
    campaign = log.campaign(call.campaign or "")
    if campaign is None or call.step is None or not 1 <= call.step <= len(campaign.flow):
        return []
    step = campaign.flow[call.step - 1]
    return [
        a.latency
        for a in step.actions()
        if isinstance(a, model.CallWebhook) and a.webhook == call.details.get("webhook")
    ]
