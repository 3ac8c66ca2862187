"""The module paths before the layout by stage (sim._moved): each still imports for one
release, warns with the new path, and gives the very objects of the new modules."""

from __future__ import annotations

import importlib
import sys

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
