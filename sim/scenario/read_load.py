"""Reading ``[[load]]``: generators, which make activities at a rate, and CSV replays.

A table with ``csv = "FILE"`` is a replay, read by `sim.scenario.read_csv`; any other is
a generator (``type`` and ``rate`` or ``daily``). ``[[generators]]`` is the old name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.model import ARRIVALS, Campaign, Value
from sim.scenario.read_activities import activity_attributes, external_type
from sim.scenario.read_csv import read_replay
from sim.scenario.read_problems import Reader, Skip
from sim.scenario.units import parse_rate, show

#: Virtual times are kept on a microsecond grid, so no load may be denser than this.
MAX_RATE = 1_000_000.0


def read_load(
    r: Reader, data: Mapping[str, Any], campaigns: Mapping[str, Campaign]
) -> tuple[list[model.Generator], list[model.Replay]]:
    """The ``[[load]]`` tables, or ``[[generators]]`` (its old name, with a warning)."""
    key = "load"
    if "generators" in data:
        if "load" in data:
            r.problem(
                "this file has both [[load]] and [[generators]], the old name of [[load]]; "
                "move the [[generators]] tables into [[load]]",
                where="[[generators]]",
            )
        else:
            key = "generators"
            r.renamed = True
    raw = r.section(data, key, list, f"[[{key}]]")
    generators: list[model.Generator] = []
    replays: list[model.Replay] = []
    for index, item in enumerate(raw, 1):
        with r.at(f"[[{key}]] {index}"):
            if isinstance(item, dict) and "csv" in item:
                r.where = f"{r.where} (csv)"
                number = len(r.csv_shown) + 1  # among the csv tables, read or not
                replay = read_replay(r, item, campaigns, number)
                if replay is not None:
                    replays.append(replay)
                    r.replay_numbers.append(number)
                    r.load_where["csv", number] = r.where
            else:
                generators.append(_read_generator(r, item, campaigns))
                r.load_where["rate", len(generators)] = r.where
    return generators, replays


def _read_generator(r: Reader, item: object, campaigns: Mapping[str, Campaign]) -> model.Generator:
    """One generator table: its activity type and attributes, rate, arrivals and times."""
    keys = ("type", "rate", "daily", "arrivals", "start", "stop", "fields", "new_people")
    type_ = external_type(r, item, "[[load]] table", keys)
    assert isinstance(item, dict)
    arrivals = r.get(item, "arrivals", str, "constant")
    if arrivals not in ARRIVALS:
        raise r.fail(f'"arrivals" is "{arrivals}"; use "constant" (evenly spaced) or "poisson"')
    daily: tuple[float, ...] = ()
    if "daily" in item:
        if "rate" in item:
            raise r.fail('give "rate" or "daily" (24 rates, one per hour of the day), not both')
        daily = _daily_rates(r, r.get(item, "daily", list))
        rate = sum(daily) / len(daily)
    else:
        rate = _one_rate(r, r.get(item, "rate", str), '"rate"')
    fields: dict[str, tuple[Value, ...]] = {}
    for key, val in r.get(item, "fields", dict, {}).items():
        try:
            field = r.field_name(key)
            if val == []:
                raise r.fail(f'"fields": "{key}" = [] has no value to draw; give one or more')
            fields[field] = tuple(r.field_value(field, v) for v in (val if isinstance(val, list) else [val]))
        except Skip:
            pass
    if fields and type_ != "fill_out_form":
        raise r.fail('"fields" belongs to fill_out_form [[load]] tables only')
    new_people = _new_people(r, item, type_)
    start = r.duration(item, "start", 0.0)
    stop = r.duration(item, "stop", None)
    if stop is not None and stop < start:
        raise r.fail(f'"stop" ({item["stop"]}) is before "start" ({item.get("start", 0)})')
    return model.Generator(
        type=type_,
        rate=rate,
        arrivals=arrivals,
        daily=daily,
        start=start,
        stop=stop,
        attributes=activity_attributes(r, item, type_, campaigns),
        fields=fields,
        new_people=new_people,
    )


def _new_people(r: Reader, item: Mapping[str, Any], type_: str) -> float:
    """``new_people``: the share of arrivals from people not known yet (0 to 1)."""
    if "new_people" not in item:
        return 0.0
    if type_ != "fill_out_form":
        raise r.fail(
            '"new_people" belongs to fill_out_form [[load]] tables only: '
            "a form fill by an unknown visitor is what creates a person"
        )
    share: float = r.get(item, "new_people", (int, float))
    if not 0 <= share <= 1:
        raise r.fail(
            f'"new_people" is {show(share)}; give the share of arrivals from new people, '
            "from 0 to 1 (0.25: one in four)"
        )
    return float(share)


def _one_rate(r: Reader, raw: str, what: str) -> float:
    """A rate such as "10/s" or "600/h", as activities a second."""
    try:
        rate = parse_rate(raw)
    except ValueError as exc:
        raise r.fail(f"{what}: {exc}") from None
    if rate > MAX_RATE:
        raise r.fail(f"{what}: {show(raw)} is over {MAX_RATE:,.0f}/s; times are kept to the µs")
    return rate


def _daily_rates(r: Reader, raw: list[Any]) -> tuple[float, ...]:
    """A daily profile: 24 rates, hour 0 (from 0h of each simulated day) first."""
    if len(raw) != 24:
        raise r.fail(f'"daily" needs 24 rates, one per hour of the day from 0h; it has {len(raw)}')
    return tuple(_one_rate(r, rate, f'"daily" hour {hour}') for hour, rate in enumerate(raw))
