"""Worker processes (sim.verify.workers): results in item order, progress, errors, and a worker
that dies is replaced and its work run again, up to a limit, never waited on."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.verify import workers
from sim.verify.workers import RETRIES, WorkerDied, in_order, open_workers


def _scaled(item: int) -> tuple[int, int]:
    return item, item * workers.shared()


def _told(item: int) -> int:
    workers.tell(("half-way", item))
    return item


def _fails(item: int) -> int:
    if item == 3:
        raise ValueError(f"item {item} is bad")
    return item


def _dies(item: int) -> int:
    if item == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return item


def _dies_once(item: int) -> int:
    """Kills its worker the first time it meets item 2 (a file marks that it did)."""
    mark = workers.shared()
    if item == 2 and not os.path.exists(mark):
        open(mark, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return item


@pytest.mark.parametrize("jobs", [1, 2])
def test_map_gives_results_in_item_order_with_what_every_worker_shares(jobs: int) -> None:
    with open_workers(jobs, 10) as pool:
        assert pool.map(_scaled, list(range(20)), chunk=3) == [(i, i * 10) for i in range(20)]
        pairs = list(pool.map_unordered(_scaled, list(range(20)), chunk=3))
        assert sorted(pairs) == [(i, (i, i * 10)) for i in range(20)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_what_a_worker_tells_reaches_the_parent_and_its_errors_are_raised_there(jobs: int) -> None:
    heard: list[tuple[str, int]] = []
    with open_workers(jobs, None) as pool:
        assert sorted(pool.map_unordered(_told, [1, 2], told=heard.append)) == [(0, 1), (1, 2)]
        assert sorted(heard) == [("half-way", 1), ("half-way", 2)]
        with pytest.raises(ValueError, match="item 3 is bad"):
            pool.map(_fails, [1, 2, 3])


def test_a_worker_that_dies_is_replaced_and_its_work_run_again(tmp_path: Path) -> None:
    with open_workers(2, str(tmp_path / "died")) as pool:
        first = {worker.process.pid for worker in pool.workers}
        assert pool.map(_dies_once, list(range(6))) == list(range(6))
        assert len({worker.process.pid for worker in pool.workers} - first) == 1
    assert multiprocessing.active_children() == []


def test_work_that_kills_every_worker_it_meets_is_reported_and_no_worker_is_left() -> None:
    with open_workers(2, None) as pool, pytest.raises(WorkerDied, match=rf"hand\), {RETRIES + 1} times on the same"):
        pool.map(_dies, list(range(10)))
    assert multiprocessing.active_children() == []


def _slowly_scaled(item: int) -> tuple[int, int]:
    time.sleep(0.1)
    return _scaled(item)


def test_a_map_left_early_does_not_leak_into_the_next() -> None:
    """Workers still busy with a chunk of a map left early finish it; its results are dropped."""
    with open_workers(2, 3) as pool:
        for _ in pool.map_unordered(_slowly_scaled, list(range(20))):
            break
        assert pool.map(_scaled, list(range(10))) == [(i, i * 3) for i in range(10)]


def test_a_stop_ends_the_map_early() -> None:
    seen: list[int] = []
    with open_workers(1, 1) as pool:
        for item, _ in in_order(pool.map_unordered(_scaled, list(range(100)), stopped=lambda: len(seen) >= 5)):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_in_this_process_a_stop_is_seen_item_by_item_whatever_the_chunk() -> None:
    """Chunks save trips through the pipes; in this process there are none, so a chunk of
    64 must not run 64 items before a stop or a progress report is seen."""
    ran: list[int] = []

    def stopped() -> bool:
        return len(ran) >= 3

    with open_workers(1, 1) as pool:
        for item, _ in in_order(pool.map_unordered(_scaled, list(range(100)), stopped=stopped, chunk=64)):
            ran.append(item)
    assert ran == [0, 1, 2]


#: Run in a process of its own: a signal mask is a thread's, and a test runner's worker has
#: threads of its own that do not block SIGINT (where the kernel would deliver it, ignored).
_CTRL_C_WHILE_STARTING = """
import os, signal, time
from sim.verify import workers
landed = []
try:
    with workers._interrupts_ignored():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # ignored here: nothing is raised inside
        landed.append("inside")
except KeyboardInterrupt:
    landed.append("after")
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
print(landed)
"""


def test_a_ctrl_c_while_a_worker_starts_is_kept_and_lands_after() -> None:
    """SIGINT is ignored while a worker starts (the worker inherits that); a Ctrl-C in
    that window is kept pending, not lost, and raised once the handler is back: a lost
    one left `sim explore` running after the user pressed Ctrl-C."""
    done = subprocess.run([sys.executable, "-c", _CTRL_C_WHILE_STARTING], capture_output=True, text=True, check=True)
    assert done.stdout == "['inside', 'after']\n"
