"""Reading ``[programs]``: each program's statuses (the first is where members start) and my-tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario import model
from sim.scenario.read_problems import Reader, kind_of, number_problem


def read_programs(r: Reader, data: Mapping[str, Any]) -> dict[str, model.Program]:
    """``[programs.NAME]`` tables by name, kept on the reader for the campaigns and steps that name them."""
    raw = r.section(data, "programs", dict, "[programs]")
    for name, spec in raw.items():
        with r.at(f'program "{name}"'):
            if not isinstance(spec, dict):
                raise r.fail(f"a program must be a table, not {kind_of(spec)}")
            r.check_keys(spec, ("statuses", "tokens"), f'program "{name}"')
            statuses = r.get(spec, "statuses", list, ["Not in Program", "Member"])
            if not statuses or not all(isinstance(s, str) for s in statuses):
                raise r.fail('"statuses" must be a non-empty array of strings, first the starting status')
            if len(set(statuses)) != len(statuses):
                raise r.fail('"statuses" has a duplicate')
            tokens = r.get(spec, "tokens", dict, {})
            clean: dict[str, str] = {}
            for key, val in tokens.items():
                problem = number_problem(val)
                if problem is not None:
                    r.problem(f'token "{key}": {problem}')
                elif isinstance(val, (str, int, float)) and not isinstance(val, bool):
                    clean[key] = str(val)
                else:
                    r.problem(f'token "{key}" must be a string or number, not {kind_of(val)}')
            r.programs[name] = model.Program(name=name, statuses=tuple(statuses), tokens=clean)
    return r.programs
