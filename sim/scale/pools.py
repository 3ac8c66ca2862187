"""Choosing where independent simulations run: `open_pool`.

Points and replications of a sweep, and the schedules of an exploration, are independent
simulations: any `sim.verify.workers.Pool` runs them and, since results are placed by
index, gives the same result. The choice, in order:

- ``jobs`` 1: this process, no Dask at all;
- a scheduler address (``--scheduler-address`` or ``DASK_SCHEDULER_ADDRESS``): the workers
  of that Dask cluster;
- otherwise, with Dask installed, a LocalCluster of ``jobs`` worker processes (the usable
  cores when ``jobs`` is None), or sim's own processes when the caller prefers them
  (``local="processes"``: `sim explore`, whose schedules are too short to pay for a
  cluster's start);
- without Dask, sim's own worker processes, with a note that says how to get Dask.

Dask is imported only here, when it is chosen (`sim.scale.dask_pool`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from typing import Literal

from sim.verify.workers import Pool, open_workers, usable_cores

#: The environment variable that names a Dask scheduler, as Dask itself reads it.
SCHEDULER_ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
#: How to get Dask, for the messages that need it.
INSTALL_DASK = "pip install 'sim[dask]'"
#: Seconds to wait for a scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 5.0


class PoolError(Exception):
    """A pool that cannot be opened: Dask is not installed, or the scheduler does not answer."""


def dask_installed() -> bool:
    """Whether ``distributed`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):  # a broken install, or sys.modules["distributed"] = None
        return False


def chosen_scheduler(given: str | None) -> str | None:
    """The scheduler to use: ``given`` (``--scheduler-address``), else ``DASK_SCHEDULER_ADDRESS``
    when set and not empty, else None."""
    if given is not None:
        return given
    return os.environ.get(SCHEDULER_ADDRESS_ENV) or None


@contextlib.contextmanager
def open_pool(
    *,
    jobs: int | None,
    scheduler_address: str | None,
    shared: object,
    local: Literal["dask", "processes"] = "dask",
    connect_timeout: float = CONNECT_TIMEOUT,
    note: Callable[[str], None] | None = None,
) -> Iterator[Pool]:
    """The pool to run independent simulations in (the module says which), ``shared`` given to
    every worker (`sim.verify.workers.shared`). ``scheduler_address`` None reads
    ``DASK_SCHEDULER_ADDRESS``. On the way out (done, an error, KeyboardInterrupt) the work not
    gathered is cancelled and every worker this opened is ended. ``note`` (default: a line on
    standard error) hears that Dask is missing when it would have been used.

    Raises `PoolError` with a message for the user when Dask is needed and not installed, or
    the scheduler does not answer within ``connect_timeout`` seconds.
    """
    address = chosen_scheduler(scheduler_address)
    if jobs == 1:
        with open_workers(1, shared) as pool:
            yield pool
        return
    if address is not None:
        with _open_scheduler(address, shared=shared, timeout=connect_timeout, note=note or _to_stderr) as pool:
            yield pool
        return
    count = jobs or usable_cores()
    if local == "dask" and dask_installed():
        from sim.scale.dask_pool import open_local_cluster

        with open_local_cluster(workers_count=count, shared=shared) as pool:
            yield pool
        return
    if local == "dask":
        (note or _to_stderr)(f"Dask is not installed: running in {count} processes; {INSTALL_DASK} to use a cluster")
    with open_workers(count, shared) as pool:
        yield pool


@contextlib.contextmanager
def _open_scheduler(address: str, *, shared: object, timeout: float, note: Callable[[str], None]) -> Iterator[Pool]:
    """The workers of the Dask cluster whose scheduler is at ``address``; ``note`` hears that
    it has none yet (Dask then waits for one: an adaptive cluster may be starting them)."""
    if not dask_installed():
        raise PoolError(f"the scheduler {address} needs Dask, which is not installed here: {INSTALL_DASK}")
    from sim.scale.dask_pool import connect, open_scheduler

    try:
        client = connect(address, timeout=timeout)
    except Exception as exc:  # refused, timed out, no address, or something else answered there
        raise PoolError(
            f"cannot reach the Dask scheduler {address} (--scheduler-address or {SCHEDULER_ADDRESS_ENV}) within "
            f"{timeout:g} s: {_first_line(exc)}. Check that `dask scheduler` runs there and the address is "
            "tcp://HOST:PORT, or drop the option (and unset the variable) to run here"
        ) from None
    with open_scheduler(client, address=address, shared=shared, note=note) as pool:
        yield pool


def _first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says (Dask's connection errors run to several)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(":")


def _to_stderr(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)
