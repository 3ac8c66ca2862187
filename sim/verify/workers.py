"""Worker processes that run one function over many items: ``sim explore --jobs``.

Each worker is a process of its own (spawned, not forked: a forked child of a process
that ran trio inherits its state) with a pipe to the parent. The parent hands out
chunks of items to idle workers and gathers the results; `Workers.map` gives them back in
item order, so the result is the same for any number of workers. A worker that dies (the
OS killed it for want of memory, say) closes its pipe: that is seen at once and raised as
`WorkerDied`, never waited on. However the parent leaves (done, an error, a signal), every
worker is killed and reaped: none is left behind. Workers ignore SIGINT: Ctrl-C reaches
the whole process group, and the parent decides.

With one job there are no processes: the same calls run in this process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs

T = TypeVar("T")
R = TypeVar("R")


class WorkerDied(Exception):
    """A worker process ended without finishing its work."""


class _Shared:
    #: What the parent gave every worker (in this process, with one job, the same).
    value: object = None
    #: In a worker: its pipe to the parent. In this process: where `tell` goes.
    pipe: multiprocessing.connection.Connection | None = None
    told: Callable[[Any], None] | None = None


def shared() -> Any:
    """What `open_workers` was given to share with every worker (a scenario, say)."""
    return _Shared.value


def tell(message: Any) -> None:
    """Send ``message`` to the parent's ``told`` callback, now: progress from inside a
    long piece of work."""
    if _Shared.pipe is not None:
        _Shared.pipe.send(("told", message))
    elif _Shared.told is not None:
        _Shared.told(message)


def _serve(pipe: multiprocessing.connection.Connection, value: object) -> None:
    """A worker's life: run what the parent sends until it sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Shared.value, _Shared.pipe = value, pipe
    while True:
        try:
            task = pipe.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        number, fn, items = task
        try:
            results = [fn(item) for item in items]
        except Exception as exc:  # raised again in the parent, where it can be reported
            pipe.send(("error", number, exc))
            continue
        pipe.send(("done", number, results))


@attrs.define(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    pipe: multiprocessing.connection.Connection
    #: The number of the chunk it works on, or None when idle.
    chunk: int | None = None


@attrs.define(eq=False)
class Workers:
    """The worker processes of `open_workers` (none: this process runs everything)."""

    workers: list[_Worker]

    @property
    def count(self) -> int:
        return max(1, len(self.workers))

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        stopped: Callable[[], bool],
        told: Callable[[Any], None] | None = None,
        chunk: int = 1,
    ) -> Iterator[R]:
        """``fn`` of each item, in item order, until ``stopped()``. ``fn`` must be a
        module-level function (it is pickled to the workers); ``told`` gets what it
        `tell`s. Raises `WorkerDied` if a worker dies. ``chunk`` items go to a worker at
        a time (fewer trips through the pipes); in this process each item is its own, so
        a stop and the progress are seen item by item."""
        if not self.workers:
            chunk = 1
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        waiting: dict[int, list[R]] = {}
        following = 0
        for number, results in self._run(fn, chunks, stopped=stopped, told=told):
            waiting[number] = results
            while following in waiting:
                yield from waiting.pop(following)
                following += 1

    def unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        stopped: Callable[[], bool],
        told: Callable[[Any], None] | None = None,
    ) -> Iterator[R]:
        """``fn`` of each item, as each is done: for few long pieces of work."""
        for _, results in self._run(fn, [[item] for item in items], stopped=stopped, told=told):
            yield from results

    def _run(
        self,
        fn: Callable[[T], R],
        chunks: list[Sequence[T]],
        *,
        stopped: Callable[[], bool],
        told: Callable[[Any], None] | None,
    ) -> Iterator[tuple[int, list[R]]]:
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
        handed = 0
        done = 0
        while done < len(chunks):
            for worker in self.workers:
                if worker.chunk is None and handed < len(chunks):
                    worker.pipe.send((handed, fn, chunks[handed]))
                    worker.chunk = handed
                    handed += 1
            if stopped():
                return
            ready = multiprocessing.connection.wait([w.pipe for w in self.workers], timeout=0.1)
            for worker in self.workers:
                if worker.pipe not in ready:
                    continue
                try:
                    message = worker.pipe.recv()
                except (EOFError, OSError):
                    worker.process.join(1.0)
                    code = worker.process.exitcode
                    why = "killed by the OS for want of memory, or by hand" if code == -9 else f"exit code {code}"
                    raise WorkerDied(f"a worker process ended in the middle of its work ({why})") from None
                if message[0] == "told":
                    if told is not None:
                        told(message[1])
                    continue
                if message[0] == "error":
                    raise message[2]
                _, number, results = message
                worker.chunk = None
                done += 1
                yield number, results

    def end(self) -> None:
        """Kill every worker now and reap it: what they were doing is dropped."""
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in self.workers:
            worker.process.join()
            worker.pipe.close()
        self.workers = []


@contextlib.contextmanager
def open_workers(jobs: int, value: object) -> Iterator[Workers]:
    """``jobs`` worker processes sharing ``value`` (pickled to each once; `shared`), all
    killed on the way out. One job: no processes, ``value`` shared in this process."""
    if jobs <= 1:
        saved = _Shared.value
        _Shared.value = value
        try:
            yield Workers(workers=[])
        finally:
            _Shared.value = saved
        return
    context = multiprocessing.get_context("spawn")
    workers = Workers(workers=[])
    try:
        for _ in range(jobs):
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, value), daemon=True)
            process.start()
            theirs.close()  # the worker's end: when it dies, our recv sees EOF
            workers.workers.append(_Worker(process=process, pipe=mine))
        yield workers
    finally:
        workers.end()
