"""The one helper every section of a scenario file is read with: `Reader` collects problems.

A `Reader` reads one file. Each problem it records says where the user wrote it (the file,
the campaign, the step by 1-based index and kind: `Reader.where`) and shows what was
written. Its typed getters record a problem and raise `Skip` on a wrong value, and
`Reader.at` abandons just that one item, so one reading finds every problem of a file.

The reader also holds what the sections read so far declare (fields, lists, programs,
campaign names, people), which later sections check names against, and what the checks
across sections (`sim.scenario.cross_checks`) need from the sections.
"""

from __future__ import annotations

import datetime
import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from sim.scenario import model
from sim.scenario.model import Problem, Value
from sim.scenario.people import is_generated_id
from sim.scenario.units import parse_duration, show

if TYPE_CHECKING:
    from sim.scenario.cross_checks import Call

T = TypeVar("T")

#: Problems shown per CSV file; the rest are counted.
CSV_PROBLEMS = 20


class Skip(Exception):
    """Raised while reading to abandon one item after recording its problem."""


class Reader:
    """The problems of one scenario file, where the reading is, and what it has declared."""

    def __init__(self, source: str, *, file: str | None = None) -> None:
        self.source = source
        #: The file on disk (CSV replays are found beside it); ``source`` names it in
        #: problems, and may say more ("FILE [variant NAME]").
        self.file = source if file is None else file
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
        self.kind = ""  # kind of the campaign being read
        #: Request and Execute Campaign actions with where they were written, for R3, R4, R8.
        self.calls: list[Call] = []
        #: People no one declared, by the first form fill that creates them (its order among
        #: the timed activities, file, where, problem slot), and the other activities for
        #: such people; checked by `sim.scenario.cross_checks.check_new_people`.
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
        """Record a problem, by default where the reading is."""
        self.problems.append(Problem(file=self.source, where=self.where if where is None else where, message=message))

    def fail(self, message: str) -> Skip:
        """Record a problem; the caller raises what this returns to abandon the item."""
        self.problem(message)
        return Skip()

    def at(self, where: str) -> _At:
        """A context in which the reading is at ``where``; a `Skip` inside ends it quietly."""
        return _At(self, where)

    def check_keys(self, table: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
        """A problem for each key of ``table`` that is not ``allowed``, with a suggestion."""
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                self.problem(f'unknown key "{key}" in {what}{suggest(key, allowed)}')

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
        """One problem per CSV replay with more problems than shown, counting the rest."""
        for number, count in self.csv_problems.items():
            if count > CSV_PROBLEMS:
                more = count - CSV_PROBLEMS
                message = f"{more:,} more problem{'s' if more != 1 else ''} in this file not shown"
                self.problems.append(Problem(file=self.csv_shown[number], where="", message=message))

    # -- typed getters: record a problem and raise Skip on a wrong type

    def table(self, parent: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
        """``parent[key]`` if it is a table (an empty one if it is missing)."""
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{what} must be a table, not {kind_of(value)} ({show(value)})")
        return value

    def get(self, table: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], default: Any = ...) -> Any:
        """``table[key]`` if it has one of the types ``kind``; ``default`` if it is missing
        (required if there is no default)."""
        if key not in table:
            if default is ...:
                raise self.fail(f'"{key}" is required')
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            shown = [k for k in kinds if not (k is int and float in kinds)]  # "a number" covers both
            names = either([kind_of(k()) if k in (bool, int, float, str, list, dict) else k.__name__ for k in shown])
            raise self.fail(f'"{key}" must be {names}, not {kind_of(value)} ({show(value)})')
        return value

    def all_of(self, *getters: Callable[[], Any]) -> list[Any]:
        """Run every getter, so each problem is reported, not only the first; then give up
        (raise Skip) if any failed."""
        results, failed = [], False
        for get in getters:
            try:
                results.append(get())
            except Skip:
                failed = True
                results.append(None)
        if failed:
            raise Skip()
        return results

    def guard(self, get: Callable[[], T], fallback: T) -> T:
        """Run one getter; on a recorded problem, go on with ``fallback``."""
        try:
            return get()
        except Skip:
            return fallback

    def section(self, data: Mapping[str, Any], key: str, kind: type[Any], where: str) -> Any:
        """A top-level table or array; an empty one (and a problem) if it has the wrong type."""
        with self.at(where):
            return self.get(data, key, kind, kind())
        return kind()

    def collect(self, items: list[Any], what: str, read: Callable[[Any], T]) -> Iterator[T]:
        """Each of ``items`` read, at "WHERE, WHAT N"; those with a problem are left out."""
        outer = self.where
        for index, item in enumerate(items, 1):
            with self.at(f"{outer}, {what} {index}" if outer else f"{what} {index}"):
                yield read(item)

    def duration(self, table: Mapping[str, Any], key: str, default: Any = ...) -> Any:
        """``table[key]`` as seconds (see `sim.scenario.units.parse_duration`)."""
        if key not in table:
            if default is ...:
                raise self.fail(f'"{key}" is required (a duration such as "5m")')
            return default
        try:
            return parse_duration(table[key])
        except ValueError as exc:
            raise self.fail(f'"{key}": {exc}') from None

    def value(self, raw: object, what: str) -> Value:
        """A string, number or boolean; a number within `model.MAX_NUMBER`."""
        if isinstance(raw, (str, int, float, bool)):
            problem = number_problem(raw)
            if problem is not None:
                raise self.fail(f"{what}: {problem}")
            return raw
        raise self.fail(f"{what} must be a string, number or boolean, not {kind_of(raw)} ({show(raw)})")

    def values(self, raw: object, what: str) -> tuple[Value, ...]:
        """One value or an array of them, as a tuple."""
        items = raw if isinstance(raw, list) else [raw]
        return tuple(self.value(item, what) for item in items)

    # -- names: what the file declares

    def name(self, kind: str, name: object, known: Iterable[str], of: str = "") -> str:
        """``name`` if it is one of ``known``; ``of`` says whose (e.g. 'of program "X"')."""
        if not isinstance(name, str):
            raise self.fail(f"{kind} name must be a string, not {kind_of(name)} ({show(name)})")
        known = list(known)
        if name not in known:
            whose = f" {of}" if of else ""
            raise self.fail(f'unknown {kind} "{name}"{whose}{suggest(name, known)}')
        return name

    def optional_name(self, raw: Mapping[str, Any], key: str, kind: str, known: Iterable[str]) -> str | None:
        """``raw[key]`` if it is one of ``known``; None if there is no ``key``."""
        if key not in raw:
            return None
        return self.name(kind, raw[key], known)

    def field_name(self, name: object) -> str:
        """``name`` if it is a declared field."""
        if isinstance(name, str) and name in self.broken_fields:
            raise Skip()  # reported where it is declared; not "unknown" everywhere it is used
        return self.name("field", name, self.fields)

    def field_values(self, raw: Mapping[str, Any]) -> dict[str, Value]:
        """Field name -> value, each checked; those with a problem are left out."""
        out: dict[str, Value] = {}
        for key, val in raw.items():
            try:
                field = self.field_name(key)  # first: field_value needs a known field
                out[field] = self.field_value(field, val)
            except Skip:
                pass
        return out

    def field_value(self, field: str, raw: object) -> Value:
        """A value written to ``field``: a number if the field holds numbers; "NULL" is None."""
        value = self.value(raw, f'value of "{field}"')
        default = self.fields[field].default
        if is_number(default) and not is_number(value) and value != "NULL":
            raise self.fail(f'field "{field}" holds numbers; {show(value)} is not a number')
        return None if value == "NULL" else value

    def is_person(self, pid: str) -> bool:
        """An explicit person's id, or one of the generated p1..pN."""
        return pid in self.person_ids or is_generated_id(pid, self.population)


class _At:
    """Context manager: sets the reader's location and swallows Skip for one item."""

    def __init__(self, reader: Reader, where: str) -> None:
        self.reader, self.where, self.outer = reader, where, reader.where

    def __enter__(self) -> None:
        self.reader.where = self.where

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        self.reader.where = self.outer
        return kind is Skip


# --- how problems show what was written --------------------------------------------


def suggest(word: str, options: Iterable[str]) -> str:
    """'; did you mean "X"?' for a close match, else the options if there are few."""
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f'; did you mean "{close[0]}"?'
    if options and len(options) <= 12:
        return "; known: " + ", ".join(f'"{o}"' for o in options)
    return ""


def kind_of(value: object) -> str:
    """What a TOML value is, for a message: 'a string', 'an array', ..."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), "a date-time" if isinstance(value, (datetime.date, datetime.time)) else type(value).__name__)


def article(word: str) -> str:
    """The indefinite article for ``word``."""
    return "an" if word[:1] in "aeiou" else "a"


def either(names: list[str]) -> str:
    """'a string', 'a string or a table', 'a string, a number or a table'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def is_number(value: object) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_problem(value: object, *, shown: str | None = None) -> str | None:
    """What is wrong with a number a scenario gives (not finite, or beyond
    `model.MAX_NUMBER`), or None: also None for what is not a number. ``shown`` is the
    text the number was read from (a CSV cell), for the message."""
    if not is_number(value):
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
