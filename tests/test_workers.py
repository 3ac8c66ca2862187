"""Worker processes (sim.verify.workers): results in item order, progress, errors, and a worker
that dies is reported at once, never waited on."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sim.verify import workers
from sim.verify.workers import WorkerDied, open_workers


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


@pytest.mark.parametrize("jobs", [1, 2])
def test_map_gives_results_in_item_order_with_what_every_worker_shares(jobs: int) -> None:
    with open_workers(jobs, 10) as pool:
        assert list(pool.map(_scaled, list(range(20)), stopped=lambda: False, chunk=3)) == [
            (i, i * 10) for i in range(20)
        ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_what_a_worker_tells_reaches_the_parent_and_its_errors_are_raised_there(jobs: int) -> None:
    heard: list[tuple[str, int]] = []
    with open_workers(jobs, None) as pool:
        assert sorted(pool.unordered(_told, [1, 2], stopped=lambda: False, told=heard.append)) == [1, 2]
        assert sorted(heard) == [("half-way", 1), ("half-way", 2)]
        with pytest.raises(ValueError, match="item 3 is bad"):
            list(pool.map(_fails, [1, 2, 3], stopped=lambda: False))


def test_a_worker_that_dies_is_reported_at_once_and_the_others_are_ended() -> None:
    with open_workers(2, None) as pool:
        processes = [worker.process for worker in pool.workers]
        with pytest.raises(WorkerDied, match="killed by the OS for want of memory, or by hand"):
            list(pool.map(_dies, list(range(10)), stopped=lambda: False))
    assert not any(process.is_alive() for process in processes)


def test_a_stop_ends_the_map_early() -> None:
    seen: list[int] = []
    with open_workers(1, 1) as pool:
        for item, _ in pool.map(_scaled, list(range(100)), stopped=lambda: len(seen) >= 5):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_in_this_process_a_stop_is_seen_item_by_item_whatever_the_chunk() -> None:
    """Chunks save trips through the pipes; in this process there are none, so a chunk of
    64 must not run 64 items before a stop or a progress report is seen."""
    ran: list[int] = []

    def stopped() -> bool:
        return len(ran) >= 3

    with open_workers(1, 1) as pool:
        for item, _ in pool.map(_scaled, list(range(100)), stopped=stopped, chunk=64):
            ran.append(item)
    assert ran == [0, 1, 2]
