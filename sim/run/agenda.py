"""The kernel's agenda: what is due when, and which of the tasks due together goes first.

Entries (a task's sleep, a new task, a kernel call) wait in a heap ordered by
``(time, priority, seq)`` until their time comes; then they wait in a bucket per priority
(`Bucket`), and the `Strategy` (`sim.run.schedule`) picks among the oldest-first
candidates of the lowest priority due. That pick is the only source of interleaving in a
run, and every pick with more than one candidate is recorded in ``choices``.

`Kernel` (`sim.run.kernel`) is this agenda plus the trio tasks it runs: a subclass, so the
hot path (a push and a pick per step) costs no extra object hop.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
from trio.lowlevel import Task

from sim.run.schedule import FifoStrategy, Strategy
from sim.scenario.units import MICROS, micros


class Entry:
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


class Bucket:
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
        self.items: list[Entry | None] = []
        self.tree: list[int] | None = None  # 1-based Fenwick tree over live flags
        self.head = 0  # index of the oldest live entry
        self.live = 0

    def append(self, entry: Entry) -> None:
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

    def pop(self, rank: int) -> Entry:
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
class Agenda:
    """What is due when (virtual time in whole µs), and the strategy that orders ties."""

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
    _heap: list[tuple[int | float, int, int, Entry]] = attrs.field(factory=list, init=False)
    #: priority -> entries due now; ``_due`` counts them all.
    _ready: dict[int, Bucket] = attrs.field(factory=dict, init=False)
    _due: int = attrs.field(default=0, init=False)
    #: The entry due now when it is the only one (``_due`` is 1, no bucket holds it).
    _single: Entry | None = attrs.field(default=None, init=False)
    _seq: itertools.count[int] = attrs.field(factory=itertools.count, init=False)
    _finished: bool = attrs.field(default=False, init=False)
    _error: BaseException | None = attrs.field(default=None, init=False)
    #: Told what runs, who made and who woke whom (`Tracer`): exhaustive exploration's view
    #: of a run. None (the default) costs one test per step.
    tracer: Tracer | None = None
    #: For a strategy that follows tasks (``choose_task``), and a tracer: each running
    #: task's identity.
    _owners: dict[Task, object] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self._until = micros(self.until) if math.isfinite(self.until) else math.inf
        if hasattr(self.strategy, "choose_task") or self.tracer is not None:
            self._owners = {}

    def _push(self, entry: Entry) -> None:
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

    def _bucket(self, priority: int) -> Bucket:
        bucket = self._ready.get(priority)
        if bucket is None:
            bucket = self._ready[priority] = Bucket()
        return bucket

    def _next(self) -> Entry | None:
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
                index = checked_choice(self.strategy, index, count)
            except Exception as exc:
                self._fail(exc)
                return None
            if self.choices is not None:
                self.choices.append((count, index))
        entry = bucket.pop(index)
        self._due -= 1
        return entry  # an empty bucket stays, for the next entry of its priority

    def _parked(self) -> list[Entry]:
        """Every entry still waiting its turn: in the heap, alone, or in a bucket."""
        parked = [entry for _, _, _, entry in self._heap]
        if self._single is not None:
            parked.append(self._single)
        for bucket in self._ready.values():
            parked.extend(entry for entry in bucket.items if entry is not None)
        return parked

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc


class Tracer(Protocol):
    """What a run does, step by step, for a search over its schedules (`sim.verify.dpor`).

    A step is what one entry does from being picked until it waits again (or a call, made
    whole). Identities (``owner``) are the tracer's own: `owner_of` makes one for each
    task and call chain when it is made, from the identity of what made it (None: the
    run itself), so the same task has the same identity in every schedule.
    """

    def owner_of(self, parent: object) -> object:
        """The identity of a new task or call chain made by ``parent``."""
        ...

    def step(self, owner: object, time: int) -> None:
        """``owner``'s entry was picked and runs now, at ``time`` (µs)."""
        ...

    def woke(self, owner: object) -> None:
        """The step running now woke ``owner`` (it was sleeping into the future)."""
        ...


def checked_choice(strategy: Strategy, index: object, count: int) -> int:
    """``index`` as an int in 0..count-1, or a ValueError naming the strategy."""
    try:
        chosen = -1 if isinstance(index, bool) else operator.index(index)  # type: ignore[arg-type]
    except TypeError:
        chosen = -1
    if not 0 <= chosen < count:
        name = type(strategy).__name__
        raise ValueError(f"strategy {name} chose {index!r} of {count} candidates (0..{count - 1})")
    return chosen
