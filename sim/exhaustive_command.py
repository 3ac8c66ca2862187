"""``sim explore --exhaustive``: run every schedule of a scenario in this process, up to
--max-schedules, and print its outcome classes and whether they are all there are
(`sim.verify.exhaustive`, docs/races.md). The other options of ``sim explore`` are
`sim.cli`'s; this module says which of them cannot go with --exhaustive.
"""

from __future__ import annotations

import argparse
import sys
import time

from sim.observe.signals import stop_signals, stopped_exit_code
from sim.scenario.model import Scenario
from sim.verify.exhaustive import explore_exhaustive
from sim.verify.exploration_report import format_exhaustive
from sim.verify.explore import Stop

EXIT_OK = 0


def exhaustive_command(args: argparse.Namespace, scenario: Scenario) -> int:
    """``sim explore --exhaustive``: every schedule, in this process, up to --max-schedules."""
    stop = Stop()
    started = time.perf_counter()
    terminal = sys.stderr.isatty()

    def show(done: int) -> None:
        if terminal:
            sys.stderr.write(f"\r\033[K  exploring every schedule: {done:,} run")
            sys.stderr.flush()

    with stop_signals(stop.request, second_stops_at_once=False):
        exhaustive = explore_exhaustive(
            scenario, max_schedules=args.max_schedules, shrink_replays=args.shrink_replays, progress=show, stop=stop
        )
    if terminal:
        sys.stderr.write("\r\033[K")
    print(format_exhaustive(exhaustive, file=str(args.file), seconds=time.perf_counter() - started))
    if exhaustive.exploration.interrupted:
        return stopped_exit_code()
    return 1 if args.fail_on_race and exhaustive.exploration.races else EXIT_OK


def exhaustive_conflict(args: argparse.Namespace) -> str | None:
    """What ``sim explore --exhaustive`` cannot be given (the options that draw schedules, or
    spread them), or --max-schedules without it; None when the options fit together."""
    if not args.exhaustive:
        if args.max_schedules is not None:
            return "--max-schedules bounds --exhaustive; add --exhaustive, or give --runs N to draw N schedules"
        return None
    drawn = [
        f"{option} {value}"
        for option, value in (("--runs", args.runs), ("--strategy", args.strategy), ("--pct-depth", args.pct_depth))
        if value is not None
    ]
    if drawn:
        return f"--exhaustive runs every schedule, not drawn ones; drop {', '.join(drawn)}"
    if args.jobs not in (None, 1) or args.scheduler_address:
        return "--exhaustive runs its schedules in this process for now; drop --jobs and --scheduler-address"
    return None
