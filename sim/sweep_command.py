"""``sim sweep``: read the designs and options, run the sweep on a pool, print and write it.

Everything the user wrote is checked before the first simulation starts: the factors,
the designs (every problem of every file and variant at once), the outputs. Then the
sweep runs with a progress line on a terminal; Ctrl-C (or SIGTERM) stops it, and what
finished is printed and written, marked incomplete, with exit code 130 (143).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from sim.arguments import MAX_REPLICATIONS
from sim.observe import signals
from sim.observe.output import AtomicFile, open_output, output_problem
from sim.observe.plots import PlottingUnavailable, require_matplotlib
from sim.scale.factors import FactorError, parse_loads, parse_workers, scalable_problem
from sim.scale.point import Replication
from sim.scale.pools import PoolError, open_pool
from sim.scale.sweep import SweepResult, SweepSpec, run_sweep
from sim.scale.sweep_output import format_csv, format_table, to_json
from sim.scenario import ScenarioError
from sim.scenario.loader import load_variants
from sim.scenario.model import Scenario
from sim.scenario.units import parse_duration
from sim.verify.workers import WorkerDied

EXIT_OK, EXIT_BAD_INPUT = 0, 2


class _Refused(Exception):
    """Something the user wrote cannot be swept; the message says what and how to fix it."""


def sweep(args: argparse.Namespace, *, command_line: str) -> int:
    """Run ``sim sweep`` as ``args`` say; the exit code."""
    try:
        designs, spec = _read(args)
        outputs = _outputs(args, designs)
    except _Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''}; nothing was simulated", file=sys.stderr)
        return EXIT_BAD_INPUT
    line = _ProgressLine(terminal=sys.stderr.isatty())
    with contextlib.ExitStack() as stack:
        # Opened now, so that a path that cannot be written fails before an hour of work.
        targets = {option: open_output(path) for option, path in outputs.items()}
        for target in targets.values():
            if isinstance(target, AtomicFile):
                stack.callback(target.discard)  # a no-op once it is closed
        started = time.perf_counter()
        try:
            with open_pool(jobs=args.jobs, scheduler_address=args.scheduler_address, shared=designs) as pool:
                name = pool.name
                backend = name if name.startswith("in ") else f"on {name}"  # "in this process", "on 2 processes"
                print(f"sweep: {len(spec.jobs(designs)):,} simulations {backend}", file=sys.stderr)
                result = run_sweep(spec, designs, pool, progress=line.show)
        except (PoolError, WorkerDied) as exc:
            line.clear()
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        line.clear()
        seconds = time.perf_counter() - started
        table = sys.stderr if "-" in outputs.values() else sys.stdout
        print(format_table(result), end="", file=table)
        print(f"{result.jobs_done:,} simulations in {seconds:,.1f} s {backend}", file=sys.stderr)
        for option, target in targets.items():
            target.write(_output_text(option, result, command_line=command_line, backend=backend, seconds=seconds))
            target.close()
    return EXIT_OK if result.complete else signals.stopped_exit_code()


def _read(args: argparse.Namespace) -> tuple[dict[str, Scenario], SweepSpec]:
    """The designs to sweep and the sweep's spec, or `_Refused` / ScenarioError."""
    try:
        loads = parse_loads(args.load)
        counts = parse_workers(args.workers) if args.workers is not None else ()
    except FactorError as exc:
        raise _Refused(str(exc)) from None
    if not 1 <= args.replications <= MAX_REPLICATIONS:
        raise _Refused(f"--replications {args.replications:,}: give 1 to {MAX_REPLICATIONS:,}")
    designs = load_variants(args.files)
    if args.variant:
        unknown = [name for name in args.variant if name not in designs]
        if unknown:
            known = ", ".join(f'"{name}"' for name in designs)
            raise _Refused(f'--variant "{unknown[0]}": no such design; the files give {known}')
        designs = {name: designs[name] for name in designs if name in args.variant}
    for design in designs.values():
        problem = scalable_problem(design, workers=bool(counts))
        if problem is not None:
            raise _Refused(f"{design.source}: {problem}")
    duration = _duration(args.duration, "--duration") if args.duration is not None else None
    shortest = min(duration or d.duration for d in designs.values())
    warmup = _warmup(args.warmup, shortest)
    first = next(iter(designs.values()))
    spec = SweepSpec(
        variants=tuple(designs),
        loads=loads,
        workers=counts,
        replications=args.replications,
        seed=first.seed if args.seed is None else args.seed,
        warmup=warmup,
        duration=duration,
    )
    return designs, spec


def _duration(text: str, option: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise _Refused(f"{option} {text}: {exc}") from None
    if seconds <= 0:
        raise _Refused(f"{option} {text}: a sweep needs some time to simulate; give e.g. 6h")
    return seconds


def _warmup(text: str, duration: float) -> float:
    """The warm-up in seconds: a duration, or a share of the (shortest) duration."""
    if text.strip().endswith("%"):
        try:
            share = float(text.strip()[:-1]) / 100
        except ValueError:
            raise _Refused(f"--warmup {text}: write a share such as 10% or a duration such as 30m") from None
        if not 0 <= share < 1:
            raise _Refused(f"--warmup {text}: a share of the duration from 0% to below 100%")
        return round(share * duration, 6)
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise _Refused(f"--warmup {text}: {exc}") from None
    if seconds >= duration:
        raise _Refused(f"--warmup {text}: as long as the simulated time or longer; nothing would be measured")
    return seconds


def _outputs(args: argparse.Namespace, designs: Mapping[str, Scenario]) -> dict[str, str]:
    """``--csv``/``--json``/``--report`` -> path, each checked against the inputs and
    the others (an output must never overwrite a scenario or a CSV replay)."""
    outputs = {option: path for option, path in (("--csv", args.csv), ("--json", args.json)) if path is not None}
    if args.report is not None:
        if args.report == "-":
            raise _Refused("--report -: an HTML page goes to a file; give a path such as sweep.html")
        outputs["--report"] = args.report
    inputs = {f"the scenario file {path}": Path(path) for path in args.files}
    for design in designs.values():
        inputs.update({f"the CSV replay {replay.csv}": Path(replay.csv) for replay in design.replays})
    problem = output_problem(outputs, inputs)
    if problem is not None:
        raise _Refused(problem)
    if "--report" in outputs:
        try:
            require_matplotlib("--report")
        except PlottingUnavailable as exc:
            raise _Refused(str(exc)) from None
    return outputs


def _output_text(option: str, result: SweepResult, *, command_line: str, backend: str, seconds: float) -> str:
    """What ``option`` (--csv, --json, --report) writes."""
    if option == "--csv":
        return format_csv(result)
    if option == "--json":
        return json.dumps(to_json(result), indent=1) + "\n"
    from sim.scale.sweep_page import format_sweep_page

    return format_sweep_page(result, command=command_line, backend=backend, seconds=seconds)


@attrs.define(eq=False, kw_only=True)
class _ProgressLine:
    """On a terminal, a line that says how far the sweep is and how long is left."""

    terminal: bool
    started: float = attrs.field(factory=time.perf_counter)

    def show(self, done: int, total: int, replication: Replication) -> None:
        if not self.terminal:
            return
        elapsed = time.perf_counter() - self.started
        left = elapsed / done * (total - done)
        factors = replication.job.factors
        sys.stderr.write(
            f"\r\033[K  sweep: {done:,} of {total:,} simulations, {_clock(elapsed)} elapsed, about {_clock(left)} "
            f"left (last: {factors.variant} {factors.load:g}x, {factors.workers} workers)"
        )
        sys.stderr.flush()

    def clear(self) -> None:
        if self.terminal:
            sys.stderr.write("\r\033[K")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
