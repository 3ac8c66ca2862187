"""Scenario files: TOML -> checked `sim.model.Scenario`, or every problem at once.

Loading and the definition checks (R2-R4, R8, R9, R16, R18, unknown names, bad values)
live together so that each problem is reported with where the user wrote it: the file,
the campaign, and the step by 1-based index and kind. Nothing here raises on the first
problem: `load_scenario` collects them all and raises one `ScenarioError`.

The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

import datetime
import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs

from sim import model
from sim.load import ARRIVALS
from sim.model import (
    Action,
    Campaign,
    Choice,
    Filter,
    Problem,
    Step,
    Value,
)
from sim.units import format_duration, parse_duration, parse_rate, show

T = TypeVar("T")

#: More people than this do not fit in this machine's memory (about 1 KB each, live).
MAX_PEOPLE = 10_000_000

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
    "call_webhook": ("webhook", "latency", "status", "response"),
    "wait": ("duration",),
    "request_campaign": ("campaign",),
    "execute_campaign": ("campaign", "use_parent_tokens"),
    "remove_from_flow": ("campaigns",),
}

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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([Problem(file=str(path), where="", message=f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(file=str(path), where="", message=f"not UTF-8 text: {exc}")]) from None
    return parse_scenario(text, source=str(path))


def parse_scenario(text: str, *, source: str = "<scenario>") -> model.Scenario:
    """Parse and check scenario TOML text; ``source`` names it in problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(file=source, where="", message=f"TOML syntax error: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file=source, where="", message="TOML nested too deeply to read")]) from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ScenarioError([Problem(file=source, where="", message=f"TOML value cannot be read: {exc}")]) from None
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
        self.lists: tuple[str, ...] = ()
        self.programs: dict[str, model.Program] = {}
        self.campaign_names: dict[str, None] = {}
        self.person_ids: set[str] = set()  # explicit people; p1..pN are implied by population
        self.population = 0
        self.kind = ""  # kind of the campaign being built
        #: Request and Execute Campaign actions with where they were written, for R3, R4, R8.
        self.calls: list[_Call] = []

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
        return self.name("field", name, self.fields)

    # -- the whole file

    def build(self, data: Mapping[str, Any]) -> model.Scenario:
        self.check_keys(
            data,
            ("sim", "lists", "fields", "programs", "people", "person", "campaigns", "activities", "generators"),
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
        generators = self.build_generators(data, campaigns)
        if population == 0 and not people and (activities or generators):
            self.problem("there are no people; add [people] count = N or [[person]] tables", where="[people]")
        warnings = self.warnings(duration, campaigns, activities, generators)
        return model.Scenario(
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
        )

    def warnings(
        self,
        duration: float,
        campaigns: Mapping[str, Campaign],
        activities: list[model.ExternalActivity],
        generators: list[model.Generator],
    ) -> tuple[Problem, ...]:
        """Things that are valid but almost surely not what the author meant."""
        out: list[Problem] = []

        def warn(where: str, message: str) -> None:
            out.append(Problem(file=self.source, where=where, message=message))

        end = f"[sim] duration ({format_duration(duration)})"
        executed = {call.action.campaign for call in self.calls if isinstance(call.action, model.ExecuteCampaign)}
        for campaign in campaigns.values():
            where = f'campaign "{campaign.name}"'
            if campaign.kind == "executable" and campaign.name not in executed:
                warn(where, "no campaign executes it, so it never runs (R4)")
            if campaign.schedule is not None and campaign.schedule.at >= duration:
                warn(where, f"its schedule starts at {format_duration(campaign.schedule.at)}, not before {end}")
            if not campaign.flow:
                warn(where, "its flow has no steps")
        late = [a for a in activities if a.at >= duration]
        if late:
            warn("[[activities]]", f"timed activities at or after {end} never happen ({len(late)} of them)")
        for index, generator in enumerate(generators, 1):
            if generator.start >= duration:
                warn(f"[[generators]] {index} ({generator.type})", f"it starts at or after {end}, so it never fires")
        return tuple(out)

    # -- fields, programs, people

    def build_fields(self, data: Mapping[str, Any]) -> None:
        raw = self.section(data, "fields", dict, "[fields]")
        for name, spec in raw.items():
            with self.at(f'field "{name}"'):
                if isinstance(spec, dict):
                    self.check_keys(spec, ("default", "values", "weights"), f'field "{name}"')
                    values = self.values(self.get(spec, "values", list, []), "a field value")
                    weights = tuple(self.get(spec, "weights", list, []))
                    if weights and (
                        len(weights) != len(values)
                        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights)
                    ):
                        raise self.fail(f'"weights" needs one number >= 0 per value ({len(values)} values)')
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
                    if isinstance(val, (str, int, float)) and not isinstance(val, bool):
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
                self.problem(f'"count" = {count:,} is more people than fit in memory; at most {MAX_PEOPLE:,}')
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
        if pid in self.person_ids:
            return True
        return re.fullmatch(r"p[1-9]\d*", pid) is not None and int(pid[1:]) <= self.population

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
        allowed = ("kind", "program", "active", "qualification", "triggers", "filters", "schedule", "flow")
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
        )

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
            try:
                interval = parse_duration(text[len("once every ") :])
            except ValueError:
                interval = 0.0
            if interval > 0:
                return model.Qualification(rule="once_every", interval=interval)
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
        if isinstance(change, int):
            return model.ChangeScore(field=field, op="+" if change >= 0 else "-", amount=float(abs(change)))
        if match is None:
            raise self.fail(f'change {show(change)} is not a score change; write "+N", "-N" or "=N", e.g. "+10" (R14)')
        return model.ChangeScore(field=field, op=match.group(1), amount=float(match.group(2)))  # type: ignore[arg-type]

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
        webhook, latency, status, mappings = self.all_of(
            lambda: self.get(p, "webhook", str),
            lambda: self.duration(p, "latency", 0.5),
            lambda: self.http_status(p),
            lambda: self.response_mappings(p),
        )
        return model.CallWebhook(webhook=webhook, latency=latency, status=status, response=mappings)

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
        out = []
        for index, item in enumerate(raw, 1):
            with self.at(f"[[activities]] {index}"):
                type_ = self.external_type(item, "activity", ("at", "person", "type", "fields"))
                at, person, fields, attributes = self.all_of(
                    partial(self.duration, item, "at"),
                    partial(self.known_person, item),
                    partial(self.form_fields, item, type_),
                    partial(self.activity_attributes, item, type_, campaigns),
                )
                out.append(
                    model.ExternalActivity(at=at, person=person, type=type_, attributes=attributes, fields=fields)
                )
        out.sort(key=lambda a: a.at)  # stable: same time keeps file order
        return out

    def external_type(self, item: object, noun: str, keys: tuple[str, ...]) -> str:
        """The activity type of one [[activities]] or [[generators]] table, with its keys checked.

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

    def known_person(self, item: Mapping[str, Any]) -> str:
        person: str = self.get(item, "person", str)
        if not self.is_person(person):
            raise self.fail(f'unknown person "{person}"; declare it with [[person]] or [people] count')
        return person

    def form_fields(self, item: Mapping[str, Any], type_: str) -> dict[str, Value]:
        fields = self.field_values(self.get(item, "fields", dict, {}))
        if fields and type_ != "fill_out_form":
            raise self.fail('"fields" belongs to fill_out_form activities only')
        return fields

    def build_generators(self, data: Mapping[str, Any], campaigns: Mapping[str, Campaign]) -> list[model.Generator]:
        raw = self.section(data, "generators", list, "[[generators]]")
        out = []
        for index, item in enumerate(raw, 1):
            with self.at(f"[[generators]] {index}"):
                keys = ("type", "rate", "daily", "arrivals", "start", "stop", "fields")
                type_ = self.external_type(item, "generator", keys)
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
                        fields[field] = tuple(
                            self.field_value(field, v) for v in (val if isinstance(val, list) else [val])
                        )
                    except _Skip:
                        pass
                if fields and type_ != "fill_out_form":
                    raise self.fail('"fields" belongs to fill_out_form generators only')
                start = self.duration(item, "start", 0.0)
                stop = self.duration(item, "stop", None)
                if stop is not None and stop < start:
                    raise self.fail(f'"stop" ({item["stop"]}) is before "start" ({item.get("start", 0)})')
                out.append(
                    model.Generator(
                        type=type_,
                        rate=rate,
                        arrivals=arrivals,
                        daily=daily,
                        start=start,
                        stop=stop,
                        attributes=self.activity_attributes(item, type_, campaigns),
                        fields=fields,
                    )
                )
        return out

    def one_rate(self, raw: str, what: str) -> float:
        try:
            rate = parse_rate(raw)
        except ValueError as exc:
            raise self.fail(f"{what}: {exc}") from None
        if rate > MAX_RATE:
            raise self.fail(f"{what} {show(raw)} is over {MAX_RATE:,.0f}/s; times are kept to the µs")
        return rate

    def daily_rates(self, raw: list[Any]) -> tuple[float, ...]:
        """A daily profile: 24 rates, hour 0 (from 0h of each simulated day) first."""
        if len(raw) != 24:
            raise self.fail(f'"daily" needs 24 rates, one per hour of the day from 0h; it has {len(raw)}')
        return tuple(self.one_rate(r, f'"daily" hour {hour}') for hour, r in enumerate(raw))


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


def _either(names: list[str]) -> str:
    """'a string', 'a string or a table', 'a string, a number or a table'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
