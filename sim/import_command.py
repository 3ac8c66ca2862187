"""``sim import``: a Marketo export in, a scenario file (and its CSV replay) out, with the
import report on standard output (docs/import.md).

`import_command` gathers the command's inputs: the export's files (or a live fetch of the
instance into a directory, `sim.marketo.fetch`), the activity export as `Traffic`, and the
user's flows, and hands them to `write_import`: it translates, writes the replay, checks
the scenario with the loader (the importer's own output must load: if it does not, that is
a bug, reported as one) and writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import attrs

from sim.marketo.activities import read_activity_types
from sim.marketo.assets import Export, read_export
from sim.marketo.fetch import FetchSummary, fetch_instance
from sim.marketo.import_report import format_report
from sim.marketo.problems import ExportError, ExportProblem
from sim.marketo.rest_client import MarketoFetchError
from sim.marketo.traffic import Traffic, read_traffic
from sim.marketo.translate import Translation, campaign_names, translate
from sim.marketo.user_flows import UserFlows, read_user_flows
from sim.observe.output import open_output, output_problem
from sim.observe.progress import rows_read_line
from sim.observe.report import format_check
from sim.scenario import ScenarioError, parse_scenario
from sim.scenario.model import Problem, Scenario

EXIT_OK, EXIT_BAD_INPUT = 0, 2


class Refused(Exception):
    """An output path the command will not write (an input, a folder, another output)."""


class ImportBug(Exception):
    """The scenario the importer wrote does not load: a bug of the importer, not the user's."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@attrs.frozen(kw_only=True)
class Written:
    """What `write_import` wrote: the translation and the scenario as it loaded."""

    translation: Translation
    scenario: Scenario
    replay: Path | None


def import_command(args: argparse.Namespace) -> int:
    """Run ``sim import`` as ``args`` say; the exit code."""
    refusal = _inputs_refusal(args)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return EXIT_BAD_INPUT
    fetched: FetchSummary | None = None
    try:
        paths = list(args.inputs)
        fetched = _fetch(args) if args.instance is not None else None
        if fetched is not None:
            paths.append(str(fetched.directory))
        export = read_export(paths)
        flows = read_user_flows(args.flows) if args.flows is not None else None
        traffic = _traffic(args, export)
        written = write_import(
            export,
            output=Path(args.output),
            traffic=traffic,
            flows=flows,
            report_json=args.report_json,
            inputs=_inputs(args, export),
        )
    except MarketoFetchError as exc:
        print(f"error: {exc}; nothing was written.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ExportError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        kept = f" but the fetch, kept in {fetched.directory}" if fetched is not None else ""
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was written{kept}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Refused as exc:
        print(f"error: {exc}; nothing was written.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ImportBug as exc:
        print(f"error: sim import wrote {args.output}, and it does not load: a bug in sim import;", file=sys.stderr)
        print("please report it with the export. What the loader says:", file=sys.stderr)
        for bug in exc.problems:
            print(f"error: {bug}", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = format_report(written.translation.report)
    # The report goes to standard output unless the scenario or the JSON report does.
    print(report, end="", file=sys.stderr if "-" in (args.output, args.report_json) else sys.stdout)
    print(format_check(written.scenario), file=sys.stderr)
    return EXIT_OK


def _inputs(args: argparse.Namespace, export: Export) -> dict[str, Path]:
    """Every file the command reads: no output may overwrite one."""
    inputs = {f"the export file {name}": Path(name) for name in export.files}
    if args.flows is not None:
        inputs[f"the flows file {args.flows}"] = Path(args.flows)
    inputs |= {f"the activity file {name}": Path(name) for name in args.activities or ()}
    if args.types is not None:
        inputs[f"the activity types file {args.types}"] = Path(args.types)
    return inputs


def _inputs_refusal(args: argparse.Namespace) -> str:
    """What is wrong with where the export comes from, or ""."""
    if args.instance is not None and args.inputs:
        return f"give the export's files ({' '.join(args.inputs)}) or --instance to fetch it, not both"
    if args.instance is None and args.fetch_dir is not None:
        return (
            "--fetch-dir is where --instance writes what it fetches; without --instance, give the folder as the export"
        )
    if not args.inputs and args.instance is None:
        after = (
            " (an export given after --activities is read as an activity file: put it first)" if args.activities else ""
        )
        return f"give the export (a directory or its JSON files), or --instance URL to fetch it{after}"
    if args.instance is not None and args.fetch_dir is None:
        into = fetch_dir(Path(args.output))
        if into.is_dir() and any(into.iterdir()):
            return (
                f"{into}, where --instance fetches to for -o {args.output}, holds an earlier fetch: import it "
                f"without fetching (sim import {into} -o {args.output}), or fetch anew into --fetch-dir DIR"
            )
    return ""


def _fetch(args: argparse.Namespace) -> FetchSummary:
    """Fetch the instance into --fetch-dir (default: beside the scenario, NAME-marketo),
    with the credentials from the environment only (never the command line: `ps` and shell
    history keep it), progress on standard error."""
    into = Path(args.fetch_dir) if args.fetch_dir is not None else fetch_dir(Path(args.output))
    summary = fetch_instance(
        args.instance,
        client_id=os.environ.get("MARKETO_CLIENT_ID", ""),
        client_secret=os.environ.get("MARKETO_CLIENT_SECRET", ""),
        into=into,
        progress=lambda line: print(line, file=sys.stderr),
    )
    for note in summary.notes:
        print(f"note: {note}", file=sys.stderr)
    if summary.without_flow:
        plural = "s" if len(summary.without_flow) > 1 else ""
        print(f"note: no flow steps for campaign{plural} {', '.join(map(str, summary.without_flow))}", file=sys.stderr)
    return summary


def fetch_dir(output: Path) -> Path:
    """Where a live fetch goes by default: beside the scenario, ``NAME-marketo`` (``-o -``:
    ``marketo-fetch`` here), kept so it can be imported again without a fetch."""
    return Path("marketo-fetch") if str(output) == "-" else output.with_name(f"{output.stem}-marketo")


def _traffic(args: argparse.Namespace, export: Export) -> Traffic | None:
    """The traffic of --activities and of the Get Lead Activities pages among the export's
    files, with the activity types of --types or of the export's types.json; None without
    any activity file."""
    files = [str(path) for path in args.activities or ()] + list(export.activity_files)
    if not files:
        return None
    types_files = [str(args.types)] if args.types is not None else list(export.activity_type_files)
    if len(types_files) > 1:
        shown = ", ".join(types_files)
        message = f"the export holds {len(types_files)} activity types files ({shown}); name one with --types"
        raise ExportError([ExportProblem(file=types_files[0], where="", message=message)])
    types = read_activity_types(types_files[0]) if types_files else None
    names = campaign_names(export.campaigns.values())  # the scenario's names: a request names one campaign
    with rows_read_line() as progress:
        return read_traffic(files, types=types, campaign_names=names, progress=progress)


def replay_path(output: Path) -> Path:
    """Where the CSV replay of a scenario goes: beside it, ``NAME-activities.csv``."""
    return output.with_name(f"{output.stem}-activities.csv")


def write_import(
    export: Export,
    *,
    output: Path,
    traffic: Traffic | None = None,
    flows: UserFlows | None = None,
    report_json: str | None = None,
    inputs: dict[str, Path] | None = None,
) -> Written:
    """Translate ``export`` (with ``traffic`` and the user's ``flows``) and write the
    scenario to ``output``, its replay beside it, and the report as JSON to
    ``report_json`` ("-": standard output). Raises `Refused` for an output over an input,
    ExportError for what the user gave (a flows file whose steps do not load) and `ImportBug` when
    the importer's own output does not load."""
    if traffic is not None and str(output) == "-":
        raise Refused("-o -: with traffic the scenario goes to a file, its CSV replay beside it; give a path")
    replay = replay_path(output) if traffic is not None else None
    outputs = {"-o": str(output)} | ({"--report-json": report_json} if report_json else {})
    outputs |= {"the replay": str(replay)} if replay is not None else {}
    problem = output_problem(outputs, inputs or {})
    if problem is not None:
        raise Refused(problem)
    translation = translate(export, traffic=traffic, flows=flows, replay_name=replay.name if replay else "")
    existed = replay is not None and replay.exists()
    if replay is not None and translation.replay is not None:
        _write(str(replay), translation.replay)
    try:
        scenario = parse_scenario(translation.text, source=str(output))
    except ScenarioError as exc:
        if replay is not None and not existed:
            replay.unlink(missing_ok=True)
        raise _load_failure(exc, translation) from None
    _write(str(output), translation.text)
    if report_json:
        _write(report_json, json.dumps(translation.report.to_json(), indent=1, ensure_ascii=False) + "\n")
    return Written(translation=translation, scenario=scenario, replay=replay)


def _load_failure(exc: ScenarioError, translation: Translation) -> Exception:
    """The user's problems (steps of their flows file that do not load) or a bug."""
    theirs = [
        p
        for p in exc.problems
        if any(p.where.startswith(f'campaign "{n}", step') for n in translation.user_flow_campaigns)
    ]
    if translation.flows_file is not None and len(theirs) == len(exc.problems):
        file = translation.flows_file
        return ExportError([ExportProblem(file=file, where="", message=f"{p.where}: {p.message}") for p in theirs])
    return ImportBug(exc.problems)


def _write(path: str, text: str) -> None:
    target = open_output(path)
    try:
        target.write(text)
    except BaseException:
        target.discard()
        raise
    target.close()
