"""Scenario -> scenario file: the inverse of `sim.scenario.parse_scenario`.

Hypothesis strategies build `sim.scenario.model.Scenario` objects; a failing property's shrunk
counterexample is only useful as a file `sim run FILE` can run, and reading the dumped text
back with `parse_scenario` proves that a generated scenario passes every definition check.
So the output is the documented format (docs/scenarios.md) as a person would write it:
durations as "1h30m", rates as "20/h", most defaults left out. `tomli_w` writes the TOML.
"""

from __future__ import annotations

import decimal
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tomli_w

from sim.scenario import model
from sim.scenario.model import Action, Campaign, Filter, Scenario, Step, Value
from sim.scenario.units import format_duration, parse_duration, parse_rate

#: A TOML table under construction.
Table = dict[str, Any]

#: The named `schedule.every` periods (written instead of "1h", "1d", "7d").
_NAMED_PERIODS = {3600.0: "hourly", 86400.0: "daily", 604800.0: "weekly"}


def dump_scenario(scenario: Scenario) -> str:
    """Scenario -> TOML text that `parse_scenario` reads back to an equal Scenario."""
    data: Table = {
        "sim": {
            "seed": scenario.seed,
            "duration": _duration(scenario.duration),
            "step_budget": scenario.step_budget,
        }
    }
    if scenario.lists:
        data["lists"] = list(scenario.lists)
    if scenario.fields:
        data["fields"] = {name: _field(spec) for name, spec in scenario.fields.items()}
    if scenario.population:
        data["people"] = {"count": scenario.population}
    if scenario.people:
        data["person"] = [_person(person) for person in scenario.people]
    if scenario.programs:
        data["programs"] = {name: _program(program) for name, program in scenario.programs.items()}
    if scenario.campaigns:
        data["campaigns"] = {name: _campaign(campaign) for name, campaign in scenario.campaigns.items()}
    if scenario.activities:
        data["activities"] = [_activity(activity) for activity in scenario.activities]
    if scenario.generators or scenario.replays:
        data["load"] = [_generator(generator) for generator in scenario.generators] + [
            {"csv": replay.csv} for replay in scenario.replays
        ]
    if scenario.queue is not None:
        data["queue"] = _queue(scenario.queue)
    # indent=2 as in docs/scenarios.md; tomli_w puts plain keys (lists, and arrays whose
    # tables all fit on a line) before the first [table], as TOML requires.
    return tomli_w.dumps(data, indent=2)


# --- values, durations, rates -----------------------------------------------------------


def _null(value: Value) -> Value:
    """A value written to a field: the empty value (None) is "NULL" there."""
    return "NULL" if value is None else value


def _one_or_many(values: tuple[Value, ...]) -> Value | list[Value]:
    """One value as itself, else an array; the loader reads both back to a tuple."""
    return values[0] if len(values) == 1 else list(values)


def _decimal(number: float) -> str:
    """A number as plain digits ("2.5", "10", "0.0000001"), exactly.

    Durations and score changes are written without an exponent; this is the shortest
    repr with the exponent spelt out, so it reads back to the same float.
    """
    if float(number).is_integer():
        return str(int(number))
    return format(decimal.Decimal(repr(float(number))), "f")


def _duration(seconds: float) -> str | float:
    """Seconds as text ("1h30m") when that reads back exactly, else as a TOML number."""
    text = _duration_text(seconds)
    return text if text is not None else seconds


def _duration_text(seconds: float) -> str | None:
    try:
        text = format_duration(seconds)
        return text if parse_duration(text) == seconds else None
    except (ValueError, OverflowError):  # not a duration at all (negative, inf, nan)
        return None


def _duration_string(seconds: float) -> str:
    """A duration where only a string will do ("once every ..."): in seconds if need be."""
    text = _duration_text(seconds)
    return text if text is not None else _decimal(seconds) + "s"


def _rate(per_second: float) -> str:
    """Per second as "20/h": a whole count over the shortest period that reads back exactly."""
    for unit, period in (("s", 1), ("m", 60), ("h", 3600), ("d", 86400)):
        try:
            text = f"{round(per_second * period)}/{unit}"
            if parse_rate(text) == per_second:
                return text
        except (ValueError, OverflowError):
            break
    return f"{per_second!r}/s"  # the rate's count is a float(): its repr reads back


# --- fields, people, programs -----------------------------------------------------------


def _field(spec: model.FieldSpec) -> Value | Table:
    if not spec.values and not spec.weights:
        return spec.default
    table: Table = {}
    first = spec.values[0] if spec.values else None
    # The loader's default is the first value; type() too, since 1 == True == 1.0.
    if not spec.values or spec.default != first or type(spec.default) is not type(first):
        table["default"] = spec.default
    table["values"] = list(spec.values)
    if spec.weights:
        table["weights"] = list(spec.weights)
    return table


def _person(person: model.PersonSpec) -> Table:
    table: Table = {"id": person.id}
    if person.fields:
        table["fields"] = {name: _null(value) for name, value in person.fields.items()}
    if person.lists:
        table["lists"] = list(person.lists)
    return table


def _program(program: model.Program) -> Table:
    table: Table = {"statuses": list(program.statuses)}
    if program.tokens:
        table["tokens"] = dict(program.tokens)
    return table


# --- campaigns ----------------------------------------------------------------------------


def _campaign(campaign: Campaign) -> Table:
    table: Table = {"kind": campaign.kind}
    if campaign.program is not None:
        table["program"] = campaign.program
    if not campaign.active and campaign.kind != "executable":  # "active" on an executable is an error
        table["active"] = False
    if campaign.qualification.rule != "once":
        table["qualification"] = _qualification(campaign.qualification)
    if campaign.triggers:
        table["triggers"] = [_trigger(trigger) for trigger in campaign.triggers]
    if campaign.filters:
        table["filters"] = [_filter(f) for f in campaign.filters]
    if campaign.schedule is not None:
        table["schedule"] = _schedule(campaign.schedule)
    if campaign.priority is not None:
        table["priority"] = campaign.priority
        if campaign.priority_from:
            table["priority_from"] = _duration(campaign.priority_from)
    if campaign.marketo_id is not None:
        table["marketo_id"] = campaign.marketo_id
    if campaign.flow:
        table["flow"] = [_step(step, campaign.program) for step in campaign.flow]
    return table


def _queue(queue: model.Queue) -> Table:
    """``[queue]``, with every step kind's service time spelled out."""
    return {
        "workers": queue.workers,
        "batch_workers": queue.batch_workers,
        "service": {kind: _service_time(time) for kind, time in queue.service.items()},
    }


def _service_time(time: model.ServiceTime) -> Value | Table:
    if time.distribution == "constant":
        return _duration(time.mean)
    if time.distribution == "empirical":
        return {"distribution": "empirical", "values": [_duration(v) for v in time.values]}
    table: Table = {"distribution": time.distribution, "mean": _duration(time.mean)}
    if time.distribution == "lognormal":
        table["sd"] = _duration(time.sd)
    return table


def _qualification(qualification: model.Qualification) -> str:
    if qualification.rule == "every_time":
        return "every time"
    if qualification.rule == "once_every":
        return f"once every {_duration_string(qualification.interval)}"
    return "once"


def _schedule(schedule: model.Schedule) -> Table:
    table: Table = {"at": _duration(schedule.at)}
    if schedule.every is not None:
        table["every"] = _NAMED_PERIODS.get(schedule.every) or _duration(schedule.every)
    return table


def _trigger(trigger: model.Trigger) -> Table:
    table: Table = {"trigger": trigger.name}
    for key, values in trigger.constraints:
        if key in ("new_value", "old_value"):  # the empty value is "NULL" only here
            values = tuple(_null(value) for value in values)
        table[key] = _one_or_many(values)
    return table


def _filter(condition: Filter) -> Table:
    if isinstance(condition, model.ListFilter):
        return {"list": condition.list} if condition.member else {"list": condition.list, "member": False}
    if isinstance(condition, model.ProgramStatusFilter):
        table: Table = {"program": condition.program, "status": condition.status}
        if condition.negate:
            table["op"] = "is not"
        return table
    table = {"field": condition.field, "op": condition.op}
    if condition.values or condition.op not in ("is empty", "is not empty"):
        table["value"] = _one_or_many(condition.values)
    return table


def _step(step: Step, program: str | None) -> Table:
    table: Table = {"step": step.kind}
    if step.action is not None and not step.choices:
        return table | _params(step.action, program)
    # With choices (or an empty `choices = []`, the only way to write a step that does
    # nothing), every choice and the default carry all their parameters: nothing shared.
    table["choices"] = [_choice(choice, program) for choice in step.choices]
    table["default"] = "do nothing" if step.action is None else _params(step.action, program)
    return table


def _choice(choice: model.Choice, program: str | None) -> Table:
    conditions = [_filter(condition) for condition in choice.conditions]
    return {"if": conditions[0] if len(conditions) == 1 else conditions} | _params(choice.action, program)


def _params(action: Action, program: str | None) -> Table:
    """The step parameters of ``action``, defaults left out; ``program``: the campaign's."""
    if isinstance(action, model.ChangeDataValue):
        return {"field": action.field, "value": _null(action.value)}
    if isinstance(action, model.ChangeScore):
        table: Table = {} if action.field == "score" else {"field": action.field}
        return table | {"change": f"{action.op}{_decimal(action.amount)}"}
    if isinstance(action, model.ChangeProgramStatus):
        table = {} if action.program == program else {"program": action.program}
        return table | {"status": action.status}
    if isinstance(action, (model.AddToList, model.RemoveFromList)):
        return {"list": action.list}
    if isinstance(action, model.InterestingMoment):
        return {"description": action.description}
    if isinstance(action, model.SendEmail):
        return {"email": action.email}
    if isinstance(action, model.SendAlert):
        return {"alert": action.alert, "to": action.to} if action.to else {"alert": action.alert}
    if isinstance(action, model.CallWebhook):
        table = {"webhook": action.webhook}
        if action.latency != 0.5:
            table["latency"] = _duration(action.latency)
        if action.status != 200:
            table["status"] = action.status
        if action.response:
            table["response"] = {field: _null(value) for field, value in action.response}
        if action.payload:
            table["payload"] = action.payload
        return table
    if isinstance(action, model.Wait):
        return {"duration": _duration(action.duration)}
    if isinstance(action, model.RequestCampaign):
        return {"campaign": action.campaign}
    if isinstance(action, model.ExecuteCampaign):
        table = {"campaign": action.campaign}
        if action.use_parent_tokens:
            table["use_parent_tokens"] = True
        return table
    # One name as a string: an array would spread over lines, and its step with it.
    return {"campaigns": _one_or_many(action.campaigns)}


# --- load -------------------------------------------------------------------------------


def _attributes(attributes: Mapping[str, Value]) -> Table:
    # Only change_data_value's "value" is a field value, where the empty value is "NULL".
    return {key: _null(value) if key == "value" else value for key, value in attributes.items()}


def _activity(activity: model.ExternalActivity) -> Table:
    table: Table = {"at": _duration(activity.at), "person": activity.person, "type": activity.type}
    table |= _attributes(activity.attributes)
    if activity.fields:
        table["fields"] = {name: _null(value) for name, value in activity.fields.items()}
    return table


def _generator(generator: model.Generator) -> Table:
    table: Table = {"type": generator.type} | _attributes(generator.attributes)
    if generator.daily:
        table["daily"] = [_rate(rate) for rate in generator.daily]
    else:
        table["rate"] = _rate(generator.rate)
    if generator.arrivals != "constant":
        table["arrivals"] = generator.arrivals
    if generator.start:
        table["start"] = _duration(generator.start)
    if generator.stop is not None:
        table["stop"] = _duration(generator.stop)
    if generator.fields:
        table["fields"] = {
            name: _one_or_many(tuple(_null(value) for value in values)) for name, values in generator.fields.items()
        }
    if generator.new_people:
        table["new_people"] = generator.new_people
    return table


# --- CSV replays --------------------------------------------------------------------------


def dump_activities_csv(activities: Iterable[model.ExternalActivity]) -> str:
    """Timed activities -> the text of a CSV replay file (``[[load]] csv = ...``).

    The columns are time (in seconds, exact), person and activity, the attribute columns
    the activities use and a ``field.NAME`` column per form field, so a generated arrival
    list can be replayed, or edited, as a file. Raises ValueError on a value a CSV cell
    cannot hold: an empty text (an empty cell means "not given").
    """
    rows = list(activities)
    used = {key for row in rows for key in row.attributes}
    attributes = [name for name in CSV_ATTRIBUTES if name in used]
    fields = list(dict.fromkeys(name for row in rows for name in row.fields))
    out = io.StringIO()
    out.write(replay_line(["time", "person", "activity", *attributes, *(f"field.{name}" for name in fields)]))
    for row in rows:
        cells = [_cell(row.attributes[name]) if name in row.attributes else "" for name in attributes]
        values = [_cell(row.fields[name]) if name in row.fields else "" for name in fields]
        out.write(replay_line([repr(row.at), row.person, row.type, *cells, *values]))
    return out.getvalue()


def replay_line(cells: Sequence[str]) -> str:
    """One line of a CSV replay, ending in a newline: a cell with a comma, a quote or a line
    break is quoted (the csv module leaves a lone carriage return bare when lines end in
    "\\n", and the loader would then split the row there)."""
    return ",".join(f'"{c.replace(chr(34), chr(34) * 2)}"' if _SPECIAL.search(c) else c for c in cells) + "\n"


_SPECIAL = re.compile(r'[,"\r\n]')


#: The attribute columns of a CSV replay, in the loader's order (sim.scenario.read_csv.CSV_COLUMNS).
CSV_ATTRIBUTES = ("form", "link", "page", "field", "value", "campaign", "source")


def _cell(value: Value) -> str:
    """A value as a CSV cell: NULL for the empty value, true/false, numbers exactly."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if not text:
        raise ValueError('an empty text cannot be written to a CSV replay: an empty cell means "not given"')
    return text
