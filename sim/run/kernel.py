"""Virtual time and deterministic scheduling for trio tasks.

trio alone cannot carry a simulation: MockClock measured about 20 times slower than SimPy
and trio breaks ties between equal deadlines by object id and a shuffled run queue, so two
processes would disagree. The kernel owns virtual time instead. Exactly one simulation
task runs at a time; when it sleeps it pushes itself onto a heap ordered by
``(time, priority, seq)`` and hands the baton straight to the next task with
``trio.lowlevel.reschedule``. When several tasks are due at the same instant and
priority, the kernel's `Strategy` picks one: that choice is the only source of
interleaving, so a seed (or a recorded list of choices) fixes the whole schedule.

Virtual time is kept in whole microseconds inside (``now_us``): a delay is rounded to the
µs once, when it is given, and every sum and comparison after that is exact, so a run that
waits 200 ms from 0.1 s resumes at 0.3 s exactly and ties with an event due at 0.3 s, and
work due at the window's end never runs however many delays led up to it. ``now`` is the
same instant in seconds, for the log.

Only trio's public ``trio.lowlevel`` API is used. The kernel knows nothing of campaigns.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
import random
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, Protocol

import attrs
import outcome
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from sim.scenario.units import MICROS, micros

#: Calls (`Kernel.call_soon`) the kernel makes in a row before it gives trio a turn.
CALLS_PER_TURN = 4096


class Strategy(Protocol):
    """Picks which of ``count`` equally-due tasks runs next (index 0 is the oldest)."""

    def choose(self, count: int) -> int: ...


@attrs.define(eq=False)
class FifoStrategy:
    """Always the oldest: the default order that schedule deviations are measured from."""

    def choose(self, count: int) -> int:
        return 0


@attrs.define(eq=False)
class RandomStrategy:
    """A uniform choice from a random stream of its own, seeded by ``seed``."""

    seed: int
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # A string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED.
        self._rng = random.Random(f"sim.schedule:{self.seed}")

    def choose(self, count: int) -> int:
        return self._rng.randrange(count)


@attrs.define(eq=False)
class PCTStrategy:
    """Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010), on tasks.

    Each task gets a random priority the first time it is a candidate (all above
    ``depth``); at every choice point the candidate of highest priority runs. At
    ``depth - 1`` change points, drawn among the first ``steps`` choice points, the task
    chosen there drops to priority 1, 2, ... (below every first priority). A bug that
    needs ``depth`` orderings to line up is found with probability at least
    1 / (tasks x steps^(depth-1)) per run, which random choices do not promise.
    """

    seed: int
    depth: int = 3
    steps: int = 100
    _rng: random.Random = attrs.field(init=False)
    _priorities: dict[object, float] = attrs.field(factory=dict, init=False)
    _changes: dict[int, int] = attrs.field(factory=dict, init=False)
    _step: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"PCT depth {self.depth!r}: give 1 or more")
        self._rng = random.Random(f"sim.pct:{self.seed}")
        points = self._rng.sample(range(1, max(self.steps, self.depth) + 1), self.depth - 1)
        self._changes = {point: low for low, point in enumerate(points, 1)}

    def choose(self, count: int) -> int:
        raise AssertionError("the kernel gives PCTStrategy its candidates with choose_task")

    def choose_task(self, owners: list[object]) -> int:
        """The index of the candidate task of highest priority (owners oldest first)."""
        self._step += 1
        priorities = self._priorities
        for owner in owners:  # first sight: a random priority above every change point's
            if owner not in priorities:
                priorities[owner] = self.depth + self._rng.random()
        chosen = max(range(len(owners)), key=lambda i: priorities[owners[i]])
        low = self._changes.get(self._step)
        if low is not None:
            priorities[owners[chosen]] = float(low)
        return chosen


class _Entry:
    """A task due at ``time`` (µs; inf: when woken). ``task`` is None until a spawned task
    first runs; until then ``start`` holds what it runs: the trio task is made only when it
    is picked. A call (`Kernel.call_soon`) has ``call`` instead and never a task.

    A plain slots class, not attrs: one is made per sleep, and the kernel's hot path
    measured 0.6 µs less per person without attrs' keyword defaults.
    """

    __slots__ = ("call", "cancelled", "owner", "priority", "seq", "start", "task", "time")

    def __init__(
        self,
        time: int | float,
        priority: int,
        seq: int,
        task: Task | None = None,
        owner: object = None,
        start: tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]] | None = None,
        call: tuple[Callable[..., None], tuple[Any, ...]] | None = None,
    ) -> None:
        self.time = time
        self.priority = priority
        self.seq = seq
        self.task = task
        self.cancelled = False
        self.start = start
        #: Which task this is, for strategies that follow tasks (PCT), and the identity
        #: of a call chain; None for tasks otherwise.
        self.owner = owner
        self.call = call


class _Bucket:
    """The entries of one priority due now, oldest first, with removal by rank.

    Entries arrive in ``seq`` order (the kernel's counter only grows), so the bucket is
    an append-only list. The oldest is taken in O(1); the k-th oldest by a scan while the
    bucket is small, and through a Fenwick tree of live slots, built the first time a
    large bucket needs it, in O(log n): a batch that makes 100,000 runs due at one instant
    would otherwise make every pick scan them all.
    """

    __slots__ = ("head", "items", "live", "tree")

    #: Live entries beyond which a pick by rank builds the tree rather than scanning.
    SCAN = 64

    def __init__(self) -> None:
        self.items: list[_Entry | None] = []
        self.tree: list[int] | None = None  # 1-based Fenwick tree over live flags
        self.head = 0  # index of the oldest live entry
        self.live = 0

    def append(self, entry: _Entry) -> None:
        items = self.items
        items.append(entry)
        self.live += 1
        tree = self.tree
        if tree is not None:
            position = len(items)
            # tree[position] counts the live slots in (position - lowbit, position]: all
            # of them are older and in place, so that is 1 + prefix(position - 1) - prefix(start).
            start = position - (position & -position)
            total = 1
            i = position - 1
            while i > start:
                total += tree[i]
                i -= i & -i
            tree.append(total)

    def _build(self) -> list[int]:
        items = self.items
        size = len(items)
        tree = [0] * (size + 1)
        for i in range(1, size + 1):
            if items[i - 1] is not None:
                tree[i] += 1
            parent = i + (i & -i)
            if parent <= size:
                tree[parent] += tree[i]
        self.tree = tree
        return tree

    def pop(self, rank: int) -> _Entry:
        """Remove and return the live entry with ``rank`` older live entries before it."""
        items, tree = self.items, self.tree
        if rank == 0:
            index = self.head
        elif tree is None and self.live <= self.SCAN:
            index = self.head
            remaining = rank
            while True:
                if items[index] is not None:
                    if not remaining:
                        break
                    remaining -= 1
                index += 1
        else:
            if tree is None:
                tree = self._build()
            # Fenwick descent: the last position whose prefix count is <= rank.
            position, remaining, step = 0, rank, 1 << (len(items).bit_length())
            while step:
                nxt = position + step
                if nxt < len(tree) and tree[nxt] <= remaining:
                    position = nxt
                    remaining -= tree[nxt]
                step >>= 1
            index = position  # 0-based index of the (rank+1)-th live slot
        entry = items[index]
        assert entry is not None
        items[index] = None
        self.live -= 1
        if self.live == 0:
            self.items, self.tree, self.head = [], None, 0
            return entry
        if tree is not None:
            i = index + 1
            while i < len(tree):
                tree[i] -= 1
                i += i & -i
        if index == self.head:
            while items[self.head] is None:
                self.head += 1
        return entry


@attrs.define(eq=False)
class Sleeper:
    """A handle on one task's sleep, so another task can wake it early (`Kernel.wake`)."""

    entry: _Entry | None = None


@attrs.define(eq=False)
class Kernel:
    """Runs simulation tasks one at a time in virtual time, over ``[0, until)`` seconds.

    Call `spawn`, `sleep`, `checkpoint` and `wake` only from simulation tasks (the
    function given to `run`, and what it spawns). Times given in seconds are rounded to
    the microsecond; ``now_us`` is the exact time, ``now`` the same in seconds.
    """

    strategy: Strategy = attrs.field(factory=FifoStrategy)
    until: float = math.inf
    #: When set, the index chosen at every choice point with more than one candidate,
    #: as (candidates, chosen) pairs: the schedule of this run.
    choices: list[tuple[int, int]] | None = None
    #: The current virtual time in whole microseconds, and the same in seconds.
    now_us: int = attrs.field(default=0, init=False)
    now: float = attrs.field(default=0.0, init=False)
    #: Set (e.g. from a SIGINT handler) to end the run at the next task switch.
    stop_requested: bool = attrs.field(default=False, init=False)
    #: True once the run ended by reaching ``until`` (or a stop request), not by running out of work.
    cut_short: bool = attrs.field(default=False, init=False)
    #: True when the run ended because of ``stop_requested`` (not set by a late request).
    interrupted: bool = attrs.field(default=False, init=False)
    #: ``until`` in µs (inf: no end).
    _until: int | float = attrs.field(init=False)
    _heap: list[tuple[int | float, int, int, _Entry]] = attrs.field(factory=list, init=False)
    #: priority -> entries due now; ``_due`` counts them all.
    _ready: dict[int, _Bucket] = attrs.field(factory=dict, init=False)
    _due: int = attrs.field(default=0, init=False)
    #: The entry due now when it is the only one (``_due`` is 1, no bucket holds it).
    _single: _Entry | None = attrs.field(default=None, init=False)
    _seq: itertools.count[int] = attrs.field(factory=itertools.count, init=False)
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)
    _main: Task | None = attrs.field(default=None, init=False)
    _finished: bool = attrs.field(default=False, init=False)
    _error: BaseException | None = attrs.field(default=None, init=False)
    _alone: int = attrs.field(default=0, init=False)  # steps taken with no hand-off
    #: For a strategy that follows tasks (``choose_task``): each running task's identity.
    _owners: dict[Task, object] | None = attrs.field(default=None, init=False)
    #: The call being made now (`call_soon`), whose chain `then_at` continues.
    _calling: _Entry | None = attrs.field(default=None, init=False)
    #: Calls made since trio last had a turn, and the entry of the run's own task that
    #: `_take` hands over to when there were `CALLS_PER_TURN` of them.
    _calls: int = attrs.field(default=0, init=False)
    _trio_turn: _Entry | None = attrs.field(default=None, init=False)
    #: Whether the run's own task waits in `_hand_over` (to be woken by a hand-off).
    _main_parked: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        self._until = micros(self.until) if math.isfinite(self.until) else math.inf
        if hasattr(self.strategy, "choose_task"):
            self._owners = {}

    async def run(self, main: Callable[[], Awaitable[None]]) -> None:
        """Run ``main`` and every task it spawns until no work is left or time is up.

        Tasks due at ``until`` or later never run; they are ended. An exception in any
        task (or in the strategy) ends the run and is raised here as it is.
        """
        if self._main is not None:
            raise RuntimeError("a Kernel runs once; make a new one for each run")
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._main = current_task()
            self._trio_turn = _Entry(0, 0, -1, self._main)
            self.spawn(main)
            await self._hand_over()
            self._shut_down()
            nursery.cancel_scope.cancel()  # for tasks a cancellation from outside left behind
        if self._error is not None:
            raise self._error

    async def _hand_over(self) -> None:
        """The run's own task: hand the baton to the first task, then wait for the end.

        It is woken before the end only to give trio a turn in a long chain of calls
        (`_take`), where no task of the run would: a deadline or a cancellation from
        outside is seen at that checkpoint, and the chain goes on from here.
        """
        while True:
            nxt = self._take()
            if nxt is self._trio_turn:
                await trio.lowlevel.checkpoint()
                continue
            if nxt is None:  # stopped, or no work left, with no task running
                self._finished = True
                return
            self._main_parked = True
            self._resume(nxt)
            await wait_task_rescheduled(self._abort_main)
            if self._finished:
                return
            await trio.lowlevel.checkpoint()

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any, delay: float = 0.0, priority: int = 0) -> None:
        """Start ``fn(*args)`` as a new task, due ``delay`` seconds from now.

        The caller goes on at once; the new task runs when the kernel picks it.
        """
        assert self._nursery is not None, "spawn() is for simulation tasks"
        assert math.isfinite(delay) and delay >= 0, f"bad delay {delay!r}"
        # The trio task is started only when the kernel picks the entry: a task started
        # now would take a turn of trio's run loop to park itself first, and hold memory
        # while it waits its turn.
        owner = object() if self._owners is not None else None
        self._push(_Entry(self.now_us + round(delay * MICROS), priority, next(self._seq), None, owner, (fn, args)))

    def call_soon(self, fn: Callable[..., None], *args: Any, delay: float = 0.0, priority: int = 0) -> None:
        """Make the call ``fn(*args)`` due ``delay`` seconds from now, like a task that
        runs once and never waits.

        The kernel makes the call itself, between two tasks, in no task of its own: a
        load source or a webhook response costs no trio task, and no hand-off through
        trio's run loop, yet it is a candidate at choice points as a task would be. The
        call may spawn, wake, and continue itself later with `then_at`; it must not await.
        """
        assert self._nursery is not None, "call_soon() is for simulation tasks"
        assert math.isfinite(delay) and delay >= 0, f"bad delay {delay!r}"
        owner = object()  # the chain's identity: for `running`, and for PCT
        self._push(_Entry(self.now_us + micros(delay), priority, next(self._seq), owner=owner, call=(fn, args)))

    def then_at(self, when: float, fn: Callable[..., None], *args: Any) -> None:
        """From inside a call: go on with ``fn(*args)`` at virtual time ``when`` (seconds,
        rounded to the µs; a past time is now), as the same chain.

        It is what a task's ``sleep_until(when)`` would be: a choice point even at the
        same instant, and the same identity for strategies that follow tasks (PCT).
        """
        calling = self._calling
        assert calling is not None, "then_at() is for calls made by the kernel (call_soon)"
        assert math.isfinite(when), f"bad time {when!r}"
        when_us = round(when * MICROS)
        priority, seq = calling.priority, next(self._seq)
        if when_us > self.now_us:  # `_push`, written out: a load source's every arrival comes here
            entry = _Entry(when_us, priority, seq, None, calling.owner, None, (fn, args))
            heapq.heappush(self._heap, (when_us, priority, seq, entry))
        else:
            self._push(_Entry(self.now_us, priority, seq, None, calling.owner, None, (fn, args)))

    async def sleep(self, delay: float, *, sleeper: Sleeper | None = None, priority: int = 0) -> None:
        """Let ``delay`` seconds of virtual time pass for this task (0: a choice point)."""
        assert math.isfinite(delay) and delay >= 0, f"bad delay {delay!r}"
        # The waits are written out in each method, not shared through a coroutine of
        # their own: every extra await layer costs each resume a frame (`_wait`).
        if self._wait(self.now_us + round(delay * MICROS), sleeper, priority):
            await wait_task_rescheduled(self._abort)
        else:
            self._alone += 1  # `_now_and_then`, written out: this is the kernel's hottest path
            if not self._alone & 0xFFF:
                await trio.lowlevel.checkpoint()

    async def sleep_until(self, when: float, *, sleeper: Sleeper | None = None, priority: int = 0) -> None:
        """Sleep until virtual time ``when`` (seconds, rounded to the µs), or not at all if
        that is past."""
        if self._wait(micros(when) if math.isfinite(when) else when, sleeper, priority):
            await wait_task_rescheduled(self._abort)
        else:
            await self._now_and_then()

    async def suspend(self, sleeper: Sleeper) -> None:
        """Sleep until another task ends it with `wake` (e.g. hands this task a worker)."""
        if self._wait(math.inf, sleeper, 0):
            await wait_task_rescheduled(self._abort)
        else:
            await self._now_and_then()

    def _wait(self, when: int | float, sleeper: Sleeper | None, priority: int) -> bool:
        """Make this task due at ``when`` (µs) and hand over to the next: True when it
        must park (the caller awaits), False when it is the next itself and goes on."""
        task = current_task()
        owner = self._owners.get(task) if self._owners is not None else None
        now = self.now_us
        entry = _Entry(when if when > now else now, priority, next(self._seq), task, owner)
        if when > now:
            heapq.heappush(self._heap, (when, priority, entry.seq, entry))
        else:
            self._push(entry)
        if sleeper is not None:
            sleeper.entry = entry
        nxt = self._take()
        if nxt is not None and nxt.task is task:  # this one again (or woken by a call)
            return False
        self._resume(nxt)
        # Parked on its live entry (a call may have woken it to a new one).
        task.custom_sleep_data = sleeper.entry if sleeper is not None else entry
        return True

    def running(self) -> object:
        """What runs now: the current trio task, or the chain of the call being made
        (`call_soon`, `then_at`); the same object for as long as that one runs."""
        calling = self._calling
        return current_task() if calling is None else calling.owner

    @property
    def finished(self) -> bool:
        """True once the run is over: tasks ending now must not start others."""
        return self._finished

    async def checkpoint(self) -> None:
        """A choice point: any task due now may run before this one goes on."""
        heap = self._heap
        if self._due or (heap and heap[0][0] <= self.now_us) or self.stop_requested:
            await self.sleep(0.0)
        else:
            await self._now_and_then()

    async def _now_and_then(self) -> None:
        """Yield to trio once in a while when no other task is due.

        A lone task would otherwise never give trio's run loop a turn, and a deadline or
        cancellation from outside the run would never be seen. Every other simulation
        task is parked meanwhile, so this changes no order.
        """
        self._alone += 1
        if not self._alone & 0xFFF:
            await trio.lowlevel.checkpoint()

    def wake(self, sleeper: Sleeper) -> None:
        """End ``sleeper``'s sleep now, if it is sleeping into the future."""
        entry = sleeper.entry
        if entry is None or entry.cancelled or entry.time <= self.now_us:
            return
        entry.cancelled = True
        task = entry.task
        sleeper.entry = _Entry(self.now_us, entry.priority, next(self._seq), task, owner=entry.owner)
        entry.task = None  # the dead entry stays in the heap; it must not keep the task alive
        if task is not None:
            task.custom_sleep_data = sleeper.entry
        self._push(sleeper.entry)

    # -- internals: only ever one task runs these at a time

    def _push(self, entry: _Entry) -> None:
        if entry.time <= self.now_us:
            if not self._due:  # alone: no bucket (most often a task spawned or woken now)
                self._single = entry
                self._due = 1
                return
            single = self._single
            if single is not None:  # no longer alone: to its bucket first, it is older
                self._single = None
                self._bucket(single.priority).append(single)
            self._bucket(entry.priority).append(entry)
            self._due += 1
        else:
            heapq.heappush(self._heap, (entry.time, entry.priority, entry.seq, entry))

    def _bucket(self, priority: int) -> _Bucket:
        bucket = self._ready.get(priority)
        if bucket is None:
            bucket = self._ready[priority] = _Bucket()
        return bucket

    def _next(self) -> _Entry | None:
        """Pop the entry to run next, advancing time; None when the run is over.

        Never raises: a failing strategy is kept as the run's error and ends the run.
        """
        if self._finished:
            return None
        if self.stop_requested:
            self.cut_short = self.interrupted = True
            return None
        if self.now_us >= self._until:
            self.cut_short = True
            return None
        if not self._due:
            heap = self._heap
            while heap and heap[0][3].cancelled:
                heapq.heappop(heap)
            if not heap:
                return None
            time = heap[0][0]
            if time < self._until:
                # The common case: one entry alone at the next instant needs no bucket
                # and no choice.
                first = heapq.heappop(heap)[3]
                while heap and heap[0][3].cancelled:
                    heapq.heappop(heap)
                if not heap or heap[0][0] != time:
                    self.now_us = int(time)  # finite here: an int already
                    self.now = time / MICROS
                    return first
                heapq.heappush(heap, (time, first.priority, first.seq, first))
            if time == math.inf:
                # Only suspended tasks are left and nothing can wake them: a task waits
                # for something that never comes (a worker never given back). Say so.
                self._fail(RuntimeError("every task left is suspended and nothing can wake them: a deadlock"))
                return None
            if time >= self._until:
                self.cut_short = True
                return None
            self.now_us = int(time)  # finite here: an int already
            self.now = time / MICROS  # the float nearest to the exact time: 0.3, not 0.30000000000000004
            while heap and heap[0][0] == time:
                entry = heapq.heappop(heap)[3]
                if not entry.cancelled:
                    self._push(entry)  # heap order is (priority, seq) order
        single = self._single
        if single is not None:  # the one entry due: no choice
            self._single = None
            self._due = 0
            return single
        ready = self._ready
        if len(ready) == 1:
            bucket = next(iter(ready.values()))
        else:  # empty buckets stay in ready: the lowest priority with an entry due
            bucket = ready[min(priority for priority, due in ready.items() if due.live)]
        count = bucket.live
        index = 0
        if count > 1:
            try:
                if self._owners is not None:
                    owners = [e.owner for e in bucket.items[bucket.head :] if e is not None]
                    index = self.strategy.choose_task(owners)  # type: ignore[attr-defined]
                else:
                    index = self.strategy.choose(count)
                index = _checked_choice(self.strategy, index, count)
            except Exception as exc:
                self._fail(exc)
                return None
            if self.choices is not None:
                self.choices.append((count, index))
        entry = bucket.pop(index)
        self._due -= 1
        return entry  # an empty bucket stays, for the next entry of its priority

    def _take(self) -> _Entry | None:
        """The next task to run, making every call due before it (`call_soon`); None
        when the run is over. A call that raises ends the run with its exception.

        After `CALLS_PER_TURN` calls in a row with no task between them it returns
        ``_trio_turn``, the run's own task, which gives trio a turn and goes on: calls
        alone (a load no trigger listens to) would otherwise never let a deadline or a
        cancellation from outside through.
        """
        while True:
            entry = self._next()
            if entry is None or entry.call is None:
                self._calls = 0
                return entry
            fn, args = entry.call
            self._calling = entry
            try:
                fn(*args)
            except Exception as exc:
                self._fail(exc)
                return None
            finally:
                self._calling = None
            self._calls += 1
            if self._calls >= CALLS_PER_TURN:
                self._calls = 0
                return self._trio_turn

    def _resume(self, entry: _Entry | None) -> None:
        """Give the baton to ``entry``'s task (the caller is about to park or exit)."""
        if entry is None:
            self._finish()
        elif entry.task is None:
            assert entry.start is not None and self._nursery is not None
            fn, args = entry.start
            entry.start = None
            self._nursery.start_soon(self._bootstrap, entry, fn, args, name="sim task")  # runs on arrival
        else:
            if entry is self._trio_turn:
                self._main_parked = False
            reschedule(entry.task)

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc

    def _finish(self) -> None:
        self._finished = True
        if self._main_parked:  # not while it gives trio a turn (a cancellation then)
            self._main_parked = False
            assert self._main is not None
            reschedule(self._main)

    def _shut_down(self) -> None:
        """End every parked task by resuming it with `_Shutdown`.

        Cancelling them through the nursery costs about 20 µs a task in trio's
        bookkeeping: 10 s for 400,000 runs left in a Wait. Tasks not started yet see
        ``_finished`` and return at once.
        """
        self._finished = True
        parked = self._parked()
        self._heap, self._ready, self._due, self._single = [], {}, 0, None
        for entry in parked:
            # Only a task still parked on this very entry: trio clears custom_sleep_data
            # when it resumes a task itself (a cancellation).
            if entry.task is not None and entry.task.custom_sleep_data is entry:
                reschedule(entry.task, outcome.Error(_Shutdown()))
                entry.task = None

    def _parked(self) -> list[_Entry]:
        """Every entry still waiting its turn: in the heap, alone, or in a bucket."""
        parked = [entry for _, _, _, entry in self._heap]
        if self._single is not None:
            parked.append(self._single)
        for bucket in self._ready.values():
            parked.extend(entry for entry in bucket.items if entry is not None)
        return parked

    def _abort_main(self, raise_cancel: Callable[[], NoReturn]) -> Abort:
        self._finished = True  # cancelled from outside (or Ctrl-C): no more hand-offs
        self._main_parked = False
        return Abort.SUCCEEDED

    def _abort(self, raise_cancel: Callable[[], NoReturn]) -> Abort:
        # A task cancelled through trio cannot be resumed in order, so the run ends with it.
        if not self._finished:
            self._fail(RuntimeError("a simulation task was cancelled through trio; wait with the kernel instead"))
        self._finish()
        return Abort.SUCCEEDED

    async def _bootstrap(self, entry: _Entry, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        if self._finished:
            return  # the run ended before this task was first due
        task = entry.task = current_task()
        owners = self._owners
        if owners is not None:
            owners[task] = entry.owner
        try:
            await fn(*args)  # picked already: `_resume` started this task
        except _Shutdown:
            return
        except Exception as exc:
            self._fail(exc)
            self._finish()
            return
        finally:
            if owners is not None:
                del owners[task]
        self._resume(self._take())


def _checked_choice(strategy: Strategy, index: object, count: int) -> int:
    """``index`` as an int in 0..count-1, or a ValueError naming the strategy."""
    try:
        chosen = -1 if isinstance(index, bool) else operator.index(index)  # type: ignore[arg-type]
    except TypeError:
        chosen = -1
    if not 0 <= chosen < count:
        name = type(strategy).__name__
        raise ValueError(f"strategy {name} chose {index!r} of {count} candidates (0..{count - 1})")
    return chosen


class _Shutdown(BaseException):
    """Ends a parked task when the run is over (a BaseException: flows must not catch it)."""
