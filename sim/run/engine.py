"""The campaign runtime: triggers, runs, flow steps, on the kernel.

How Marketo's two ways of calling a campaign map onto trio (docs/marketo.md):
- Request Campaign (R5) emits a ``request_campaign`` activity; the requested campaign's
  "Campaign is Requested" trigger admits a new run, which is a new kernel task. The
  requester goes straight on to its next step.
- Execute Campaign (R6) awaits the child's whole flow inside the parent's own task, so
  every child (and grandchild) step finishes before the parent's next step.

Every run, whatever launched it (trigger, request, batch), enters through `Engine.admit`.
With a campaign queue (R19-R22, `sim.run.queue`), a run waits there as data until a worker
is free, each step holds the worker for its service time, and a Wait gives it back.
Between steps each run passes a kernel checkpoint, a choice point where any other run due
at the same instant may go first: that is where the schedule, and so races, live.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import attrs

from sim.observe.metrics import Metrics, QueueStats, RunStats, UnmeasuredQueue, summarize_metrics
from sim.observe.races import Clock, Op, RaceDetector, Site, writable_items
from sim.run.activity import Activity, ActivitySink, FieldSink
from sim.run.conditions import all_hold, trigger_matches
from sim.run.kernel import Kernel, Sleeper
from sim.run.load import arrival_times, external_activities, new_arrivals, schedule_times
from sim.run.plan import Plan
from sim.run.queue import CampaignQueue, Waiting, flow_priority, make_sampler, priority_at
from sim.run.tally import BudgetReport, Tally
from sim.scenario import model
from sim.scenario.model import Campaign, Priority, Scenario, Step, Value, same_value
from sim.scenario.people import Person, make_people, new_person_fields
from sim.scenario.units import MICROS, micros

#: The (1-based step index, step kind) that produced an activity; None outside a flow.
At = tuple[int, str] | None


class RunEnded(Exception):
    """Unwinds a run's task early; the top run catches it."""

    activity = "run_stopped"

    def details(self) -> dict[str, Any]:
        return {}


class RunRemoved(RunEnded):
    """Remove from Flow reached this run's task (R11)."""

    activity = "run_removed"

    def __init__(self, by: int | None) -> None:
        super().__init__(by)
        self.by = by

    def details(self) -> dict[str, Any]:
        return {"by_run": self.by}


class BudgetExhausted(RunEnded):
    """The person ran out of steps: a runaway cascade, most likely."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget)
        self.budget = budget

    def details(self) -> dict[str, Any]:
        steps = "step" if self.budget == 1 else "steps"
        return {"reason": f"step budget of {self.budget} {steps} per person used up"}


@attrs.define(eq=False)
class Thread:
    """One task's stack of runs: a top run and the executables running inside it.

    Removing any run in the stack ends them all (R11), so the flag lives here.
    """

    sleeper: Sleeper = attrs.field(factory=Sleeper)
    removed_by: int | None = None
    removed: bool = False
    #: The campaign queue the top run belongs to (None: no queue model), and whether
    #: the thread holds one of its workers now (not while in a Wait, R15).
    queue: CampaignQueue | None = None
    holding: bool = False
    #: The top run's queue entry while it waits for its first worker.
    waiting: Waiting | None = None
    #: The thread's vector clock, when races are detected (`sim.observe.races`).
    clock: Clock | None = None


@attrs.frozen(kw_only=True)
class Tokens(Mapping[str, str]):
    """A run's tokens (R10): its program's {{my.x}} and, for a triggered run, the
    triggering activity's attributes as {{trigger.x}}, read from the activity when a
    token is used rather than copied for every run."""

    my: Mapping[str, str]
    trigger: Mapping[str, Any] = attrs.field(factory=dict)

    def __getitem__(self, key: str) -> str:
        if key.startswith("trigger."):
            name = key[8:]
            if name in self.trigger:
                return _show(self.trigger[name])
            raise KeyError(key)
        return self.my[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.my
        for name in self.trigger:
            yield f"trigger.{name}"

    def __len__(self) -> int:
        return len(self.my) + len(self.trigger)


@attrs.define(eq=False)
class Run:
    """One person's pass through one campaign's flow."""

    id: int
    campaign: Campaign
    person: Person
    thread: Thread
    parent_id: int | None  # executing parent or requesting run
    tokens: Mapping[str, str]
    depth: int = 0  # 0 for a top run; executables nest below (R8)
    admitted: float = 0.0
    #: The (1-based) step the run is at; 0 before its first (for race reports).
    step: int = 0


@attrs.define(eq=False)
class Engine:
    """Runs one scenario on one kernel, writing every activity to ``sinks``."""

    scenario: Scenario
    kernel: Kernel
    sinks: Sequence[ActivitySink]
    tally: Tally = attrs.field(factory=Tally)
    people: dict[str, Person] = attrs.field(init=False)
    _seq: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _run_ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    #: activity type -> (campaign, trigger) of active trigger campaigns, in file order.
    _listeners: dict[str, list[tuple[Campaign, model.Trigger]]] = attrs.field(factory=dict, init=False)
    #: person id -> runs in flight (admitted and not ended), in admission order.
    _live: dict[str, dict[Run, None]] = attrs.field(factory=dict, init=False)  # ordered sets: O(1) removal
    #: (campaign, person id) -> time of the last run admitted, in µs (R18).
    _last_run: dict[tuple[str, str], int] = attrs.field(factory=dict, init=False)
    #: The sinks that take `Activity` records, and those that take the fields
    #: (``write_fields``: no record is made for them).
    _record_sinks: tuple[ActivitySink, ...] = attrs.field(init=False)
    _field_sinks: tuple[FieldSink, ...] = attrs.field(init=False)
    #: Action type -> the method that does it: at once, or awaited (it lets time pass).
    _actions: dict[type, Callable[[Run, Any, At], None]] = attrs.field(init=False)
    _waiting_actions: dict[type, Callable[[Run, Any, At], Awaitable[None]]] = attrs.field(init=False)
    #: Campaign -> its {{my.x}} tokens (`_my_tokens`).
    _my: dict[str, Mapping[str, str]] = attrs.field(factory=dict, init=False)
    #: Ids of people whose step budget ran out (reported once each).
    _exhausted: set[str] = attrs.field(factory=set, init=False)
    #: Everyone known so far, in the order they became known (the people, then those
    #: created by form fills): who a generator's arrival may be.
    _everyone: list[Person] = attrs.field(factory=list, init=False)
    #: Numbers of the people new_people creates: new1, new2, ...
    _new_ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    #: "trigger" and "batch" -> its campaign queue (R20); empty without a queue model.
    queues: dict[str, CampaignQueue] = attrs.field(factory=dict, init=False)
    run_stats: RunStats = attrs.field(factory=RunStats, init=False)
    #: Campaign -> the priority class its flow gives it (R19).
    priorities: dict[str, Priority] = attrs.field(factory=dict, init=False)
    #: Step kind -> a function drawing its service time (R22); empty: steps take no time.
    _service: dict[str, Callable[[], float]] = attrs.field(factory=dict, init=False)
    #: Records every access to people's state for race detection; None: off (no cost).
    races: RaceDetector | None = None
    #: With ``races``: the clock of the thread running now, set wherever a task resumes.
    _clock: Clock | None = attrs.field(default=None, init=False)
    #: Campaigns a Remove from Flow step names: whether a run is in their flow is state
    #: that the removal writes and every step of theirs reads.
    _removable: frozenset[str] = attrs.field(factory=frozenset, init=False)
    #: (activity type, field/list/program) -> whether a trigger listens for it (`_watched`).
    _watch: dict[tuple[str, str], bool] = attrs.field(factory=dict, init=False)
    #: With ``races``: the items each smart list (a tuple of filters) reads.
    _filter_items: dict[int, tuple[str, ...]] = attrs.field(factory=dict, init=False)
    #: With ``races``: every `Site` made (`_site_at`).
    _sites: dict[tuple[str | None, str, int | None, str | None], Site] = attrs.field(factory=dict, init=False)
    #: With ``races``: the people form fills created during the run.
    _created: set[str] = attrs.field(factory=set, init=False)
    #: Told (made, total) while the people are made (`make_people`).
    progress: Callable[[int, int], None] | None = None
    #: Keep the bookkeeping of `metrics` (queue length over time, waits, latencies).
    #: Off, it costs nothing and `metrics` is unavailable: for exploration.
    measure: bool = True
    #: The scenario's people, timed activities and arrivals made already (`sim.run.plan`):
    #: for many runs of one scenario. None: made here, and streamed as the run goes.
    plan: Plan | None = None

    def __attrs_post_init__(self) -> None:
        plan = self.plan
        if plan is not None and plan.scenario is not self.scenario:
            raise ValueError("the plan was made for another scenario (or seed): make it with Plan.of(scenario)")
        self.people = plan.people() if plan is not None else make_people(self.scenario, progress=self.progress)
        if self.races is not None:
            self.races.running = self.kernel.running
            self.races.writable = writable_items(self.scenario)
        # Action type -> what does it; looked up on the instance, so a test may replace one.
        self._actions = {
            model.ChangeDataValue: self._change_data_value,
            model.ChangeScore: self._change_score,
            model.ChangeProgramStatus: self._change_program_status,
            model.AddToList: self._add_to_list,
            model.RemoveFromList: self._remove_from_list,
            model.InterestingMoment: self._interesting_moment,
            model.SendEmail: self._send_email,
            model.SendAlert: self._send_alert,
            model.RequestCampaign: self._request_campaign,
            model.RemoveFromFlow: self._remove_from_flow,
        }
        self._waiting_actions = {
            model.Wait: self._wait,
            model.CallWebhook: self._call_webhook,
            model.ExecuteCampaign: self._execute,
        }
        self._field_sinks = tuple(cast(FieldSink, sink) for sink in self.sinks if hasattr(sink, "write_fields"))
        self._record_sinks = tuple(sink for sink in self.sinks if not hasattr(sink, "write_fields"))
        self.priorities = {name: flow_priority(campaign) for name, campaign in self.scenario.campaigns.items()}
        spec = self.scenario.queue
        if spec is not None:
            end = self.scenario.duration
            for name, workers in (("trigger", spec.workers), ("batch", spec.batch_workers)):
                stats = QueueStats if self.measure else UnmeasuredQueue
                self.queues[name] = CampaignQueue(name, workers, stats(name, workers, 0.0, end))
            # One stream for every service time, in the order steps run: the same seed
            # and schedule draw the same times.
            rng = random.Random(f"sim.service:{self.scenario.seed}")
            self._service = {kind: make_sampler(time, rng) for kind, time in spec.service.items()}
        for campaign in self.scenario.campaigns.values():
            if campaign.kind == "trigger" and campaign.active:
                for trigger in campaign.triggers:
                    self._listeners.setdefault(trigger.activity, []).append((campaign, trigger))
        self._removable = frozenset(
            name
            for campaign in self.scenario.campaigns.values()
            for step in campaign.flow
            for action in (step.action, *(choice.action for choice in step.choices))
            if isinstance(action, model.RemoveFromFlow)
            for name in action.campaigns
        )

    def metrics(self, duration: float) -> Metrics:
        """Queue, wait and latency metrics of the run so far, over ``duration`` seconds."""
        if not self.measure:
            raise RuntimeError("this run kept no metrics: make it with measure=True")
        lifecycle = self.tally.lifecycle
        campaigns = self.scenario.campaigns
        queued: Counter[str] = Counter()
        for queue in self.queues.values():
            queued.update(queue.waiting_by_campaign())
        return summarize_metrics(
            duration=duration,
            queues=[(q.stats, q.waiting_by_priority(), q.busy, q.oldest()) for q in self.queues.values()],
            runs=self.run_stats,
            started={name: counts["started"] for name, counts in lifecycle.items()},
            completed={name: counts["completed"] for name, counts in lifecycle.items()},
            # Executables run inside their parent's run (R6): no wait or latency of their
            # own. The class shown is the one at the end, an override included (R21).
            priorities={
                name: priority_at(campaign, duration)
                for name, campaign in campaigns.items()
                if campaign.kind != "executable"
            },
            steps=sum(self.tally.steps.values()),
            queued=queued,
        )

    # -- the simulation's first task

    async def main(self) -> None:
        """Start the load: external activity streams, generators and batch schedules."""
        kernel = self.kernel
        self._everyone = list(self.people.values())
        plan = self.plan
        timed = iter(plan.timed) if plan is not None else external_activities(self.scenario)
        first_timed = next(timed, None)
        if first_timed is not None:
            # Due at the first activity, not at 0: a source due at 0 would be one more
            # candidate at every choice point there, and adding a late activity would
            # reshuffle the schedule before it.
            source = _TimedActivities(self, itertools.chain([first_timed], timed))
            kernel.call_soon(source.start, delay=first_timed.at)
        for index, generator in enumerate(self.scenario.generators):
            if plan is not None:
                times = iter(plan.arrivals[index])
            else:
                times = arrival_times(generator, seed=self.scenario.seed, index=index, end=self.scenario.duration)
            first = next(times, None)
            if first is not None and (self.people or generator.new_people >= 1):
                # Due at its first arrival: a source due earlier would be one more
                # candidate at every choice point before it.
                arrivals = _Arrivals(self, index, generator, itertools.chain([first], times))
                kernel.call_soon(arrivals.start, delay=first)
        for campaign in self.scenario.campaigns.values():
            if campaign.kind == "batch" and campaign.active and campaign.schedule is not None:
                times = schedule_times(campaign.schedule, self.scenario.duration)
                first = next(times, None)
                if first is not None:
                    kernel.call_soon(_BatchSchedule(self, campaign, times).run, first, delay=first)

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
        listeners = self._listeners.get(type_)
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
            if self.races is not None:
                self._read_filters(campaign.filters, person, self._site_at(campaign.name, "smart list (R1)"))
            if campaign.filters and not all_hold(campaign.filters, person, self.scenario.programs):
                if requested:  # a request names its campaign: say why it did not run
                    fired.add(campaign.name)
                    self._skip(
                        campaign,
                        person,
                        parent_id=run_id,
                        cause=seq,
                        via=trigger.name,
                        reason="smart list filters do not hold",
                    )
                continue
            fired.add(campaign.name)
            self.admit(
                campaign,
                person,
                parent_id=run_id if requested else None,
                cause=seq,
                via=trigger.name,
                tokens=Tokens(my=self._my_tokens(campaign), trigger=details),
            )

    def _my_tokens(self, campaign: Campaign) -> Mapping[str, str]:
        """The {{my.x}} tokens of ``campaign``'s program, made once per campaign."""
        tokens = self._my.get(campaign.name)
        if tokens is None:
            program = campaign.program
            own = self.scenario.programs[program].tokens.items() if program is not None else ()
            tokens = self._my[campaign.name] = {f"my.{k}": v for k, v in own}
        return tokens

    # -- admission: the one way in for every top-level run

    def admit(
        self,
        campaign: Campaign,
        person: Person,
        *,
        parent_id: int | None,
        cause: int | None,
        via: str,
        tokens: Mapping[str, str],
    ) -> Run | None:
        """Start a run of ``campaign`` for ``person`` as a task of its own (R5, R2, R1).

        Returns None when the qualification rule (R18) turns the person away; that is
        logged as a skipped run.
        """
        reason = self._refusal(campaign, person)
        if reason is not None:
            self._skip(campaign, person, parent_id=parent_id, cause=cause, via=via, reason=reason)
            return None
        run = Run(
            id=next(self._run_ids),
            campaign=campaign,
            person=person,
            thread=Thread(),
            parent_id=parent_id,
            tokens=tokens,
        )
        live = self._live.get(person.id)
        if live is None:
            live = self._live[person.id] = {}
        live[run] = None
        run.admitted = self.kernel.now
        if self.races is not None:
            how = f"triggered by {via}" if via in model.TRIGGER_ACTIVITIES else f"started by {via}"
            label = f'run {run.id} of "{campaign.name}"'
            origin = f"{label}, {how}" + (f" (activity #{cause} of the log)" if cause else "")
            run.thread.clock = self.races.fork(self._acting(), origin, label=label)
        if not self.queues:
            self.kernel.spawn(self._run_task, run, cause, via)
            return run
        # R20: batch members wait in the batch queue; trigger and requested runs in the
        # trigger queue.
        queue = self.queues["batch" if via == "batch" else "trigger"]
        run.thread.queue = queue
        entry = Waiting(
            item=(run, cause, via),
            campaign=campaign.name,
            priority=priority_at(campaign, run.admitted, flow=self.priorities[campaign.name]),
            since=run.admitted,
        )
        if queue.enter(entry, self.kernel.now):
            self._start(entry)
        else:
            run.thread.waiting = entry
            self.emit("run_queued", person, run, cause=cause, via=via, priority=entry.priority)
        return run

    def _start(self, entry: Waiting) -> None:
        """``entry`` got a worker: start its run as a task, or wake it after its Wait."""
        if entry.resume is not None:
            entry.item.holding = True  # the thread's, from now: it goes on when woken
            self.kernel.wake(entry.resume)
            return
        run, cause, via = entry.item
        run.thread.holding = True
        run.thread.waiting = None
        self.kernel.spawn(self._run_task, run, cause, via, entry.priority)

    def _release(self, thread: Thread) -> None:
        """The thread gives its worker back; the next waiting run, if any, takes it."""
        queue = thread.queue
        assert queue is not None and thread.holding
        thread.holding = False
        entry = queue.release(self.kernel.now)
        if entry is not None:
            self._start(entry)

    async def _acquire(self, run: Run) -> None:
        """After a Wait: queue again for a worker (R15, R19), unless removed meanwhile."""
        thread = run.thread
        queue = thread.queue
        assert queue is not None
        campaign = run.campaign
        entry = Waiting(
            item=thread,
            campaign=campaign.name,
            priority=priority_at(campaign, self.kernel.now, flow=self.priorities[campaign.name]),
            since=self.kernel.now,
            resume=thread.sleeper,
        )
        if not queue.enter(entry, self.kernel.now):
            thread.waiting = entry  # a Remove from Flow takes it out of the queue at once
            await self.kernel.suspend(thread.sleeper)  # until a worker or a removal wakes it
            if self.races is not None:
                self._going_on(run)
            thread.waiting = None
            if not entry.granted:
                queue.cancel(entry, self.kernel.now)
                raise RunRemoved(thread.removed_by)
        thread.holding = True
        self._check_removed(run)

    def _skip(
        self, campaign: Campaign, person: Person, *, parent_id: int | None, cause: int | None, via: str, reason: str
    ) -> None:
        """Log a run that was turned away: it gets a run id and one ``run_skipped``."""
        run = Run(
            id=next(self._run_ids), campaign=campaign, person=person, thread=Thread(), parent_id=parent_id, tokens={}
        )
        self.emit("run_skipped", person, run, reason=reason, cause=cause, via=via)

    def _refusal(self, campaign: Campaign, person: Person) -> str | None:
        """Why the person may not run through ``campaign`` now (R18), or None; records the run."""
        rule = campaign.qualification
        if rule.rule == "every_time":
            return None  # nothing to check, nothing to remember
        key = (campaign.name, person.id)
        if self.races is not None:
            # Which of two runs gets in first decides which is turned away.
            site = self._site_at(campaign.name, f"qualification rule (R18: {rule.rule.replace('_', ' ')})")
            self._touch(person, f"qualification:{campaign.name}", "update", site)
        now = self.kernel.now_us
        last = self._last_run.get(key)
        if last is not None:
            if rule.rule == "once":
                return "qualification: once"
            # In whole µs: the same gap gets the same answer, exactly N later is in (R18).
            if rule.rule == "once_every" and now - last < micros(rule.interval):
                return f"qualification: once every {rule.interval:g}s"
        self._last_run[key] = now
        return None

    async def _run_task(self, run: Run, cause: int | None, via: str, priority: str = "") -> None:
        try:
            try:
                await self.run_flow(run, cause=cause, via=via)
            except RunEnded:
                pass  # logged by run_flow
            name = run.campaign.name
            latency = (self.kernel.now_us - micros(run.admitted)) / MICROS  # exact on the µs grid
            if self.measure:
                self.run_stats.ended(name, priority or self.priorities[name], latency)
        finally:
            del self._live[run.person.id][run]
            if run.thread.holding and not self.kernel.finished:
                self._release(run.thread)

    # -- running a flow (R12)

    async def run_flow(self, run: Run, *, cause: int | None = None, via: str = "") -> None:
        """Run the campaign's steps in order; log how the run ended."""
        person = run.person
        if self.races is not None:
            self._going_on(run)
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
                if self.races is not None or thread.removed or person.steps >= budget:
                    self._check_alive(run)  # the usual case, alive and untracked, skips the call
                await self.run_step(run, index, step)
        except RunEnded as ended:
            self.emit(ended.activity, person, run, None, **ended.details())
            raise
        self.emit("run_completed", person, run)

    def _check_removed(self, run: Run) -> None:
        """After anything that let other runs go first: was this run removed (R11)?"""
        if self.races is not None:
            self._going_on(run)
        if run.thread.removed:
            raise RunRemoved(run.thread.removed_by)

    def _check_alive(self, run: Run) -> None:
        """Before a step: not removed, and the person has a step left in the budget."""
        self._check_removed(run)
        person = run.person
        if person.steps >= self.scenario.step_budget:
            if person.id not in self._exhausted:  # report once per person
                self._exhausted.add(person.id)
                self.tally.exhausted.append(
                    BudgetReport(person=person.id, campaign=run.campaign.name, time=self.kernel.now)
                )
            raise BudgetExhausted(self.scenario.step_budget)

    async def run_step(self, run: Run, index: int, step: Step) -> None:
        """Run one step: pick its action (R13), do it, log what changed (R14, R17)."""
        person = run.person
        person.steps += 1
        self.tally.steps[run.campaign.name] += 1
        action = step.action
        races = self.races
        for choice in step.choices:
            if races is not None:
                self._read_filters(choice.conditions, person, self._site(run, index, step, "choice (R13)"))
            if all_hold(choice.conditions, person, self.scenario.programs):
                action = choice.action
                break
        if action is None:
            return  # the default choice is "do nothing"
        at = (index, step.kind)
        if races is not None:
            self._note_action(run, index, step, action)
        do = self._actions.get(type(action))
        if do is not None:
            do(run, action, at)
            return
        waits = self._waiting_actions.get(type(action))
        if waits is None:
            raise AssertionError(f"unhandled action {action!r}")
        await waits(run, action, at)

    # -- the actions of flow steps: each does its effect and logs it (R14, R17)

    def _change_data_value(self, run: Run, action: model.ChangeDataValue, at: At) -> None:
        self._set_field(run.person, run, at, action.field, self._new_value(action, run))

    def _change_score(self, run: Run, action: model.ChangeScore, at: At) -> None:
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
            self.emit("change_score", person, run, at, field=action.field, change=change, old_value=old, new_value=new)

    def _change_program_status(self, run: Run, action: model.ChangeProgramStatus, at: At) -> None:
        person = run.person
        statuses = self.scenario.programs[action.program].statuses
        old_index = person.statuses.get(action.program, 0)
        new_index = statuses.index(action.status)
        if new_index > old_index:  # R14: statuses only move forward
            person.statuses[action.program] = new_index
            self.emit(
                "change_program_status",
                person,
                run,
                at,
                program=action.program,
                old_status=statuses[old_index],
                new_status=action.status,
            )

    def _add_to_list(self, run: Run, action: model.AddToList, at: At) -> None:
        person = run.person
        if action.list not in person.lists:
            person.lists.add(action.list)
            self.emit("add_to_list", person, run, at, list=action.list)

    def _remove_from_list(self, run: Run, action: model.RemoveFromList, at: At) -> None:
        person = run.person
        if action.list in person.lists:
            person.lists.discard(action.list)
            self.emit("remove_from_list", person, run, at, list=action.list)

    def _interesting_moment(self, run: Run, action: model.InterestingMoment, at: At) -> None:
        self.emit("interesting_moment", run.person, run, at, description=self._resolve(action.description, run))

    def _send_email(self, run: Run, action: model.SendEmail, at: At) -> None:
        self.emit("send_email", run.person, run, at, email=action.email)

    def _send_alert(self, run: Run, action: model.SendAlert, at: At) -> None:
        self.emit("send_alert", run.person, run, at, alert=action.alert, to=action.to)

    def _request_campaign(self, run: Run, action: model.RequestCampaign, at: At) -> None:
        # R5: the request is an activity; the target's trigger admits a new run.
        self.emit("request_campaign", run.person, run, at, campaign=action.campaign, source="marketo_flow_action")

    async def _wait(self, run: Run, action: model.Wait, at: At) -> None:
        self.emit("wait", run.person, run, at, duration=action.duration)
        thread = run.thread
        if thread.holding:
            self._release(thread)  # R15: a waiting run holds no worker
        await self.kernel.sleep(action.duration, sleeper=thread.sleeper)
        self._check_removed(run)
        if thread.queue is not None:
            await self._acquire(run)

    # -- race detection (sim.observe.races): what each step reads and writes

    def _resumed(self, clock: Clock | None) -> None:
        """The thread of ``clock`` runs again, after a point where others could go
        first: its accesses are its clock's from here, in a new epoch if it forked."""
        self._clock = clock
        if clock is not None:
            clock.resume()

    def _source_resumed(self, clock: Clock | None) -> None:
        """A load source acts again (`RaceDetector.resume_source`)."""
        self._clock = clock
        if clock is not None:
            assert self.races is not None
            self.races.resume_source(clock, self.kernel.now)

    def _acting(self) -> Clock:
        clock = self._clock
        assert clock is not None, "an access outside any thread"
        return clock

    def _touch(self, person: Person, item: str, op: Op, site: Site, value: Value = None) -> None:
        races = self.races
        assert races is not None
        races.access(self._acting(), person.id, item, op, site, time=self.kernel.now, value=value)

    def _read_filters(self, filters: Sequence[model.Filter], person: Person, site: Site) -> None:
        races, clock = self.races, self._acting()
        assert races is not None
        # The items a smart list reads, worked out once per list. By id: the lists belong
        # to the scenario, which outlives the run, and hashing their filters costs more.
        items = self._filter_items.get(id(filters))
        if items is None:
            items = self._filter_items[id(filters)] = tuple(_item_of(flt) for flt in filters)
        access, now, pid = races.access, self.kernel.now, person.id
        for item in items:
            access(clock, pid, item, "read", site, time=now)

    def _read_tokens(self, text: Value, person: Person, site: Site) -> None:
        if not isinstance(text, str) or "{{" not in text:
            return
        for match in model.TOKEN.finditer(text):
            if match.group(1) == "lead":
                self._touch(
                    person, match.group(2), "read", self._site_at(site.campaign, match.group(0), site.step, site.kind)
                )

    def _site_at(self, campaign: str | None, what: str, step: int | None = None, kind: str | None = None) -> Site:
        """The `Site` of an access, made once: a race run checks hundreds of thousands."""
        key = (campaign, what, step, kind)
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = Site(campaign=campaign, step=step, kind=kind, what=what)
        return site

    def _site(self, run: Run, index: int, step: Step, what: str) -> Site:
        return self._site_at(run.campaign.name, what, index, step.kind)

    def _going_on(self, run: Run) -> None:
        """``run``'s thread goes on after a point where other runs could go first, where
        it checks whether a Remove from Flow reached it (R11). For each campaign some
        Remove from Flow names with a run in this thread, that check reads whether the
        run is still in its flow: had the removal come first, it would have stopped here."""
        self._resumed(run.thread.clock)
        if not self._removable:
            return
        if run.step:
            kind = run.campaign.flow[run.step - 1].kind
            site = self._site_at(run.campaign.name, "goes on in the flow (R11)", run.step, kind)
        else:
            site = self._site_at(run.campaign.name, "a run starts in the flow (R11)")
        for other in self._live.get(run.person.id, ()):
            name = other.campaign.name
            if other.thread is run.thread and name in self._removable:
                self._touch(run.person, f"flow:{name}", "read", site)

    def _note_action(self, run: Run, index: int, step: Step, action: model.Action) -> None:
        """The reads and writes of ``action``'s own effect (its choice was read already)."""
        person = run.person
        if isinstance(action, model.ChangeDataValue):
            self._read_tokens(action.value, person, self._site(run, index, step, "token"))
            self._write_field(person, action.field, self._site(run, index, step, "write"), self._new_value(action, run))
        elif isinstance(action, model.ChangeScore):
            watched = self._watched("change_score", "field", action.field)
            if action.op == "=":
                amount = int(action.amount) if float(action.amount).is_integer() else action.amount
                site = self._site(run, index, step, "score write")
                self._touch(person, action.field, "update" if watched else "write", site, amount)
            else:
                site = self._site(run, index, step, f"score {action.op}{action.amount:g}")
                self._touch(person, action.field, "update" if watched else "add", site)
        elif isinstance(action, model.ChangeProgramStatus):
            site = self._site(run, index, step, "status change (R14)")
            op: Op = "update" if self._watched("change_program_status", "program", action.program) else "raise"
            self._touch(person, f"program:{action.program}", op, site, action.status)
        elif isinstance(action, model.AddToList):
            op = "update" if self._watched("add_to_list", "list", action.list) else "write"
            self._touch(person, f"list:{action.list}", op, self._site(run, index, step, "add to list"), True)
        elif isinstance(action, model.RemoveFromList):  # no trigger listens for a removal
            self._touch(person, f"list:{action.list}", "write", self._site(run, index, step, "remove from list"), False)
        elif isinstance(action, model.InterestingMoment):
            self._read_tokens(action.description, person, self._site(run, index, step, "token"))
        elif isinstance(action, model.CallWebhook):
            self._read_tokens(action.payload, person, self._site(run, index, step, "payload token"))
        elif isinstance(action, model.RemoveFromFlow):
            for name in action.campaigns:
                site = self._site(run, index, step, "remove from flow (R11)")
                self._touch(person, f"flow:{name}", "write", site, "removed")

    def _write_field(self, person: Person, field: str, site: Site, value: Value) -> None:
        """A write of ``value`` to ``field``, which commutes with a write of the same value
        unless a trigger listens for the field's change: then the write that changes the
        value starts the triggered run, and which one does depends on their order."""
        watched = self._watched("change_data_value", "field", field)
        self._touch(person, field, "update" if watched else "write", site, value)

    def _watched(self, activity: str, key: str, name: str) -> bool:
        """Whether an active trigger listens for ``activity`` about ``name`` (its ``key``
        constraint left out, or naming it)."""
        cached = self._watch.get((activity, name))
        if cached is None:
            cached = False
            for _, trigger in self._listeners.get(activity, ()):
                values = dict(trigger.constraints).get(key)
                if values is None or any(same_value(name, value) for value in values):
                    cached = True
                    break
            self._watch[activity, name] = cached
        return cached

    def _set_field(self, person: Person, run: Run | None, at: At, field: str, value: Value, **extra: Any) -> None:
        old = person.fields.get(field)
        if old != value or type(old) is not type(value):
            person.fields[field] = value  # R12: the very next step sees it
            self.emit("change_data_value", person, run, at, field=field, old_value=old, new_value=value, **extra)

    def _new_value(self, action: model.ChangeDataValue, run: Run) -> Value:
        """The value a Change Data Value writes: its tokens resolved now (R10), in the
        field's type."""
        value = action.value
        if isinstance(value, str) and "{{" in value:
            return _coerce(self._resolve(value, run), self.scenario.fields[action.field].default)
        return value

    def _resolve(self, text: str, run: Run) -> str:
        """Replace {{my.x}}, {{trigger.x}} and {{lead.x}} tokens (R10)."""

        if "{{" not in text:
            return text

        def token(match: re.Match[str]) -> str:
            scope, name = match.group(1), match.group(2)
            if scope == "lead":
                return _show(run.person.fields.get(name))
            return run.tokens.get(f"{scope}.{name}", "")

        return model.TOKEN.sub(token, text)

    # -- Execute Campaign (R6, R7, R10, R8)

    async def _execute(self, parent: Run, action: model.ExecuteCampaign, at: At) -> None:
        child_campaign = self.scenario.campaigns[action.campaign]
        person = parent.person
        reason = None
        if self.races is not None:
            self._read_filters(child_campaign.filters, person, self._site_at(child_campaign.name, "smart list (R7)"))
        if not all_hold(child_campaign.filters, person, self.scenario.programs):
            reason = "smart list filters do not hold"
        else:
            reason = self._refusal(child_campaign, person)
        self.emit("execute_campaign", person, parent, at, campaign=child_campaign.name, qualified=reason is None)
        if reason is not None:
            # R7: skipped; the parent goes on with its next step.
            self._skip(child_campaign, person, parent_id=parent.id, cause=None, via="execute_campaign", reason=reason)
            return
        child = Run(
            id=next(self._run_ids),
            campaign=child_campaign,
            person=person,
            thread=parent.thread,
            parent_id=parent.id,
            tokens=parent.tokens if action.use_parent_tokens else self._my_tokens(child_campaign),
            depth=parent.depth + 1,
        )
        assert child.depth <= 3, "R8 depth is checked when the scenario loads"
        live = self._live.setdefault(person.id, {})
        live[child] = None
        try:
            await self.run_flow(child, via="execute_campaign")
        finally:
            del live[child]

    # -- Remove from Flow (R11)

    def _remove_from_flow(self, run: Run, action: model.RemoveFromFlow, at: At) -> None:
        targets = set(action.campaigns)
        live = self._live.get(run.person.id, {})
        threads = [other.thread for other in live if other.campaign.name in targets and not other.thread.removed]
        for thread in threads:
            thread.removed = True
            thread.removed_by = run.id
            self.kernel.wake(thread.sleeper)
            entry = thread.waiting
            if entry is not None and thread.queue is not None and not entry.granted:
                # Out of the queue at once (R11). A run back from a Wait is woken above
                # and ends; a new run's task, started without a worker, logs run_started
                # and run_removed.
                thread.waiting = None
                thread.queue.cancel(entry, self.kernel.now)
                if entry.resume is None:
                    removed_run, cause, via = entry.item
                    self.kernel.spawn(self._run_task, removed_run, cause, via, entry.priority)
        # R11: an executable's parent (same thread) is removed with it.
        removed = [other.id for other in live if any(other.thread is thread for thread in threads)]
        self.emit("remove_from_flow", run.person, run, at, campaigns=list(action.campaigns), removed_runs=removed)
        self._check_removed(run)  # a campaign may remove its own run

    # -- Call Webhook (R16)

    async def _call_webhook(self, run: Run, action: model.CallWebhook, at: At) -> None:
        person = run.person
        if action.payload:  # what the service is sent, as it is now (R10)
            self.emit(
                "call_webhook", person, run, at, webhook=action.webhook, payload=self._resolve(action.payload, run)
            )
        else:
            self.emit("call_webhook", person, run, at, webhook=action.webhook)
        # The response lands on its own, after ``latency``; the run waits for it at most
        # 30 s. At equal times the kernel decides whether the write-back or the run's
        # next step goes first: the documented write-back race.
        clock = None
        if self.races is not None:
            label = f"the webhook response to run {run.id}"
            origin = f'{label} (its "{run.campaign.name}" step {at[0] if at else "?"}, call_webhook)'
            clock = self.races.fork(self._acting(), origin, label=label)
        self.kernel.call_soon(self._webhook_response, run, action, at, clock, delay=action.latency)
        await self.kernel.sleep(min(action.latency, model.WEBHOOK_TIMEOUT), sleeper=run.thread.sleeper)
        self._check_removed(run)  # removed while waiting: no timeout happened (R11)
        if action.latency > model.WEBHOOK_TIMEOUT:
            self.emit("webhook_timeout", person, run, at, webhook=action.webhook, after=model.WEBHOOK_TIMEOUT)

    def _webhook_response(self, run: Run, action: model.CallWebhook, at: At, clock: Clock | None) -> None:
        person = run.person
        self._resumed(clock)  # a thread of its own (None: races are not detected)
        self.emit("webhook_response", person, run, at, webhook=action.webhook, status=action.status)
        if 200 <= action.status < 300:
            if self.races is not None:
                step = at[0] if at else None
                site = Site(campaign=run.campaign.name, step=step, kind="call_webhook", what="response mapping (R16)")
                for field, value in action.response:
                    self._write_field(person, field, site, value)
            for field, value in action.response:
                self._set_field(person, run, at, field, value, source="webhook")

    # -- load: external activities, generators, batch schedules

    def inject(self, person: Person, type_: str, attributes: Mapping[str, Value], fields: Mapping[str, Value]) -> None:
        """An activity from outside the flows: a form fill writes its fields first."""
        races = self.races
        for field, value in fields.items():
            if races is not None:
                self._write_field(person, field, self._site_at(None, f"{type_} (form field)"), value)
            self._set_field(person, None, None, field, value, source="form")
        if type_ == "change_data_value":
            field = str(attributes["field"])
            if races is not None:
                self._write_field(
                    person, field, self._site_at(None, "change_data_value (external)"), attributes["value"]
                )
            self._set_field(person, None, None, field, attributes["value"], source="external")
            return
        self.emit(type_, person, None, None, **attributes)

    def _create_person(self, pid: str, via: str, rng: random.Random) -> Person:
        """A form fill by an unknown visitor creates a lead (docs/marketo.md): log
        ``person_created`` with the new person's fields, so a replay of the log needs no
        random draws, before the form writes its own fields."""
        person = Person(id=pid, fields=new_person_fields(self.scenario, rng))
        self.people[pid] = person
        self._everyone.append(person)
        if self.races is not None:
            self._created.add(pid)
            site = Site(campaign=None, what=f"{via} creates the person")
            self.races.created(self._acting(), pid, site, time=self.kernel.now)
        self.emit("person_created", person, None, None, via=via, fields=dict(person.fields))
        return person

    def admit_batch(self, campaign: Campaign, clock: Clock | None) -> bool:
        """R2: everyone who qualifies now runs through ``campaign``'s flow. False when a
        stop request cut it short (Ctrl-C: not the rest of a million-person batch first)."""
        races = self.races
        site = Site(campaign=campaign.name, what="smart list (R2)")
        if races is not None:
            assert clock is not None
            races.passed(clock, site)
        tokens = self._my_tokens(campaign)
        kernel = self.kernel
        for person in self.people.values():
            if kernel.stop_requested:
                return False
            if races is not None:
                if person.id in self._created:  # it might not have existed yet
                    self._touch(person, "person", "read", site)
                self._read_filters(campaign.filters, person, site)
            if all_hold(campaign.filters, person, self.scenario.programs):
                self.admit(campaign, person, parent_id=None, cause=None, via="batch", tokens=tokens)
        return True


# -- load sources: kernel calls (`Kernel.call_soon`), each a chain that acts as one
# task would: no trio task and no hand-off per arrival, the same choice points.


@attrs.define(eq=False)
class _TimedActivities:
    """The timed activities ([[activities]] and CSV rows, merged by time)."""

    engine: Engine
    items: Iterator[model.ExternalActivity]
    #: The drawn fields of people these activities create: a stream of its own.
    rng: random.Random = attrs.field(init=False)
    clock: Clock | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        engine = self.engine
        self.rng = random.Random(f"sim.people.created:{engine.scenario.seed}")
        self.clock = engine.races.source("the timed activities") if engine.races is not None else None

    def start(self) -> None:
        self._next_item()

    def _next_item(self) -> None:
        item = next(self.items, None)
        if item is not None:
            # Even at the same instant: a choice point before each activity.
            self.engine.kernel.then_at(item.at, self._inject, item)

    def _inject(self, item: model.ExternalActivity) -> None:
        engine = self.engine
        engine._source_resumed(self.clock)
        person = engine.people.get(item.person)
        if person is None:  # only a form fill may name an unknown person (checked on load)
            person = engine._create_person(item.person, item.type, self.rng)
        engine.inject(person, item.type, item.attributes, item.fields)
        self._next_item()


@attrs.define(eq=False)
class _Arrivals:
    """One ``[[load]]`` generator's arrivals.

    A stream of its own per generator for who arrives and what they write: it does not
    depend on the schedule (the times come from sim.run.load, a stream of their own; so do
    which arrivals are new people, whose fields come from a third stream).
    """

    engine: Engine
    index: int
    generator: model.Generator
    times: Iterator[float]
    rng: random.Random = attrs.field(init=False)
    new: Iterator[bool] = attrs.field(init=False)
    new_fields: random.Random = attrs.field(init=False)
    clock: Clock | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        engine, index, generator = self.engine, self.index, self.generator
        seed = engine.scenario.seed
        self.rng = random.Random(f"sim.generator:{seed}:{index}")
        self.new = new_arrivals(generator, seed=seed, index=index)
        self.new_fields = random.Random(f"sim.people.new:{seed}:{index}")
        races = engine.races
        self.clock = races.source(f"load {index + 1} ({generator.type})") if races is not None else None

    def start(self) -> None:
        self._next_arrival()

    def _next_arrival(self) -> None:
        due = next(self.times, None)
        if due is not None:
            self.engine.kernel.then_at(due, self._arrive)

    def _arrive(self) -> None:
        engine = self.engine
        engine._source_resumed(self.clock)
        generator = self.generator
        rng = self.rng
        fields = {name: rng.choice(values) for name, values in generator.fields.items()}
        if next(self.new):
            person = engine._create_person(f"new{next(engine._new_ids)}", generator.type, self.new_fields)
        else:
            # Everyone known at the moment of the arrival, created people included.
            person = rng.choice(engine._everyone)
        engine.inject(person, generator.type, generator.attributes, fields)
        self._next_arrival()


@attrs.define(eq=False)
class _BatchSchedule:
    """A batch campaign's schedule: at each time, everyone who qualifies runs (R2)."""

    engine: Engine
    campaign: Campaign
    times: Iterator[float]
    clock: Clock | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        races = self.engine.races
        name = self.campaign.name
        self.clock = races.source(f'the schedule of batch "{name}"') if races is not None else None

    def run(self, due: float) -> None:
        engine = self.engine
        kernel = engine.kernel
        while True:
            engine._source_resumed(self.clock)
            if not engine.admit_batch(self.campaign, self.clock):
                return
            due = next(self.times, math.inf)
            if due == math.inf:
                return
            if due > kernel.now:  # a time already due runs now, with no choice point
                kernel.then_at(due, self.run, due)
                return


def _item_of(flt: model.Filter) -> str:
    """The item of a person's state a filter reads, named as `sim.verify.explore` names it."""
    if isinstance(flt, model.FieldFilter):
        return flt.field
    if isinstance(flt, model.ListFilter):
        return f"list:{flt.list}"
    return f"program:{flt.program}"


def _show(value: object) -> str:
    return "" if value is None else str(value)


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
