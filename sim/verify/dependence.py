"""Which steps of a run depend on each other: every access each kernel step makes.

Exhaustive exploration (`sim.verify.dpor`) needs to know, for two steps due at the same
instant, whether running them the other way round could change anything. That is the
race detector's relation (`sim.observe.races`): two steps conflict when they touch the
same item of the same person and at least one writes, except where the order cannot
matter (two writes of the same value, two score increments, two forward status moves).
The race watch (`sim.observe.race_watch`) already turns the engine's hooks into those
accesses; `AccessLog` takes them per step instead of checking vector clocks.

Some shared state is no person's field, and the detector leaves it out because a queue
backlog or a wait can reorder anything anyway. A search over schedules cannot: a
schedule reorders only steps due together, so every piece of state such steps share is
an item here too:

- the campaign queue of each kind (R19-R22): whoever enters, leaves or takes a worker
  first decides who waits (``queue:trigger``, ``queue:batch``);
- the service times, one random stream drawn in the order steps run (R22);
- whether a run of a campaign a Remove from Flow names is in a person's flow from the
  moment it is admitted, not only from its first step (R11);
- each person's step budget (``steps``: increments commute; the check that ends a run
  at the budget does not);
- the people who exist, which a batch reads (R2) and a form fill by a new visitor adds to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from sim.observe.race_watch import RaceWatch, removable_campaigns
from sim.observe.races import Clock, Op, RaceDetector, Site, conflict
from sim.run.observer import Observer
from sim.run.queue import QueueWatch
from sim.run.runs import Run
from sim.scenario.model import Value

if TYPE_CHECKING:
    from sim.run.engine import Engine

#: An item: (person id, what) as the race detector names it; person "" for shared state.
Item = tuple[str, str]
#: What one step did to its items: item -> the distinct (op, value written) pairs.
Accesses = dict[Item, list[tuple[Op, Value]]]

#: The shared items (person "").
PEOPLE: Item = ("", "people")
SERVICE_TIMES: Item = ("", "service times")


def queue_item(name: str) -> Item:
    """The item of the campaign queue ``name`` ("trigger" or "batch")."""
    return ("", f"queue:{name}")


def record(accesses: Accesses, item: Item, op: Op, value: Value = None) -> None:
    """Add one access to a step's ``accesses`` (once per op and value)."""
    value = value if op == "write" else None
    mark = (op, value)
    kept = accesses.get(item)
    if kept is None:
        accesses[item] = [mark]
    elif mark not in kept:
        kept.append(mark)


def dependent(one: Accesses, other: Accesses) -> bool:
    """Whether two steps' accesses conflict: running them the other way round may differ."""
    if len(other) < len(one):
        one, other = other, one
    for item, marks in one.items():
        theirs = other.get(item)
        if theirs is None:
            continue
        for op, value in marks:
            for other_op, other_value in theirs:
                if conflict(op, value, other_op, other_value):
                    return True
    return False


@attrs.define(eq=False)
class AccessLog(RaceDetector):
    """A race detector that keeps each access in the step that makes it (``current``),
    set by whoever follows the steps) and checks nothing."""

    current: Accesses = attrs.field(factory=dict, init=False)

    def access(
        self, clock: Clock, person: str, item: str, op: Op, site: Site, *, time: float, value: Value = None
    ) -> None:
        if op == "read" and self.writable is not None and item not in self.writable:
            return  # nothing writes it: no order of it matters
        record(self.current, (person, item), op, value)

    def passed(self, clock: Clock, site: Site) -> None:
        record(self.current, PEOPLE, "read")  # a batch goes through everyone who exists now (R2)

    def created(self, clock: Clock, person: str, site: Site, *, time: float) -> None:
        record(self.current, PEOPLE, "add")  # two new people commute; a batch pass does not
        record(self.current, (person, "person"), "update")


@attrs.define(eq=False)
class DependenceWatch(Observer):
    """The accesses the race watch leaves out, for a search over schedules (see the
    module's docstring), into ``log.current``."""

    log: AccessLog
    _removable: frozenset[str] = attrs.field(factory=frozenset, init=False)
    _budget: int = attrs.field(default=0, init=False)
    _service: bool = attrs.field(default=False, init=False)

    def attach(self, engine: Engine) -> None:
        scenario = engine.scenario
        self._removable = removable_campaigns(scenario)
        self._budget = scenario.step_budget
        self._service = scenario.queue is not None and bool(scenario.queue.service)

    def watch_queue(self, name: str, workers: int, end: float) -> QueueWatch:
        return _QueueAccesses(self.log, queue_item(name))

    def admitted(self, run: Run, via: str, cause: int | None) -> None:
        if run.campaign.name in self._removable:  # in the person's flow from now (R11)
            record(self.log.current, (run.person.id, f"flow:{run.campaign.name}"), "update")

    def goes_on(self, run: Run) -> None:
        current = self.log.current
        steps = (run.person.id, "steps")
        record(current, steps, "add")
        if run.person.steps >= self._budget - 1:  # one more step may be the last one allowed
            record(current, steps, "read")
        if self._service:  # a step about to draw its service time
            record(current, SERVICE_TIMES, "update")


@attrs.define(eq=False)
class _QueueAccesses(QueueWatch):
    """Every change of one campaign queue, as an update of its item."""

    log: AccessLog
    item: Item

    def length_changed(self, now: float, length: int) -> None:
        record(self.log.current, self.item, "update")

    def busy_changed(self, now: float, busy: int) -> None:
        record(self.log.current, self.item, "update")

    def waited(self, now: float, campaign: str, priority: str, wait: float) -> None:
        record(self.log.current, self.item, "update")


def dependence_observers() -> tuple[AccessLog, list[Observer]]:
    """An `AccessLog` and the observers that fill it: the race watch, and `DependenceWatch`."""
    log = AccessLog()
    return log, [RaceWatch(detector=log), DependenceWatch(log=log)]
