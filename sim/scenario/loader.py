"""Scenario files: TOML -> checked `sim.scenario.model.Scenario`, or every problem at once.

Loading and the definition checks (R2-R4, R8, R9, R16, R18, unknown names, bad values)
live together so that each problem is reported with where the user wrote it: the file,
the campaign, and the step by 1-based index and kind. Nothing here raises on the first
problem: `load_scenario` collects them all and raises one `ScenarioError`.

`_read` reads the file section by section, in the order below, each section by its own
module (`sim.scenario.read_sim`, `read_people`, `read_programs`, `read_campaigns` with
`read_smart_lists` and `read_flows`, `read_activities`, `read_load` with `read_csv`,
`read_queue`), all with one `sim.scenario.read_problems.Reader` that collects the problems;
then it runs the checks across sections (`sim.scenario.cross_checks`).

The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.scenario import cross_checks, model
from sim.scenario.model import Problem
from sim.scenario.read_activities import read_activities
from sim.scenario.read_campaigns import read_campaigns
from sim.scenario.read_load import read_load
from sim.scenario.read_people import read_fields, read_lists, read_people
from sim.scenario.read_problems import Reader
from sim.scenario.read_programs import read_programs
from sim.scenario.read_queue import read_queue
from sim.scenario.read_sim import read_sim
from sim.scenario.read_variants import merged, read_variants

#: The largest scenario file read: a scenario is a page of TOML; activities by the
#: million belong in a CSV replay, which is streamed.
MAX_FILE_BYTES = 16 * 2**20

#: The top-level keys of a scenario file ("generators" is the old name of "load").
SECTIONS = (
    "sim",
    "lists",
    "fields",
    "programs",
    "people",
    "person",
    "campaigns",
    "activities",
    "load",
    "queue",
    "variants",  # design variants for `sim sweep`, read by sim.scenario.variants
)


class ScenarioError(Exception):
    """A scenario file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def load_scenario(path: str | Path) -> model.Scenario:
    """Read, parse and check a scenario file; raises ScenarioError listing all problems."""
    return parse_scenario(read_text(path), source=str(path))


def load_variants(paths: Sequence[str | Path]) -> dict[str, model.Scenario]:
    """The designs to compare, by name: each file's ``[variants]`` (docs/sweeps.md), or
    the file itself, named by its stem, when it has none. Every problem of every file and
    variant is raised at once, each naming its file and variant."""
    designs: dict[str, model.Scenario] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            data = read_toml(read_text(path), source=str(path))
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        r = Reader(str(path))
        variants = read_variants(r, data)
        if r.problems:
            problems.extend(r.problems)
            continue
        base = {key: value for key, value in data.items() if key != "variants"}
        named = {name: (f"{path} [variant {name}]", merged(base, overlay)) for name, overlay in variants.items()}
        for name, (source, design) in (named or {Path(path).stem: (str(path), base)}).items():
            try:
                designs[_unique(name, designs)] = build_scenario(design, source=source, file=str(path))
            except ScenarioError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return designs


def _unique(name: str, taken: Mapping[str, object]) -> str:
    """``name``, or ``name (2)``, ``name (3)``, ... if another design has it already."""
    number, unique = 1, name
    while unique in taken:
        number += 1
        unique = f"{name} ({number})"
    return unique


def read_text(path: str | Path) -> str:
    """A scenario file's text (`decode_scenario`); raises ScenarioError naming it."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # /dev/zero must not fill the memory
    except OSError as exc:
        raise ScenarioError([Problem(file=str(path), where="", message=f"cannot read: {exc.strerror}")]) from None
    return decode_scenario(data, source=str(path))


def decode_scenario(data: bytes, *, source: str) -> str:
    """A scenario file's bytes as text: at most `MAX_FILE_BYTES`, UTF-8; raises
    ScenarioError. (A byte-order mark at the start is left out by `parse_scenario`.)"""
    if len(data) > MAX_FILE_BYTES:
        message = (
            f"larger than {MAX_FILE_BYTES // 2**20} MB, more than any scenario needs; "
            "put many activities in a CSV replay ([[load]] csv = ...), which has no limit"
        )
        raise ScenarioError([Problem(file=source, where="", message=message)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(file=source, where="", message=f"not UTF-8 text: {exc}")]) from None


def parse_scenario(text: str, *, source: str = "<scenario>") -> model.Scenario:
    """Parse and check scenario TOML text; ``source`` names it in problems."""
    return build_scenario(read_toml(text, source=source), source=source)


def read_toml(text: str, *, source: str = "<scenario>") -> dict[str, Any]:
    """Scenario TOML text as data, not yet checked; raises ScenarioError naming ``source``."""
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(file=source, where="", message=f"TOML syntax error: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file=source, where="", message="TOML nested too deeply to read")]) from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ScenarioError([Problem(file=source, where="", message=f"TOML value cannot be read: {exc}")]) from None
    if not data:
        message = "empty: nothing to run; a scenario needs campaigns and people, see docs/scenarios.md"
        raise ScenarioError([Problem(file=source, where="", message=message)])
    return data


def build_scenario(data: Mapping[str, Any], *, source: str = "<scenario>", file: str | None = None) -> model.Scenario:
    """Check already-parsed TOML data and build the Scenario (raises ScenarioError);
    ``file`` is where it was read from when ``source`` says more than the path."""
    r = Reader(source, file=file)
    scenario = _read(r, data)
    if r.problems:
        raise ScenarioError(r.problems)
    return scenario


def _read(r: Reader, data: Mapping[str, Any]) -> model.Scenario:
    """Every section of the file, in the order later ones need earlier ones, then the
    checks across sections; the problems are left on ``r``."""
    r.check_keys({key: value for key, value in data.items() if key != "generators"}, SECTIONS, "the scenario file")
    read_variants(r, data)  # checked here too, so that `sim check` reports a bad one
    seed, duration, budget = read_sim(r, data)
    lists = read_lists(r, data)
    fields = read_fields(r, data)
    programs = read_programs(r, data)
    population, people = read_people(r, data)
    campaigns = read_campaigns(r, data)
    cross_checks.check_requests_and_executes(r, campaigns)
    cross_checks.check_marketo_ids(r, campaigns)
    activities = read_activities(r, data, campaigns)
    generators, replays = read_load(r, data, campaigns)
    cross_checks.check_new_people(r, generators)
    r.more_csv_problems()
    cross_checks.check_some_people(r, population, people, generators)
    queue = read_queue(r, data)
    warnings = cross_checks.warnings(r, duration, campaigns, activities, generators, replays, queue)
    scenario = model.Scenario(
        seed=seed,
        duration=duration,
        step_budget=budget,
        fields=fields,
        lists=lists,
        programs=programs,
        campaigns=campaigns,
        population=population,
        people=tuple(people),
        activities=tuple(activities),
        generators=tuple(generators),
        replays=tuple(replays),
        queue=queue,
        warnings=warnings,
        source=r.source,
    )
    return cross_checks.estimates(r, scenario)
