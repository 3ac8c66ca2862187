"""What the engine tells whoever watches a run: the one interface for observers.

An observer sees a run as it happens, without changing it: `sim.observe.metrics`
measures the queues and latencies, `sim.observe.race_watch` turns what runs read and
write into accesses for the happens-before race detector. The engine calls each hook at
a fixed point (named in its docstring) and never asks what is attached, so a new kind of
observation is a new `Observer`, not a branch in the engine. Every hook here does
nothing: an observer overrides the ones it needs, and a run nobody watches pays one call.

Activities are not observed here: a sink (`sim.run.activity.ActivitySink`) takes them.
The hooks' argument types: `Run` and `WebhookCall` are in `sim.run.runs`, `Person` in
`sim.scenario.people`, the specs (`Campaign`, `Step`, `Filter`, actions) in
`sim.scenario.model`. Attach an observer with ``Simulation(scenario, observers=[...])``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from sim.run.queue import QueueWatch
from sim.run.runs import At, Run, WebhookCall
from sim.scenario.model import Action, Campaign, Filter, Step, Value
from sim.scenario.people import Person

if TYPE_CHECKING:
    from sim.run.engine import Engine


#: Which smart list a `Observer.smart_list` reads: a trigger campaign's (R1), a choice of a
#: step (R13), an executed campaign's (R7). A batch's reads are `Observer.batch_reads`.
SmartList = Literal["trigger", "choice", "executable"]
#: Where a write from outside the flows comes from (`Observer.field_written`).
WriteSource = Literal["form", "external", "webhook"]


class Observer:
    """Hooks the engine calls as a run goes; each does nothing unless overridden."""

    # -- the run as a whole

    def attach(self, engine: Engine) -> None:
        """The engine is made (its people, queues and triggers too; `watch_queue` was
        asked for each queue before this); nothing has run. An observer may keep the
        engine and read, never change, its ``scenario``, ``kernel`` (``now``), ``people``,
        ``live`` (runs in flight per person), ``listeners`` (triggers per activity type),
        ``queues`` and ``tally``."""

    def watch_queue(self, name: str, workers: int, end: float) -> QueueWatch:
        """What follows the campaign queue ``name`` (made while the engine is)."""
        return QueueWatch()

    def run_ended(self, run: Run, priority: str, latency: float) -> None:
        """A top run's task ended, ``latency`` seconds after its admission. Not called
        for runs still in flight (in a Wait, queued) when the simulation ends."""

    # -- threads: what goes on after what (the kernel's choice points are between them)

    def admitted(self, run: Run, via: str, cause: int | None) -> None:
        """``run`` was admitted as a thread of its own, by the thread acting now."""

    def goes_on(self, run: Run) -> None:
        """``run``'s thread goes on after a point where others could go first."""

    def load_source(self, source: object, name: str) -> None:
        """``source`` (timed activities, a generator, a batch schedule) is made."""

    def source_acts(self, source: object) -> None:
        """``source`` acts now: its next activity, arrival or batch pass."""

    def webhook_called(self, call: WebhookCall) -> None:
        """A Call Webhook step sent ``call``; its response will land on its own."""

    def webhook_landed(self, call: WebhookCall) -> None:
        """``call``'s response lands now, before anything it logs or writes."""

    # -- reads and writes of people's state

    def smart_list(
        self, person: Person, filters: Sequence[Filter], *, campaign: Campaign, of: SmartList, at: At = None
    ) -> None:
        """``filters`` are evaluated for ``person``: ``campaign``'s smart list as its
        trigger fires (R1) or as it is executed (R7), or a choice of its step ``at`` (R13)."""

    def qualification(self, campaign: Campaign, person: Person) -> None:
        """``campaign``'s qualification rule (R18) is checked and recorded for ``person``."""

    def step_action(self, run: Run, index: int, step: Step, action: Action) -> None:
        """``run`` does ``action`` at its step ``index`` (its choice already read)."""

    def field_written(
        self,
        person: Person,
        field: str,
        value: Value,
        *,
        source: WriteSource,
        activity: str,
        call: WebhookCall | None = None,
    ) -> None:
        """A write from outside a flow step, before its change is logged: a form field
        (``activity`` is the fill's type), an external change, or a webhook's response
        mapping (R16, ``call``). ``source`` is the change's logged ``source``."""

    def person_created(self, person: Person, via: str) -> None:
        """A form fill by an unknown visitor created ``person``."""

    def batch_passes(self, campaign: Campaign, source: object) -> None:
        """The batch ``campaign`` (of schedule ``source``) goes through everyone now (R2)."""

    def batch_reads(self, campaign: Campaign, person: Person) -> None:
        """The batch's pass reads ``person`` and its smart list (R2)."""


#: The hooks an `ObserverGroup` passes on (`watch_queue` returns a value: it combines them).
HOOKS = tuple(name for name in vars(Observer) if not name.startswith("_") and name != "watch_queue")


@attrs.define(eq=False, slots=False)
class ObserverGroup(Observer):
    """Several observers as one: each hook goes to each, in order.

    Each hook is bound once, when the group is made, to what it must call: nothing when
    no observer overrides it, the one observer's method when one does (so metrics and
    race detection together cost what each costs alone), or each in turn.
    """

    observers: Sequence[Observer]

    def __attrs_post_init__(self) -> None:
        self.observers = flattened(self.observers)
        for hook in HOOKS:
            calls = [getattr(o, hook) for o in self.observers if overrides(o, hook)]
            if len(calls) == 1:
                setattr(self, hook, calls[0])
            elif len(calls) > 1:
                setattr(self, hook, _each(calls))
            # none: the class's do-nothing hook stays

    def watch_queue(self, name: str, workers: int, end: float) -> QueueWatch:
        watches = [observer.watch_queue(name, workers, end) for observer in self.observers]
        kept = [watch for watch in watches if type(watch) is not QueueWatch]
        if not kept:
            return QueueWatch()
        return kept[0] if len(kept) == 1 else QueueWatchGroup(kept)


def overrides(observer: Observer, hook: str) -> bool:
    """Whether ``observer`` does something at ``hook``: a method of its class, or one
    set on the observer itself."""
    return getattr(getattr(observer, hook), "__func__", None) is not getattr(Observer, hook)


def flattened(observers: Sequence[Observer]) -> tuple[Observer, ...]:
    """``observers`` with every group replaced by the observers in it, in order."""
    flat: list[Observer] = []
    for observer in observers:
        flat.extend(observer.observers if isinstance(observer, ObserverGroup) else (observer,))
    return tuple(flat)


def _each(calls: Sequence[Callable[..., None]]) -> Callable[..., None]:
    def each(*args: Any, **options: Any) -> None:
        for call in calls:
            call(*args, **options)

    return each


@attrs.define(eq=False)
class QueueWatchGroup(QueueWatch):
    """Several queue watches as one."""

    watches: Sequence[QueueWatch]

    def length_changed(self, now: float, length: int) -> None:
        for watch in self.watches:
            watch.length_changed(now, length)

    def busy_changed(self, now: float, busy: int) -> None:
        for watch in self.watches:
            watch.busy_changed(now, busy)

    def waited(self, now: float, campaign: str, priority: str, wait: float) -> None:
        for watch in self.watches:
            watch.waited(now, campaign, priority, wait)


def observer_of(observers: Sequence[Observer]) -> Observer:
    """``observers`` as one `Observer`: the one, a group, or one that does nothing."""
    observers = flattened(observers)
    if not observers:
        return Observer()
    if len(observers) == 1:
        return observers[0]
    return ObserverGroup(observers)
