"""Engine speed against SimPy and against naive trio (MockClock), on one M/M/c queue.

The queue: c = 8 workers, exponential service of mean 1 s, Poisson arrivals at
rho = 0.9 (7.2 people/s), FIFO. The same queue is written four ways, each timed in a
process of its own:

- sim: a scenario (one trigger campaign, one Interesting Moment step whose service time
  is exponential, a ``[queue]`` of c workers, a Poisson ``[[load]]``) run with
  ``Simulation(..., strategy="fifo").run_sync()`` and ``.metrics()``, no activity sink.
- sim+log: the same with a JSON Lines activity log written to a file (as ``sim run --log``).
- simpy: a ``simpy.Resource(capacity=c)``; one process per person.
- kernel: sim's kernel alone, a trio task per person and a FIFO of waiting people, no
  campaigns or activities: how fast a design with a trio task per run can be at best.
- mockclock: plain trio under ``trio.testing.MockClock(autojump_threshold=0)``, a
  ``trio.CapacityLimiter(c)`` and a task per person (slow: run on fewer people).

All four get the same arrival times: generated once, here, with
``sim.run.arrivals.arrival_times`` for the scenario's own ``[[load]]`` (which the sim cases
regenerate internally, and check), and the same service draws: the i-th person to reach
a worker gets the i-th draw of sim's service-time stream (``random.Random("sim.service:
SEED")``, as the engine draws them in the order steps start). In a FIFO queue the i-th
to start is the i-th to arrive, so all four simulate the very same sample path and their
mean waits must agree to rounding (sim keeps times on the µs grid). MockClock runs the
first ``--mock-people`` arrivals, compared with SimPy's mean wait over those same
people (in FIFO a person's wait depends only on those who came before).

    .venv/bin/python benchmarks/simpy_compare.py                     # 100,000 people, ~1-2 min
    .venv/bin/python benchmarks/simpy_compare.py --people 300000 --repeat 5
    .venv/bin/python benchmarks/simpy_compare.py --profile           # cProfile top 15 of the sim case

Columns: people simulated, best-of-``--repeat`` wall seconds of the simulation alone
(the timed section excludes interpreter start and imports), every round's wall seconds,
people per wall second, peak RSS of the process, mean wait, and the relative difference
of that mean wait from SimPy's (over the same people). Then the ratios of people per
second, with issue 12's targets: sim / SimPy (>= 0.35), sim+log / SimPy, sim+log / sim
(>= 0.85: what the log costs), sim / MockClock, and kernel / SimPy (>= 0.45). On a shared machine only these ratios mean
anything, not the absolute rates.
"""

from __future__ import annotations

import argparse
import array
import cProfile
import json
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import run_child, table

from sim.scenario import parse_scenario

SCENARIO = """\
[sim]
seed = {seed}
duration = {duration}

[people]
count = 1000

[queue]
workers = {workers}

[queue.service]
interesting_moment = {{ distribution = "exponential", mean = "1s" }}

[campaigns.Serve]
kind = "trigger"
qualification = "every time"
triggers = [{{ trigger = "fills_out_form", form = "Contact Us" }}]
flow = [{{ step = "interesting_moment", description = "served" }}]

[[load]]
type = "fill_out_form"
form = "Contact Us"
rate = "{rate}/s"
arrivals = "poisson"
stop = {stop}
"""

#: Simulated time after the last arrival, so that every person is served.
DRAIN = 3600.0


def scenario(people: int, workers: int, rho: float, seed: int) -> Any:
    rate = rho * workers  # service mean 1 s
    stop = round(people / rate, 3)
    text = SCENARIO.format(seed=seed, duration=stop + DRAIN, workers=workers, rate=f"{rate:g}", stop=stop)
    return parse_scenario(text, source="mmc.toml")


def load_of(parsed: Any) -> Any:
    """The scenario's one [[load]] generator (the field may be named either way)."""
    generators = getattr(parsed, "generators", None)
    if generators is None:
        generators = parsed.load
    return generators[0]


def arrivals(parsed: Any) -> array.array[float]:
    from sim.run.arrivals import arrival_times

    return array.array("d", arrival_times(load_of(parsed), seed=parsed.seed, index=0, end=parsed.duration))


def service_draws(parsed: Any, count: int) -> list[float]:
    """The first ``count`` service times sim's engine draws, in the order steps start."""
    from sim.run.queue import make_sampler

    rng = random.Random(f"sim.service:{parsed.seed}")
    draw = make_sampler(parsed.queue.service["interesting_moment"], rng)
    return [draw() for _ in range(count)]


# -- the cases, each run in a child process -------------------------------------------


def case_sim(parsed: Any, times: array.array[float], log: Path | None) -> dict[str, Any]:
    from sim.observe.simulation import Simulation
    from sim.observe.sinks import JsonLinesSink

    if arrivals(parsed) != times:
        raise SystemExit("sim's own arrival times differ from the ones given to the other engines")
    sinks = [JsonLinesSink.open(log)] if log is not None else []
    started = time.perf_counter()
    simulation = Simulation(parsed, strategy="fifo", sinks=sinks)
    simulation.run_sync()
    metrics = simulation.metrics()
    wall = time.perf_counter() - started
    queue = metrics.queues["trigger"]
    served = metrics.campaigns["Serve"]
    assert served.completed == len(times) and queue.wait.count == len(times), "not everyone was served"
    return {"people": served.started, "wall": wall, "mean_wait": queue.wait.mean}


def case_simpy(times: array.array[float], service: list[float], workers: int, first: int) -> dict[str, Any]:
    import simpy

    started = time.perf_counter()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=workers)
    waits = [0.0] * len(times)

    def person(i: int) -> Any:
        arrived = env.now
        with server.request() as request:
            yield request
            waits[i] = env.now - arrived
            yield env.timeout(service[i])

    def source() -> Any:
        for i, at in enumerate(times):
            yield env.timeout(at - env.now)
            env.process(person(i))

    env.process(source())
    env.run()
    wall = time.perf_counter() - started
    return {
        "people": len(times),
        "wall": wall,
        "mean_wait": sum(waits) / len(waits),
        "mean_wait_first": sum(waits[:first]) / first,
    }


def case_mockclock(times: array.array[float], service: list[float], workers: int) -> dict[str, Any]:
    import trio
    import trio.testing

    waits = [0.0] * len(times)

    async def person(i: int, limiter: trio.CapacityLimiter) -> None:
        arrived = trio.current_time()
        async with limiter:  # FIFO: trio hands a released token to the oldest waiter
            waits[i] = trio.current_time() - arrived
            await trio.sleep(service[i])

    async def main() -> None:
        limiter = trio.CapacityLimiter(workers)
        async with trio.open_nursery() as nursery:
            for i, at in enumerate(times):
                await trio.sleep_until(at)
                nursery.start_soon(person, i, limiter)

    started = time.perf_counter()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    wall = time.perf_counter() - started
    return {"people": len(times), "wall": wall, "mean_wait": sum(waits) / len(waits)}


def case_kernel(times: array.array[float], service: list[float], workers: int) -> dict[str, Any]:
    """sim's kernel alone: a trio task per person and a FIFO of waiting people, no
    campaigns, no activities. The bound on speed of a design that keeps a trio task per
    run, whatever the engine does on top."""
    import collections

    import trio

    from sim.run.kernel import Kernel

    kernel = Kernel()
    waits = [0.0] * len(times)
    free = [workers]
    # As in sim's campaign queue: a person waits for a worker as data, and gets a task
    # when a worker is free (docs/queue.md).
    waiting: collections.deque[tuple[int, float]] = collections.deque()

    async def person(i: int, arrived: float) -> None:
        waits[i] = kernel.now - arrived
        await kernel.sleep(service[i])
        if waiting:
            kernel.spawn(person, *waiting.popleft())
        else:
            free[0] += 1

    arrivals = iter(enumerate(times))

    def arrive(i: int) -> None:  # the load is a kernel call chain, as in sim's engine
        if free[0]:
            free[0] -= 1
            kernel.spawn(person, i, kernel.now)
        else:
            waiting.append((i, kernel.now))
        nxt = next(arrivals, None)
        if nxt is not None:
            kernel.then_at(nxt[1], arrive, nxt[0])

    async def main() -> None:
        first = next(arrivals, None)
        if first is not None:
            kernel.call_soon(kernel.then_at, first[1], arrive, first[0])

    started = time.perf_counter()
    trio.run(kernel.run, main)
    wall = time.perf_counter() - started
    return {"people": len(times), "wall": wall, "mean_wait": sum(waits) / len(waits)}


def child(args: argparse.Namespace) -> None:
    parsed = scenario(args.people, args.workers, args.rho, args.seed)
    times = array.array("d")
    with open(args.times, "rb") as stream:
        times.frombytes(stream.read())
    if args.case in ("sim", "sim+log"):
        log = Path(args.times).with_suffix(".jsonl") if args.case == "sim+log" else None
        result = case_sim(parsed, times, log)
        if log is not None:
            with log.open("rb") as lines:
                result["activities"] = sum(1 for _ in lines)
            log.unlink()
    elif args.case == "simpy":
        result = case_simpy(times, service_draws(parsed, len(times)), args.workers, args.mock_people)
    elif args.case == "kernel":
        result = case_kernel(times, service_draws(parsed, len(times)), args.workers)
    else:
        first = times[: args.mock_people]
        result = case_mockclock(first, service_draws(parsed, len(first)), args.workers)
    print(json.dumps(result))


# -- the parent: generate once, run each case in a fresh process, compare ---------------


def profile(args: argparse.Namespace) -> None:
    from sim.observe.simulation import Simulation

    parsed = scenario(args.people, args.workers, args.rho, args.seed)
    profiler = cProfile.Profile()
    profiler.enable()
    Simulation(parsed, strategy="fifo").run_sync()
    profiler.disable()
    print(f"cProfile of the sim case, {args.people:,} people (sorted by own time, top 15):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="people (arrivals) for sim and SimPy (100,000)")
    parser.add_argument("--mock-people", type=int, default=10_000, help="people for the MockClock case (10,000)")
    parser.add_argument("--workers", type=int, default=8, help="c, the number of workers (8)")
    parser.add_argument("--rho", type=float, default=0.9, help="load: arrival rate / (c x service rate) (0.9)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best wall time counts (3)")
    parser.add_argument("--no-log", action="store_true", help="skip the sim+log case")
    parser.add_argument("--profile", action="store_true", help="print a cProfile top 15 of the sim case and stop")
    parser.add_argument("--case", choices=("sim", "sim+log", "simpy", "mockclock", "kernel"), help=argparse.SUPPRESS)
    parser.add_argument("--times", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        child(args)
        return
    if args.profile:
        profile(args)
        return
    try:
        import simpy
    except ImportError:
        raise SystemExit("needs simpy, in the optional 'bench' extra: `.venv/bin/pip install -e '.[bench]'`") from None

    parsed = scenario(args.people, args.workers, args.rho, args.seed)
    times = arrivals(parsed)
    args.mock_people = min(args.mock_people, len(times))
    rate = args.rho * args.workers
    print(
        f"M/M/{args.workers}, rho {args.rho:g}: Poisson arrivals at {rate:g}/s, exponential service of mean 1 s; "
        f"{len(times):,} arrivals over {times[-1]:,.0f} s (simpy {simpy.__version__}, "
        f"Python {sys.version.split()[0]})"
    )
    cases = ["sim", "simpy", "mockclock", "kernel"] + ([] if args.no_log else ["sim+log"])
    best: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arrivals.bin"
        path.write_bytes(times.tobytes())
        for round_ in range(args.repeat):
            for case in cases:  # interleaved, so that a noisy spell hits every case alike
                print(f"round {round_ + 1}/{args.repeat}: {case} ...", file=sys.stderr, flush=True)
                command = [sys.executable, __file__, "--case", case, "--times", str(path)]
                command += ["--people", str(args.people), "--mock-people", str(args.mock_people)]
                command += ["--workers", str(args.workers), "--rho", str(args.rho), "--seed", str(args.seed)]
                measured = run_child(command)
                result = json.loads(measured.stdout.strip().splitlines()[-1])
                result["peak_mb"] = measured.peak_mb
                result["walls"] = [*best.get(case, {}).get("walls", []), result["wall"]]
                if case not in best or result["wall"] < best[case]["wall"]:
                    best[case] = result
                else:
                    best[case]["walls"] = result["walls"]

    simpy_result = best["simpy"]
    rows = []
    for case in cases:
        r = best[case]
        reference = simpy_result["mean_wait_first"] if case == "mockclock" else simpy_result["mean_wait"]
        diff = (r["mean_wait"] - reference) / reference
        walls = ", ".join(f"{w:.2f}" for w in r["walls"])
        rows.append(
            (
                case,
                f"{r['people']:,}",
                f"{r['wall']:.2f}",
                walls,
                f"{r['people'] / r['wall']:,.0f}",
                f"{r['peak_mb']:,.0f}",
                f"{r['mean_wait']:.6f}",
                f"{diff:+.2e}",
            )
        )
    print(table(("case", "people", "best wall s", "all walls", "people/s", "peak MB", "mean wait s", "vs simpy"), rows))
    if "sim+log" in best:
        print(f"(sim+log wrote {best['sim+log']['activities']:,} activity lines)")

    def speed(case: str) -> float:
        return best[case]["people"] / best[case]["wall"]

    def verdict(ratio: float, target: float) -> str:
        return f"target >= {target:.2f}: {'met' if ratio >= target else 'NOT met'}"

    vs_simpy = speed("sim") / speed("simpy")
    print(f"sim / SimPy      people per second: {vs_simpy:.2f} ({verdict(vs_simpy, 0.35)})")
    if "sim+log" in best:
        with_log = speed("sim+log") / speed("sim")
        print(f"sim+log / SimPy  people per second: {speed('sim+log') / speed('simpy'):.2f}")
        print(f"sim+log / sim    people per second: {with_log:.2f} (the cost of the log; {verdict(with_log, 0.85)})")
    print(f"sim / MockClock  people per second: {speed('sim') / speed('mockclock'):.2f}")
    kernel = speed("kernel") / speed("simpy")
    print(
        f"kernel / SimPy   people per second: {kernel:.2f} ({verdict(kernel, 0.45)}; the bound for a trio task "
        "per run: campaigns and activities cost the rest)"
    )
    waits = [best[c]["mean_wait"] for c in ("sim", "simpy")]
    agree = abs(waits[0] - waits[1]) / waits[1]
    print(f"mean wait sim {waits[0]:.6f} s, SimPy {waits[1]:.6f} s: relative difference {agree:.1e}", end="")
    print(" (agree)" if agree < 0.03 else " (DISAGREE by more than 3%)")


if __name__ == "__main__":
    main()
