"""``sim explore --exhaustive``: run one schedule of each trace of each group of people in
this process, up to --max-schedules (and --preemption-bound), and print each group's
outcomes and whether they are all there are (`sim.verify.exhaustive`, docs/races.md).
The other options of ``sim explore`` are `sim.cli`'s; this module says which of them
cannot go with --exhaustive.
"""

from __future__ import annotations

import argparse
import sys
import time

from sim.observe.report import count_of
from sim.observe.signals import stop_signals, stopped_exit_code
from sim.scenario.model import Scenario
from sim.verify.exhaustive import explore_exhaustive
from sim.verify.exploration_report import format_exhaustive
from sim.verify.explore import Stop

EXIT_OK = 0


def exhaustive_command(args: argparse.Namespace, scenario: Scenario) -> int:
    """``sim explore --exhaustive``: every trace of each group, in this process, up to the bounds."""
    stop = Stop()
    started = time.perf_counter()
    terminal = sys.stderr.isatty()

    def show(phase: str, done: int, total: int) -> None:
        if not terminal:
            return
        if phase == "search":
            each = (time.perf_counter() - started) / done
            line = (
                f"exploring: {count_of(done, 'schedule')} run, {each:.2f}s each; at most "
                f"{_format_duration(each * (total - done))} more to --max-schedules {total:,} (Ctrl-C: stop, report)"
            )
        else:
            line = f"shrinking witnesses: {done} of {total} kinds of racing group"
        sys.stderr.write(f"\r\033[K  {line}")
        sys.stderr.flush()

    with stop_signals(stop.request, second_stops_at_once=False):
        exhaustive = explore_exhaustive(
            scenario,
            max_schedules=args.max_schedules,
            preemption_bound=args.preemption_bound,
            shrink_replays=args.shrink_replays,
            progress=show,
            stop=stop,
        )
    if terminal:
        sys.stderr.write("\r\033[K")
    print(format_exhaustive(exhaustive, file=str(args.file), seconds=time.perf_counter() - started))
    if exhaustive.search.stopped_by == "interrupted":
        return stopped_exit_code()
    return 1 if args.fail_on_race and exhaustive.search.races else EXIT_OK


def _format_duration(seconds: float) -> str:
    """A rough duration: "40s", "12m", "3.5h"."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def exhaustive_conflict(args: argparse.Namespace) -> str | None:
    """What ``sim explore --exhaustive`` cannot be given (the options that draw schedules, or
    spread them), or --max-schedules without it; None when the options fit together."""
    if not args.exhaustive:
        for option, value in (("--max-schedules", args.max_schedules), ("--preemption-bound", args.preemption_bound)):
            if value is not None:
                return f"{option} bounds --exhaustive; add --exhaustive, or give --runs N to draw N schedules"
        return None
    drawn = [
        f"{option} {value}"
        for option, value in (
            ("--runs", args.runs),
            ("--seed", args.seed),
            ("--strategy", args.strategy),
            ("--pct-depth", args.pct_depth),
        )
        if value is not None
    ]
    if drawn:
        return f"--exhaustive runs every schedule, not drawn ones; drop {', '.join(drawn)}"
    if args.jobs not in (None, 1) or args.scheduler_address:
        return "--exhaustive runs its schedules in this process for now; drop --jobs and --scheduler-address"
    return None
