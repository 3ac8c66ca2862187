"""Happens-before race detection: accesses to a person's state that nothing orders.

One run is enough. Every read and write of a person's state (a field, a list membership,
a program status, a campaign's qualification record, whether a run is still in a
campaign's flow) is recorded with the vector clock of the *thread* that made it. Threads
and the order between them (docs/races.md, "The detector's model of order"):

- a top-level run is a thread; an executed child runs in its parent's thread (R6), so
  its accesses are in program order with the parent's;
- a trigger or a Request Campaign orders its cause before the new run (R1, R5): the new
  thread is *forked* from the thread that logged the activity, at that point;
- a webhook response is a thread forked from the run at its Call Webhook step (R16): the
  run goes on without it;
- the world's inputs (the timed activities, each generator, each batch schedule) are
  *sources*: threads that time orders among themselves, since a form is filled when it is
  filled and a batch reads its smart list at its scheduled time; only sources due at the
  same instant are unordered. A batch forks its members;
- waits, the campaign queue and virtual time add no order: in Marketo a queue backlog
  or a slow webhook can delay anything by any amount.

Two accesses conflict when they touch the same item of the same person and at least one
writes, except where the order cannot matter: two writes of the same value, two score
increments (``+5`` then ``+20`` ends where ``+20`` then ``+5`` does), two program status
changes (statuses only move forward, R14), unless a trigger listens for the activity the
change logs: then which write changed the value decides which run it starts. A conflicting
pair whose threads are not ordered is a race, reported with both campaigns and steps
whether or not this run's outcome happened to diverge.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Literal

import attrs
from trio.lowlevel import current_task

from sim.scenario import model
from sim.scenario.model import Scenario, Value

#: What an access does to its item. ``add`` (a score increment) commutes with ``add``,
#: ``raise`` (a program status change, forward only) with ``raise``; ``write`` commutes
#: with a write of the same value; ``update`` (a qualification record, or a write that
#: a trigger listens for) commutes with nothing; ``read`` conflicts with all but reads.
Op = Literal["read", "write", "add", "raise", "update"]


@attrs.frozen(kw_only=True, cache_hash=True)
class Site:
    """Where in the design an access is written: a campaign's step, its smart list or
    qualification rule (``step`` None), or the load (``campaign`` None)."""

    campaign: str | None
    step: int | None = None
    kind: str | None = None
    #: What the access is: "choice", "smart list", "{{lead.country}}", "form fill", ...
    what: str

    def describe(self) -> str:
        if self.campaign is None:
            return self.what
        where = f'"{self.campaign}"'
        if self.step is not None:
            where += f" step {self.step} ({self.kind})"
        return f"{where}: {self.what}"

    @property
    def key(self) -> tuple[str, int, str, str]:
        """A sort key (None as "" and 0), made once: races are keyed by it."""
        return self._sort_key

    _sort_key: tuple[str, int, str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        key = (self.campaign or "", self.step or 0, self.kind or "", self.what)
        object.__setattr__(self, "_sort_key", key)


@attrs.frozen(kw_only=True)
class Access:
    """One side of a race, as it happened in this run."""

    op: Op
    site: Site
    time: float
    #: The value written (None for a read, an increment or a qualification record).
    value: Value
    #: The run (or source) that made it: 'run 3 of "Score Lead"'.
    by: str
    #: How the thread that made it began, from itself back to the nearest thread the
    #: other side of the race also descends from (most recent first).
    chain: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Race:
    """A pair of conflicting accesses that nothing orders, on ``item`` of ``people``.

    ``first`` and ``second`` are the example's, in this run's order: of the person for
    whom they came closest in time (other people may have had them the other way round).
    """

    item: str  # a field, "list:NAME", "program:NAME", "qualification:CAMPAIGN" or "flow:CAMPAIGN"
    first: Access
    second: Access
    #: Everyone who had this pair, in the order found.
    people: tuple[str, ...]
    #: The person of the example.
    person: str
    #: The thread both sides descend from (where their orders part).
    common: str
    #: Why nothing orders the two, in a sentence.
    why: str

    @property
    def same_instant(self) -> bool:
        """Whether the two happened at the same virtual time in this run (for at least
        one person): a race a schedule alone can flip, which `sim explore` can witness.
        Otherwise only time kept them apart, and a queue backlog, a Wait or a slower
        webhook can bring them together."""
        return self.first.time == self.second.time

    @property
    def gap(self) -> float:
        """Virtual seconds between the two in the example (the closest call)."""
        return abs(self.second.time - self.first.time)


@attrs.define(eq=False, slots=True)
class Clock:
    """A thread's vector clock: thread id -> the last epoch of it ordered before now."""

    id: int
    vector: dict[int, int]
    origin: str
    parent: Clock | None
    #: Short: 'run 3 of "Score Lead"', 'the response to run 1', a source's origin.
    label: str = ""
    #: What the thread runs in (a trio task, or a kernel call chain), seen at its first
    #: access: a consistency check of the engine's notion of who runs now.
    task: object = None
    #: Whether it forked a thread since it last resumed (see `resume`).
    forked: bool = False

    def resume(self) -> None:
        """The thread goes on after a point where other tasks could run first.

        A thread's accesses up to such a point (the rest of the step that logged the
        activity or made the call) happen before any thread it forked can run: they share
        the fork's epoch. From here on they are in a new epoch, after nothing forked.
        """
        if self.forked:
            self.vector[self.id] += 1
            self.forked = False


#: (thread, site, op, value written) -> (epoch, time, thread, value) of that thread's latest such access.
_History = dict[tuple[int, Site, Op, Value], tuple[int, float, Clock, Value]]
#: One side of a race: the thread, the site, the op, the virtual time and the value written.
_Side = tuple[Clock, Site, Op, float, Value]


@attrs.define(eq=False, slots=True)
class _Found:
    item: str
    first: _Side
    second: _Side
    person: str
    gap: float
    people: dict[str, None]


@attrs.define(eq=False)
class RaceDetector:
    """Vector clocks for every thread, and each person's accesses per item.

    The race watch (`sim.observe.race_watch`), an observer of the engine, calls `source` for
    each source of the load and
    `resume_source` each time it acts, `fork` where one thread orders itself before a
    new one (and `Clock.resume` where a thread goes on), `access` for every read and
    write, and `passed` and `created` for batch passes and people form fills create.
    """

    _clocks: itertools.count[int] = attrs.field(factory=itertools.count, init=False)
    #: (person, item) -> accesses, keeping per thread and site only the latest: if
    #: that one is ordered before a new access, so are all the earlier ones.
    _history: dict[tuple[str, str], _History] = attrs.field(factory=dict, init=False)
    #: The same, the accesses other than reads only (in the same order): a read can only
    #: race with those, and reads are most accesses.
    _writes: dict[tuple[str, str], _History] = attrs.field(factory=dict, init=False)
    _found: dict[tuple[str, tuple[object, ...]], _Found] = attrs.field(factory=dict, init=False)
    accesses: int = attrs.field(default=0, init=False)
    #: The sources' clocks joined as of the last instant before ``_instant``, and the
    #: sources that ran at ``_instant`` (not yet ordered before anything).
    _world: dict[int, int] = attrs.field(factory=dict, init=False)
    _instant: float = attrs.field(default=0.0, init=False)
    _now: list[Clock] = attrs.field(factory=list, init=False)
    #: The batch passes of ``_instant``: (source, its epoch, site). A person created
    #: later in the same instant was not among the people they went through.
    _passes: list[tuple[Clock, int, Site]] = attrs.field(factory=list, init=False)
    #: What runs now: the trio task by default; `RaceWatch.attach` gives `Kernel.running`,
    #: which knows the kernel's calls too.
    running: Callable[[], object] = current_task
    #: The items anything in the design can write (`writable_items`); None: any item.
    #: A read of an item nothing writes cannot race: it is counted, not recorded.
    writable: frozenset[str] | None = None

    def source(self, origin: str) -> Clock:
        """A source of the world's inputs (see `resume_source`)."""
        number = next(self._clocks)
        return Clock(id=number, vector={number: 0}, origin=origin, parent=None, label=origin)

    def resume_source(self, clock: Clock, time: float) -> None:
        """Source ``clock`` acts at virtual ``time``: after everything every source did
        at earlier instants, and in a new epoch of its own."""
        if time > self._instant:
            world = self._world
            for done in self._now:
                for thread, epoch in done.vector.items():
                    if world.get(thread, 0) < epoch:
                        world[thread] = epoch
            self._now.clear()
            self._passes.clear()
            self._instant = time
        vector = clock.vector
        for thread, epoch in self._world.items():
            if vector.get(thread, 0) < epoch:
                vector[thread] = epoch
        vector[clock.id] += 1
        clock.forked = False
        if not any(other is clock for other in self._now):
            self._now.append(clock)

    def passed(self, clock: Clock, site: Site) -> None:
        """Source ``clock`` (a batch) goes through everyone who exists now (R2)."""
        self._passes.append((clock, clock.vector[clock.id], site))

    def created(self, clock: Clock, person: str, site: Site, *, time: float) -> None:
        """``clock`` creates ``person`` (a form fill by an unknown visitor). A batch pass
        earlier in the same instant read that no such person exists: a race with this
        write, as the pass would have included the person had it come second."""
        history = self._history.setdefault((person, "person"), {})
        self._writes.setdefault((person, "person"), {})
        for source, epoch, pass_site in self._passes:
            if source is not clock:
                history[source.id, pass_site, "read", None] = (epoch, time, source, None)
        self.access(clock, person, "person", "update", site, time=time)

    def fork(self, parent: Clock, origin: str, *, label: str = "") -> Clock:
        """A new thread after everything ``parent`` did so far, and before nothing it does once
        it next resumes (`Clock.resume`)."""
        number = next(self._clocks)
        vector = dict(parent.vector)
        vector[number] = 1
        parent.forked = True  # its accesses after its next resume are not before the child
        return Clock(id=number, vector=vector, origin=origin, parent=parent, label=label or origin)

    def access(
        self,
        clock: Clock,
        person: str,
        item: str,
        op: Op,
        site: Site,
        *,
        time: float,
        value: Value = None,
    ) -> None:
        """Record one access, and a race with every earlier one it conflicts with unordered."""
        if op == "read" and self.writable is not None and item not in self.writable:
            self.accesses += 1  # checked: nothing can write it, so no order of it matters
            return
        task = self.running()
        if clock.task is not task:
            if clock.task is not None:  # the engine's notion of who is running is wrong
                raise AssertionError(f"thread {clock.origin!r} accessed {item!r} from another task")
            clock.task = task
        self.accesses += 1
        key = (person, item)
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = {}
            writes = self._writes[key] = {}
        else:
            writes = self._writes[key]
        vector = clock.vector
        me = clock.id
        for (other, other_site, other_op, _), (epoch, other_time, owner, other_value) in (
            writes if op == "read" else history
        ).items():
            if other == me or epoch <= vector.get(other, 0):
                continue  # program order, or ordered by a fork
            if not conflict(op, value, other_op, other_value):
                continue
            self._report(
                person, item, (owner, other_site, other_op, other_time, other_value), (clock, site, op, time, value)
            )
        entry = (vector[me], time, clock, value)
        mark = (me, site, op, value if op == "write" else None)
        history[mark] = entry
        if op != "read":
            writes[mark] = entry

    def _report(
        self,
        person: str,
        item: str,
        first: _Side,
        second: _Side,
    ) -> None:
        # One race per pair of sites and ops, whichever came first: people differ only
        # in which of the two the schedule took first.
        one, two = (first[1].key, first[2]), (second[1].key, second[2])
        key = (item, (one, two) if one <= two else (two, one))
        gap = abs(second[3] - first[3])
        found = self._found.get(key)
        if found is None:
            self._found[key] = _Found(item, first, second, person, gap, {person: None})
            return
        found.people[person] = None
        if gap < found.gap:  # the closest call is the telling example
            found.first, found.second, found.person, found.gap = first, second, person, gap

    def races(self) -> tuple[Race, ...]:
        """Every race found: those at the same instant first, each group in the order found."""
        found = sorted(self._found.values(), key=lambda item: item.gap > 0)  # a stable sort
        return tuple(self._race(item) for item in found)

    def _race(self, found: _Found) -> Race:
        a, b = found.first[0], found.second[0]
        common = _common(a, b)
        first, second = _access(found.first, common), _access(found.second, common)
        return Race(
            item=found.item,
            first=first,
            second=second,
            people=tuple(found.people),
            person=found.person,
            common=common.origin if common is not None else "",
            why=_why(a, b, common),
        )


def conflict(op: Op, value: Value, other_op: Op, other_value: Value) -> bool:
    """Whether two accesses to one item may end differently in the other order (the rules
    in this module's docstring); ``value``: the value a ``write`` writes."""
    if op == "read" or other_op == "read":
        return op != other_op
    if op == other_op and op in ("add", "raise"):
        return False
    if op == other_op == "write":
        return not (value == other_value and type(value) is type(other_value))
    return True


def _ancestors(clock: Clock) -> Iterator[Clock]:
    here: Clock | None = clock
    while here is not None:
        yield here
        here = here.parent


def _common(a: Clock, b: Clock) -> Clock | None:
    mine = {clock.id for clock in _ancestors(a)}
    return next((clock for clock in _ancestors(b) if clock.id in mine), None)


def _access(side: _Side, common: Clock | None) -> Access:
    clock, site, op, time, value = side
    chain = []
    for here in _ancestors(clock):
        if common is not None and here.id == common.id:
            break
        chain.append(here.origin)
    return Access(op=op, site=site, time=time, value=value, by=clock.label, chain=tuple(chain))


def _below(clock: Clock, common: Clock) -> Clock:
    """The thread ``common`` forked on the way down to ``clock``."""
    here = clock
    while here.parent is not None and here.parent.id != common.id:
        here = here.parent
    return here


def _why(a: Clock, b: Clock, common: Clock | None) -> str:
    if common is None:
        return f"{a.label} and {b.label} come from different sources of the load; nothing orders them"
    for mine, other in ((a, b), (b, a)):
        if mine.id == common.id:  # the other side descends from this one, started by it
            started = _below(other, common)
            return f"{common.label} started {started.label} and went on without waiting for it"
    left, right = _below(a, common), _below(b, common)
    return f"{common.label} started both {left.label} and {right.label}; neither waits for the other"


def writable_items(scenario: Scenario) -> frozenset[str] | None:
    """Every item of a person's state that something in ``scenario`` may write, named as
    `RaceDetector.access` names them: fields a flow step, a webhook response or the load
    writes, ``list:``, ``program:`` and ``flow:`` items, qualification records and
    ``person`` (created by a form fill). None when the load is a CSV replay: its columns
    are read only as the run goes, so any field may be written."""
    if scenario.replays:
        return None
    items = {"person"}
    for campaign in scenario.campaigns.values():
        items.add(f"qualification:{campaign.name}")
        for step in campaign.flow:
            for action in step.actions():
                if isinstance(action, (model.ChangeDataValue, model.ChangeScore)):
                    items.add(action.field)
                elif isinstance(action, (model.AddToList, model.RemoveFromList)):
                    items.add(f"list:{action.list}")
                elif isinstance(action, model.ChangeProgramStatus):
                    items.add(f"program:{action.program}")
                elif isinstance(action, model.RemoveFromFlow):
                    items.update(f"flow:{name}" for name in action.campaigns)
                elif isinstance(action, model.CallWebhook):
                    items.update(field for field, _ in action.response)
    loads: list[tuple[str, Mapping[str, object], Iterable[str]]] = [
        (a.type, a.attributes, a.fields) for a in scenario.activities
    ]
    loads += [(g.type, g.attributes, g.fields) for g in scenario.generators]
    for type_, attributes, fields in loads:
        items.update(fields)
        if type_ == "change_data_value":
            items.add(str(attributes["field"]))
    return frozenset(items)
