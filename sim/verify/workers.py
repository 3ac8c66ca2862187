"""Where independent pieces of work run: the `Pool` interface, and its two pools that need
nothing but Python: this process, and worker processes (`sim explore --jobs`).

A `Pool` runs one module-level function over many items and hands back (index, result)
pairs as each finishes (`Pool.map_unordered`), or every result in item order
(`Pool.map`). A caller that places results by index gets the same list from any pool,
whatever finished first. `sim.scale.pools` chooses a pool, Dask's among them; this module
is stage 4 so that `sim.verify.explore` can take any pool without importing stage 5.

Worker processes: each is a process of its own (spawned, not forked: a forked child of a
process that ran trio inherits its state) with a pipe to the parent. The parent hands out
chunks of items to idle workers and gathers the results. A worker that dies (the OS
killed it for want of memory, or someone by hand) closes its pipe: that is seen at once, a
new worker takes its place and its chunk is run again, up to `RETRIES` times per chunk;
then `WorkerDied` is raised. A map left early (a stop, an error) lets the workers finish
the chunk they hold; their messages name their map, so the next map drops those results.
However the parent leaves (done, an error, a signal), every
worker is killed and reaped: none is left behind. Workers ignore SIGINT: Ctrl-C reaches
the whole process group, and the parent decides.

With one job there are no processes: the same calls run in this process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import attrs

T = TypeVar("T")
R = TypeVar("R")

#: How many times a chunk whose worker died is run again before `WorkerDied` (as Dask's
#: ``distributed.scheduler.allowed-failures`` does for a task).
RETRIES = 2


class WorkerDied(Exception):
    """A worker ended without finishing its work, more often than one piece of work is retried."""


class Pool(Protocol):
    """Where independent pieces of work run: this process, worker processes, or a Dask cluster.

    ``fn`` must be a module-level function of a module the workers can import (it is
    pickled by reference), and a pure function of its item and `shared`: then every pool
    gives the same results. An exception ``fn`` raises is raised in the caller. A pool
    subclasses this class to inherit `map`.
    """

    @property
    def name(self) -> str:
        """What runs the work, for the terminal: "in this process", "4 processes", ..."""
        ...

    @property
    def count(self) -> int:
        """How many items run at once (at least 1): to size chunks."""
        ...

    @property
    def in_process(self) -> bool:
        """Whether ``fn`` runs in this process, on the caller's thread (so a signal
        handler here can reach the item running)."""
        ...

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        chunk: int = 1,
        stopped: Callable[[], bool] | None = None,
        told: Callable[[Any], None] | None = None,
    ) -> Iterator[tuple[int, R]]:
        """(index in ``items``, ``fn(item)``) for each item as it finishes. ``chunk`` items
        go to a worker at a time (fewer trips); ``stopped()`` is asked at least every
        0.1 s and ends the iteration early when true; ``told`` gets what ``fn`` `tell`s,
        where the pool can carry it. Leaving the iteration early (a stop, an exception,
        KeyboardInterrupt) drops the work not gathered yet."""
        ...

    def end(self) -> None:
        """Stop all work now and let the workers go: the pool runs nothing more."""
        ...

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, chunk: int = 1) -> list[R]:
        """``fn`` of every item, in item order."""
        return list(in_order(self.map_unordered(fn, items, chunk=chunk)))


def in_order(pairs: Iterable[tuple[int, R]]) -> Iterator[R]:
    """The results of (index, result) ``pairs`` (indexes 0, 1, ... in any order) in index
    order, each as soon as all before it have come."""
    waiting: dict[int, R] = {}
    following = 0
    for index, result in pairs:
        waiting[index] = result
        while following in waiting:
            yield waiting.pop(following)
            following += 1


def chunked(items: Sequence[T], chunk: int) -> list[Sequence[T]]:
    """``items`` in slices of ``chunk`` (the last may be shorter)."""
    chunk = max(1, chunk)
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


class _Shared:
    #: What the parent gave every worker (in this process, with one job, the same).
    value: object = None
    #: In a worker: its pipe to the parent, and the map its chunk is of. In this process: where `tell` goes.
    pipe: multiprocessing.connection.Connection | None = None
    map: int = 0
    told: Callable[[Any], None] | None = None


#: A value shared with the work on this thread only (`run_sharing`): a Dask worker may run
#: tasks of several pools, each with its own shared value, side by side in threads.
_this_thread = threading.local()


def shared() -> Any:
    """What the pool was given to share with every worker (a scenario, say)."""
    return getattr(_this_thread, "value", _Shared.value)


def tell(message: Any) -> None:
    """Send ``message`` to the caller's ``told`` callback, now: progress from inside a
    long piece of work. Does nothing where the pool cannot carry it (on Dask)."""
    if _Shared.pipe is not None:
        _Shared.pipe.send(("told", _Shared.map, message))
    elif _Shared.told is not None:
        _Shared.told(message)


def run_sharing(fn: Callable[[T], R], items: Sequence[T], value: object) -> list[R]:
    """``fn`` of each item with `shared` giving ``value`` on this thread meanwhile: how a
    pool whose workers hold many values (Dask's) runs one chunk."""
    saved = getattr(_this_thread, "value", _unset)
    _this_thread.value = value
    try:
        return [fn(item) for item in items]
    finally:
        if saved is _unset:
            del _this_thread.value
        else:
            _this_thread.value = saved


_unset = object()


def _serve(pipe: multiprocessing.connection.Connection) -> None:
    """A worker's life: take the shared value, then run what the parent sends until it sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already, if it started under `_interrupts_ignored`
    try:
        value = pipe.recv()
    except EOFError:  # the parent is gone
        return
    _Shared.value, _Shared.pipe = value, pipe
    while True:
        try:
            task = pipe.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        _Shared.map, number, fn, items = task
        try:
            results = [fn(item) for item in items]
        except Exception as exc:  # raised again in the parent, where it can be reported
            pipe.send(("error", _Shared.map, number, exc))
            continue
        pipe.send(("done", _Shared.map, number, results))


@attrs.define(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    pipe: multiprocessing.connection.Connection
    #: The map (`Workers.maps`) and the number of the chunk it works on, or None when idle.
    task: tuple[int, int] | None = None


def _start_worker(context: multiprocessing.context.SpawnContext, value: object) -> _Worker:
    """A new worker process sharing ``value``."""
    mine, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs,), daemon=True)
    with _interrupts_ignored():  # the start sends the process little: over in milliseconds
        process.start()
    theirs.close()  # the worker's end: when it dies, our recv sees EOF
    mine.send(value)  # pickled once, as the worker reads it
    return _Worker(process=process, pipe=mine)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored while a worker starts: it inherits that through exec, and Python keeps it,
    so a Ctrl-C while it imports sim does not kill it half-started with a traceback. Here the
    signal is blocked meanwhile, so a Ctrl-C in that window is kept pending (Linux never
    discards a blocked signal, ignored or not) and lands when the handler is back: the
    window lasts until the child has read what the spawn sends it, a second and more on a
    busy machine, and a Ctrl-C lost there left `sim explore` running on. The mask is this
    thread's: `sim`'s parent has no other thread; in a process that has (a test runner's
    worker), the kernel may hand the signal to one of them, where it is ignored. Outside
    the main thread, where no handler can be set, nothing changes."""
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, ValueError):  # no signal masks here
        blocked = None
    try:
        saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a pending Ctrl-C is delivered now


@attrs.define(eq=False)
class Workers(Pool):
    """The worker processes of `open_workers` (none: this process runs everything)."""

    workers: list[_Worker]
    #: What every worker shares: a worker started in place of one that died gets it too.
    value: object = None
    #: The maps begun: a worker's messages name theirs, and those of a map left early are dropped.
    maps: int = 0

    @property
    def name(self) -> str:
        return f"{len(self.workers)} processes" if self.workers else "in this process"

    @property
    def count(self) -> int:
        return max(1, len(self.workers))

    @property
    def in_process(self) -> bool:
        return not self.workers

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        chunk: int = 1,
        stopped: Callable[[], bool] | None = None,
        told: Callable[[Any], None] | None = None,
    ) -> Iterator[tuple[int, R]]:
        """As `Pool.map_unordered`. In this process each item is its own chunk, so a stop
        and the progress are seen item by item."""
        if not self.workers:
            chunk = 1
        chunk = max(1, chunk)
        for number, results in self._run(fn, chunked(items, chunk), stopped=stopped or _never, told=told):
            for offset, result in enumerate(results):
                yield number * chunk + offset, result

    def _run(
        self,
        fn: Callable[[T], R],
        chunks: list[Sequence[T]],
        *,
        stopped: Callable[[], bool],
        told: Callable[[Any], None] | None,
    ) -> Iterator[tuple[int, list[R]]]:
        """(chunk number, its results) as each chunk is done."""
        if not self.workers:
            _Shared.told = told
            try:
                for number, items in enumerate(chunks):
                    if stopped():
                        return
                    yield number, [fn(item) for item in items]
            finally:
                _Shared.told = None
            return
        self.maps += 1
        pending = deque(range(len(chunks)))
        deaths = [0] * len(chunks)
        done = 0
        while done < len(chunks):
            for index, worker in enumerate(self.workers):
                if worker.task is None and pending:
                    worker.task = (self.maps, pending.popleft())
                    try:
                        worker.pipe.send((*worker.task, fn, chunks[worker.task[1]]))
                    except OSError:  # it died while idle: its replacement takes the chunk
                        self._replace(index, pending, deaths)
            if stopped():
                return
            ready = multiprocessing.connection.wait([w.pipe for w in self.workers], timeout=0.1)
            for index, worker in enumerate(self.workers):
                if worker.pipe not in ready:
                    continue
                try:
                    message = worker.pipe.recv()
                except (EOFError, OSError):
                    self._replace(index, pending, deaths)
                    continue
                kind, which, *rest = message
                if kind == "told":
                    if told is not None and which == self.maps:
                        told(rest[0])
                    continue
                worker.task = None
                if which != self.maps:  # the chunk of a map left early: dropped
                    continue
                if kind == "error":
                    raise rest[1]
                done += 1
                yield rest[0], rest[1]

    def _replace(self, index: int, pending: deque[int], deaths: list[int]) -> None:
        """Worker ``index`` died: start another in its place and put its chunk back first in
        ``pending`` (if of this map); or raise `WorkerDied` when that chunk's worker died too often."""
        worker = self.workers[index]
        worker.process.join(1.0)
        worker.pipe.close()
        code = worker.process.exitcode
        if worker.task is not None and worker.task[0] == self.maps:
            number = worker.task[1]
            deaths[number] += 1
            if deaths[number] > RETRIES:
                why = "killed by the OS for want of memory, or by hand" if code == -9 else f"exit code {code}"
                raise WorkerDied(
                    f"a worker process ended in the middle of its work ({why}), {deaths[number]} times "
                    "on the same piece of work"
                )
            pending.appendleft(number)
        self.workers[index] = _start_worker(multiprocessing.get_context("spawn"), self.value)

    def end(self) -> None:
        """Kill every worker now and reap it: what they were doing is dropped."""
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in self.workers:
            worker.process.join()
            worker.pipe.close()
        self.workers = []


def usable_cores() -> int:
    """The cores this process may run on: more worker processes than that only wait."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _never() -> bool:
    return False


@contextlib.contextmanager
def open_workers(jobs: int, value: object) -> Iterator[Workers]:
    """``jobs`` worker processes sharing ``value`` (pickled to each once; `shared`), all
    killed on the way out. One job: no processes, ``value`` shared in this process."""
    if jobs <= 1:
        saved = _Shared.value
        _Shared.value = value
        try:
            yield Workers(workers=[], value=value)
        finally:
            _Shared.value = saved
        return
    context = multiprocessing.get_context("spawn")
    workers = Workers(workers=[], value=value)
    try:
        for _ in range(jobs):
            workers.workers.append(_start_worker(context, value))
        yield workers
    finally:
        workers.end()
