"""The kernel: virtual time, deterministic hand-off, strategies, wake, stop."""

from __future__ import annotations

import math

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from sim.run.kernel import CALLS_PER_TURN, Kernel, Sleeper
from sim.run.schedule import FifoStrategy, RandomStrategy, Strategy


async def test_sleep_advances_virtual_time_not_wall_time() -> None:
    kernel = Kernel()
    seen: list[tuple[float, str]] = []

    async def sleeper(name: str, delay: float) -> None:
        await kernel.sleep(delay)
        seen.append((kernel.now, name))

    async def main() -> None:
        kernel.spawn(sleeper, "late", 86400.0 * 365)
        kernel.spawn(sleeper, "early", 5.0)

    before = trio.current_time()
    await kernel.run(main)
    assert seen == [(5.0, "early"), (86400.0 * 365, "late")]
    assert trio.current_time() - before < 5.0  # a simulated year took no real time to speak of


async def test_fifo_breaks_ties_by_spawn_order() -> None:
    kernel = Kernel(strategy=FifoStrategy())
    seen: list[str] = []

    async def step(name: str) -> None:
        for i in range(2):
            await kernel.sleep(1.0)
            seen.append(f"{name}{i}")

    async def main() -> None:
        for name in "abc":
            kernel.spawn(step, name)

    await kernel.run(main)
    assert seen == ["a0", "b0", "c0", "a1", "b1", "c1"]


async def test_priority_goes_first_at_equal_time() -> None:
    kernel = Kernel()
    seen: list[str] = []

    async def mark(name: str) -> None:
        seen.append(name)

    async def main() -> None:
        kernel.spawn(mark, "low", delay=1.0, priority=2)
        kernel.spawn(mark, "high", delay=1.0, priority=0)
        kernel.spawn(mark, "earlier", delay=0.5, priority=9)

    await kernel.run(main)
    assert seen == ["earlier", "high", "low"]


def _random_order(seed: int) -> list[str]:
    kernel = Kernel(strategy=RandomStrategy(seed), choices=[])
    seen: list[str] = []

    async def mark(name: str) -> None:
        await kernel.checkpoint()
        seen.append(name)

    async def main() -> None:
        for name in "abcdef":
            kernel.spawn(mark, name)

    trio.run(kernel.run, main)
    assert kernel.choices  # every tie was a recorded choice point
    assert all(0 <= chosen < count for count, chosen in kernel.choices)
    return seen


def test_random_strategy_same_seed_same_order_other_seeds_differ() -> None:
    assert _random_order(7) == _random_order(7)
    orders = {tuple(_random_order(seed)) for seed in range(10)}
    assert len(orders) > 1
    assert all(sorted(order) == list("abcdef") for order in orders)


async def test_until_cancels_sleepers_past_the_end() -> None:
    kernel = Kernel(until=10.0)
    seen: list[float] = []

    async def ticker() -> None:
        while True:
            await kernel.sleep(3.0)
            seen.append(kernel.now)

    await kernel.run(ticker)
    assert seen == [3.0, 6.0, 9.0]
    assert kernel.cut_short
    assert kernel.now == 9.0


async def test_the_window_is_half_open_work_due_at_until_does_not_run() -> None:
    kernel = Kernel(until=10.0)
    seen: list[float] = []

    async def twice() -> None:
        await kernel.sleep(9.5)
        seen.append(kernel.now)
        await kernel.sleep(0.5)
        seen.append(kernel.now)

    await kernel.run(twice)
    assert seen == [9.5]
    assert kernel.cut_short


async def test_wake_ends_a_sleep_early() -> None:
    kernel = Kernel()
    sleeper = Sleeper()
    seen: list[tuple[str, float]] = []

    async def napper() -> None:
        await kernel.sleep(3600.0, sleeper=sleeper)
        seen.append(("woke", kernel.now))

    async def waker() -> None:
        await kernel.sleep(60.0)
        kernel.wake(sleeper)
        seen.append(("wake", kernel.now))

    async def main() -> None:
        kernel.spawn(napper)
        kernel.spawn(waker)

    await kernel.run(main)
    assert seen == [("wake", 60.0), ("woke", 60.0)]


async def test_wake_on_a_finished_sleep_does_nothing() -> None:
    kernel = Kernel()
    sleeper = Sleeper()
    seen: list[float] = []

    async def main() -> None:
        await kernel.sleep(5.0, sleeper=sleeper)
        kernel.wake(sleeper)  # the sleep is over: nothing to cut short
        await kernel.sleep(5.0)
        seen.append(kernel.now)

    await kernel.run(main)
    assert seen == [10.0]


async def test_an_exception_in_a_task_ends_the_run_and_is_raised_as_is() -> None:
    kernel = Kernel()

    async def bad() -> None:
        await kernel.sleep(1.0)
        raise ValueError("boom")

    async def forever() -> None:
        while True:
            await kernel.sleep(1.0)

    async def main() -> None:
        kernel.spawn(forever)
        kernel.spawn(bad)

    with pytest.raises(ValueError, match="boom"):
        await kernel.run(main)


async def test_stop_request_ends_the_run_at_the_next_switch() -> None:
    kernel = Kernel()
    seen: list[float] = []

    async def ticker() -> None:
        while True:
            await kernel.sleep(1.0)
            seen.append(kernel.now)
            if kernel.now == 3.0:
                kernel.stop_requested = True

    await kernel.run(ticker)
    assert seen == [1.0, 2.0, 3.0]
    assert kernel.cut_short


async def test_a_kernel_runs_once() -> None:
    kernel = Kernel()

    async def nothing() -> None:
        pass

    await kernel.run(nothing)
    with pytest.raises(RuntimeError, match="runs once"):
        await kernel.run(nothing)


@given(
    delays=st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=1, max_size=4), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_time_never_goes_backwards_and_every_wake_is_exact(delays: list[list[float]], seed: int) -> None:
    kernel = Kernel(strategy=RandomStrategy(seed))
    times: list[float] = []
    finished: list[int] = []

    async def worker(index: int, plan: list[float]) -> None:
        for delay in plan:
            start = kernel.now
            await kernel.sleep(delay)
            assert kernel.now == start + delay
            times.append(kernel.now)
        finished.append(index)

    async def main() -> None:
        for index, plan in enumerate(delays):
            kernel.spawn(worker, index, plan)

    trio.run(kernel.run, main)
    assert times == sorted(times)
    assert sorted(finished) == list(range(len(delays)))
    assert kernel.now == max(math.fsum(plan) for plan in delays)


@given(ops=st.lists(st.one_of(st.none(), st.integers(0, 10_000)), max_size=300), scan=st.sampled_from([0, 3, 64]))
def test_bucket_pops_the_kth_oldest_like_a_plain_list(ops: list[int | None], scan: int) -> None:
    """The bucket behaves as a list: append the newest, pop the k-th oldest, whether it
    scans (small) or builds its Fenwick tree (past ``SCAN`` live entries) part way."""
    from sim.run.agenda import Bucket as _Bucket
    from sim.run.agenda import Entry as _Entry

    class Bucket(_Bucket):
        __slots__ = ()
        SCAN = scan

    bucket, reference, seq = Bucket(), [], 0
    for op in ops:
        if op is None or not reference:
            entry = _Entry(0.0, 0, seq)
            seq += 1
            bucket.append(entry)
            reference.append(entry)
        else:
            rank = op % len(reference)
            assert bucket.pop(rank) is reference.pop(rank)
        assert bucket.live == len(reference)


async def test_a_stop_requested_before_the_start_runs_nothing() -> None:
    kernel = Kernel()
    kernel.stop_requested = True
    ran: list[str] = []

    async def main() -> None:
        ran.append("main")

    await kernel.run(main)
    assert ran == []
    assert kernel.interrupted


async def test_a_stop_requested_after_the_end_is_not_an_interruption() -> None:
    kernel = Kernel(until=5.0)

    async def main() -> None:
        await kernel.sleep(1.0)

    await kernel.run(main)
    kernel.stop_requested = True  # e.g. a Ctrl-C while the summary prints
    assert not kernel.interrupted


@pytest.mark.parametrize("bad", [2, -1, 1.0, None])
async def test_a_strategy_choosing_outside_the_candidates_is_an_error(bad: object) -> None:
    class Broken:
        def choose(self, count: int) -> int:
            return bad  # type: ignore[return-value]

    kernel = Kernel(strategy=Broken())

    async def mark() -> None:
        await kernel.checkpoint()

    async def main() -> None:
        kernel.spawn(mark)
        kernel.spawn(mark)

    with pytest.raises(ValueError, match=r"chose .* of 2 candidates \(0\.\.1\)"):
        await kernel.run(main)


async def test_tasks_left_at_the_end_unwind_their_finally_blocks() -> None:
    kernel = Kernel(until=10.0)
    unwound: list[int] = []

    async def waiter(index: int) -> None:
        try:
            await kernel.sleep(3600.0)
        finally:
            unwound.append(index)

    async def main() -> None:
        for index in range(5):
            kernel.spawn(waiter, index)
        kernel.spawn(waiter, 99, delay=20.0)  # never started: due after the end

    await kernel.run(main)
    assert sorted(unwound) == [0, 1, 2, 3, 4]
    assert kernel.cut_short and not kernel.interrupted


async def test_sleep_until_lands_exactly() -> None:
    kernel = Kernel()
    seen: list[float] = []

    async def main() -> None:
        for tenth in range(1, 4):
            await kernel.sleep_until(tenth / 10)
            seen.append(kernel.now)

    await kernel.run(main)
    assert seen == [0.1, 0.2, 0.3]  # 0.1 + 0.1 + 0.1 would be 0.30000000000000004


async def test_a_trio_cancellation_inside_a_task_is_an_error_not_a_hang() -> None:
    kernel = Kernel()

    async def impatient() -> None:
        with trio.move_on_after(0):
            await kernel.sleep(5.0)  # parked in the kernel (another task is due first), then cancelled by trio
        await kernel.sleep(1.0)

    async def other() -> None:
        await kernel.sleep(1.0)
        await kernel.sleep(10.0)

    async def main() -> None:
        kernel.spawn(impatient)
        kernel.spawn(other)

    with pytest.raises(RuntimeError, match="cancelled through trio"):
        await kernel.run(main)


async def test_cancelling_the_run_from_outside_ends_it() -> None:
    kernel = Kernel()
    ticks: list[float] = []

    async def forever() -> None:
        while True:
            await kernel.sleep(1.0)
            ticks.append(kernel.now)

    with trio.move_on_after(0.2) as scope:
        await kernel.run(forever)
    assert scope.cancelled_caught  # a real deadline ends a run that would never end


async def test_a_run_cancelled_from_outside_stops_where_it_was() -> None:
    kernel = Kernel()
    ticks: list[float] = []
    with trio.CancelScope() as scope:

        async def forever() -> None:
            while True:
                await kernel.sleep(1.0)
                ticks.append(kernel.now)
                if len(ticks) == 3:
                    scope.cancel()  # the caller's scope, as a deadline or a Ctrl-C would be

        await kernel.run(forever)
    assert scope.cancelled_caught
    assert ticks == [1.0, 2.0, 3.0]  # nothing ran after the cancel (no load on the machine decides this)


async def test_suspend_waits_for_wake_and_a_task_nobody_wakes_is_a_deadlock() -> None:
    """`Kernel.suspend` parks a task until another wakes it (the campaign queue hands a
    worker over so). When only suspended tasks are left nothing can wake them: the run
    fails loudly instead of ending as if the work were done."""
    kernel = Kernel()
    seen: list[tuple[str, float]] = []
    sleeper = Sleeper()

    async def waiter() -> None:
        await kernel.suspend(sleeper)
        seen.append(("woken", kernel.now))

    async def main() -> None:
        kernel.spawn(waiter)
        await kernel.sleep(5)
        kernel.wake(sleeper)
        seen.append(("woke it", kernel.now))

    await kernel.run(main)
    assert seen == [("woke it", 5.0), ("woken", 5.0)]

    stuck = Kernel()

    async def forgotten() -> None:
        await stuck.suspend(Sleeper())

    with pytest.raises(RuntimeError, match="deadlock"):
        await stuck.run(forgotten)


def test_pct_runs_the_task_of_highest_priority_and_drops_it_at_change_points() -> None:
    """PCT (Burckhardt et al.): a random priority per task, first seen; the highest runs;
    at each of depth - 1 change points the chosen task drops below every other."""
    from sim.run.schedule import PCTStrategy

    a, b, c = object(), object(), object()
    strategy = PCTStrategy(seed=1, depth=2, steps=3)
    (change,) = strategy._changes  # one change point among the first 3 choice points
    picks = []
    for _ in range(4):
        picks.append(strategy.choose_task([a, b, c]))
    first = picks[0]
    # The same task until the change point, then another one for good.
    assert picks[: change - 1] == [first] * (change - 1)
    assert picks[change - 1] == first  # it still runs at the change point, then drops
    assert all(pick != first for pick in picks[change:])
    assert PCTStrategy(seed=1, depth=2, steps=3)._changes == strategy._changes  # seeded
    with pytest.raises(ValueError, match="PCT depth 0"):
        PCTStrategy(seed=1, depth=0)


async def test_pct_follows_tasks_across_their_sleeps() -> None:
    """With PCT the kernel hands the strategy each candidate's task identity, the same
    one every time a task sleeps, so a task keeps its priority. At t=2 x's entry (made
    at 0) is older than y's (made at 1): oldest-first would run x, PCT runs y, the task
    it ran first at 0 (depth 1: no change points)."""
    from sim.run.schedule import PCTStrategy

    kernel = Kernel(strategy=PCTStrategy(seed=1, depth=1, steps=10))
    seen: list[tuple[str, float]] = []

    async def x() -> None:
        seen.append(("x", kernel.now))
        await kernel.sleep(2)
        seen.append(("x", kernel.now))

    async def y() -> None:
        seen.append(("y", kernel.now))
        await kernel.sleep(1)
        seen.append(("y", kernel.now))
        await kernel.sleep(1)
        seen.append(("y", kernel.now))

    async def main() -> None:
        kernel.spawn(x)
        kernel.spawn(y)

    await kernel.run(main)
    assert seen == [("y", 0.0), ("x", 0.0), ("y", 1.0), ("y", 2.0), ("x", 2.0)]


# --- the microsecond grid (issue: time exact on the grid) ------------------------------


async def test_delays_add_up_exactly_and_tie_with_an_event_due_then() -> None:
    """0.1 s + 200 ms is 0.3 s exactly (not 0.30000000000000004), so the run that waited
    ties with the task due at 0.3 s: a choice point with both as candidates."""
    kernel = Kernel(choices=[])
    seen: list[tuple[str, float, int]] = []

    async def waiter() -> None:
        await kernel.sleep(0.1)
        await kernel.sleep(0.2)
        seen.append(("waiter", kernel.now, kernel.now_us))

    async def due_at_point_three() -> None:
        await kernel.sleep_until(0.3)
        seen.append(("due", kernel.now, kernel.now_us))

    async def main() -> None:
        kernel.spawn(waiter)
        kernel.spawn(due_at_point_three)

    await kernel.run(main)
    assert sorted(seen) == [("due", 0.3, 300_000), ("waiter", 0.3, 300_000)]
    assert (2, 0) in kernel.choices  # both were due at once: the strategy picked


async def test_repeated_service_times_reach_the_window_end_exactly_and_stop_there() -> None:
    """Ten steps of 0.1 s end at 1.0 s exactly; with the window [0, 1 s) the work due at
    its end never runs (in floats the tenth sum is 0.9999999999999999 and it ran)."""
    kernel = Kernel(until=1.0)
    ends: list[float] = []

    async def steps() -> None:
        for _ in range(10):
            await kernel.sleep(0.1)
            ends.append(kernel.now)

    await kernel.run(steps)
    assert ends == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert kernel.cut_short


@given(delays=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30))
def test_any_sum_of_grid_delays_lands_on_its_exact_microsecond(delays: list[int]) -> None:
    """Delays given in seconds on the µs grid add up with no drift, however many."""
    kernel = Kernel()
    seen: list[tuple[int, float]] = []

    async def chain() -> None:
        for delay in delays:
            await kernel.sleep(delay / 1_000_000)
        seen.append((kernel.now_us, kernel.now))

    trio.run(kernel.run, chain)
    assert seen == [(sum(delays), sum(delays) / 1_000_000)]


# --- calls: work the kernel does between tasks (load sources), no trio task of their own


async def _two_calls_and_a_task(strategy: Strategy) -> tuple[list[str], list[tuple[int, int]]]:
    """A chain of two calls and a task, all due at 1 s: the order they ran, the choices."""
    kernel = Kernel(strategy=strategy, choices=[])
    order: list[str] = []

    def second() -> None:
        order.append("call 2")

    def first() -> None:
        order.append("call 1")
        kernel.then_at(kernel.now, second)  # a choice point, even at the same instant

    async def task() -> None:
        order.append("task")

    async def main() -> None:
        kernel.call_soon(first, delay=1.0)
        kernel.spawn(task, delay=1.0)

    await kernel.run(main)
    return order, kernel.choices or []


async def test_a_call_is_a_candidate_at_choice_points_like_a_task() -> None:
    """A call due with a task at the same instant is one of the candidates: the strategy
    picks among them, and a chain of calls keeps its order (`then_at`)."""
    order, choices = await _two_calls_and_a_task(FifoStrategy())
    assert order == ["call 1", "task", "call 2"]  # oldest first: the task was due before call 2
    assert choices == [(2, 0), (2, 0)]
    seen = set()
    for seed in range(20):
        order, choices = await _two_calls_and_a_task(RandomStrategy(seed))
        assert sorted(order) == ["call 1", "call 2", "task"] and order.index("call 1") < order.index("call 2")
        assert all(count == 2 for count, _ in choices)
        seen.add(tuple(order))
    assert len(seen) == 3  # the task ran first, between and last


async def test_a_call_may_wake_the_task_that_is_waiting_for_the_next() -> None:
    kernel = Kernel()
    sleeper = Sleeper()
    seen: list[float] = []

    def wake() -> None:
        kernel.wake(sleeper)

    async def main() -> None:
        kernel.call_soon(wake, delay=2.0)
        await kernel.sleep(10.0, sleeper=sleeper)
        seen.append(kernel.now)

    await kernel.run(main)
    assert seen == [2.0]


async def test_a_call_that_raises_ends_the_run_with_its_error() -> None:
    kernel = Kernel()

    def broken() -> None:
        raise ValueError("a broken source")

    async def forever() -> None:
        while True:
            await kernel.sleep(1.0)

    async def main() -> None:
        kernel.spawn(forever)
        kernel.call_soon(broken, delay=5.5)

    with pytest.raises(ValueError, match="a broken source"):
        await kernel.run(main)
    assert kernel.now == 5.5


async def test_a_chain_of_calls_alone_can_be_cancelled_from_outside() -> None:
    """Calls run between tasks, with no trio checkpoint of their own: the kernel gives
    trio a turn every CALLS_PER_TURN calls, so a deadline still ends the run."""
    kernel = Kernel()
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(kernel.now)
        kernel.then_at(kernel.now + 1.0, tick)

    async def main() -> None:
        kernel.call_soon(tick)

    with trio.move_on_after(0.2) as scope:
        await kernel.run(main)
    assert scope.cancelled_caught
    assert len(ticks) > CALLS_PER_TURN  # it ran, and gave trio turns on the way


async def test_calls_left_at_the_end_of_the_window_are_dropped() -> None:
    kernel = Kernel(until=3.0)
    ran: list[float] = []

    def note() -> None:
        ran.append(kernel.now)

    async def main() -> None:
        for delay in (1.0, 2.0, 3.0, 4.0):
            kernel.call_soon(note, delay=delay)

    await kernel.run(main)
    assert ran == [1.0, 2.0] and kernel.cut_short
