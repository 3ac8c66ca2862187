"""The ``[variants]`` section: named changes to the file's design, for `sim sweep`.

A variant is a table laid over the rest of the file before it is read: tables merge key
by key, any other value (a number, a string, an array such as a flow or ``[[load]]``)
replaces the file's. So ``[variants.faster.queue] workers = 8`` changes the workers only,
and ``[variants.chain.campaigns."Lead Intake"] active = false`` switches one campaign
off. Each variant is then read and checked as a whole scenario of its own
(`sim.scenario.loader.load_variants`); `sim run` and `sim check` read the file without
them. Format: docs/sweeps.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario.read_problems import Reader, kind_of
from sim.scenario.units import show


def read_variants(r: Reader, data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Each variant's name and table, in file order; a problem for anything else."""
    section = data.get("variants", {})
    if not isinstance(section, dict):
        r.problem(f"[variants] must be a table of named variants, not {kind_of(section)} ({show(section)})")
        return {}
    variants: dict[str, Mapping[str, Any]] = {}
    for name, overlay in section.items():
        where = f"variants.{name}"
        if not isinstance(overlay, dict):
            message = f"a variant must be a table of what it changes, not {kind_of(overlay)} ({show(overlay)})"
            r.problem(message, where)
        elif "variants" in overlay:
            r.problem("a variant cannot have variants of its own", where)
        elif not name.strip():
            r.problem("a variant needs a name: [variants.NAME]", where)
        else:
            variants[name] = overlay
    return variants


def merged(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overlay`` laid over it: tables merged key by key, anything else
    replaced (neither is changed)."""
    result = dict(base)
    for key, value in overlay.items():
        old = result.get(key)
        result[key] = merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return result
