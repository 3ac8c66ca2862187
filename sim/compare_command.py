"""``sim compare``: read a scenario and an activity export, run the scenario on the
export's external activities, and print (and write as JSON) how its campaigns' runs,
activities and lags compare with what the instance recorded (docs/compare.md).

Everything the user gave is read and checked before the simulation starts: the scenario,
the activity types, every activity file (every problem at once, each with its file and
line or JSON path), the output path. Exit codes as the other commands: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.marketo.activities import read_activity_types
from sim.marketo.problems import ExportError
from sim.marketo.traffic import read_traffic
from sim.observe.output import open_output, output_problem
from sim.observe.progress import rows_read_line
from sim.scenario import ScenarioError, load_scenario
from sim.verify.compare import compare, load_for_compare
from sim.verify.compare_report import comparison_json, format_comparison

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def compare_command(args: argparse.Namespace) -> int:
    """Run ``sim compare`` as ``args`` say; the exit code."""
    scenario_path: Path = args.file
    activity_files = [str(path) for path in args.activities]
    inputs = {f"the scenario file {scenario_path}": scenario_path}
    inputs.update({f"the activity file {path}": Path(path) for path in activity_files})
    if args.types is not None:
        inputs[f"the activity types file {args.types}"] = Path(args.types)
    try:
        scenario = load_scenario(scenario_path)
        inputs.update({f"the CSV replay {replay.csv}": Path(replay.csv) for replay in scenario.replays})
        if args.json is not None:
            refused = output_problem({"--json": args.json}, inputs)
            if refused is not None:
                print(f"error: {refused}", file=sys.stderr)
                return EXIT_BAD_INPUT
        types = read_activity_types(str(args.types)) if args.types is not None else None
        names = {c.marketo_id: name for name, c in scenario.campaigns.items() if c.marketo_id is not None}
        with rows_read_line() as progress:
            traffic = read_traffic(activity_files, types=types, campaign_names=names, progress=progress)
        loaded = load_for_compare(scenario_path, traffic)
    except (ScenarioError, ExportError) as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was run.", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = open_output(args.json) if args.json is not None else None  # before the run: fails early
    comparison = compare(loaded, traffic, seed=args.seed)
    report = sys.stderr if args.json == "-" else sys.stdout
    print(format_comparison(comparison), end="", file=report)
    if target is not None:
        target.write(json.dumps(comparison_json(comparison), indent=1) + "\n")
        target.close()
    return EXIT_OK


def add_compare_arguments(compare_parser: argparse.ArgumentParser) -> None:
    """``sim compare``'s scenario, export files and outputs."""
    compare_parser.add_argument("file", type=Path, metavar="FILE", help="the (imported) scenario TOML file")
    compare_parser.add_argument(
        "--activities",
        nargs="+",
        required=True,
        type=Path,
        metavar="EXPORT",
        help="the instance's activity export: Bulk Activity Extract CSV files and Get Lead Activities JSON pages, "
        "in any mix (an activity in two of them counts once)",
    )
    compare_parser.add_argument(
        "--types",
        type=Path,
        metavar="TYPES_JSON",
        help="the instance's activity types (the Get Activity Types response, activities/types.json); default: "
        "Marketo's documented ids",
    )
    compare_parser.add_argument(
        "--seed", type=int, metavar="N", help="overrides [sim] seed (the people's draws and the schedule)"
    )
    compare_parser.add_argument(
        "--json", metavar="PATH", help="also write the comparison as JSON to PATH ('-': standard output)"
    )
