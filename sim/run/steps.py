"""What each kind of flow step does: one function per action, each doing its effect and
logging it (R14, R17). "Where is Execute Campaign implemented?" `execute_campaign`, here.

The engine (`sim.run.engine`) runs a flow: it picks a step's action (its choices, R13)
and calls the function `ACTIONS` or `WAITING_ACTIONS` names for the action's type. Those
in `ACTIONS` take no time; those in `WAITING_ACTIONS` are awaited, because time passes or
other runs go first inside them (Wait, Call Webhook, Execute Campaign). A new step kind
is a spec in `sim.scenario.model`, its loading in `sim.scenario`, and a function here.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sim.run.conditions import all_hold
from sim.run.runs import At, Run, WebhookCall, show_value
from sim.scenario import model
from sim.scenario.model import Value
from sim.scenario.people import Person

if TYPE_CHECKING:
    from sim.run.engine import Engine


def change_data_value(engine: Engine, run: Run, action: model.ChangeDataValue, at: At) -> None:
    set_field(engine, run.person, run, at, action.field, new_value(engine, action, run))


def change_score(engine: Engine, run: Run, action: model.ChangeScore, at: At) -> None:
    person = run.person
    old = person.fields.get(action.field)
    base = old if isinstance(old, (int, float)) and not isinstance(old, bool) else 0
    new = {"+": base + action.amount, "-": base - action.amount, "=": action.amount}[action.op]
    # A score stops at ±MAX_NUMBER (saturates): beyond it a float loses whole numbers.
    new = max(-model.MAX_NUMBER, min(model.MAX_NUMBER, new))
    new = int(new) if float(new).is_integer() else new
    if new != old:
        person.fields[action.field] = new
        change = f"{action.op}{action.amount:g}"
        engine.emit("change_score", person, run, at, field=action.field, change=change, old_value=old, new_value=new)


def change_program_status(engine: Engine, run: Run, action: model.ChangeProgramStatus, at: At) -> None:
    person = run.person
    statuses = engine.scenario.programs[action.program].statuses
    old_index = person.statuses.get(action.program, 0)
    new_index = statuses.index(action.status)
    if new_index > old_index:  # R14: statuses only move forward
        person.statuses[action.program] = new_index
        engine.emit(
            "change_program_status",
            person,
            run,
            at,
            program=action.program,
            old_status=statuses[old_index],
            new_status=action.status,
        )


def add_to_list(engine: Engine, run: Run, action: model.AddToList, at: At) -> None:
    person = run.person
    if action.list not in person.lists:
        person.lists.add(action.list)
        engine.emit("add_to_list", person, run, at, list=action.list)


def remove_from_list(engine: Engine, run: Run, action: model.RemoveFromList, at: At) -> None:
    person = run.person
    if action.list in person.lists:
        person.lists.discard(action.list)
        engine.emit("remove_from_list", person, run, at, list=action.list)


def interesting_moment(engine: Engine, run: Run, action: model.InterestingMoment, at: At) -> None:
    engine.emit("interesting_moment", run.person, run, at, description=resolve_tokens(action.description, run))


def send_email(engine: Engine, run: Run, action: model.SendEmail, at: At) -> None:
    engine.emit("send_email", run.person, run, at, email=action.email)


def send_alert(engine: Engine, run: Run, action: model.SendAlert, at: At) -> None:
    engine.emit("send_alert", run.person, run, at, alert=action.alert, to=action.to)


def request_campaign(engine: Engine, run: Run, action: model.RequestCampaign, at: At) -> None:
    # R5: the request is an activity; the target's trigger admits a new run.
    engine.emit("request_campaign", run.person, run, at, campaign=action.campaign, source="marketo_flow_action")


def remove_from_flow(engine: Engine, run: Run, action: model.RemoveFromFlow, at: At) -> None:
    """R11: every run of the named campaigns in this person's flows ends, with the
    executables' parents (same thread); a queued run leaves the queue at once."""
    targets = set(action.campaigns)
    live = engine.live.get(run.person.id, {})
    threads = [other.thread for other in live if other.campaign.name in targets and not other.thread.removed]
    for thread in threads:
        thread.removed = True
        thread.removed_by = run.id
        engine.kernel.wake(thread.sleeper)
        entry = thread.waiting
        if entry is not None and thread.queue is not None and not entry.granted:
            # Out of the queue at once (R11). A run back from a Wait is woken above
            # and ends; a new run's task, started without a worker, logs run_started
            # and run_removed.
            thread.waiting = None
            thread.queue.cancel(entry, engine.kernel.now)
            if entry.resume is None:
                removed_run, cause, via = entry.item
                engine.kernel.spawn(engine.run_task, removed_run, cause, via, entry.priority)
    removed = [other.id for other in live if any(other.thread is thread for thread in threads)]
    engine.emit("remove_from_flow", run.person, run, at, campaigns=list(action.campaigns), removed_runs=removed)
    engine.check_removed(run)  # a campaign may remove its own run


async def wait(engine: Engine, run: Run, action: model.Wait, at: At) -> None:
    engine.emit("wait", run.person, run, at, duration=action.duration)
    thread = run.thread
    if thread.holding:
        engine.admission.release(thread)  # R15: a waiting run holds no worker
    await engine.kernel.sleep(action.duration, sleeper=thread.sleeper)
    engine.check_removed(run)
    if thread.queue is not None:
        await engine.admission.acquire(run)


async def execute_campaign(engine: Engine, parent: Run, action: model.ExecuteCampaign, at: At) -> None:
    """R6: the child's whole flow runs inside the parent's thread before the parent's
    next step; R7: a child whose smart list or qualification rule turns the person away
    is skipped and the parent goes on; R10: tokens from the parent if asked."""
    child_campaign = engine.scenario.campaigns[action.campaign]
    person = parent.person
    engine.observer.smart_list(person, child_campaign.filters, campaign=child_campaign, of="executable")
    if not all_hold(child_campaign.filters, person, engine.scenario.programs):
        reason: str | None = "smart list filters do not hold"
    else:
        reason = engine.admission.refusal(child_campaign, person)
    engine.emit("execute_campaign", person, parent, at, campaign=child_campaign.name, qualified=reason is None)
    if reason is not None:
        engine.admission.skip(
            child_campaign, person, parent_id=parent.id, cause=None, via="execute_campaign", reason=reason
        )
        return
    child = Run(
        id=next(engine.run_ids),
        campaign=child_campaign,
        person=person,
        thread=parent.thread,
        parent_id=parent.id,
        tokens=parent.tokens if action.use_parent_tokens else engine.my_tokens(child_campaign),
        depth=parent.depth + 1,
    )
    assert child.depth <= 3, "R8 depth is checked when the scenario loads"
    live = engine.live.setdefault(person.id, {})
    live[child] = None
    try:
        await engine.run_flow(child, via="execute_campaign")
    finally:
        del live[child]


async def call_webhook(engine: Engine, run: Run, action: model.CallWebhook, at: At) -> None:
    """R16: the response lands on its own after the webhook's latency; the run waits
    for it at most 30 s. At equal times the kernel decides whether the write-back or the
    run's next step goes first: the documented write-back race."""
    person = run.person
    if action.payload:  # what the service is sent, as it is now (R10)
        engine.emit(
            "call_webhook", person, run, at, webhook=action.webhook, payload=resolve_tokens(action.payload, run)
        )
    else:
        engine.emit("call_webhook", person, run, at, webhook=action.webhook)
    call = WebhookCall(run=run, action=action, at=at)
    engine.observer.webhook_called(call)
    engine.kernel.call_soon(land_webhook_response, engine, call, delay=action.latency)
    await engine.kernel.sleep(min(action.latency, model.WEBHOOK_TIMEOUT), sleeper=run.thread.sleeper)
    engine.check_removed(run)  # removed while waiting: no timeout happened (R11)
    if action.latency > model.WEBHOOK_TIMEOUT:
        engine.emit("webhook_timeout", person, run, at, webhook=action.webhook, after=model.WEBHOOK_TIMEOUT)


def land_webhook_response(engine: Engine, call: WebhookCall) -> None:
    """The response of ``call`` (a kernel call of its own): logged, and on a 2xx status
    its response mapping written to the person's fields (R16)."""
    run, action, at = call.run, call.action, call.at
    person = run.person
    observer = engine.observer
    observer.webhook_landed(call)
    engine.emit("webhook_response", person, run, at, webhook=action.webhook, status=action.status)
    if 200 <= action.status < 300:
        for field, value in action.response:
            observer.field_written(person, field, value, source="webhook", activity="webhook_response", call=call)
        for field, value in action.response:
            set_field(engine, person, run, at, field, value, source="webhook")


#: Action type -> what does it, taking no time.
ACTIONS: dict[type, Callable[[Engine, Run, Any, At], None]] = {
    model.ChangeDataValue: change_data_value,
    model.ChangeScore: change_score,
    model.ChangeProgramStatus: change_program_status,
    model.AddToList: add_to_list,
    model.RemoveFromList: remove_from_list,
    model.InterestingMoment: interesting_moment,
    model.SendEmail: send_email,
    model.SendAlert: send_alert,
    model.RequestCampaign: request_campaign,
    model.RemoveFromFlow: remove_from_flow,
}

#: Action type -> what does it, awaited: time passes or other runs go first inside it.
WAITING_ACTIONS: dict[type, Callable[[Engine, Run, Any, At], Awaitable[None]]] = {
    model.Wait: wait,
    model.CallWebhook: call_webhook,
    model.ExecuteCampaign: execute_campaign,
}


# -- field values and tokens (R10, R12)


def set_field(engine: Engine, person: Person, run: Run | None, at: At, field: str, value: Value, **extra: Any) -> None:
    """Write ``value`` to ``field`` and log the change, if it is one (R12: the very next
    step sees it)."""
    old = person.fields.get(field)
    if old != value or type(old) is not type(value):
        person.fields[field] = value
        engine.emit("change_data_value", person, run, at, field=field, old_value=old, new_value=value, **extra)


def new_value(engine: Engine, action: model.ChangeDataValue, run: Run) -> Value:
    """The value a Change Data Value writes: its tokens resolved now (R10), in the
    field's type."""
    value = action.value
    if isinstance(value, str) and "{{" in value:
        return _coerce(resolve_tokens(value, run), engine.scenario.fields[action.field].default)
    return value


def resolve_tokens(text: str, run: Run) -> str:
    """Replace {{my.x}}, {{trigger.x}} and {{lead.x}} tokens (R10)."""

    if "{{" not in text:
        return text

    def token(match: re.Match[str]) -> str:
        scope, name = match.group(1), match.group(2)
        if scope == "lead":
            return show_value(run.person.fields.get(name))
        return run.tokens.get(f"{scope}.{name}", "")

    return model.TOKEN.sub(token, text)


def _coerce(text: str, like: Value) -> Value:
    """A token-built value in the field's type: a number for a numeric field if it parses
    as one within ±MAX_NUMBER; else (nan, inf, 1e400, words) the text as it is."""
    if text == "NULL":
        return None
    if isinstance(like, (int, float)) and not isinstance(like, bool):
        try:
            number = float(text)
        except ValueError:
            return text
        if not abs(number) <= model.MAX_NUMBER:  # nan fails every comparison
            return text
        return int(number) if number.is_integer() else number
    return text
