"""The module paths of sim 0.1 before the package was laid out by stage (docs/architecture.md).

``import sim.model`` and ``from sim.kernel import Kernel`` still work for one release: the
old name is a thin module that looks each attribute up in the modules that hold the old
module's names now, and warns once, on import, with a `DeprecationWarning` naming them.
New code imports from the public API (``from sim import Simulation``) or from the new
paths. The old modules are made here, by an import hook, rather than as 25 files: the tree
shows only the new layout. (``sim.scenario`` is a package now: its old names are forwarded
by a module ``__getattr__`` that `install` gives it.) tests/data/names-0.1.json lists every public name of 0.1's
modules; tests/test_moved.py checks that each still imports.

Not forwarded, because they are gone: ``sim.metrics.UnmeasuredQueue`` (a run without
metrics attaches no `Measurement`: ``Simulation(measure=False)``), and the engine's own
interface: ``Engine(races=..., measure=...)``, ``Engine.admit``, ``inject``, ``admit_batch``,
``metrics`` and ``races`` (now ``engine.admission.admit``, `sim.run.sources`, the
`Measurement` and `RaceWatch` observers, and ``Simulation.metrics()``/``races()``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence

#: Old module -> the modules its names now live in, searched in order.
MOVED: dict[str, tuple[str, ...]] = {
    "sim.model": ("sim.scenario.model",),
    "sim.units": ("sim.scenario.units",),
    "sim.people": ("sim.scenario.people",),
    "sim.estimate": ("sim.scenario.estimate",),
    "sim.dump": ("sim.scenario.dump",),
    "sim.kernel": ("sim.run.kernel", "sim.run.schedule", "sim.run.agenda"),
    "sim.engine": ("sim.run.engine", "sim.run.runs", "sim.run.admission", "sim.run.steps", "sim.run.sources"),
    "sim.queue": ("sim.run.queue",),
    "sim.conditions": ("sim.run.conditions", "sim.scenario.model"),
    "sim.load": ("sim.run.arrivals", "sim.scenario.model"),
    "sim.plan": ("sim.run.plan",),
    "sim.schedule": ("sim.run.schedule",),
    "sim.activity": ("sim.run.activity", "sim.observe.sinks"),
    "sim.output": ("sim.observe.output",),
    "sim.metrics": ("sim.observe.metrics",),
    "sim.trace": ("sim.observe.trace",),
    "sim.progress": ("sim.observe.progress",),
    "sim.races": ("sim.observe.races",),
    "sim.simulation": ("sim.observe.simulation", "sim.run.schedule"),
    "sim.signals": ("sim.observe.signals",),
    "sim.summary": ("sim.observe.summary", "sim.run.tally"),
    "sim.report": ("sim.observe.report", "sim.verify.exploration_report"),
    "sim.guarantees": ("sim.verify.guarantees", "sim.run.activity"),
    "sim.explore": ("sim.verify.explore", "sim.verify.outcomes"),
    "sim.workers": ("sim.verify.workers",),
    "sim.strategies": ("sim.verify.strategies",),
}


#: Names the module ``sim.scenario`` of sim 0.1 held, and the module that holds each now.
#: That module is a package now, which the import hook cannot stand in for: `install`
#: gives the package a module ``__getattr__`` that forwards these names.
SCENARIO_NAMES = {
    "ARRIVALS": "sim.scenario.model",
    "CSV_COLUMNS": "sim.scenario.read_csv",
    "MAX_CSV_LINE": "sim.scenario.read_csv",
    "CSV_PROBLEMS": "sim.scenario.read_problems",
    "number_problem": "sim.scenario.read_problems",
    "MAX_EXECUTE_DEPTH": "sim.scenario.cross_checks",
    "request_refusal": "sim.scenario.cross_checks",
    "MAX_PEOPLE": "sim.scenario.read_people",
    "MAX_RATE": "sim.scenario.read_load",
    "STEP_PARAMS": "sim.scenario.read_flows",
    "build_scenario": "sim.scenario.loader",
}


def _warn(old: str, homes: Sequence[str], *, names: bool) -> None:
    warnings.warn(
        f"{old} has moved to {', '.join(homes)}; "
        + ("import its names from there (or from sim)" if names else "import it from there")
        + " - the old path goes in the next release",
        DeprecationWarning,
        stacklevel=3,
    )


class _Forwarding(types.ModuleType):
    """An old module: each attribute is looked up in the new modules, in order."""

    def __init__(self, name: str, homes: Sequence[str]) -> None:
        super().__init__(name, f"Moved to {', '.join(homes)} (sim 0.2); this path goes in the next release.")
        self._homes = tuple(importlib.import_module(home) for home in homes)

    def __getattr__(self, name: str) -> object:
        for home in self._homes:
            try:
                return getattr(home, name)
            except AttributeError:
                continue
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({name for home in self._homes for name in dir(home)})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        homes = MOVED[spec.name]
        _warn(spec.name, homes, names=True)
        return _Forwarding(spec.name, homes)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _scenario_name(name: str) -> object:
    """The module ``__getattr__`` of ``sim.scenario``: its 0.1 names, forwarded."""
    home = SCENARIO_NAMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")
    _warn(f"sim.scenario.{name}", [home], names=False)
    return getattr(importlib.import_module(home), name)


def install() -> None:
    """Let the old paths import (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
    vars(importlib.import_module("sim.scenario"))["__getattr__"] = _scenario_name  # PEP 562: a module's own __getattr__
