"""The ``sim`` command: ``sim run``, ``sim explore``, ``sim check`` and ``sim import`` (their options: `sim.arguments`).

Exit codes: 0 done, 2 bad input (with a message, never a traceback), 130
after Ctrl-C and 143 after SIGTERM (a partial summary first, `sim.observe.signals`), 1 races found
with --fail-on-race.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from importlib import resources
from pathlib import Path
from typing import Literal, NoReturn, TextIO

import attrs
import trio

from sim.arguments import DEFAULT_SCENARIO, MAX_PCT_DEPTH, MAX_SHRINK_REPLAYS, build_parser
from sim.compare_command import compare_command
from sim.exhaustive_command import exhaustive_command, exhaustive_conflict
from sim.import_command import import_command
from sim.observe import signals
from sim.observe.output import AtomicFile, StandardOutput, open_output, output_problem
from sim.observe.plots import PlottingUnavailable, require_matplotlib
from sim.observe.progress import ProgressSink
from sim.observe.report import format_check, format_metrics, format_races, format_summary
from sim.observe.run_page import run_page
from sim.observe.signals import stop_signals, stopped_exit_code
from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink
from sim.observe.summary import Summary
from sim.observe.trace import TraceSink
from sim.run.activity import ActivitySink
from sim.run.schedule import ScheduleError, parse_schedule
from sim.scale.pools import PoolError, chosen_scheduler, open_pool
from sim.scenario import MAX_FILE_BYTES, ScenarioError, decode_scenario, load_scenario, parse_scenario
from sim.scenario.estimate import MemoryGuard, available_memory, estimate_memory
from sim.scenario.loader import load_variants
from sim.scenario.model import Problem, Scenario
from sim.sweep_command import sweep
from sim.verify.exploration_report import format_exploration, format_groups
from sim.verify.explore import MAX_RUNS, ExploreProgress, Stop, explore, worker_count
from sim.verify.group_report import group_outcomes
from sim.verify.search import DEFAULT_MAX_SCHEDULES, groups_of
from sim.verify.workers import Pool, WorkerDied, usable_cores

#: Exit codes; a signal's (130, 143) are sim.observe.signals'.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def default_scenario_path() -> Path:
    """The bundled default scenario: inside the installed package, or in a source checkout."""
    packaged = resources.files("sim") / "examples" / DEFAULT_SCENARIO
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "examples" / DEFAULT_SCENARIO


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (shorter to read)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def command() -> NoReturn:
    """The ``sim`` command and ``python -m sim``: `main`, then the process ends at once.

    When `main` returns, every output is written and closed (files committed, workers
    ended); what is left is the heap, which the interpreter would free object by object
    on the way out: 0.7 s after a ``--races`` run of 10,000 people, seconds after a run of
    a million. Standard output and error are flushed first, and a failure to write them
    is reported as it would have been.
    """
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (`sim run | head`): as the user wanted
    except (OSError, ValueError) as exc:
        print(f"error: cannot write the output: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        code = code or EXIT_BAD_INPUT
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def shown_command(argv: Sequence[str]) -> str:
    """The command line as the user could type it again (for the reports that quote it)."""
    return shlex.join(["sim", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A campaign named "Zürich 🚀" must not crash a run on an ASCII terminal.
            stream.reconfigure(errors="backslashreplace")
    with signals.handling():
        try:
            if args.command == "check":
                return _check(args.files)
            if args.command == "explore":
                return _explore(args)
            if args.command == "import":
                return import_command(args)
            command_line = shown_command(sys.argv[1:] if argv is None else argv)
            if args.command == "sweep":
                return sweep(args, command_line=command_line)
            if args.command == "compare":
                return compare_command(args)
            return _run(args, command_line)
        except KeyboardInterrupt:
            return _interrupted()
        except MemoryError:
            return _out_of_memory()
        except BaseExceptionGroup as group:
            # A second Ctrl-C may land inside trio, which wraps it in a group.
            if group.split(KeyboardInterrupt)[1] is None:
                return _interrupted()
            if group.split(MemoryError)[1] is None:
                return _out_of_memory()
            raise
        except BrokenPipeError:
            # The reader went away (`sim run | head`): that is how the user wanted it to end.
            # Point stdout at /dev/null so the interpreter's final flush does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK
        except OSError as exc:  # e.g. standard output on a full disk
            where = f" {exc.filename}" if exc.filename else ""
            print(f"error: cannot write the output{where}: {exc.strerror}", file=sys.stderr)
            return EXIT_BAD_INPUT


def _explore(args: argparse.Namespace) -> int:
    """``sim explore``: check the options, load the scenario, explore it and print its outcome classes."""
    problem = _explore_option_problem(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        scenario = _load(args.file)
    except ScenarioError as exc:
        _report_problems(exc, running=True)
        return EXIT_BAD_INPUT
    _report_warnings(scenario)
    if args.exhaustive:
        return exhaustive_command(args, scenario)
    opener = pool_opener(args, jobs=_explore_jobs(args, scenario), local="processes")
    line = _ExploreProgressLine(terminal=sys.stderr.isatty(), shrink_replays=args.shrink_replays)
    stop = Stop()
    # Both signals only ask (a signal handler must not raise inside trio's machinery):
    # the first ends the workers and keeps what was explored, the second ends at once.
    try:
        with stop_signals(stop.request, second_stops_at_once=False):
            exploration = explore(
                scenario,
                runs=args.runs,
                seed=args.seed,
                pool=opener,
                strategy=args.strategy,
                pct_depth=args.pct_depth,
                shrink_replays=args.shrink_replays,
                progress=line.show,
                stop=stop,
                groups=groups_of(scenario, stop=stop),
            )
            grouped = group_outcomes(
                scenario,
                exploration.groups,
                shrink_replays=args.shrink_replays,
                progress=lambda done, total: line.show(ExploreProgress(phase="shrink", done=done, total=total)),
                stop=stop,
            )
    except WorkerDied as exc:
        line.clear()
        print(f"error: {exc}; the other workers were ended. Fewer --jobs need less memory", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PoolError as exc:
        line.clear()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    explore_seconds, shrink_seconds = line.durations(ended=time.perf_counter())
    line.clear()
    text = format_exploration(
        exploration, file=str(args.file), explore_seconds=explore_seconds, shrink_seconds=shrink_seconds
    )
    if len(exploration.classes) > 1:  # one class: the groups have nothing to add
        text += "\n" + "\n".join(format_groups(grouped, unit="schedule", complete=False))
    print(text)
    if exploration.interrupted:
        return stopped_exit_code()
    return 1 if args.fail_on_race and exploration.races else EXIT_OK


def _explore_option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with ``sim explore``'s options, if anything: options that do not go together, and
    numbers out of their bounds (each sizes the work or the memory). Fills in the defaults."""
    conflict = exhaustive_conflict(args)
    if conflict is not None:
        return conflict
    args.runs = 100 if args.runs is None else args.runs
    args.seed = 0 if args.seed is None else args.seed
    args.strategy = args.strategy or "random"
    args.pct_depth = 3 if args.pct_depth is None else args.pct_depth
    args.max_schedules = DEFAULT_MAX_SCHEDULES if args.max_schedules is None else args.max_schedules
    for option, value, low, high in (
        ("--max-schedules", args.max_schedules, 1, MAX_RUNS),
        ("--preemption-bound", 0 if args.preemption_bound is None else args.preemption_bound, 0, MAX_RUNS),
        ("--runs", args.runs, 1, MAX_RUNS),
        ("--jobs", 1 if args.jobs is None else args.jobs, 1, None),
        ("--pct-depth", args.pct_depth, 1, MAX_PCT_DEPTH),
        ("--shrink-replays", args.shrink_replays, 0, MAX_SHRINK_REPLAYS),
    ):
        if value < low or (high is not None and value > high):
            allowed = f"{low:,} or more" if high is None else f"{low:,} to {high:,}"
            return f"{option} {value:,}: give {allowed}"
    return None


def _explore_jobs(args: argparse.Namespace, scenario: Scenario) -> int | None:
    """What `open_pool` gets as ``jobs`` for ``sim explore``: None (the cluster's workers) with a
    scheduler address and no --jobs 1; else --jobs (default 1: this process) as `_fit_jobs` fits it."""
    if chosen_scheduler(args.scheduler_address) is not None and args.jobs != 1:
        return None
    return _fit_jobs(args.jobs or 1, args.runs, scenario)


def _fit_jobs(asked: int, runs: int, scenario: Scenario) -> int:
    """The worker processes ``asked`` (--jobs) gets: at most one per core, per schedule and per run the memory
    holds (each worker holds the people of a run), with a note when that is fewer than asked."""
    jobs = worker_count(asked, runs)
    fit = jobs
    if jobs > 1:
        fit = max(1, available_memory()[0] // estimate_memory(scenario).total)
    if min(jobs, fit) < asked:
        jobs = min(jobs, fit)
        memory = f"; memory for {fit}" if fit < asked else ""
        print(
            f"note: --jobs {asked:,} runs {jobs} worker process{'es' if jobs > 1 else ''} "
            f"(cores here: {usable_cores()}; schedules: {runs:,}{memory})",
            file=sys.stderr,
        )
    return jobs


def pool_opener(
    args: argparse.Namespace, *, jobs: int | None, local: Literal["dask", "processes"] = "dask"
) -> Callable[[object], AbstractContextManager[Pool]]:
    """What opens the pool `add_pool_arguments`' options ask for, given the value every worker
    shares: ``jobs`` as the command sized it from --jobs, --scheduler-address (or
    DASK_SCHEDULER_ADDRESS), and ``local``, what runs several jobs on this machine."""

    def opener(shared: object) -> AbstractContextManager[Pool]:
        return open_pool(jobs=jobs, scheduler_address=args.scheduler_address, shared=shared, local=local)

    return opener


@attrs.define(eq=False, kw_only=True)
class _ExploreProgressLine:
    """``sim explore``'s progress: the time each phase started, and on a terminal a line that says how far it is."""

    terminal: bool
    shrink_replays: int
    #: Phase ("explore", "shrink") -> when it started (`time.perf_counter`).
    phases: dict[str, float] = attrs.field(factory=lambda: {"explore": time.perf_counter()})

    def show(self, event: ExploreProgress) -> None:
        """Note when ``event``'s phase started; on a terminal, redraw the line."""
        if event.phase not in self.phases:
            self.phases[event.phase] = time.perf_counter()
        if not self.terminal:
            return
        if event.phase == "explore":
            line = f"  exploring: {event.done:,} of {event.total:,} schedules"
        else:
            line = (
                f"  shrinking witnesses: {event.done} of {event.total} done, {event.replays:,} replays "
                f"(at most {self.shrink_replays:,} each)"
            )
        sys.stderr.write(f"\r\033[K{line}")
        sys.stderr.flush()

    def clear(self) -> None:
        """Erase the line (on a terminal) before the result or an error is printed."""
        if self.terminal:
            sys.stderr.write("\r\033[K")

    def durations(self, *, ended: float) -> tuple[float, float | None]:
        """Seconds spent running schedules, and shrinking witnesses (None: that phase never began)."""
        shrink_started = self.phases.get("shrink", ended)
        shrink_seconds = ended - shrink_started if "shrink" in self.phases else None
        return shrink_started - self.phases["explore"], shrink_seconds


def _out_of_memory() -> int:
    """The run needed more memory than there is: a message, not a traceback. What was
    logged is on disk, whole lines: the sinks were closed on the way out."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _, limit = available_memory()
    print(
        f"error: out of memory at a peak of {peak_mb:,.0f} MB (what {limit} allows). A run needs less with fewer "
        "people, a shorter [sim] duration or a lighter load; what it logged so far is complete, line by line",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT


def _interrupted() -> int:
    print(
        f"{signals.stopped_by()}: stopped at once, without a summary (during a run, the first Ctrl-C or SIGTERM "
        "stops it with a partial summary)",
        file=sys.stderr,
    )
    return signals.stopped_exit_code()


def _check(files: Sequence[Path]) -> int:
    status = EXIT_OK
    for path in files:
        try:
            scenario = _load(path)
        except ScenarioError as exc:
            _report_problems(exc, running=False)
            status = EXIT_BAD_INPUT
        else:
            _report_warnings(scenario)
            print(format_check(scenario))
            if not _check_variants(path, scenario):
                status = EXIT_BAD_INPUT
    return status


def _check_variants(path: Path, scenario: Scenario) -> bool:
    """Check each of the file's [variants] (`sim sweep`'s designs) as a scenario of its
    own: a line for each, or its problems. False if any has problems."""
    if str(path) == "-":
        return True
    try:
        designs = load_variants([path])
    except ScenarioError as exc:
        _report_problems(exc, running=False)
        return False
    for design in designs.values():
        if design.source != scenario.source:  # a variant, not the file itself
            print(format_check(design))
    return True


def _report_warnings(scenario: Scenario) -> None:
    for warning in scenario.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _report_problems(exc: ScenarioError, *, running: bool) -> None:
    for problem in exc.problems:
        print(f"error: {problem}", file=sys.stderr)
    count = len(exc.problems)
    print(f"{count} problem{'s' if count != 1 else ''} found{'; nothing was run' if running else ''}.", file=sys.stderr)


def _load(path: Path) -> Scenario:
    """A scenario file, or standard input for ``-``."""
    if str(path) != "-":
        return load_scenario(path)
    if sys.stdin is None:
        raise ScenarioError([Problem(file="<stdin>", where="", message="standard input is closed")])
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)  # /dev/zero must not fill the memory
    return parse_scenario(decode_scenario(data, source="<stdin>"), source="<stdin>")


def _run_option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with ``sim run``'s options taken together, if anything; checked
    before the scenario is read, as is whether ``--report`` can be drawn at all."""
    if args.schedule is not None:
        if args.strategy is not None:
            return f"--schedule replays a schedule; drop --strategy {args.strategy}"
        try:
            parse_schedule(args.schedule)
        except ScheduleError as exc:
            return f"--schedule: {exc}"
    if args.fail_on_race and not args.races:
        return "--fail-on-race needs --races"
    if args.report is not None:
        try:
            require_matplotlib("--report")
        except PlottingUnavailable as exc:
            return str(exc)
    return None


def _run(args: argparse.Namespace, command_line: str) -> int:
    """``sim run``; ``command_line`` as typed, for the report."""
    started = time.perf_counter()  # the wall time counts loading and making the people
    path: Path = args.file if args.file is not None else _shown(default_scenario_path())
    problem = _run_option_problem(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args.strategy = args.strategy or "random"
    outputs = {
        option: value
        for option, value in (
            ("--log", args.log),
            ("--trace", args.trace),
            ("--metrics", args.metrics),
            ("--report", args.report),
        )
        if value is not None
    }
    problem = output_problem(outputs, {} if str(path) == "-" else {"the scenario file itself": path})
    if problem is not None:  # before loading: a long CSV read is not wasted on a typo
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        scenario = _load(path)
    except ScenarioError as exc:
        _report_problems(exc, running=True)
        return EXIT_BAD_INPUT
    replays = {f"the CSV replay {_shown(Path(replay.csv))}": Path(replay.csv) for replay in scenario.replays}
    problem = output_problem(outputs, replays)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _report_warnings(scenario)
    # Opened now, before a long run: a path that cannot be written fails at once. The
    # trace, the metrics and the report first: they replace their files only after a
    # summary; the log last, since opening it empties the file.
    sinks: list[ActivitySink] = []
    files: dict[str, AtomicFile | StandardOutput] = {}
    try:
        for option in ("--metrics", "--report", "--trace", "--log"):
            if option not in outputs:
                continue
            target = outputs[option]
            try:
                if option == "--log":
                    sinks.append(JsonLinesSink.open(target))
                else:
                    files[option] = open_output(target)
            except OSError as exc:
                print(
                    f"error: cannot write the {option.removeprefix('--')} to {target}: {exc.strerror}", file=sys.stderr
                )
                return EXIT_BAD_INPUT
        if "--trace" in files:
            sinks.append(TraceSink(stream=files["--trace"], owns_stream=False))
        code, summarized = _simulate(args, scenario, sinks, files, started=started, command_line=command_line)
        if summarized:
            for file in files.values():
                file.close()  # the run gave a summary: they replace what stood there
            files.clear()
        return code
    finally:
        for sink in sinks:
            sink.close()  # a second time is harmless; a sink not run yet is closed here
        for file in files.values():
            file.discard()  # no summary (an error, a second signal): the old files stay


def _simulate(
    args: argparse.Namespace,
    scenario: Scenario,
    sinks: list[ActivitySink],
    files: Mapping[str, AtomicFile | StandardOutput],
    *,
    started: float,
    command_line: str,
) -> tuple[int, bool]:
    """Run the simulation, print its summary and write the outputs in ``files`` (option
    -> file): (exit code, whether there was a summary)."""
    to_stdout = "-" in (args.log, args.trace, args.metrics, args.report)
    out = sys.stderr if to_stdout else sys.stdout
    if sys.stderr.isatty():  # quiet when output goes to a file or a pipe
        sinks.append(ProgressSink(stream=sys.stderr, duration=scenario.duration))
    guard = MemoryGuard()
    sinks.append(guard)
    simulation = Simulation(
        scenario,
        seed=args.seed,
        strategy=args.strategy,
        sinks=sinks,
        schedule=args.schedule,
        detect_races=args.races,
        progress=_people_progress if sys.stderr.isatty() else None,
    )
    guard.stop = simulation.request_stop

    async def run_until_stopped() -> Summary:
        # The first SIGINT or SIGTERM asks the kernel to stop at the next task switch
        # (whole log lines, a partial summary); a second is trio's SIGINT handler's to
        # deliver, as a KeyboardInterrupt at a safe point.
        with stop_signals(simulation.request_stop):
            return await simulation.run()

    try:
        summary = trio.run(run_until_stopped)
    except ScheduleError as exc:
        print(f"error: --schedule {args.schedule}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT, False
    except OSError as exc:
        if args.log is None or isinstance(exc, BrokenPipeError) or exc.filename not in (None, args.log):
            raise
        print(f"error: cannot write the log to {args.log}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT, False
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(format_summary(summary, wall_seconds=wall, peak_mb=peak_mb), file=out)
    races_found = _write_results(args, scenario, simulation, summary, files, out=out, command_line=command_line)
    if races_found and args.fail_on_race and not summary.interrupted:
        return EXIT_FAILED, True
    if guard.reached is not None:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"error: stopped near {guard.reached} at {peak_mb:,.0f} MB, before memory ran out: the summary above "
            "covers the virtual time reached. Fewer people, a shorter [sim] duration or a lighter load need less; "
            "a backlog of queued runs grows with the load (docs/queue.md)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT, True
    if summary.interrupted or signals.received():  # a signal after the end still says so
        return stopped_exit_code(), True
    return EXIT_OK, True


def _write_results(
    args: argparse.Namespace,
    scenario: Scenario,
    simulation: Simulation,
    summary: Summary,
    files: Mapping[str, AtomicFile | StandardOutput],
    *,
    out: TextIO,
    command_line: str,
) -> bool:
    """After the summary: print the queue metrics and races, write the metrics and the
    report (``files``: still to be closed). Whether races were found."""
    metrics = None
    if scenario.queue is not None or "--metrics" in files or "--report" in files:
        metrics = simulation.metrics()
        if scenario.queue is not None:
            print("\n" + format_metrics(metrics), file=out)
        if "--metrics" in files:
            files["--metrics"].write(json.dumps(metrics.to_json(), indent=1) + "\n")
    races_text = None
    races_found = False
    if args.races:
        detector = simulation.race_detector
        races = detector.races()
        races_found = bool(races)
        races_text = format_races(races, accesses=detector.accesses)
        if summary.interrupted:
            races_text += "\n(the run was interrupted: only what ran was checked)"
        print("\n" + races_text, file=out)
    if "--report" in files:
        assert metrics is not None and simulation.measurement is not None
        page = run_page(
            command=command_line,
            summary=summary,
            metrics=metrics,
            measurement=simulation.measurement,
            races=races_text,
        )
        files["--report"].write(page)
    return races_found


def _people_progress(made: int, total: int) -> None:
    """The progress line while a large population is made (on a terminal)."""
    line = f"\r\033[K  making people: {made:,} of {total:,}" if made < total else "\r\033[K"
    sys.stderr.write(line)
    sys.stderr.flush()
