"""The campaign runtime: triggers, admission and runs, on the kernel.

How Marketo's two ways of calling a campaign map onto trio (docs/marketo.md):
- Request Campaign (R5) emits a ``request_campaign`` activity; the requested campaign's
  "Campaign is Requested" trigger admits a new run, which is a new kernel task. The
  requester goes straight on to its next step.
- Execute Campaign (R6) awaits the child's whole flow inside the parent's own task, so
  every child (and grandchild) step finishes before the parent's next step.

Every run, whatever launched it (trigger, request, batch), enters through `Admission.admit`
(`sim.run.admission`).
With a campaign queue (R19-R22, `sim.run.queue`), a run waits there as data until a worker
is free, each step holds the worker for its service time, and a Wait gives it back.
Between steps each run passes a kernel checkpoint, a choice point where any other run due
at the same instant may go first: that is where the schedule, and so races, live.

What each step kind does is in `sim.run.steps`; the load is in `sim.run.sources`; what
watches a run (metrics, race detection) is an `Observer` (`sim.run.observer`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import attrs

from sim.run import steps
from sim.run.activity import Activity, ActivitySink, FieldSink
from sim.run.admission import Admission
from sim.run.conditions import all_hold, trigger_matches
from sim.run.kernel import Kernel
from sim.run.observer import Observer, observer_of
from sim.run.plan import Plan
from sim.run.queue import CampaignQueue, flow_priority, make_sampler
from sim.run.runs import At, BudgetExhausted, Run, RunEnded, RunRemoved, Tokens
from sim.run.sources import Load
from sim.run.tally import BudgetReport, Tally
from sim.scenario import model
from sim.scenario.model import Campaign, Priority, Scenario, Step
from sim.scenario.people import Person, make_people
from sim.scenario.units import MICROS, micros


@attrs.define(eq=False)
class Engine:
    """Runs one scenario on one kernel, writing every activity to ``sinks`` and telling
    ``observers`` (`sim.run.observer`) what happens."""

    scenario: Scenario
    kernel: Kernel
    sinks: Sequence[ActivitySink]
    observers: Sequence[Observer] = ()
    tally: Tally = attrs.field(factory=Tally)
    #: Told (made, total) while the people are made (`make_people`).
    progress: Callable[[int, int], None] | None = None
    #: The scenario's people, timed activities and arrivals made already (`sim.run.plan`):
    #: for many runs of one scenario. None: made here, and streamed as the run goes.
    plan: Plan | None = None
    people: dict[str, Person] = attrs.field(init=False)
    #: The observers as one (`observer_of`): hooks are called on it unconditionally.
    observer: Observer = attrs.field(init=False)
    #: Who gets in and when: qualification, the queue and its workers (`sim.run.admission`).
    admission: Admission = attrs.field(init=False)
    #: activity type -> (campaign, trigger) of active trigger campaigns, in file order.
    listeners: dict[str, list[tuple[Campaign, model.Trigger]]] = attrs.field(factory=dict, init=False)
    #: person id -> runs in flight (admitted and not ended), in admission order.
    live: dict[str, dict[Run, None]] = attrs.field(factory=dict, init=False)  # ordered sets: O(1) removal
    #: "trigger" and "batch" -> its campaign queue (R20); empty without a queue model.
    queues: dict[str, CampaignQueue] = attrs.field(factory=dict, init=False)
    #: Campaign -> the priority class its flow gives it (R19).
    priorities: dict[str, Priority] = attrs.field(factory=dict, init=False)
    #: Action type -> what does it (`sim.run.steps`): at once, or awaited (time passes).
    #: Per engine, so a test may replace one.
    actions: dict[type, Callable[[Engine, Run, Any, At], None]] = attrs.field(init=False)
    waiting_actions: dict[type, Callable[[Engine, Run, Any, At], Awaitable[None]]] = attrs.field(init=False)
    #: Run ids, 1, 2, ...: every run admitted, skipped or executed takes the next.
    run_ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _seq: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    #: The sinks that take `Activity` records, and those that take the fields
    #: (``write_fields``: no record is made for them).
    _record_sinks: tuple[ActivitySink, ...] = attrs.field(init=False)
    _field_sinks: tuple[FieldSink, ...] = attrs.field(init=False)
    #: Campaign -> its {{my.x}} tokens (`my_tokens`).
    _my: dict[str, Mapping[str, str]] = attrs.field(factory=dict, init=False)
    #: Ids of people whose step budget ran out (reported once each).
    _exhausted: set[str] = attrs.field(factory=set, init=False)
    #: Step kind -> a function drawing its service time (R22); empty: steps take no time.
    _service: dict[str, Callable[[], float]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        plan = self.plan
        if plan is not None and plan.scenario is not self.scenario:
            raise ValueError("the plan was made for another scenario (or seed): make it with Plan.of(scenario)")
        self.people = plan.people() if plan is not None else make_people(self.scenario, progress=self.progress)
        self.observer = observer_of(self.observers)
        self.admission = Admission(self)
        self.actions = dict(steps.ACTIONS)
        self.waiting_actions = dict(steps.WAITING_ACTIONS)
        self._field_sinks = tuple(cast(FieldSink, sink) for sink in self.sinks if hasattr(sink, "write_fields"))
        self._record_sinks = tuple(sink for sink in self.sinks if not hasattr(sink, "write_fields"))
        self.priorities = {name: flow_priority(campaign) for name, campaign in self.scenario.campaigns.items()}
        spec = self.scenario.queue
        if spec is not None:
            end = self.scenario.duration
            for name, workers in (("trigger", spec.workers), ("batch", spec.batch_workers)):
                self.queues[name] = CampaignQueue(name, workers, self.observer.watch_queue(name, workers, end))
            # One stream for every service time, in the order steps run: the same seed
            # and schedule draw the same times.
            rng = random.Random(f"sim.service:{self.scenario.seed}")
            self._service = {kind: make_sampler(time, rng) for kind, time in spec.service.items()}
        for campaign in self.scenario.campaigns.values():
            if campaign.kind == "trigger" and campaign.active:
                for trigger in campaign.triggers:
                    self.listeners.setdefault(trigger.activity, []).append((campaign, trigger))
        self.observer.attach(self)

    async def main(self) -> None:
        """The simulation's first task: start the load (`sim.run.sources`)."""
        Load(self).start()

    # -- activities and triggers (R1, R17)

    def emit(self, type_: str, person: Person, run: Run | None = None, at: At = None, /, **details: Any) -> None:
        """Record an activity, then fire the triggers listening for it.

        ``at`` is the (1-based step, step kind) that produced it; ``details`` its attributes.
        The `Activity` record is made only for sinks that take records; a sink with
        ``write_fields`` (the JSON Lines log) gets the fields as they are.
        """
        seq = next(self._seq)
        if run is None:
            campaign = run_id = parent = None
        else:
            campaign = run.campaign.name
            run_id = run.id
            parent = run.parent_id
        if self._field_sinks or self._record_sinks:
            step, kind = at if at is not None else (None, None)
            now = self.kernel.now
            if self._field_sinks:
                fields = {
                    "seq": seq,
                    "t": now,
                    "person": person.id,
                    "campaign": campaign,
                    "run": run_id,
                    "parent": parent,
                    "step": step,
                    "kind": kind,
                    "type": type_,
                    "details": details,
                }
                for field_sink in self._field_sinks:
                    field_sink.write_fields(fields)
            if self._record_sinks:
                activity = Activity(
                    seq=seq,
                    time=now,
                    person=person.id,
                    type=type_,
                    campaign=campaign,
                    run=run_id,
                    parent=parent,
                    step=step,
                    kind=kind,
                    details=details,
                )
                for sink in self._record_sinks:
                    sink.write(activity)
        self.tally.count(type_, campaign, run_id, details)  # after the sinks, as the last sink
        listeners = self.listeners.get(type_)
        if listeners:
            self._fire(type_, seq, run_id, details, person, listeners)

    def _fire(
        self,
        type_: str,
        seq: int,
        run_id: int | None,
        details: Mapping[str, Any],
        person: Person,
        listeners: list[tuple[Campaign, model.Trigger]],
    ) -> None:
        """Admit a run of each campaign whose trigger matches the activity ``seq``."""
        fired: set[str] = set()  # triggers are OR-ed: one run per campaign per activity
        requested = type_ == "request_campaign"
        for campaign, trigger in listeners:
            if campaign.name in fired or not trigger_matches(trigger, details):
                continue
            if requested and details.get("campaign") != campaign.name:
                continue
            # R1: the filters must hold at the moment the trigger fires.
            self.observer.smart_list(person, campaign.filters, campaign=campaign, of="trigger")
            if campaign.filters and not all_hold(campaign.filters, person, self.scenario.programs):
                if requested:  # a request names its campaign: say why it did not run
                    fired.add(campaign.name)
                    reason = "smart list filters do not hold"
                    self.admission.skip(campaign, person, parent_id=run_id, cause=seq, via=trigger.name, reason=reason)
                continue
            fired.add(campaign.name)
            self.admission.admit(
                campaign,
                person,
                parent_id=run_id if requested else None,
                cause=seq,
                via=trigger.name,
                tokens=Tokens(my=self.my_tokens(campaign), trigger=details),
            )

    def my_tokens(self, campaign: Campaign) -> Mapping[str, str]:
        """The {{my.x}} tokens of ``campaign``'s program, made once per campaign."""
        tokens = self._my.get(campaign.name)
        if tokens is None:
            program = campaign.program
            own = self.scenario.programs[program].tokens.items() if program is not None else ()
            tokens = self._my[campaign.name] = {f"my.{k}": v for k, v in own}
        return tokens

    # -- a run's task and flow (R12)

    async def run_task(self, run: Run, cause: int | None, via: str, priority: str = "") -> None:
        """A top run's task: its flow, then its worker back to the queue."""
        try:
            try:
                await self.run_flow(run, cause=cause, via=via)
            except RunEnded:
                pass  # logged by run_flow
            name = run.campaign.name
            latency = (self.kernel.now_us - micros(run.admitted)) / MICROS  # exact on the µs grid
            self.observer.run_ended(run, priority or self.priorities[name], latency)
        finally:
            del self.live[run.person.id][run]
            if run.thread.holding and not self.kernel.finished:
                self.admission.release(run.thread)

    async def run_flow(self, run: Run, *, cause: int | None = None, via: str = "") -> None:
        """Run the campaign's steps in order; log how the run ended."""
        person = run.person
        observer = self.observer
        observer.goes_on(run)
        self.emit("run_started", person, run, cause=cause, via=via)
        service = self._service
        kernel = self.kernel
        try:
            if run.thread.removed:
                raise RunRemoved(run.thread.removed_by)
            thread = run.thread
            budget = self.scenario.step_budget
            for index, step in enumerate(run.campaign.flow, 1):
                run.step = index
                # R22: the step holds the worker for its service time; its effect lands
                # at the end of it. Without a queue model, a choice point and no time.
                delay = service[step.kind]() if service else 0.0
                if delay:
                    await kernel.sleep(delay)
                else:
                    await kernel.checkpoint()
                observer.goes_on(run)
                if thread.removed or person.steps >= budget:
                    self._check_alive(run)  # the usual case, alive, skips the call
                await self.run_step(run, index, step)
        except RunEnded as ended:
            self.emit(ended.activity, person, run, None, **ended.details())
            raise
        self.emit("run_completed", person, run)

    def check_removed(self, run: Run) -> None:
        """After anything that let other runs go first: was this run removed (R11)?"""
        self.observer.goes_on(run)
        if run.thread.removed:
            raise RunRemoved(run.thread.removed_by)

    def _check_alive(self, run: Run) -> None:
        """Before a step: not removed, and the person has a step left in the budget."""
        if run.thread.removed:
            raise RunRemoved(run.thread.removed_by)
        person = run.person
        if person.steps >= self.scenario.step_budget:
            if person.id not in self._exhausted:  # report once per person
                self._exhausted.add(person.id)
                self.tally.exhausted.append(
                    BudgetReport(person=person.id, campaign=run.campaign.name, time=self.kernel.now)
                )
            raise BudgetExhausted(self.scenario.step_budget)

    async def run_step(self, run: Run, index: int, step: Step) -> None:
        """Run one step: pick its action (R13), do it (`sim.run.steps`), log what changed
        (R14, R17)."""
        person = run.person
        person.steps += 1
        self.tally.steps[run.campaign.name] += 1
        action = step.action
        observer = self.observer
        for choice in step.choices:
            observer.smart_list(person, choice.conditions, campaign=run.campaign, of="choice", at=(index, step.kind))
            if all_hold(choice.conditions, person, self.scenario.programs):
                action = choice.action
                break
        if action is None:
            return  # the default choice is "do nothing"
        at = (index, step.kind)
        observer.step_action(run, index, step, action)
        do = self.actions.get(type(action))
        if do is not None:
            do(self, run, action, at)
            return
        waits = self.waiting_actions.get(type(action))
        if waits is None:
            raise AssertionError(f"unhandled action {action!r}")
        await waits(self, run, action, at)
