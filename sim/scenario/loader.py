"""Scenario files: TOML -> checked `sim.scenario.model.Scenario`, or every problem at once.

Loading and the definition checks (R2-R4, R8, R9, R16, R18, unknown names, bad values)
live together so that each problem is reported with where the user wrote it: the file,
the campaign, and the step by 1-based index and kind. Nothing here raises on the first
problem: `load_scenario` collects them all and raises one `ScenarioError`.

The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

import array
import bisect
import csv
import datetime
import difflib
import math
import operator
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

import attrs

from sim.scenario import model
from sim.scenario.estimate import memory_problem, work_warning
from sim.scenario.model import (
    ARRIVALS,
    Action,
    Campaign,
    Choice,
    Filter,
    Problem,
    Step,
    Value,
)
from sim.scenario.people import is_generated_id
from sim.scenario.units import format_duration, parse_duration, parse_rate, show

T = TypeVar("T")

#: The largest scenario file read: a scenario is a page of TOML; activities by the
#: million belong in a CSV replay, which is streamed.
MAX_FILE_BYTES = 16 * 2**20

#: More people than any machine holds (they would need terabytes). Below it, whether a
#: population fits is measured against this machine's memory (`sim.scenario.estimate`).
MAX_PEOPLE = 1_000_000_000

#: Virtual times are kept on a microsecond grid, so no load may be denser than this.
MAX_RATE = 1_000_000.0

#: Executable nesting limit below the top parent (R8).
MAX_EXECUTE_DEPTH = 3

#: Step kind -> the parameters it takes (besides step, choices and default).
STEP_PARAMS: dict[str, tuple[str, ...]] = {
    "change_data_value": ("field", "value"),
    "change_score": ("field", "change"),
    "change_program_status": ("program", "status"),
    "add_to_list": ("list",),
    "remove_from_list": ("list",),
    "interesting_moment": ("description",),
    "send_email": ("email",),
    "send_alert": ("alert", "to"),
    "call_webhook": ("webhook", "latency", "status", "response", "payload"),
    "wait": ("duration",),
    "request_campaign": ("campaign",),
    "execute_campaign": ("campaign", "use_parent_tokens"),
    "remove_from_flow": ("campaigns",),
}

#: The columns of a CSV replay besides form fields ("field.NAME"): time, person and
#: activity first (required), then the attributes of the external activity types.
CSV_COLUMNS = ("time", "person", "activity", "form", "link", "page", "field", "value", "campaign", "source")

#: Problems shown per CSV file; the rest are counted.
CSV_PROBLEMS = 20

#: The ids of the people ``new_people`` creates.
_NEW_ID = re.compile(r"new[1-9]\d*")

_SCORE_CHANGE = re.compile(r"^\s*([+\-=])\s*(\d+(?:\.\d+)?)\s*$")


class ScenarioError(Exception):
    """A scenario file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def load_scenario(path: str | Path) -> model.Scenario:
    """Read, parse and check a scenario file; raises ScenarioError listing all problems."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # /dev/zero must not fill the memory
    except OSError as exc:
        raise ScenarioError([Problem(file=str(path), where="", message=f"cannot read: {exc.strerror}")]) from None
    return parse_scenario(decode_scenario(data, source=str(path)), source=str(path))


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
    return build_scenario(data, source=source)


def build_scenario(data: Mapping[str, Any], *, source: str = "<scenario>") -> model.Scenario:
    """Check already-parsed TOML data and build the Scenario (raises ScenarioError)."""
    builder = _Builder(source)
    scenario = builder.build(data)
    if builder.problems:
        raise ScenarioError(builder.problems)
    return scenario


# --- the builder ---------------------------------------------------------------------


class _Skip(Exception):
    """Raised inside the builder to abandon one item after recording its problem."""


def _suggest(word: str, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f'; did you mean "{close[0]}"?'
    if options and len(options) <= 12:
        return "; known: " + ", ".join(f'"{o}"' for o in options)
    return ""


def _kind_of(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), "a date-time" if isinstance(value, (datetime.date, datetime.time)) else type(value).__name__)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.where = ""
        self.fields: dict[str, model.FieldSpec] = {}
        #: Fields declared with a problem: using them is not a second problem.
        self.broken_fields: set[str] = set()
        self.lists: tuple[str, ...] = ()
        self.programs: dict[str, model.Program] = {}
        self.campaign_names: dict[str, None] = {}
        self.person_ids: set[str] = set()  # explicit people; p1..pN are implied by population
        self.population = 0
        self.kind = ""  # kind of the campaign being built
        #: Request and Execute Campaign actions with where they were written, for R3, R4, R8.
        self.calls: list[_Call] = []
        #: People no one declared, by the first form fill that creates them (its order among
        #: the timed activities, file, where, problem slot), and the other activities for
        #: such people; checked by `check_new_people`.
        self.created: dict[str, tuple[tuple[float, int, int], str, str, int]] = {}
        self.uncreated: list[tuple[tuple[float, int, int], str, str, str, int]] = []
        #: ("rate" | "csv", 1-based number among them) -> where its [[load]] table is.
        self.load_where: dict[tuple[str, int], str] = {}
        #: CSV table number -> its path as shown in problems, and how many problems it has;
        #: the number of each replay read.
        self.csv_shown: dict[int, str] = {}
        self.csv_problems: dict[int, int] = {}
        self.replay_numbers: list[int] = []
        self.renamed = False  # the file says [[generators]], the old name of [[load]]

    # -- reporting

    def problem(self, message: str, where: str | None = None) -> None:
        self.problems.append(Problem(file=self.source, where=self.where if where is None else where, message=message))

    def fail(self, message: str) -> _Skip:
        self.problem(message)
        return _Skip()

    def at(self, where: str) -> _At:
        return _At(self, where)

    def check_keys(self, table: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                self.problem(f'unknown key "{key}" in {what}{_suggest(key, allowed)}')

    # -- typed getters: record a problem and raise _Skip on a wrong type

    def table(self, parent: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{what} must be a table, not {_kind_of(value)} ({show(value)})")
        return value

    def get(self, table: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], default: Any = ...) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f'"{key}" is required')
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            shown = [k for k in kinds if not (k is int and float in kinds)]  # "a number" covers both
            names = _either([_kind_of(k()) if k in (bool, int, float, str, list, dict) else k.__name__ for k in shown])
            raise self.fail(f'"{key}" must be {names}, not {_kind_of(value)} ({show(value)})')
        return value

    def all_of(self, *getters: Callable[[], Any]) -> list[Any]:
        """Run every getter, so each problem is reported, not only the first; then give up
        (raise _Skip) if any failed."""
        results, failed = [], False
        for get in getters:
            try:
                results.append(get())
            except _Skip:
                failed = True
                results.append(None)
        if failed:
            raise _Skip()
        return results

    def section(self, data: Mapping[str, Any], key: str, kind: type[Any], where: str) -> Any:
        """A top-level table or array; an empty one (and a problem) if it has the wrong type."""
        with self.at(where):
            return self.get(data, key, kind, kind())
        return kind()

    def duration(self, table: Mapping[str, Any], key: str, default: Any = ...) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f'"{key}" is required (a duration such as "5m")')
            return default
        try:
            return parse_duration(table[key])
        except ValueError as exc:
            raise self.fail(f'"{key}": {exc}') from None

    def value(self, raw: object, what: str) -> Value:
        if isinstance(raw, (str, int, float, bool)):
            problem = number_problem(raw)
            if problem is not None:
                raise self.fail(f"{what}: {problem}")
            return raw
        raise self.fail(f"{what} must be a string, number or boolean, not {_kind_of(raw)} ({show(raw)})")

    def values(self, raw: object, what: str) -> tuple[Value, ...]:
        items = raw if isinstance(raw, list) else [raw]
        return tuple(self.value(item, what) for item in items)

    def name(self, kind: str, name: object, known: Iterable[str], of: str = "") -> str:
        """``name`` if it is one of ``known``; ``of`` says whose (e.g. 'of program "X"')."""
        if not isinstance(name, str):
            raise self.fail(f"{kind} name must be a string, not {_kind_of(name)} ({show(name)})")
        known = list(known)
        if name not in known:
            whose = f" {of}" if of else ""
            raise self.fail(f'unknown {kind} "{name}"{whose}{_suggest(name, known)}')
        return name

    def field_name(self, name: object) -> str:
        if isinstance(name, str) and name in self.broken_fields:
            raise _Skip()  # reported where it is declared; not "unknown" everywhere it is used
        return self.name("field", name, self.fields)

    # -- the whole file

    def build(self, data: Mapping[str, Any]) -> model.Scenario:
        self.check_keys(
            {key: value for key, value in data.items() if key != "generators"},  # the old name of "load"
            (
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
            ),
            "the scenario file",
        )
        seed, duration, budget = 0, 86400.0, 10_000
        with self.at("[sim]"):
            sim_table = self.table(data, "sim", "[sim]")
            self.check_keys(sim_table, ("seed", "duration", "step_budget"), "[sim]")
            seed = _guard(self, lambda: self.get(sim_table, "seed", int, 0), 0)
            duration = _guard(self, lambda: self.duration(sim_table, "duration", 86400.0), 86400.0)
            if duration <= 0:
                self.problem(f'"duration" must be longer than zero, not {show(sim_table["duration"])}')
                duration = 86400.0
            budget = _guard(self, lambda: self.get(sim_table, "step_budget", int, 10_000), 10_000)
            if budget < 1:
                self.problem(f'"step_budget" must be at least 1, not {budget}')
        with self.at("lists"):
            raw_lists: list[Any] = _guard(self, lambda: self.get(data, "lists", list, []), [])
            names = []
            for item in raw_lists:
                if isinstance(item, str):
                    names.append(item)
                else:
                    self.problem(f"list names must be strings, not {_kind_of(item)} ({show(item)})")
            self.lists = tuple(dict.fromkeys(names))
        self.build_fields(data)
        self.build_programs(data)
        population, people = self.build_people(data)
        raw_campaigns: Mapping[str, Any] = self.section(data, "campaigns", dict, "[campaigns]")
        self.campaign_names = dict.fromkeys(raw_campaigns)  # file order, for stable messages
        self.raw_campaigns = raw_campaigns
        campaigns: dict[str, Campaign] = {}
        for name, raw in raw_campaigns.items():
            with self.at(f'campaign "{name}"'):
                if not name.strip():
                    raise self.fail('a campaign needs a name; [campaigns.""] is empty')
                campaigns[name] = self.build_campaign(name, raw)
        self.check_requests_and_executes(campaigns)
        activities = self.build_activities(data, campaigns)
        generators, replays = self.build_load(data, campaigns)
        self.check_new_people(generators)
        self.more_csv_problems()
        people_wrong = any(problem.where == "[people]" for problem in self.problems)  # count is: said so
        if population == 0 and not people and not people_wrong and any(g.new_people < 1 for g in generators):
            # Timed activities name their people: an unknown one is reported there.
            self.problem("there are no people; add [people] count = N or [[person]] tables", where="[people]")
        queue = self.build_queue(data)
        warnings = self.warnings(duration, campaigns, activities, generators, replays, queue)
        scenario = model.Scenario(
            warnings=warnings,
            source=self.source,
            seed=seed,
            duration=duration,
            step_budget=budget,
            fields=self.fields,
            lists=self.lists,
            programs=self.programs,
            campaigns=campaigns,
            population=population,
            people=tuple(people),
            activities=tuple(activities),
            generators=tuple(generators),
            replays=tuple(replays),
            queue=queue,
        )
        if not self.problems:  # the estimates need a whole, valid scenario
            problem = memory_problem(scenario)
            if problem is not None:
                self.problem(problem, where="[people]")
            warning = work_warning(scenario)
            if warning is not None:
                scenario = attrs.evolve(
                    scenario, warnings=(*scenario.warnings, Problem(file=self.source, where="", message=warning))
                )
        return scenario

    def warnings(
        self,
        duration: float,
        campaigns: Mapping[str, Campaign],
        activities: list[model.ExternalActivity],
        generators: list[model.Generator],
        replays: list[model.Replay],
        queue: model.Queue | None,
    ) -> tuple[Problem, ...]:
        """Things that are valid but almost surely not what the author meant."""
        out: list[Problem] = []

        def warn(where: str, message: str) -> None:
            out.append(Problem(file=self.source, where=where, message=message))

        end = f"[sim] duration ({format_duration(duration)})"
        if not campaigns:
            warn("[campaigns]", "there are no campaigns, so nothing runs; add [campaigns.NAME] tables")
        executed = {call.action.campaign for call in self.calls if isinstance(call.action, model.ExecuteCampaign)}
        for campaign in campaigns.values():
            where = f'campaign "{campaign.name}"'
            if campaign.kind == "executable" and campaign.name not in executed:
                warn(where, "no campaign executes it, so it never runs (R4)")
            if campaign.schedule is not None and campaign.schedule.at >= duration:
                warn(where, f"its schedule starts at {format_duration(campaign.schedule.at)}, not before {end}")
            if not campaign.flow:
                warn(where, "its flow has no steps")
            if campaign.priority is not None and queue is None:
                warn(where, '"priority" has no effect without a [queue] table: runs never wait for a worker (R21)')
            elif campaign.priority is not None and campaign.priority_from >= duration:
                when = format_duration(campaign.priority_from)
                warn(where, f'"priority_from" ({when}) is not before {end}, so the override never applies (R21)')
        late = [a for a in activities if a.at >= duration]
        if late:
            warn("[[activities]]", f"timed activities at or after {end} never happen ({len(late)} of them)")
        for index, generator in enumerate(generators, 1):
            if generator.start >= duration:
                warn(self.load_where["rate", index], f"it starts at or after {end}, so it never fires")
        for number, replay in zip(self.replay_numbers, replays, strict=True):
            where = self.load_where["csv", number]
            if not replay.times:
                warn(where, f"{self.csv_shown[number]} has no rows")
            after = len(replay.times) - bisect.bisect_left(replay.times, duration)
            if after:
                warn(where, f"rows at or after {end} never happen ({after:,} of them)")
        if self.renamed:
            warn("[[generators]]", "now called [[load]]; rename the tables (the old name still works)")
        return tuple(out)

    # -- the campaign queue (R19-R22)

    def build_queue(self, data: Mapping[str, Any]) -> model.Queue | None:
        """``[queue]``: workers per queue and service times per step kind; None if absent."""
        if "queue" not in data:
            return None
        with self.at("[queue]"):
            table = self.table(data, "queue", "[queue]")
            self.check_keys(table, ("workers", "batch_workers", "service"), "[queue]")
            workers = _guard(self, lambda: self.workers(table, "workers", 10), 10)
            batch_workers = _guard(self, lambda: self.workers(table, "batch_workers", workers), workers)
            service = dict(model.Queue().service)
            raw_service = self.table(table, "service", "[queue.service]")
            self.check_keys(raw_service, ("default", *model.STEP_KINDS), "[queue.service]")
            if "default" in raw_service:
                with self.at("[queue.service] default"):
                    default = self.service_time(raw_service["default"], "default")
                    # Not the kinds whose time is elsewhere: a Wait's duration, a
                    # webhook's latency, an executed child's steps. Name them to set them.
                    service.update((kind, default) for kind in service if kind not in model.ZERO_SERVICE)
            for kind, raw in raw_service.items():
                if kind != "default":
                    with self.at(f"[queue.service] {kind}"):
                        service[kind] = self.service_time(raw, kind)
            return model.Queue(workers=workers, batch_workers=batch_workers, service=service)
        return None

    def workers(self, table: Mapping[str, Any], key: str, default: object) -> int:
        count = self.get(table, key, int, default)
        if not 1 <= count <= 100_000:
            raise self.fail(f'"{key}" is {show(count)}; a queue needs 1 to 100,000 workers')
        return int(count)

    def service_time(self, raw: object, key: str) -> model.ServiceTime:
        """A duration ("50ms": constant) or { distribution = ..., mean = ..., ... }."""
        if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
            return model.ServiceTime(mean=self.duration({key: raw}, key))
        if not isinstance(raw, dict):
            raise self.fail(
                f'a service time is a duration like "50ms" or a table like '
                f'{{ distribution = "exponential", mean = "50ms" }}, not {_kind_of(raw)} ({show(raw)})'
            )
        kind = self.get(raw, "distribution", str, "constant")
        keys = {"constant": ("mean",), "exponential": ("mean",), "lognormal": ("mean", "sd"), "empirical": ("values",)}
        if kind not in keys:
            raise self.fail(f'distribution "{kind}" is not one of {", ".join(model.DISTRIBUTIONS)}')
        self.check_keys(raw, ("distribution", *keys[kind]), f"{_a(kind)} {kind} service time")
        if kind == "empirical":
            values = self.get(raw, "values", list)
            if not values:
                raise self.fail('"values" is empty; give the observed times, e.g. values = ["40ms", "55ms", "2s"]')
            times = tuple(self.duration({"values": v}, "values") for v in values)
            return model.ServiceTime(distribution="empirical", mean=sum(times) / len(times), values=times)
        mean = self.duration(raw, "mean")
        sd = self.duration(raw, "sd") if kind == "lognormal" else 0.0
        if kind == "lognormal" and (mean <= 0 or sd <= 0):
            raise self.fail('a lognormal service time needs "mean" and "sd" above zero')
        return model.ServiceTime(distribution=kind, mean=mean, sd=sd)

    # -- fields, programs, people

    def build_fields(self, data: Mapping[str, Any]) -> None:
        raw = self.section(data, "fields", dict, "[fields]")
        for name, spec in raw.items():
            before = len(self.problems)
            with self.at(f'field "{name}"'):
                if isinstance(spec, dict):
                    self.check_keys(spec, ("default", "values", "weights"), f'field "{name}"')
                    values = self.values(self.get(spec, "values", list, []), "a field value")
                    weights = tuple(self.get(spec, "weights", list, []))
                    if weights and (
                        len(weights) != len(values)
                        or not all(_is_number(w) and w >= 0 and number_problem(w) is None for w in weights)
                    ):
                        raise self.fail(
                            f'"weights" needs one number from 0 to {model.MAX_NUMBER:,} per value ({len(values)} '
                            f"values), not {show(list(weights))}"
                        )
                    if weights and sum(weights) <= 0:
                        raise self.fail('"weights" must not all be zero')
                    default = (
                        self.value(spec["default"], '"default"') if "default" in spec else (values[0] if values else "")
                    )
                    if not values and "default" not in spec:
                        raise self.fail('give "default", or "values" to draw from')
                    self.fields[name] = model.FieldSpec(name=name, default=default, values=values, weights=weights)
                else:
                    self.fields[name] = model.FieldSpec(name=name, default=self.value(spec, "a field default"))
            if len(self.problems) > before and name not in self.fields:
                self.broken_fields.add(name)
        self.fields.setdefault("score", model.FieldSpec(name="score", default=0))

    def build_programs(self, data: Mapping[str, Any]) -> None:
        raw = self.section(data, "programs", dict, "[programs]")
        for name, spec in raw.items():
            with self.at(f'program "{name}"'):
                if not isinstance(spec, dict):
                    raise self.fail(f"a program must be a table, not {_kind_of(spec)}")
                self.check_keys(spec, ("statuses", "tokens"), f'program "{name}"')
                statuses = self.get(spec, "statuses", list, ["Not in Program", "Member"])
                if not statuses or not all(isinstance(s, str) for s in statuses):
                    raise self.fail('"statuses" must be a non-empty array of strings, first the starting status')
                if len(set(statuses)) != len(statuses):
                    raise self.fail('"statuses" has a duplicate')
                tokens = self.get(spec, "tokens", dict, {})
                clean: dict[str, str] = {}
                for key, val in tokens.items():
                    problem = number_problem(val)
                    if problem is not None:
                        self.problem(f'token "{key}": {problem}')
                    elif isinstance(val, (str, int, float)) and not isinstance(val, bool):
                        clean[key] = str(val)
                    else:
                        self.problem(f'token "{key}" must be a string or number, not {_kind_of(val)}')
                self.programs[name] = model.Program(name=name, statuses=tuple(statuses), tokens=clean)

    def build_people(self, data: Mapping[str, Any]) -> tuple[int, list[model.PersonSpec]]:
        count = 0
        with self.at("[people]"):
            table = self.table(data, "people", "[people]")
            self.check_keys(table, ("count",), "[people]")
            count = self.get(table, "count", int, 0)
            if count < 0:
                self.problem(f'"count" must be zero or more, not {count}')
                count = 0
            elif count > MAX_PEOPLE:
                self.problem(f'"count" = {show(count)} is more people than any machine holds; at most {MAX_PEOPLE:,}')
        self.population = count  # as written: its people are known names even if too many
        count = min(count, MAX_PEOPLE)
        people: list[model.PersonSpec] = []
        seen = self.person_ids  # every id written, so a person with a problem is not also "unknown"
        raw = self.section(data, "person", list, "[[person]]")
        for index, spec in enumerate(raw, 1):
            with self.at(f"[[person]] {index}"):
                if not isinstance(spec, dict):
                    raise self.fail(f"must be a table, not {_kind_of(spec)}")
                self.check_keys(spec, ("id", "fields", "lists"), "[[person]]")
                pid = self.get(spec, "id", str)
                self.where = f'person "{pid}"'
                if re.fullmatch(r"p[1-9]\d*", pid) and int(pid[1:]) <= count:
                    raise self.fail(f'"{pid}" clashes with a generated person (p1..p{count}); pick another id')
                if pid in seen:
                    raise self.fail("this person id is used twice")
                seen.add(pid)
                fields = self.field_values(self.get(spec, "fields", dict, {}))
                lists = tuple(self.name("list", n, self.lists) for n in self.get(spec, "lists", list, []))
                people.append(model.PersonSpec(id=pid, fields=fields, lists=lists))
        return count, people

    def is_person(self, pid: str) -> bool:
        """An explicit person's id, or one of the generated p1..pN."""
        return pid in self.person_ids or is_generated_id(pid, self.population)

    def field_values(self, raw: Mapping[str, Any]) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for key, val in raw.items():
            try:
                field = self.field_name(key)  # first: field_value needs a known field
                out[field] = self.field_value(field, val)
            except _Skip:
                pass
        return out

    def field_value(self, field: str, raw: object) -> Value:
        value = self.value(raw, f'value of "{field}"')
        default = self.fields[field].default
        if _is_number(default) and not _is_number(value) and value != "NULL":
            raise self.fail(f'field "{field}" holds numbers; {show(value)} is not a number')
        return None if value == "NULL" else value

    # -- campaigns

    def build_campaign(self, name: str, raw: object) -> Campaign:
        if not isinstance(raw, dict):
            raise self.fail(f"a campaign must be a table, not {_kind_of(raw)}")
        allowed = (
            *("kind", "program", "active", "qualification", "triggers", "filters", "schedule", "flow"),
            *("priority", "priority_from"),
        )
        self.check_keys(raw, allowed, "a campaign")
        kind = self.get(raw, "kind", str, "trigger")
        if kind not in ("trigger", "batch", "executable"):
            raise self.fail(f'kind "{kind}" is not a campaign kind; use "trigger", "batch" or "executable"')
        self.kind = kind
        program = _guard(self, lambda: self.optional_name(raw, "program", "program", self.programs), None)
        active = _guard(self, lambda: self.get(raw, "active", bool, True), True)
        triggers = tuple(self.collect(self.get(raw, "triggers", list, []), "trigger", self.build_trigger))
        filters = tuple(self.collect(self.get(raw, "filters", list, []), "filter", self.build_filter))
        qualification = _guard(
            self, lambda: self.build_qualification(raw.get("qualification", "once")), model.Qualification()
        )
        schedule = None
        if "schedule" in raw:
            schedule = _guard(self, lambda: self.build_schedule(raw["schedule"]), None)
        # R1-R4, R9: what each kind may hold
        if kind == "trigger":
            if not raw.get("triggers"):
                self.problem('a trigger campaign needs at least one trigger (R1); add triggers = [{ trigger = "..." }]')
            if schedule is not None:
                self.problem('a trigger campaign has no schedule; use kind = "batch" for a scheduled run (R2)')
        elif kind == "batch":
            if triggers:
                self.problem("a batch campaign's smart list has filters only, no triggers (R2)")
            if "schedule" not in raw:
                self.problem('a batch campaign needs a schedule, e.g. schedule = { at = "1h" } (R2)')
        else:
            if triggers:
                self.problem("an executable campaign's smart list may hold filters only, not triggers (R4, R9)")
            if schedule is not None:
                self.problem("an executable campaign is never scheduled; it runs only from Execute Campaign (R4, R9)")
            if "active" in raw:
                self.problem('an executable campaign is never activated; remove "active" (R4)')
        no_override: tuple[model.Priority | None, float] = (None, 0.0)
        priority, priority_from = _guard(self, lambda: self.build_priority(raw, kind), no_override)
        flow_raw = self.get(raw, "flow", list, [])
        steps: list[Step] = []
        for index, step_raw in enumerate(flow_raw, 1):
            step_kind = step_raw.get("step", "?") if isinstance(step_raw, dict) else "?"
            with self.at(f'campaign "{name}", step {index} ({step_kind})'):
                step = self.build_step(step_raw, kind, program)
                steps.append(step)
                for action in _actions(step):
                    if isinstance(action, (model.RequestCampaign, model.ExecuteCampaign)):
                        self.calls.append(_Call(campaign=name, where=self.where, action=action))
        return Campaign(
            name=name,
            kind=kind,
            program=program,
            active=active if kind != "executable" else True,
            triggers=triggers,
            filters=filters,
            qualification=qualification,
            schedule=schedule,
            flow=tuple(steps),
            priority=priority,
            priority_from=priority_from,
        )

    def build_priority(self, raw: Mapping[str, Any], kind: str) -> tuple[model.Priority | None, float]:
        """R21: an admin's override of a trigger campaign's priority, from a time on."""
        if "priority" not in raw:
            if "priority_from" in raw:
                raise self.fail('"priority_from" needs "priority" (the class it switches to, R21)')
            return None, 0.0
        priority = self.get(raw, "priority", str)
        if priority not in model.PRIORITIES:
            raise self.fail(f'"priority" is "{priority}"; use "high", "medium" or "low" (R19)')
        if kind != "trigger":
            raise self.fail(
                f"only a trigger campaign's priority can be overridden (R21), not {_a(kind)} {kind} campaign's"
            )
        return priority, self.duration(raw, "priority_from", 0.0)

    def collect(self, items: list[Any], what: str, build: Callable[[Any], T]) -> Iterator[T]:
        outer = self.where
        for index, item in enumerate(items, 1):
            with self.at(f"{outer}, {what} {index}" if outer else f"{what} {index}"):
                yield build(item)

    def optional_name(self, raw: Mapping[str, Any], key: str, kind: str, known: Iterable[str]) -> str | None:
        if key not in raw:
            return None
        return self.name(kind, raw[key], known)

    def build_trigger(self, raw: object) -> model.Trigger:
        if not isinstance(raw, dict):
            raise self.fail(f'a trigger must be a table like {{ trigger = "fills_out_form" }}, not {_kind_of(raw)}')
        name = self.get(raw, "trigger", str)
        if name not in model.TRIGGER_ACTIVITIES:
            raise self.fail(f'unknown trigger "{name}"{_suggest(name, model.TRIGGER_ACTIVITIES)}')
        allowed = model.TRIGGER_CONSTRAINTS[name]
        self.check_keys(raw, ("trigger", *allowed), f'trigger "{name}"')
        constraints = []
        for key in allowed:
            if key in raw:
                values = self.values(raw[key], f'constraint "{key}"')
                if key in ("new_value", "old_value"):
                    values = tuple(None if v == "NULL" else v for v in values)  # "NULL": the empty value
                for value in values:
                    self.check_constraint(raw, key, value)
                constraints.append((key, values))
        return model.Trigger(name=name, constraints=tuple(constraints))

    def check_constraint(self, trigger: Mapping[str, Any], key: str, value: Value) -> None:
        if key == "field":
            self.field_name(value)
        elif key == "list":
            self.name("list", value, self.lists)
        elif key == "program":
            self.name("program", value, self.programs)
        elif key in ("new_status", "old_status"):
            program = trigger.get("program")
            if isinstance(program, str) and program in self.programs:
                self.name("status", value, self.programs[program].statuses, of=f'of program "{program}"')
            else:
                known = dict.fromkeys(s for p in self.programs.values() for s in p.statuses)
                self.name("status", value, known, of="of any program")
        elif key == "source" and value not in model.REQUEST_SOURCES:
            raise self.fail(f'source "{value}" is not a request source; use one of {", ".join(model.REQUEST_SOURCES)}')

    def build_filter(self, raw: object) -> Filter:
        if not isinstance(raw, dict):
            raise self.fail(
                f'a filter must be a table like {{ field = "country", op = "is", value = "US" }}, not {_kind_of(raw)}'
            )
        if "list" in raw:
            self.check_keys(raw, ("list", "member"), "a list filter")
            return model.ListFilter(
                list=self.name("list", raw["list"], self.lists), member=self.get(raw, "member", bool, True)
            )
        if "program" in raw:
            self.check_keys(raw, ("program", "status", "op"), "a program status filter")
            program = self.name("program", raw["program"], self.programs)
            status = self.name(
                "status", self.get(raw, "status", str), self.programs[program].statuses, of=f'of program "{program}"'
            )
            op = self.get(raw, "op", str, "is")
            if op not in ("is", "is not"):
                raise self.fail(f'op "{op}" is not a program status comparison; use "is" or "is not"')
            return model.ProgramStatusFilter(program=program, status=status, negate=op == "is not")
        if "field" in raw:
            self.check_keys(raw, ("field", "op", "value"), "a field filter")
            field = self.field_name(raw["field"])
            op = self.get(raw, "op", str)
            if op not in model.FIELD_OPERATORS:
                raise self.fail(f'op "{op}" is not a comparison{_suggest(op, model.FIELD_OPERATORS)}')
            if op in ("is empty", "is not empty"):
                if "value" in raw:
                    raise self.fail(f'op "{op}" takes no "value"')
                return model.FieldFilter(field=field, op=op)
            values = self.values(self.get(raw, "value", (str, int, float, bool, list)), '"value"')
            if op in ("greater than", "less than", "at least", "at most") and not all(_is_number(v) for v in values):
                raise self.fail(f'op "{op}" compares numbers; {show(raw["value"])} is not a number')
            return model.FieldFilter(field=field, op=op, values=values)
        needs = 'a filter needs "field" (with op and value), "list", or "program" (with status)'
        raise self.fail(f"{needs}; got keys {show(sorted(raw))}")

    def build_qualification(self, raw: object) -> model.Qualification:
        if not isinstance(raw, str):
            raise self.fail(f'"qualification" must be a string, not {_kind_of(raw)} ({show(raw)})')
        text = " ".join(raw.lower().replace("_", " ").split())
        if text == "once":
            return model.Qualification(rule="once")
        if text == "every time":
            return model.Qualification(rule="every_time")
        if text.startswith("once every "):
            written = text[len("once every ") :]
            try:
                interval = parse_duration(written)
            except ValueError as exc:
                if "too long" in str(exc):
                    raise self.fail(f'qualification "{raw}": {exc}') from None
            else:
                if interval > 0:
                    return model.Qualification(rule="once_every", interval=interval)
                if re.match(r"\d*\.?\d*[1-9]", written):  # not zero as written: below 1 µs
                    zero = "the interval is zero at the microsecond; give 1 µs or more"
                    raise self.fail(f'qualification "{raw}": {zero}')
        raise self.fail(f'qualification "{raw}" is not a rule; use "once", "every time" or "once every N days" (R18)')

    def build_schedule(self, raw: object) -> model.Schedule:
        if not isinstance(raw, dict):
            raise self.fail(f'"schedule" must be a table like {{ at = "1h", every = "1d" }}, not {_kind_of(raw)}')
        self.check_keys(raw, ("at", "every"), '"schedule"')
        at = self.duration(raw, "at", 0.0)
        every = None
        if "every" in raw:
            named = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}
            every = named.get(raw["every"]) if isinstance(raw["every"], str) else None
            if every is None:
                every = self.duration(raw, "every")
            if every < 1e-6:
                raise self.fail('"every" must be at least 1 µs: times are kept to the microsecond')
        return model.Schedule(at=at, every=every)

    # -- steps

    def build_step(self, raw: object, campaign_kind: str, program: str | None) -> Step:
        if not isinstance(raw, dict):
            raise self.fail(
                f'a step must be a table like {{ step = "change_score", change = "+10" }}, not {_kind_of(raw)}'
            )
        kind = self.get(raw, "step", str)
        if kind not in model.STEP_KINDS:
            raise self.fail(f'unknown step "{kind}"{_suggest(kind, model.STEP_KINDS)}')
        # R9, R16: where Wait and Call Webhook may stand
        if campaign_kind == "executable" and kind in ("wait", "call_webhook"):
            self.problem(f"{kind} is not allowed in an executable campaign's flow (R9)")
        elif kind == "call_webhook" and campaign_kind != "trigger":
            self.problem(f"call_webhook is only valid in trigger campaigns, not in a {campaign_kind} campaign (R16)")
        if "choices" not in raw:
            if "default" in raw:
                self.problem('"default" goes with "choices"; without choices, put the parameters on the step')
            params = {k: v for k, v in raw.items() if k not in ("step", "default")}
            return Step(kind=kind, action=self.build_action(kind, params, program))
        choices_raw = self.get(raw, "choices", list)
        # Parameters on the step itself are shared by every choice and the default.
        shared = {k: v for k, v in raw.items() if k not in ("step", "choices", "default")}
        self.check_keys(shared, (*STEP_PARAMS[kind], "step", "choices", "default"), f"a {kind} step")
        shared = {k: v for k, v in shared.items() if k in STEP_PARAMS[kind]}  # reported once, here
        outer = self.where
        choices: list[Choice] = []
        for index, choice_raw in enumerate(choices_raw, 1):
            self.where = f"{outer}, choice {index}"
            try:
                choices.append(self.build_choice(kind, choice_raw, shared, program))
            except _Skip:
                pass
        self.where = f"{outer}, default choice"
        default_raw = raw.get("default", "do nothing")
        action: Action | None = None
        if default_raw != "do nothing":
            if not isinstance(default_raw, dict):
                raise self.fail(f'"default" must be a table of {kind} parameters or "do nothing"')
            action = self.build_action(kind, {**shared, **default_raw}, program)
        self.where = outer
        return Step(kind=kind, action=action, choices=tuple(choices))

    def build_choice(self, kind: str, raw: object, shared: Mapping[str, Any], program: str | None) -> Choice:
        if not isinstance(raw, dict) or "if" not in raw:
            raise self.fail(
                'a choice must be a table with "if" (a filter or an array of filters) and the step parameters'
            )
        conditions_raw = raw["if"] if isinstance(raw["if"], list) else [raw["if"]]
        conditions = tuple(self.build_filter(c) for c in conditions_raw)
        params = {**shared, **{k: v for k, v in raw.items() if k != "if"}}
        return Choice(conditions=conditions, action=self.build_action(kind, params, program))

    def build_action(self, kind: str, params: Mapping[str, Any], program: str | None) -> Action:
        builder = getattr(self, f"action_{kind}")
        action: Action = builder(params, program)
        return action

    def params(self, params: Mapping[str, Any], kind: str) -> None:
        self.check_keys(params, STEP_PARAMS[kind], f"a {kind} step")

    def tokens_in(self, text: str, program: str | None) -> None:
        for loose in re.finditer(r"\{\{[^{]*?\}\}", text, re.DOTALL):
            match = model.TOKEN.fullmatch(loose.group(0))
            if match is None:
                forms = "{{my.NAME}}, {{lead.FIELD}} or {{trigger.NAME}}"
                self.problem(f'malformed token "{loose.group(0)}"; write {forms}')
                continue
            scope, name = match.group(1), match.group(2)
            if scope == "my":
                tokens = self.programs[program].tokens if program else {}
                where = f'program "{program}"' if program else "this campaign (it is in no program)"
                if self.kind == "executable":
                    # R10: with use_parent_tokens the value comes from the caller's program.
                    tokens = {k: v for p in self.programs.values() for k, v in p.tokens.items()}
                    where = "any program (an executable may use its caller's with use_parent_tokens)"
                if name not in tokens:
                    self.problem(
                        f'unknown token "{{{{my.{name}}}}}": not a my-token of {where}{_suggest(name, tokens)}'
                    )
            elif scope == "lead":
                if name not in self.fields:
                    self.problem(f'unknown token "{{{{lead.{name}}}}}": no field "{name}"{_suggest(name, self.fields)}')
            elif scope != "trigger":
                self.problem(f'unknown token scope "{scope}" in "{match.group(0)}"; use my., lead. or trigger.')

    def action_change_data_value(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "change_data_value")
        field, raw = self.all_of(
            lambda: self.field_name(self.get(p, "field", str)), lambda: self.get(p, "value", (str, int, float, bool))
        )
        if isinstance(raw, str) and "{{" in raw:
            self.tokens_in(raw, program)
            return model.ChangeDataValue(field=field, value=raw)
        return model.ChangeDataValue(field=field, value=self.field_value(field, raw))

    def action_change_score(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "change_score")
        field, change = self.all_of(lambda: self.score_field(p), lambda: self.get(p, "change", (str, int)))
        match = _SCORE_CHANGE.match(str(change)) if isinstance(change, str) else None
        if not isinstance(change, int) and match is None:
            raise self.fail(f'change {show(change)} is not a score change; write "+N", "-N" or "=N", e.g. "+10" (R14)')
        # The amount as written: an int compared as it is (10**309 has no float).
        amount = abs(change) if isinstance(change, int) else float(match.group(2)) if match else 0.0
        problem = number_problem(amount, shown=None if isinstance(change, int) else change)
        if problem is not None:
            raise self.fail(f'"change": {problem}')
        if isinstance(change, int):
            return model.ChangeScore(field=field, op="+" if change >= 0 else "-", amount=float(amount))
        assert match is not None
        return model.ChangeScore(field=field, op=match.group(1), amount=amount)  # type: ignore[arg-type]

    def score_field(self, p: Mapping[str, Any]) -> str:
        field = self.field_name(self.get(p, "field", str, "score"))
        default = self.fields[field].default
        if not _is_number(default):
            raise self.fail(f'field "{field}" is not numeric (its default is {show(default)}); a score needs a number')
        return field

    def action_change_program_status(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "change_program_status")
        name = self.name(
            "program", self.get(p, "program", str, program) if program else self.get(p, "program", str), self.programs
        )
        status = self.name(
            "status", self.get(p, "status", str), self.programs[name].statuses, of=f'of program "{name}"'
        )
        return model.ChangeProgramStatus(program=name, status=status)

    def action_add_to_list(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "add_to_list")
        return model.AddToList(list=self.name("list", self.get(p, "list", str), self.lists))

    def action_remove_from_list(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "remove_from_list")
        return model.RemoveFromList(list=self.name("list", self.get(p, "list", str), self.lists))

    def action_interesting_moment(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "interesting_moment")
        text = self.get(p, "description", str)
        self.tokens_in(text, program)
        return model.InterestingMoment(description=text)

    def action_send_email(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "send_email")
        return model.SendEmail(email=self.get(p, "email", str))

    def action_send_alert(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "send_alert")
        alert, to = self.all_of(lambda: self.get(p, "alert", str), lambda: self.get(p, "to", str, ""))
        return model.SendAlert(alert=alert, to=to)

    def action_call_webhook(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "call_webhook")
        webhook, latency, status, mappings, payload = self.all_of(
            lambda: self.get(p, "webhook", str),
            lambda: self.duration(p, "latency", 0.5),
            lambda: self.http_status(p),
            lambda: self.response_mappings(p),
            lambda: self.get(p, "payload", str, ""),
        )
        self.tokens_in(payload, program)
        return model.CallWebhook(webhook=webhook, latency=latency, status=status, response=mappings, payload=payload)

    def http_status(self, p: Mapping[str, Any]) -> int:
        status: int = self.get(p, "status", int, 200)
        if not 100 <= status <= 599:
            raise self.fail(f'"status" {status} is not an HTTP status code (100-599)')
        return status

    def response_mappings(self, p: Mapping[str, Any]) -> tuple[tuple[str, Value], ...]:
        mappings = []
        for field, raw in self.get(p, "response", dict, {}).items():
            try:
                field = self.field_name(field)  # first: field_value needs a known field
                mappings.append((field, self.field_value(field, raw)))
            except _Skip:
                pass
        return tuple(mappings)

    def action_wait(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "wait")
        return model.Wait(duration=self.duration(p, "duration"))

    def action_request_campaign(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "request_campaign")
        return model.RequestCampaign(campaign=self.name("campaign", self.get(p, "campaign", str), self.campaign_names))

    def action_execute_campaign(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "execute_campaign")
        campaign, use_parent_tokens = self.all_of(
            lambda: self.name("campaign", self.get(p, "campaign", str), self.campaign_names),
            lambda: self.get(p, "use_parent_tokens", bool, False),
        )
        return model.ExecuteCampaign(campaign=campaign, use_parent_tokens=use_parent_tokens)

    def action_remove_from_flow(self, p: Mapping[str, Any], program: str | None) -> Action:
        self.params(p, "remove_from_flow")
        raw = self.get(p, "campaigns", (list, str))
        names = [raw] if isinstance(raw, str) else raw
        if not names:
            raise self.fail('"campaigns" must name at least one campaign')
        return model.RemoveFromFlow(campaigns=tuple(self.name("campaign", n, self.campaign_names) for n in names))

    # -- cross-campaign checks: R3, R4, R8, R9

    def check_requests_and_executes(self, campaigns: Mapping[str, Campaign]) -> None:
        executes: dict[str, list[_Call]] = {}
        for call in self.calls:
            action = call.action
            if isinstance(action, model.RequestCampaign):
                reason = request_refusal(campaigns.get(action.campaign), "marketo_flow_action")
                if reason:
                    self.problem(f'cannot request "{action.campaign}": {reason}', where=call.where)
                continue
            target = campaigns.get(action.campaign)
            if target is None:
                continue
            if target.kind != "executable":
                self.problem(
                    f'cannot execute "{action.campaign}": it is a {target.kind} campaign; '
                    'only campaigns with kind = "executable" can be executed (R4)',
                    where=call.where,
                )
            executes.setdefault(call.campaign, []).append(call)
        # R8: cycles and depth, each reported once, at the step that starts the chain
        reported: set[frozenset[str] | tuple[str, ...]] = set()
        for name in campaigns:
            for first, chain, problem in _execute_chains(executes, (name,)):
                if problem == "depth" and campaigns[chain[0]].kind == "executable":
                    continue  # an executable is never the top parent; its callers report it
                key: frozenset[str] | tuple[str, ...] = frozenset(chain) if problem == "cycle" else chain
                if key in reported:
                    continue
                reported.add(key)
                shown = " > ".join(f'"{c}"' for c in chain)
                if problem == "cycle":
                    message = f"Execute Campaign cycle: {shown} (R8)"
                else:
                    message = f"Execute Campaign nests deeper than {MAX_EXECUTE_DEPTH} levels: {shown} (R8)"
                self.problem(message, where=first.where)

    # -- external activities and generators

    def activity_attributes(
        self, raw: Mapping[str, Any], type_: str, campaigns: Mapping[str, Campaign]
    ) -> dict[str, Value]:
        allowed = model.EXTERNAL_ACTIVITIES[type_]
        attributes: dict[str, Value] = {}
        for key in allowed:
            if key in raw:
                attributes[key] = self.value(raw[key], f'"{key}"')
        if type_ == "change_data_value":
            field = self.field_name(self.get(raw, "field", str))
            attributes["value"] = self.field_value(field, self.get(raw, "value", (str, int, float, bool)))
        if type_ == "request_campaign":
            target = self.get(raw, "campaign", str)
            source = self.get(raw, "source", str, "web_service_api")
            if source not in model.REQUEST_SOURCES:
                raise self.fail(
                    f'source "{source}" is not a request source; use one of {", ".join(model.REQUEST_SOURCES)}'
                )
            attributes["source"] = source
            self.name("campaign", target, self.campaign_names)
            reason = request_refusal(campaigns.get(target), source)
            if reason:
                raise self.fail(f'cannot request "{target}": {reason}')
        return attributes

    def build_activities(
        self, data: Mapping[str, Any], campaigns: Mapping[str, Campaign]
    ) -> list[model.ExternalActivity]:
        raw = self.section(data, "activities", list, "[[activities]]")
        out: list[tuple[model.ExternalActivity, str, int]] = []  # with where, and its problems' place
        for index, item in enumerate(raw, 1):
            with self.at(f"[[activities]] {index}"):
                type_ = self.external_type(item, "activity", ("at", "person", "type", "fields"))
                try:
                    at, person, fields, attributes = self.all_of(
                        partial(self.duration, item, "at"),
                        partial(self.get, item, "person", str),
                        partial(self.form_fields, item, type_),
                        partial(self.activity_attributes, item, type_, campaigns),
                    )
                except _Skip:
                    # Its time may be unknown: its person is unknown only if nothing creates them.
                    pid = item.get("person")
                    if isinstance(pid, str) and type_ != "fill_out_form" and not self.is_person(pid):
                        self.note_person(pid, type_, (math.inf, 0, index), self.source, self.where)
                    raise
                activity = model.ExternalActivity(
                    at=at, person=person, type=type_, attributes=attributes, fields=fields
                )
                out.append((activity, self.where, len(self.problems)))
        out.sort(key=lambda item: item[0].at)  # stable: same time keeps file order
        for order, (activity, where, slot) in enumerate(out):
            if not self.is_person(activity.person):
                self.note_person(activity.person, activity.type, (activity.at, 0, order), self.source, where, slot)
        return [activity for activity, _, _ in out]

    def external_type(self, item: object, noun: str, keys: tuple[str, ...]) -> str:
        """The activity type of one [[activities]] or [[load]] table, with its keys checked.

        ``keys`` are the table's own keys; the type's attributes are added to them.
        """
        if not isinstance(item, dict):
            raise self.fail(f"must be a table, not {_kind_of(item)}")
        type_: str = self.get(item, "type", str)
        if type_ not in model.EXTERNAL_ACTIVITIES:
            raise self.fail(f'unknown activity type "{type_}"{_suggest(type_, model.EXTERNAL_ACTIVITIES)}')
        self.where = f"{self.where} ({type_})"
        self.check_keys(item, (*keys, *model.EXTERNAL_ACTIVITIES[type_]), f"a {type_} {noun}")
        return type_

    def form_fields(self, item: Mapping[str, Any], type_: str) -> dict[str, Value]:
        fields = self.field_values(self.get(item, "fields", dict, {}))
        if fields and type_ != "fill_out_form":
            raise self.fail('"fields" belongs to fill_out_form activities only')
        return fields

    # -- who the timed activities are for: declared people, and people form fills create

    def note_person(
        self, person: str, type_: str, order: tuple[float, int, int], file: str, where: str, slot: int | None = None
    ) -> None:
        """An activity for ``person``, who is not declared: a form fill creates them, any
        other activity needs an earlier form fill (checked in `check_new_people`).

        ``order`` is the activity's place among all timed activities (time, source, then
        place in the source), the order the engine runs them in. ``slot`` is where its
        problem, if any, goes among the others (default: after those found so far).
        """
        slot = len(self.problems) if slot is None else slot
        if type_ == "fill_out_form":
            first = self.created.get(person)
            if first is None or order < first[0]:
                self.created[person] = (order, file, where, slot)
        else:
            self.uncreated.append((order, person, file, where, slot))

    def check_new_people(self, generators: list[model.Generator]) -> None:
        """Activities for people nobody declared: each must come after a form fill that
        creates the person; no created id may clash with ``new_people``'s new1, new2, ..."""
        late: list[tuple[int, Problem]] = []

        def problem(slot: int, file: str, where: str, message: str) -> None:
            late.append((slot, Problem(file=file, where=where, message=message)))

        if any(generator.new_people > 0 for generator in generators):
            clash = '"{}" clashes with the people new_people creates (new1, new2, ...); pick another id'
            for pid in sorted(self.person_ids):
                if _NEW_ID.fullmatch(pid):
                    problem(len(self.problems), self.source, f'person "{pid}"', clash.format(pid))
            for pid, (_, file, where, slot) in self.created.items():
                if _NEW_ID.fullmatch(pid):
                    problem(slot, file, where, f"person {clash.format(pid)}")
        for order, pid, file, where, slot in self.uncreated:
            first = self.created.get(pid)
            if first is None or first[0] > order:
                later = "" if first is None else "; the form fill that creates it comes later"
                message = (
                    f'unknown person "{pid}"; declare it with [[person]] or [people] count '
                    f"(only a fill_out_form creates a person){later}"
                )
                if order[1] == 0 or self.row_problem_allowed(order[1]):
                    problem(slot, file, where, message)
        # Each problem goes where it was found among the others, so problems stay in file order.
        for slot, found in reversed(sorted(late, key=lambda pair: pair[0])):  # equal slots: file order
            self.problems.insert(slot, found)

    # -- [[load]]: generators (a rate) and replays (a CSV file)

    def build_load(
        self, data: Mapping[str, Any], campaigns: Mapping[str, Campaign]
    ) -> tuple[list[model.Generator], list[model.Replay]]:
        """The ``[[load]]`` tables, or ``[[generators]]`` (its old name, with a warning)."""
        key = "load"
        if "generators" in data:
            if "load" in data:
                self.problem(
                    "this file has both [[load]] and [[generators]], the old name of [[load]]; "
                    "move the [[generators]] tables into [[load]]",
                    where="[[generators]]",
                )
            else:
                key = "generators"
                self.renamed = True
        raw = self.section(data, key, list, f"[[{key}]]")
        generators: list[model.Generator] = []
        replays: list[model.Replay] = []
        for index, item in enumerate(raw, 1):
            with self.at(f"[[{key}]] {index}"):
                if isinstance(item, dict) and "csv" in item:
                    self.where = f"{self.where} (csv)"
                    number = len(self.csv_shown) + 1  # among the csv tables, read or not
                    replay = self.build_replay(item, campaigns, number)
                    if replay is not None:
                        replays.append(replay)
                        self.replay_numbers.append(number)
                        self.load_where["csv", number] = self.where
                else:
                    generators.append(self.build_generator(item, campaigns))
                    self.load_where["rate", len(generators)] = self.where
        return generators, replays

    def build_generator(self, item: object, campaigns: Mapping[str, Campaign]) -> model.Generator:
        keys = ("type", "rate", "daily", "arrivals", "start", "stop", "fields", "new_people")
        type_ = self.external_type(item, "[[load]] table", keys)
        assert isinstance(item, dict)
        arrivals = self.get(item, "arrivals", str, "constant")
        if arrivals not in ARRIVALS:
            raise self.fail(f'"arrivals" is "{arrivals}"; use "constant" (evenly spaced) or "poisson"')
        daily: tuple[float, ...] = ()
        if "daily" in item:
            if "rate" in item:
                raise self.fail('give "rate" or "daily" (24 rates, one per hour of the day), not both')
            daily = self.daily_rates(self.get(item, "daily", list))
            rate = sum(daily) / len(daily)
        else:
            rate = self.one_rate(self.get(item, "rate", str), '"rate"')
        fields: dict[str, tuple[Value, ...]] = {}
        for key, val in self.get(item, "fields", dict, {}).items():
            try:
                field = self.field_name(key)
                if val == []:
                    raise self.fail(f'"fields": "{key}" = [] has no value to draw; give one or more')
                fields[field] = tuple(self.field_value(field, v) for v in (val if isinstance(val, list) else [val]))
            except _Skip:
                pass
        if fields and type_ != "fill_out_form":
            raise self.fail('"fields" belongs to fill_out_form [[load]] tables only')
        new_people = self.new_people(item, type_)
        start = self.duration(item, "start", 0.0)
        stop = self.duration(item, "stop", None)
        if stop is not None and stop < start:
            raise self.fail(f'"stop" ({item["stop"]}) is before "start" ({item.get("start", 0)})')
        return model.Generator(
            type=type_,
            rate=rate,
            arrivals=arrivals,
            daily=daily,
            start=start,
            stop=stop,
            attributes=self.activity_attributes(item, type_, campaigns),
            fields=fields,
            new_people=new_people,
        )

    def new_people(self, item: Mapping[str, Any], type_: str) -> float:
        """``new_people``: the share of arrivals from people not known yet (0 to 1)."""
        if "new_people" not in item:
            return 0.0
        if type_ != "fill_out_form":
            raise self.fail(
                '"new_people" belongs to fill_out_form [[load]] tables only: '
                "a form fill by an unknown visitor is what creates a person"
            )
        share: float = self.get(item, "new_people", (int, float))
        if not 0 <= share <= 1:
            raise self.fail(
                f'"new_people" is {show(share)}; give the share of arrivals from new people, '
                "from 0 to 1 (0.25: one in four)"
            )
        return float(share)

    def one_rate(self, raw: str, what: str) -> float:
        try:
            rate = parse_rate(raw)
        except ValueError as exc:
            raise self.fail(f"{what}: {exc}") from None
        if rate > MAX_RATE:
            raise self.fail(f"{what}: {show(raw)} is over {MAX_RATE:,.0f}/s; times are kept to the µs")
        return rate

    def daily_rates(self, raw: list[Any]) -> tuple[float, ...]:
        """A daily profile: 24 rates, hour 0 (from 0h of each simulated day) first."""
        if len(raw) != 24:
            raise self.fail(f'"daily" needs 24 rates, one per hour of the day from 0h; it has {len(raw)}')
        return tuple(self.one_rate(r, f'"daily" hour {hour}') for hour, r in enumerate(raw))

    # -- CSV replays: a [[load]] table with csv = "FILE"

    def build_replay(
        self, item: Mapping[str, Any], campaigns: Mapping[str, Campaign], number: int
    ) -> model.Replay | None:
        """Read and check the rows of a ``csv`` table's file; its path is relative to the
        scenario file's folder (the working directory for a scenario without a file)."""
        self.check_keys(item, ("csv",), "a csv [[load]] table")
        written: str = self.get(item, "csv", str)
        path = Path(self.source).parent / written  # the working directory's if there is no file
        resolved = str(path.resolve())
        self.csv_shown[number] = str(path)
        try:
            stream = open(resolved, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
        except OSError as exc:
            base = "the scenario file's folder" if Path(self.source).is_file() else "the working directory"
            raise self.fail(
                f'csv "{written}": cannot read {resolved}: {exc.strerror}; a relative path starts from {base}'
            ) from None
        with stream:
            return self.read_rows(stream, resolved, number, campaigns)

    def csv_problem(self, number: int, line: int, message: str) -> None:
        """A problem at ``line`` of CSV replay ``number``, shown as FILE:LINE: MESSAGE."""
        if self.row_problem_allowed(number):
            self.problems.append(Problem(file=f"{self.csv_shown[number]}:{line}", where="", message=message))

    def row_problem_allowed(self, number: int) -> bool:
        """Whether to show one more problem of CSV replay ``number``: the first
        `CSV_PROBLEMS` are shown, the rest counted (`more_csv_problems`)."""
        count = self.csv_problems.get(number, 0) + 1
        self.csv_problems[number] = count
        return count <= CSV_PROBLEMS

    def more_csv_problems(self) -> None:
        for number, count in self.csv_problems.items():
            if count > CSV_PROBLEMS:
                more = count - CSV_PROBLEMS
                message = f"{more:,} more problem{'s' if more != 1 else ''} in this file not shown"
                self.problems.append(Problem(file=self.csv_shown[number], where="", message=message))

    def csv_header(self, header: list[str], number: int) -> dict[str, int] | None:
        """Column name -> position, from the first row; None (and problems) if it is bad."""
        names = [name.strip() for name in header]
        if not {"time", "person", "activity"} & set(names):
            shown = ",".join(header)
            self.csv_problem(
                number,
                1,
                f'the first row must name the columns, e.g. "time,person,activity,form"; it is "{shown}"',
            )
            return None
        columns: dict[str, int] = {}
        ok = True
        for position, name in enumerate(names):
            problem = None
            if name in columns:
                problem = f'column "{name}" appears twice'
            elif name.startswith("field."):
                field = name.removeprefix("field.")
                if field not in self.fields:
                    problem = f'column "{name}": unknown field "{field}"{_suggest(field, self.fields)}'
            elif name not in CSV_COLUMNS:
                close = difflib.get_close_matches(name, CSV_COLUMNS, n=1)
                known = ", ".join(CSV_COLUMNS)
                hint = f'did you mean "{close[0]}"?' if close else f"the columns are {known} and field.NAME"
                problem = f'unknown column "{name}"; {hint}'
            if problem is not None:
                self.csv_problem(number, 1, problem)
                ok = False
            columns.setdefault(name, position)
        for name in ("time", "person", "activity"):
            if name not in columns:
                required = '"time", "person" and "activity" are required'
                self.csv_problem(number, 1, f'the header has no "{name}" column; {required}')
                ok = False
        return columns if ok else None

    def read_rows(
        self, stream: TextIO, resolved: str, number: int, campaigns: Mapping[str, Campaign]
    ) -> model.Replay | None:
        """The rows of a CSV replay, checked, as a `model.Replay` sorted by time.

        Streamed: a row is kept as its time, its person (one string per distinct person)
        and the index of its template (type, attributes and form fields: each distinct one
        is checked and made once), so a million rows load in seconds and take little memory.
        """
        reader = csv.reader(_lines(stream))
        try:
            header = next(reader, None)
            if header is None:
                empty = 'the file is empty; the first row names the columns, e.g. "time,person,activity"'
                self.csv_problem(number, 1, empty)
                return None
            columns = self.csv_header(header, number)
            if columns is None:
                return None
            width = len(header)
            at_time, at_person, at_activity = columns["time"], columns["person"], columns["activity"]
            attributes = [name for name in CSV_COLUMNS[3:] if name in columns]
            fields = [name.removeprefix("field.") for name in columns if name.startswith("field.")]
            shape_of = operator.itemgetter(
                at_activity, *(columns[name] for name in attributes), *(columns[f"field.{name}"] for name in fields)
            )
            times: array.array[float] = array.array("d")
            people: list[str] = []
            kinds: array.array[int] = array.array("I")
            templates: list[model.ExternalActivity] = []
            # A row's type, attribute and field cells -> its template, or what is wrong with them.
            shapes: dict[object, int] = {}
            bad_shapes: dict[object, str] = {}
            seen: dict[str, tuple[str, bool]] = {}  # person -> (one shared string, declared)
            ordered, previous = True, 0.0
            for row in reader:
                if len(row) != width:
                    if row:  # not a blank line
                        message = f"{len(row)} cells, but the header names {width} columns"
                        self.csv_problem(number, reader.line_num, message)
                    continue
                cell = row[at_time]
                try:
                    try:
                        seconds: float | str = float(cell)  # seconds: the common case, and the fast one
                    except ValueError:
                        seconds = cell  # "1h30m"
                    at = parse_duration(seconds)  # checked (negative, nan, over 100 years), on the µs grid
                except ValueError as exc:
                    message = '"time" is empty' if not cell else f'"time": {exc}'
                    self.csv_problem(number, reader.line_num, message)
                    continue
                shape = shape_of(row)
                kind = shapes.get(shape)
                if kind is None:
                    made: int | str = bad_shapes.get(shape) or self.csv_template(
                        row, columns, attributes, fields, campaigns, templates
                    )
                    if isinstance(made, str):
                        bad_shapes[shape] = made
                        self.csv_problem(number, reader.line_num, made)
                        continue
                    kind = shapes[shape] = made
                person, declared = seen.get(row[at_person]) or self.csv_person(row[at_person], seen)
                if not person:
                    self.csv_problem(number, reader.line_num, '"person" is empty')
                    continue
                if not declared:
                    line = reader.line_num
                    file = f"{self.csv_shown[number]}:{line}"
                    self.note_person(person, templates[kind].type, (at, number, line), file, "")
                if at < previous:
                    ordered = False
                previous = at
                times.append(at)
                people.append(person)
                kinds.append(kind)
        except csv.Error as exc:
            self.csv_problem(number, reader.line_num, f"not a CSV file the csv module can read: {exc}")
            return None
        except _LineTooLong:
            message = f"a line longer than {MAX_CSV_LINE // 2**20} MB: not a CSV export (a binary file, /dev/zero?)"
            self.csv_problem(number, reader.line_num + 1, message)
            return None
        except OSError as exc:
            self.csv_problem(number, reader.line_num + 1, f"cannot read: {exc.strerror}")
            return None
        except UnicodeDecodeError as exc:
            self.csv_problem(number, reader.line_num + 1, f"not UTF-8 text: {exc}")
            return None
        if not ordered:  # sorted by time; rows at the same time keep the file's order
            order = sorted(range(len(times)), key=times.__getitem__)
            times = array.array("d", (times[i] for i in order))
            people = [people[i] for i in order]
            kinds = array.array("I", (kinds[i] for i in order))
        return model.Replay(csv=resolved, times=times, people=tuple(people), kinds=kinds, templates=tuple(templates))

    def csv_person(self, person: str, seen: dict[str, tuple[str, bool]]) -> tuple[str, bool]:
        """A person cell seen for the first time: whether the person is declared."""
        entry = seen[person] = (person, self.is_person(person))
        return entry

    def csv_template(
        self,
        row: list[str],
        columns: Mapping[str, int],
        attributes: list[str],
        fields: list[str],
        campaigns: Mapping[str, Campaign],
        templates: list[model.ExternalActivity],
    ) -> int | str:
        """A row's type, attributes and form fields, checked, as an index into
        ``templates`` (added if new); or the problem, as text."""
        type_ = row[columns["activity"]]
        if type_ not in model.EXTERNAL_ACTIVITIES:
            if not type_:
                return '"activity" is empty; give an activity type such as "fill_out_form"'
            return f'unknown activity "{type_}"{_suggest(type_, model.EXTERNAL_ACTIVITIES)}'
        allowed = model.EXTERNAL_ACTIVITIES[type_]
        given = {name: row[columns[name]] for name in attributes if row[columns[name]]}
        for name in given:
            if name not in allowed:
                return f'"{name}" does not belong to a {type_} activity; leave that cell empty'
        values: dict[str, Value] = {}
        for name in fields:
            cell = row[columns[f"field.{name}"]]
            if cell:
                if type_ != "fill_out_form":
                    return f'"field.{name}" belongs to fill_out_form rows only; leave that cell empty'
                try:
                    values[name] = self.csv_value(name, cell)
                except ValueError as exc:
                    return f'"field.{name}": {exc}'
        # In the order [[activities]] gives them, so both log the same details.
        attributes_of: dict[str, Value] = {name: given[name] for name in allowed if name in given}
        if type_ == "change_data_value":
            field, value = given.get("field"), given.get("value")
            if field is None or value is None:
                return '"field" and "value" are required for change_data_value; write NULL to empty the field'
            if field not in self.fields:
                return f'unknown field "{field}"{_suggest(field, self.fields)}'
            try:
                attributes_of["value"] = self.csv_value(field, value)
            except ValueError as exc:
                return f'"value": {exc}'
        elif type_ == "request_campaign":
            target = given.get("campaign")
            if target is None:
                return '"campaign" is required for request_campaign'
            if target not in self.campaign_names:
                return f'unknown campaign "{target}"{_suggest(target, self.campaign_names)}'
            source = attributes_of["source"] = given.get("source", "web_service_api")
            if source not in model.REQUEST_SOURCES:
                return f'source "{source}" is not a request source; use one of {", ".join(model.REQUEST_SOURCES)}'
            reason = request_refusal(campaigns.get(target), source)
            if reason:
                return f'cannot request "{target}": {reason}'
        templates.append(model.ExternalActivity(at=0.0, person="", type=type_, attributes=attributes_of, fields=values))
        return len(templates) - 1

    def csv_value(self, field: str, cell: str) -> Value:
        """A CSV cell written to ``field``: NULL is the empty value; a number for a field
        that holds numbers; true or false for a field whose default is a boolean; else text."""
        if cell == "NULL":
            return None
        default = self.fields[field].default
        if _is_number(default):
            number: int | float
            try:
                number = int(cell)
            except ValueError:  # also for more than 4,300 digits
                try:
                    number = float(cell)
                except ValueError:
                    raise ValueError(f'field "{field}" holds numbers; {show(cell)} is not a number') from None
            problem = number_problem(number, shown=cell)
            if problem is not None:
                raise ValueError(f'field "{field}": {problem}')
            return number
        if isinstance(default, bool) and cell.lower() in ("true", "false"):
            return cell.lower() == "true"
        return cell


#: The longest line a CSV replay may have: a row of a Marketo export is a few hundred bytes.
MAX_CSV_LINE = 2**20


class _LineTooLong(Exception):
    """A CSV line over `MAX_CSV_LINE`: the file is not a CSV export."""


def _lines(stream: TextIO) -> Iterator[str]:
    """The lines of ``stream``, each read with a bound: a file with no newline (``/dev/zero``)
    must not be read into memory whole."""
    while True:
        line = stream.readline(MAX_CSV_LINE + 1)
        if not line:
            return
        if len(line) > MAX_CSV_LINE:
            raise _LineTooLong
        yield line


class _At:
    """Context manager: sets the builder's location and swallows _Skip for one item."""

    def __init__(self, builder: _Builder, where: str) -> None:
        self.builder, self.where, self.outer = builder, where, builder.where

    def __enter__(self) -> None:
        self.builder.where = self.where

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        self.builder.where = self.outer
        return kind is _Skip


def _guard(builder: _Builder, get: Callable[[], T], fallback: T) -> T:
    """Run one getter; on a recorded problem, go on with ``fallback``."""
    try:
        return get()
    except _Skip:
        return fallback


def _a(word: str) -> str:
    """The indefinite article for ``word``."""
    return "an" if word[:1] in "aeiou" else "a"


def _either(names: list[str]) -> str:
    """'a string', 'a string or a table', 'a string, a number or a table'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_problem(value: object, *, shown: str | None = None) -> str | None:
    """What is wrong with a number a scenario gives (not finite, or beyond
    `model.MAX_NUMBER`), or None: also None for what is not a number. ``shown`` is the
    text the number was read from (a CSV cell), for the message."""
    if not _is_number(value):
        return None
    assert isinstance(value, (int, float))
    limit = f"{model.MAX_NUMBER:,}"
    written = show(value) if shown is None else show(shown)
    if isinstance(value, float) and math.isnan(value):
        return f"{written} is not a number sim can compare or add; give one from -{limit} to {limit}"
    if isinstance(value, float) and math.isinf(value) and (shown is None or "inf" in shown.lower()):
        return f"{written} is not a number sim can compare or add; give one from -{limit} to {limit}"
    if abs(value) > model.MAX_NUMBER:  # an int is compared as it is: 10**309 has no float
        return f"{written} is too large; numbers go from -{limit} to {limit} (2^53 - 1)"
    return None


def _actions(step: Step) -> Iterator[Action]:
    if step.action is not None:
        yield step.action
    for choice in step.choices:
        yield choice.action


def request_refusal(target: Campaign | None, source: str) -> str | None:
    """Why ``target`` cannot be requested from ``source`` (R3, R9), or None if it can."""
    if target is None:
        return None  # reported as an unknown name already
    if target.kind == "executable":
        return "it is an executable campaign; executables cannot be requested, use execute_campaign (R9)"
    requested = [t for t in target.triggers if t.name == "campaign_is_requested"]
    if not requested:
        return 'it has no campaign_is_requested trigger; add triggers = [{ trigger = "campaign_is_requested" }] (R3)'
    if not target.active:
        return "it is inactive; a requested campaign must be active (R3)"
    if not any(_accepts_source(t, source) for t in requested):
        return f'its campaign_is_requested trigger does not accept source "{source}" (R3)'
    return None


def _accepts_source(trigger: model.Trigger, source: str) -> bool:
    for key, values in trigger.constraints:
        if key == "source" and source not in values:
            return False
    return True


@attrs.frozen(kw_only=True)
class _Call:
    """A Request or Execute Campaign action and where it was written."""

    campaign: str
    where: str
    action: model.RequestCampaign | model.ExecuteCampaign


def _execute_chains(
    executes: Mapping[str, list[_Call]], chain: tuple[str, ...], calls: tuple[_Call, ...] = ()
) -> Iterator[tuple[_Call, tuple[str, ...], str]]:
    """Yield (call that starts it, chain, "cycle" | "depth") for every bad Execute path.

    ``calls[i]`` is the step of ``chain[i]`` that executes ``chain[i + 1]``.
    """
    for call in executes.get(chain[-1], ()):
        target = call.action.campaign
        longer, path = (*chain, target), (*calls, call)
        if target in chain:
            start = chain.index(target)
            yield path[start], longer[start:], "cycle"
        elif len(longer) - 1 > MAX_EXECUTE_DEPTH:
            yield path[0], longer, "depth"
        else:
            yield from _execute_chains(executes, longer, path)
