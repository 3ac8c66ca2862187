"""The module paths before the layout by stage (sim._moved): each still imports for one
release, warns with the new path, and gives the very objects of the new modules."""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path

import pytest

from sim import _moved


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_an_old_path_forwards_to_its_new_home_and_says_where(old: str) -> None:
    sys.modules.pop(old, None)
    homes = _moved.MOVED[old]
    with pytest.warns(DeprecationWarning, match=rf"{old} has moved to {homes[0]}"):
        module = importlib.import_module(old)
    modules = [importlib.import_module(home) for home in homes]
    for home in modules:
        public = [name for name in vars(home) if not name.startswith("__")]
        assert public, home
        for name in public:
            first = next(m for m in modules if hasattr(m, name))  # the homes are searched in order
            assert getattr(module, name) is getattr(first, name)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = module.no_such_name


def test_the_split_modules_still_offer_what_they_held() -> None:
    sys.modules.pop("sim.activity", None)
    sys.modules.pop("sim.summary", None)
    sys.modules.pop("sim.conditions", None)
    with pytest.warns(DeprecationWarning):
        from sim.activity import Activity, JsonLinesSink, MemorySink  # type: ignore[import-not-found]
        from sim.conditions import same_value  # type: ignore[import-not-found]
        from sim.summary import Summary, Tally  # type: ignore[import-not-found]
    import sim

    assert (Activity, JsonLinesSink, MemorySink, Summary) == (
        sim.Activity,
        sim.JsonLinesSink,
        sim.MemorySink,
        sim.Summary,
    )
    assert Tally.__module__ == "sim.run.tally"
    assert same_value("Yes", "yes")


def test_new_paths_are_not_shadowed() -> None:
    # A real module of the new layout never goes through the hook.
    import sim.run.kernel

    assert not isinstance(sim.run.kernel, _moved._Forwarding)
    assert all(name.count(".") == 1 for name in _moved.MOVED)


#: Public names of sim 0.1 that are gone on purpose (sim/_moved.py says why).
REMOVED = {"sim.metrics": {"UnmeasuredQueue"}, "sim.scenario": {"T"}}  # T: a TypeVar of the old loader


def test_every_public_name_of_every_0_1_module_still_imports_from_its_old_path() -> None:
    names = json.loads((Path(__file__).parent / "data" / "names-0.1.json").read_text(encoding="utf-8"))
    missing = []
    for old, public in names.items():
        if old != "sim.scenario":  # a package now, not made by the hook
            sys.modules.pop(old, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(old)
            missing += [
                f"{old}.{name}" for name in public if name not in REMOVED.get(old, ()) and not hasattr(module, name)
            ]
    assert missing == []


def test_an_old_name_of_the_scenario_package_warns_with_its_new_home() -> None:
    import sim.scenario
    from sim.scenario.read_csv import CSV_COLUMNS

    with pytest.warns(DeprecationWarning, match="sim.scenario.CSV_COLUMNS has moved to sim.scenario.read_csv"):
        assert sim.scenario.CSV_COLUMNS is CSV_COLUMNS
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = sim.scenario.nothing_here
