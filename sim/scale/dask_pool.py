"""A `Pool` on a Dask cluster: a LocalCluster of worker processes, or a scheduler elsewhere.

Imported only when that pool is chosen (`sim.scale.pools.open_pool`): ``import sim`` and
``sim run`` never import Dask. What every task shares is scattered to the workers once
(`_kept`) and reaches each chunk as an argument that resolves to the worker's own copy;
`sim.verify.workers.run_sharing` makes `shared` give it on the task's thread. Each chunk
is one task with a key made of a fresh token and its chunk number: results are placed by
that number, never by the order they finish, and two sweeps on one cluster never share a
key. A worker that dies takes its tasks with it; the scheduler runs them again elsewhere
(up to ``distributed.scheduler.allowed-failures`` times, 3 by default, then the task fails
with ``KilledWorker``, raised here as `WorkerDied`).
"""

# Dask's client API is typed only in part: calling its untyped functions is the point here.
# mypy: allow-untyped-calls

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import dask
import distributed

from sim.verify import workers
from sim.verify.workers import RETRIES, Pool, WorkerDied, chunked

T = TypeVar("T")
R = TypeVar("R")


class IgnoreInterrupts(distributed.WorkerPlugin):
    """Makes a worker process ignore SIGINT, as sim's own worker processes do: Ctrl-C reaches
    the whole process group, a LocalCluster's workers with it, and the parent decides (it
    cancels the tasks and closes the cluster). Applied to workers that join later too: a
    worker the nanny starts again after one died."""

    def setup(self, worker: distributed.Worker) -> None:
        with contextlib.suppress(ValueError):  # not the main thread: an in-process worker
            signal.signal(signal.SIGINT, signal.SIG_IGN)


@attrs.define(eq=False)
class DaskPool(Pool):
    """Tasks on a Dask cluster through ``client``, each sharing ``value`` (a scattered future).
    ``tell`` reaches nobody here: progress comes as each chunk finishes."""

    client: distributed.Client
    value: distributed.Future[Any]
    #: What the terminal says: "Dask LocalCluster, 2 workers", "Dask scheduler ADDRESS, 3 workers".
    description: str
    #: Closes the client, and the LocalCluster if it is ours: `end`.
    closing: contextlib.ExitStack
    #: The tasks of the map running, cancelled when it is left early.
    running: list[distributed.Future[Any]] = attrs.field(factory=list)

    @property
    def name(self) -> str:
        return self.description

    @property
    def count(self) -> int:
        threads: dict[str, int] = self.client.nthreads()
        return max(1, sum(threads.values()))

    @property
    def in_process(self) -> bool:
        return False

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        chunk: int = 1,
        stopped: Callable[[], bool] | None = None,
        told: Callable[[Any], None] | None = None,
    ) -> Iterator[tuple[int, R]]:
        """As `Pool.map_unordered`; ``told`` hears nothing (see the class)."""
        chunk = max(1, chunk)
        chunks = chunked(items, chunk)
        token = f"sim-{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}"
        futures = self.client.map(
            workers.run_sharing,
            [fn] * len(chunks),
            chunks,
            [self.value] * len(chunks),
            key=[f"{token}-{number}" for number in range(len(chunks))],
            pure=False,
            retries=RETRIES,
        )
        self.running = futures
        number_of = {future.key: number for number, future in enumerate(futures)}
        finished = distributed.as_completed(futures, loop=self.client.loop, with_results=True, raise_errors=False)
        try:
            while not finished.is_empty():
                if stopped is None:
                    batch = finished.next_batch(block=True)
                elif stopped():
                    return
                else:
                    batch = finished.next_batch(block=False)
                    if not batch:
                        time.sleep(0.01)
                for future, result in batch:
                    _raise_failure(future, result)
                    number = number_of[future.key]
                    for offset, each in enumerate(result):
                        yield number * chunk + offset, each
        finally:
            self._cancel()

    def _cancel(self) -> None:
        """Cancel the tasks of the map not finished: nothing keeps the cluster busy for us."""
        left = [future for future in self.running if not future.done()]
        self.running = []
        if left and self.client.status == "running":
            self.client.cancel(left)

    def end(self) -> None:
        """Cancel what runs, close the client and the LocalCluster if it is ours."""
        try:
            self._cancel()
        finally:
            self.closing.close()


def _raise_failure(future: distributed.Future[Any], result: Any) -> None:
    """Raise what a task that failed raised: a worker that died too often as `WorkerDied`."""
    if future.status == "cancelled":
        raise WorkerDied(f"the Dask cluster cancelled a task of this work: {_first_line(result)}")
    if future.status != "error":
        return
    _, exc, traceback = result
    if isinstance(exc, distributed.KilledWorker):
        allowed = dask.config.get("distributed.scheduler.allowed-failures")
        raise WorkerDied(
            f"a Dask worker ended in the middle of its work, {allowed + 1} times on the same piece of work "
            "(killed by the OS for want of memory, or by hand)"
        ) from None
    raise exc.with_traceback(traceback)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def _quiet() -> contextlib.ExitStack:
    """Dask's loggers silent but for CRITICAL while the pool is open, here and in the worker
    processes started meanwhile (a restarted worker reads the environment before any plugin
    could reach it): a worker that died and is restarted, a task run again, results asked of
    a worker that is gone, are routine here, and sim says what matters in its own words."""
    stack = contextlib.ExitStack()
    for name in ("distributed", "dask"):
        logger = logging.getLogger(name)
        stack.callback(logger.setLevel, logger.level)
        logger.setLevel(logging.CRITICAL)
    saved = os.environ.get(_WORKER_LOGGING)
    os.environ[_WORKER_LOGGING] = "critical"
    stack.callback(_restore_environment, _WORKER_LOGGING, saved)
    return stack


#: Dask's configuration of its logger's level, as an environment variable worker processes read.
_WORKER_LOGGING = "DASK_LOGGING__DISTRIBUTED"


def _restore_environment(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def open_local_cluster(*, workers_count: int, shared: object) -> Iterator[DaskPool]:
    """A LocalCluster of ``workers_count`` worker processes of one thread each (sim is pure
    Python: threads would only wait on one another), its dashboard on any free port."""
    with _quiet() as closing:
        cluster = distributed.LocalCluster(
            n_workers=workers_count,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
        closing.callback(cluster.close)
        client = distributed.Client(cluster)
        closing.callback(client.close)
        pool = _pool(client, shared, f"Dask LocalCluster, {workers_count} workers", closing.pop_all())
    try:
        yield pool
    finally:
        pool.end()


def connect(address: str, *, timeout: float) -> distributed.Client:
    """A client of the scheduler at ``address``: OSError (TimeoutError among them) if it does
    not answer within ``timeout`` seconds, ValueError if ``address`` is no address, and what
    Dask's protocol makes of it if something else answers there."""
    return distributed.Client(address, timeout=timeout, set_as_default=False)


@contextlib.contextmanager
def open_scheduler(
    client: distributed.Client, *, address: str, shared: object, note: Callable[[str], None]
) -> Iterator[DaskPool]:
    """The workers of the cluster ``client`` is connected to, at ``address``; ``note`` hears
    that there is none yet (the work then waits for one, as an adaptive cluster starts them)."""
    with _quiet() as closing:
        closing.callback(client.close)
        count = len(client.scheduler_info(n_workers=-1)["workers"])
        if count == 0:
            note(
                f"the Dask scheduler {address} has no worker yet: the work waits until one joins "
                f"(`dask worker {address}`)"
            )
        pool = _pool(
            client, shared, f"Dask scheduler {address}, {count} worker{'s' if count != 1 else ''}", closing.pop_all()
        )
    try:
        yield pool
    finally:
        pool.end()


def _pool(client: distributed.Client, shared: object, description: str, closing: contextlib.ExitStack) -> DaskPool:
    """A pool on ``client`` with ``shared`` on every worker and the plugin that ignores SIGINT."""
    client.register_plugin(IgnoreInterrupts(), name="sim-ignore-interrupts")
    value = client.submit(_kept, shared, key=f"sim-shared-{uuid.uuid4().hex}", pure=False)
    return DaskPool(client=client, value=value, description=description, closing=closing)


def _kept(value: T) -> T:
    """``value`` as a task's result, not scattered data: sent to the scheduler once, copied from
    worker to worker as tasks need it, and made again from the task if every worker that held
    it died (scattered data would be lost with them, and every task that needs it cancelled)."""
    return value
