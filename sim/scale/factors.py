"""A sweep's factors: load multipliers and worker counts as the user writes them, and a
design with one point's factors applied.

A load multiplier scales every ``[[load]]`` of the design: a generator's ``rate`` (and
its ``daily`` profile) is multiplied by it, and a CSV replay's rows come that many times
as fast (row times divided by it: at 2x a day's replay arrives in 12 hours). Timed
``[[activities]]`` are scripted events, not load, and stay as written. A worker count
sets the trigger queue's workers ([queue] workers, R20). Format and rationale:
docs/sweeps.md.
"""

from __future__ import annotations

import array
import math
from collections.abc import Callable, Sequence

import attrs

from sim.scenario.model import Scenario

#: The most points along one factor: a sweep is a grid, and each point is simulations.
MAX_LEVELS = 200

_LOAD_HINT = "write START:STOP:STEP such as 0.5x:1.5x:0.1x, a list such as 0.5x,1x,2x, or one load such as 1.2x"
_WORKERS_HINT = "write a list such as 2,4,8, START:STOP:STEP such as 2:10:2, or one count such as 4"


class FactorError(ValueError):
    """An option of a sweep's factors cannot be read; the message says what to write."""


def parse_loads(text: str) -> tuple[float, ...]:
    """Load multipliers from ``--load``: ``0.5x:1.5x:0.1x`` (both ends included),
    ``0.5x,1x,2x`` or ``1x`` (the ``x`` is optional). Sorted, without repeats."""
    values = _levels(text, _multiplier, _LOAD_HINT, "--load")
    for value in values:
        if value <= 0:
            raise FactorError(f"--load {text}: a load multiplier must be more than 0, not {_shown(value)}x")
    return values


def parse_workers(text: str) -> tuple[int, ...]:
    """Worker counts from ``--workers``: ``2,4,8``, ``2:10:2`` or ``4``."""
    values = _levels(text, _integer, _WORKERS_HINT, "--workers")
    for value in values:
        if value < 1 or value != int(value):
            raise FactorError(f"--workers {text}: a worker count is a whole number of at least 1, not {value:g}")
    return tuple(int(value) for value in values)


def _levels(text: str, read: Callable[[str], float], hint: str, option: str) -> tuple[float, ...]:
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, step = (read(part) for part in parts)
            if step <= 0 or stop < start:
                raise FactorError(f"{option} {text}: STOP must be at least START and STEP more than 0; {hint}")
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > MAX_LEVELS:
                raise FactorError(f"{option} {text}: {count:,} levels, more than {MAX_LEVELS}; take a larger STEP")
            # Rounded so that 0.1 steps print as 0.7, not 0.7000000000000001.
            values = [round(start + i * step, 9) for i in range(count)]
        else:
            values = [read(part) for part in text.split(",")]
    except FactorError:
        raise
    except ValueError:
        raise FactorError(f"{option} {text}: cannot read it; {hint}") from None
    if len(values) > MAX_LEVELS:
        raise FactorError(f"{option} {text}: {len(values):,} levels, more than {MAX_LEVELS}")
    return tuple(sorted(set(values)))


def _multiplier(part: str) -> float:
    part = part.strip().lower().removesuffix("x").strip()
    value = float(part)  # ValueError for anything else
    if not math.isfinite(value):
        raise ValueError(part)
    return value


def _integer(part: str) -> float:
    return float(int(part.strip()))


def _shown(value: float) -> str:
    return f"{value:g}"


@attrs.frozen(kw_only=True)
class Factors:
    """One point's factors: a design variant, a load multiplier and the trigger queue's
    workers (None: as the design says)."""

    variant: str
    load: float = 1.0
    workers: int | None = None


def scalable_problem(scenario: Scenario, *, workers: bool) -> str | None:
    """Why ``scenario`` cannot be swept (None: it can): no load to scale, or no queue
    whose workers to set, or no queue at all (then there is nothing to wait for)."""
    if scenario.queue is None:
        return (
            "has no [queue]: without one every run starts at once and nothing waits, so a sweep has nothing "
            'to measure; add [queue] with workers = N and [queue.service] default = "100ms" (docs/queue.md)'
        )
    if not scenario.generators and not scenario.replays:
        return "has no [[load]] (a rate or a CSV replay) for --load to scale; see docs/sweeps.md"
    return None


def apply_factors(scenario: Scenario, *, load: float, workers: int | None) -> Scenario:
    """``scenario`` with every ``[[load]]`` scaled by ``load`` and the trigger queue's
    workers set to ``workers`` (None: unchanged)."""
    if load != 1.0:
        scenario = attrs.evolve(
            scenario,
            generators=tuple(
                attrs.evolve(g, rate=g.rate * load, daily=tuple(rate * load for rate in g.daily))
                for g in scenario.generators
            ),
            replays=tuple(
                attrs.evolve(r, times=array.array("d", (round(t / load, 6) for t in r.times))) for r in scenario.replays
            ),
        )
    if workers is not None and scenario.queue is not None:
        scenario = attrs.evolve(scenario, queue=attrs.evolve(scenario.queue, workers=workers))
    return scenario


def grid(variants: Sequence[str], loads: Sequence[float], workers: Sequence[int | None]) -> tuple[Factors, ...]:
    """Every combination (full factorial), variant-major, then workers, then load."""
    return tuple(
        Factors(variant=variant, load=load, workers=count)
        for variant in variants
        for count in workers
        for load in loads
    )
