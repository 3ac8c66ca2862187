"""Admission: the one way in for every top-level run, and the campaign queue's hand-off.

A trigger, a request or a batch asks `Admission.admit` for a run. The qualification rule
(R18) may turn the person away (a ``run_skipped``); without a queue model the run starts
at once as a kernel task of its own (R5). With one (R19-R22, `sim.run.queue`) it waits
in its queue as data until a worker is free; a Wait gives the worker back (R15) and
queues again for one afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from sim.run.kernel import Sleeper
from sim.run.queue import Waiting, priority_at
from sim.run.runs import Run, RunRemoved, Thread
from sim.scenario.model import Campaign
from sim.scenario.people import Person
from sim.scenario.units import micros

if TYPE_CHECKING:
    from sim.run.engine import Engine


@attrs.define(eq=False)
class Admission:
    """Admits runs of one engine: qualification, queue and workers."""

    engine: Engine
    #: (campaign, person id) -> time of the last run admitted, in µs (R18).
    _last_run: dict[tuple[str, str], int] = attrs.field(factory=dict, init=False)

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
        engine = self.engine
        reason = self.refusal(campaign, person)
        if reason is not None:
            self.skip(campaign, person, parent_id=parent_id, cause=cause, via=via, reason=reason)
            return None
        run = Run(
            id=next(engine.run_ids),
            campaign=campaign,
            person=person,
            thread=Thread(),
            parent_id=parent_id,
            tokens=tokens,
        )
        live = engine.live.get(person.id)
        if live is None:
            live = engine.live[person.id] = {}
        live[run] = None
        run.admitted = engine.kernel.now
        engine.observer.admitted(run, via, cause)
        if not engine.queues:
            engine.kernel.spawn(engine.run_task, run, cause, via)
            return run
        # R20: batch members wait in the batch queue; trigger and requested runs in the
        # trigger queue.
        queue = engine.queues["batch" if via == "batch" else "trigger"]
        run.thread.queue = queue
        entry = self._waiting(campaign, (run, cause, via))  # since run.admitted, which is now
        if queue.enter(entry, engine.kernel.now):
            self.start(entry)
        else:
            run.thread.waiting = entry
            engine.emit("run_queued", person, run, cause=cause, via=via, priority=entry.priority)
        return run

    def skip(
        self, campaign: Campaign, person: Person, *, parent_id: int | None, cause: int | None, via: str, reason: str
    ) -> None:
        """Log a run that was turned away: it gets a run id and one ``run_skipped``."""
        run = Run(
            id=next(self.engine.run_ids),
            campaign=campaign,
            person=person,
            thread=Thread(),
            parent_id=parent_id,
            tokens={},
        )
        self.engine.emit("run_skipped", person, run, reason=reason, cause=cause, via=via)

    def refusal(self, campaign: Campaign, person: Person) -> str | None:
        """Why the person may not run through ``campaign`` now (R18), or None; records the run."""
        rule = campaign.qualification
        if rule.rule == "every_time":
            return None  # nothing to check, nothing to remember
        key = (campaign.name, person.id)
        self.engine.observer.qualification(campaign, person)
        now = self.engine.kernel.now_us
        last = self._last_run.get(key)
        if last is not None:
            if rule.rule == "once":
                return "qualification: once"
            # In whole µs: the same gap gets the same answer, exactly N later is in (R18).
            if rule.rule == "once_every" and now - last < micros(rule.interval):
                return f"qualification: once every {rule.interval:g}s"
        self._last_run[key] = now
        return None

    def start(self, entry: Waiting) -> None:
        """``entry`` got a worker: start its run as a task, or wake it after its Wait."""
        if entry.resume is not None:
            entry.item.holding = True  # the thread's, from now: it goes on when woken
            self.engine.kernel.wake(entry.resume)
            return
        run, cause, via = entry.item
        run.thread.holding = True
        run.thread.waiting = None
        self.engine.kernel.spawn(self.engine.run_task, run, cause, via, entry.priority)

    def release(self, thread: Thread) -> None:
        """The thread gives its worker back; the next waiting run, if any, takes it."""
        queue = thread.queue
        assert queue is not None and thread.holding
        thread.holding = False
        entry = queue.release(self.engine.kernel.now)
        if entry is not None:
            self.start(entry)

    async def acquire(self, run: Run) -> None:
        """After a Wait: queue again for a worker (R15, R19), unless removed meanwhile."""
        engine = self.engine
        thread = run.thread
        queue = thread.queue
        assert queue is not None
        entry = self._waiting(run.campaign, thread, resume=thread.sleeper)
        if not queue.enter(entry, engine.kernel.now):
            thread.waiting = entry  # a Remove from Flow takes it out of the queue at once
            await engine.kernel.suspend(thread.sleeper)  # until a worker or a removal wakes it
            engine.observer.goes_on(run)
            thread.waiting = None
            if not entry.granted:
                queue.cancel(entry, engine.kernel.now)
                raise RunRemoved(thread.removed_by)
        thread.holding = True
        engine.check_removed(run)

    def _waiting(self, campaign: Campaign, item: object, *, resume: Sleeper | None = None) -> Waiting:
        """A queue entry for a run of ``campaign`` from now, in the priority class its flow
        and any override give it now (R19, R21)."""
        engine = self.engine
        now = engine.kernel.now
        return Waiting(
            item=item,
            campaign=campaign.name,
            priority=priority_at(campaign, now, flow=engine.priorities[campaign.name]),
            since=now,
            resume=resume,
        )
