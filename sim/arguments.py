"""What the ``sim`` command line accepts: its commands, their options, help texts and defaults.

`sim.cli` parses with `build_parser` and does the work; the bounds here are the ones it
enforces and the help texts state.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim import __version__
from sim.compare_command import add_compare_arguments
from sim.run.schedule import STRATEGIES
from sim.scale.pools import INSTALL_DASK, SCHEDULER_ADDRESS_ENV
from sim.verify.explore import MAX_RUNS
from sim.verify.search import DEFAULT_MAX_SCHEDULES

#: The scenario ``sim run`` uses when given no file.
DEFAULT_SCENARIO = "lead-lifecycle.toml"

#: Bounds of the options that size the memory or the work of ``sim explore``.
MAX_PCT_DEPTH = 1_000
MAX_SHRINK_REPLAYS = 100_000
#: The most replications of a sweep point.
MAX_REPLICATIONS = 1_000


def build_parser() -> argparse.ArgumentParser:
    """The ``sim`` parser: its commands and what each does, as ``sim --help`` lists them; each
    command's options are added by a function of its own."""
    parser = argparse.ArgumentParser(
        prog="sim",
        description="Simulate how Adobe Marketo Engage runs campaigns, deterministically.",
        epilog="Scenario file format: docs/scenarios.md. Exit codes: 0 ok, 2 bad input (a scenario with "
        "problems, a bad option, an unwritable log, an output over an input, out of memory), 130 stopped by "
        "Ctrl-C, 143 by SIGTERM, 1 races found with --fail-on-race.",
    )
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="simulate a scenario and print a summary",
        description="Check a scenario, simulate it for its [sim] duration and print a summary: virtual time, "
        "people, runs per campaign, steps, activities by type, and the final values of the fields the flows "
        "changed. The same file, seed and strategy always give the same activity log. Ctrl-C or SIGTERM stops "
        "early with a partial summary and whole output files (exit 130 or 143); a second one stops at once. No "
        "output may be the scenario, a CSV replay or another output.",
    )
    _add_run_order_arguments(run)
    _add_run_output_arguments(run)
    explore = commands.add_parser(
        "explore",
        help="run a scenario under many schedules and group the outcomes (races)",
        description="Run the scenario under --runs random schedules (the same people and load; only the order "
        "of runs due at the same instant differs), group the runs by outcome (every person's final fields, "
        "lists and program statuses, and the campaigns that ran) and print each outcome class: how often it "
        "occurred, which values differ from the most common class and which campaign step wrote them, and a "
        "witness: a shrunk schedule that `sim run FILE --schedule STRING` replays to exactly that outcome. "
        "--exhaustive runs every schedule instead and says whether those are all the outcomes. See docs/races.md.",
    )
    _add_explore_arguments(explore)
    sweep = commands.add_parser(
        "sweep",
        help="sweep designs over load, workers and seeds: throughput, queues, waits, saturation",
        description="Simulate each design at every combination of --load, --workers and --replications seeds, "
        "and print per point throughput, utilization, queue length, waits and latency percentiles with 95%% "
        "confidence intervals, and the load at which each design's trigger queue stops draining (with Erlang "
        "C's where the design is M/M/c). Designs are the files given, or each file's [variants]. Points run in "
        "parallel (a Dask cluster, or processes); the figures are the same however they ran. Ctrl-C stops "
        "and writes what finished. See docs/sweeps.md.",
    )
    _add_sweep_arguments(sweep)
    add_import_arguments(
        commands.add_parser(
            "import",
            help="turn a Marketo export (smart campaigns, smart lists, flow steps) into a scenario file",
            description="Read the JSON answers of Marketo's Asset API (smart campaigns, their smart lists with "
            "rules, their flow steps; a directory: every *.json under it, each file classified by content), map "
            "every campaign, trigger, filter and flow step to sim's, write the scenario (which `sim check` "
            "accepts) and print the import report: per campaign and rule, what was mapped, approximated (and how) "
            "or skipped (and why). See docs/import.md.",
        )
    )
    compare = commands.add_parser(
        "compare",
        help="run a scenario on an activity export's traffic and compare it with what the instance did",
        description="Read a Marketo activity export (Bulk Activity Extract CSV, Get Lead Activities JSON), run the "
        "scenario on its external activities (form fills, clicks, visits, API requests) and compare per campaign "
        "(by marketo_id) the runs, the step activities by type and the lag from cause to effect with what the "
        "export recorded. See docs/compare.md.",
    )
    add_compare_arguments(compare)
    check = commands.add_parser(
        "check",
        help="check scenario files without running them",
        description="Load each scenario file and run every definition check (R2-R4, R8, R9, R16, R18, unknown "
        "names, bad values). Prints every problem with its file, campaign and step and exits 2, or one line "
        "per valid file and exits 0. Valid but suspicious designs (an executable nothing calls, activities "
        "after the end) are printed as warnings and do not fail the check.",
    )
    check.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="scenario TOML file(s), '-' for standard input"
    )
    return parser


def _add_run_order_arguments(run: argparse.ArgumentParser) -> None:
    """``sim run``'s scenario file and what orders its runs: a seed, a strategy or a schedule to replay."""
    run.add_argument(
        "file",
        nargs="?",
        type=Path,
        help=f"scenario TOML file, '-' for standard input (default: the bundled examples/{DEFAULT_SCENARIO})",
    )
    run.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="overrides [sim] seed: it draws the people, the generated load and (with --strategy random) "
        "the order of runs due at the same instant",
    )
    run.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=None,
        help="how to order runs due at the same instant: 'random' (seeded; the default) or 'fifo' (oldest first)",
    )
    run.add_argument(
        "--schedule",
        metavar="STRING",
        help="replay a schedule instead of --strategy: deviations from the oldest-first order such as "
        '"3:1,17:2" (at choice point 3 take the 2nd-oldest task ...), as `sim explore` prints them; '
        "see docs/races.md",
    )


def _add_run_output_arguments(run: argparse.ArgumentParser) -> None:
    """``sim run``'s outputs (log, trace, metrics, report) and its race detection."""
    run.add_argument(
        "--log",
        metavar="PATH",
        help="stream the activity log to PATH as JSON Lines, one activity per line, as the run goes "
        "('-' for standard output; the summary then goes to standard error)",
    )
    run.add_argument(
        "--trace",
        metavar="PATH",
        help="write a Chrome/Perfetto trace of the run to PATH (open it in ui.perfetto.dev; '-' for standard "
        "output): a track per person, a slice per run and step, arrows from each cause to the run it started; "
        "written whole, under a temporary name until complete; see docs/races.md",
    )
    run.add_argument(
        "--metrics",
        metavar="PATH",
        help="write the queue and latency metrics (queue length series, waits, latency percentiles per "
        "campaign and priority, throughput, utilization) to PATH as JSON ('-' for standard output), whole at "
        "the end of the run; see docs/queue.md",
    )
    run.add_argument(
        "--report",
        metavar="PATH",
        help="write an HTML page of the run to PATH ('-' for standard output): the command, the queue's length "
        "and busy workers over time, the latency and wait distributions per campaign, runs per campaign, the "
        "metrics tables and, with --races, the race report; one self-contained file (plots as inline SVG) that "
        "opens without a network, written whole at the end of the run; needs matplotlib (pip install "
        "'sim[plot]'); see docs/queue.md",
    )
    run.add_argument(
        "--races",
        action="store_true",
        help="detect races: record every read and write of people's state with vector clocks and print each "
        "pair of conflicting accesses that nothing orders (a trigger or request orders its cause before the "
        "new run; waits and the queue order nothing), even when this run's outcome did not diverge; see "
        "docs/races.md",
    )
    run.add_argument("--fail-on-race", action="store_true", help="with --races: exit 1 when a race is found (for CI)")


def _add_sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    """``sim sweep``'s designs, factors, measurement window and outputs."""
    sweep.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="scenario TOML files: each is a design, or has [variants]"
    )
    sweep.add_argument(
        "--variant",
        action="append",
        metavar="NAME",
        help="sweep only this design (a variant's name, or a file's name without .toml); repeat for more",
    )
    sweep.add_argument(
        "--load",
        default="1x",
        metavar="SPEC",
        help="load multipliers, scaling every [[load]]: START:STOP:STEP such as 0.5x:1.5x:0.1x, a list such as "
        "0.5x,1x,2x, or one (default 1x)",
    )
    sweep.add_argument(
        "--workers",
        metavar="SPEC",
        help="trigger queue workers: a list such as 2,4,8 or START:STOP:STEP (default: each design's own)",
    )
    sweep.add_argument(
        "--replications",
        type=int,
        default=3,
        metavar="N",
        help=f"seeds per point, 1 to {MAX_REPLICATIONS:,}; the confidence intervals come from them (default 3)",
    )
    sweep.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="replication i uses seed N + i at every point (default: the first design's [sim] seed)",
    )
    sweep.add_argument(
        "--duration", metavar="DURATION", help="simulate this long instead of each design's [sim] duration (e.g. 6h)"
    )
    sweep.add_argument(
        "--warmup",
        default="10%",
        metavar="DURATION",
        help="leave out of every figure what happens before this (a duration such as 30m, or a share of the "
        "duration such as 10%%): the queue starts empty, which would flatter the waits (default 10%%)",
    )
    sweep.add_argument("--csv", metavar="PATH", help="write every figure of every point as CSV ('-': standard output)")
    sweep.add_argument("--json", metavar="PATH", help="write the whole sweep as JSON ('-': standard output)")
    sweep.add_argument(
        "--report", metavar="PATH", help="write a self-contained HTML page with plots and the table (needs sim[plot])"
    )
    add_pool_arguments(
        sweep,
        jobs_help="1: everything in this process, no Dask; J: a local Dask cluster of J workers (processes "
        "without Dask) (default: one worker per core)",
    )


def add_pool_arguments(parser: argparse.ArgumentParser, *, jobs_help: str) -> None:
    """``--jobs`` and ``--scheduler-address``: where independent simulations run
    (`sim.scale.pools.open_pool`). ``--jobs`` defaults to None (not given): each command
    says what that means in ``jobs_help``."""
    parser.add_argument("--jobs", type=int, default=None, metavar="J", help=jobs_help)
    parser.add_argument(
        "--scheduler-address",
        metavar="ADDRESS",
        help=f"run on the Dask cluster whose scheduler is at ADDRESS, such as tcp://HOST:8786 (default: "
        f"${SCHEDULER_ADDRESS_ENV} if set); needs {INSTALL_DASK}; --jobs 1 still runs here; see docs/races.md",
    )


def _add_explore_arguments(explore: argparse.ArgumentParser) -> None:
    """``sim explore``'s options: the schedules to run and how they are drawn, the processes that run
    them, the shrinking budget, and the exit code for CI."""
    explore.add_argument("file", type=Path, help="scenario TOML file, '-' for standard input")
    explore.add_argument(
        "--runs", type=int, default=None, metavar="N", help=f"schedules to try, 1 to {MAX_RUNS:,} (default 100)"
    )
    explore.add_argument(
        "--seed", type=int, default=None, metavar="N", help="the first schedule's seed; run i uses N + i (default 0)"
    )
    explore.add_argument(
        "--strategy",
        choices=("random", "pct"),
        default=None,
        help="how to draw schedules: 'random' (a uniform choice at every choice point; the default) or 'pct' "
        "(Probabilistic Concurrency Testing: random task priorities and --pct-depth minus 1 priority changes)",
    )
    explore.add_argument(
        "--pct-depth",
        type=int,
        default=None,
        metavar="D",
        help=f"PCT's depth: the orderings a bug needs, 1 to {MAX_PCT_DEPTH:,} (default 3)",
    )
    add_pool_arguments(
        explore,
        jobs_help="spread the schedules over J processes, at most one per core; 1 runs them in this process; the "
        "result is the same for any J and on a cluster (default 1, or the cluster's workers with "
        "--scheduler-address)",
    )
    explore.add_argument(
        "--shrink-replays",
        type=int,
        default=200,
        metavar="N",
        help="replays each witness may take to shrink; a witness not shrunk to the end is marked 'not minimal "
        "after N replays' (default 200)",
    )
    explore.add_argument(
        "--exhaustive",
        action="store_true",
        help="run one schedule of each way the racing steps of each group of people can be ordered, instead of "
        "--runs drawn ones (partial-order reduction, in this process); the report gives each group's outcomes "
        "and says 'complete' (all the outcomes there are) or 'bounded'",
    )
    explore.add_argument(
        "--max-schedules",
        type=int,
        default=None,
        metavar="N",
        help=f"with --exhaustive: stop after N schedules and say 'bounded', 1 to {MAX_RUNS:,} "
        f"(default {DEFAULT_MAX_SCHEDULES:,})",
    )
    explore.add_argument(
        "--preemption-bound",
        type=int,
        default=None,
        metavar="K",
        help="with --exhaustive: only schedules that take other than the oldest due task at most K times; the "
        "report says 'bounded' when that left schedules out (default: no bound)",
    )
    explore.add_argument(
        "--fail-on-race",
        action="store_true",
        help="exit 1 when there is more than one outcome class (with --exhaustive: when any group of people "
        "has more than one outcome), for CI",
    )


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """``sim import``'s export files, its output and the user's own flows."""
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="DIR_OR_FILE",
        help="a directory of API answers (every *.json under it is read) or the JSON files themselves; "
        "none with --instance",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="the scenario file to write ('-': standard output; the report then goes to standard error)",
    )
    parser.add_argument(
        "--flows",
        metavar="FILE",
        help="a TOML file of flows for campaigns whose flow steps the export lacks: campaign name (or id) = "
        "[steps in sim's syntax]; see docs/import.md",
    )
    parser.add_argument(
        "--activities",
        nargs="+",
        metavar="EXPORT",
        help="the instance's activity export (Bulk Activity Extract CSV, Get Lead Activities JSON pages): its "
        "form fills, clicks, visits and API requests become the scenario's load, a CSV replay written beside it",
    )
    parser.add_argument(
        "--types",
        metavar="TYPES_JSON",
        help="the instance's activity types (activities/types.json); default: the export's own, else Marketo's "
        "documented ids",
    )
    parser.add_argument(
        "--instance",
        metavar="URL",
        help="fetch the export from this instance's REST API (https://MUNCHKIN.mktorest.com), with the client id "
        "and secret of MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET; see docs/fetch.md",
    )
    parser.add_argument(
        "--fetch-dir",
        metavar="DIR",
        help="with --instance: where the fetched answers are written (absent or empty; default NAME-marketo beside "
        "the scenario), to import again later without a fetch",
    )
    parser.add_argument(
        "--report-json",
        metavar="PATH",
        help="also write the import report as JSON to PATH ('-': standard output; the text report then goes to "
        "standard error)",
    )
