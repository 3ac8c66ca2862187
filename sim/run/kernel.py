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
import math
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import attrs
import outcome
import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

from sim.run.agenda import Agenda, Entry
from sim.scenario.units import MICROS, micros

#: Calls (`Kernel.call_soon`) the kernel makes in a row before it gives trio a turn.
CALLS_PER_TURN = 4096


@attrs.define(eq=False)
class Sleeper:
    """A handle on one task's sleep, so another task can wake it early (`Kernel.wake`)."""

    entry: Entry | None = None


@attrs.define(eq=False)
class Kernel(Agenda):
    """Runs simulation tasks one at a time in virtual time, over ``[0, until)`` seconds.

    Call `spawn`, `sleep`, `checkpoint` and `wake` only from simulation tasks (the
    function given to `run`, and what it spawns). Times given in seconds are rounded to
    the microsecond; ``now_us`` is the exact time, ``now`` the same in seconds.

    Size: one concept, the hand-off between trio tasks in virtual time; the tracer hooks of
    exhaustive exploration sit on its hot paths and cannot move out.
    """

    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)
    _main: Task | None = attrs.field(default=None, init=False)
    _alone: int = attrs.field(default=0, init=False)  # steps taken with no hand-off
    #: The call being made now (`call_soon`), whose chain `then_at` continues.
    _calling: Entry | None = attrs.field(default=None, init=False)
    #: Calls made since trio last had a turn, and the entry of the run's own task that
    #: `_take` hands over to when there were `CALLS_PER_TURN` of them.
    _calls: int = attrs.field(default=0, init=False)
    _trio_turn: Entry | None = attrs.field(default=None, init=False)
    #: Whether the run's own task waits in `_hand_over` (to be woken by a hand-off).
    _main_parked: bool = attrs.field(default=False, init=False)

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
            self._trio_turn = Entry(0, 0, -1, self._main)
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
        owner = (object() if self.tracer is None else self._traced_owner()) if self._owners is not None else None
        self._push(Entry(self.now_us + round(delay * MICROS), priority, next(self._seq), None, owner, (fn, args)))

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
        owner = object() if self.tracer is None else self._traced_owner()  # the chain's identity: for `running`, PCT
        self._push(Entry(self.now_us + micros(delay), priority, next(self._seq), owner=owner, call=(fn, args)))

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
            entry = Entry(when_us, priority, seq, None, calling.owner, None, (fn, args))
            heapq.heappush(self._heap, (when_us, priority, seq, entry))
        else:
            self._push(Entry(self.now_us, priority, seq, None, calling.owner, None, (fn, args)))

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
        entry = Entry(when if when > now else now, priority, next(self._seq), task, owner)
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
        # Traced, every checkpoint ends a step, due alone or not: a task's steps are then the
        # same in every schedule, which a search over schedules relies on.
        if self._due or (heap and heap[0][0] <= self.now_us) or self.stop_requested or self.tracer is not None:
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
        sleeper.entry = Entry(self.now_us, entry.priority, next(self._seq), task, owner=entry.owner)
        entry.task = None  # the dead entry stays in the heap; it must not keep the task alive
        if task is not None:
            task.custom_sleep_data = sleeper.entry
        self._push(sleeper.entry)
        if self.tracer is not None:
            self.tracer.woke(entry.owner)

    def _traced_owner(self) -> object:
        """A new task's or call chain's identity, from the tracer and what runs now."""
        assert self.tracer is not None and self._owners is not None
        calling = self._calling
        parent = calling.owner if calling is not None else self._owners.get(current_task())
        return self.tracer.owner_of(parent)

    # -- internals: only ever one task runs these at a time

    def _take(self) -> Entry | None:
        """The next task to run, making every call due before it (`call_soon`); None
        when the run is over. A call that raises ends the run with its exception.

        After `CALLS_PER_TURN` calls in a row with no task between them it returns
        ``_trio_turn``, the run's own task, which gives trio a turn and goes on: calls
        alone (a load no trigger listens to) would otherwise never let a deadline or a
        cancellation from outside through.
        """
        while True:
            entry = self._next()
            if self.tracer is not None and entry is not None:
                self.tracer.step(entry.owner, self.now_us)
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

    def _resume(self, entry: Entry | None) -> None:
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

    async def _bootstrap(self, entry: Entry, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
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


class _Shutdown(BaseException):
    """Ends a parked task when the run is over (a BaseException: flows must not catch it)."""
