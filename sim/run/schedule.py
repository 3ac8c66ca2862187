"""Schedules as strings: which task ran at each choice point, written compactly.

A run's schedule is the kernel's choice at every choice point with more than one task
due (`Kernel.choices`). The default order takes the oldest task everywhere (index 0,
`FifoStrategy`), so a schedule is written as its *deviations* from it: ``"3:1,17:2"``
means "at the 3rd choice point take the 2nd-oldest task, at the 17th the 3rd-oldest,
and the oldest everywhere else". The empty string is the default order. ``sim run FILE
--schedule STRING`` replays one; ``sim explore`` prints them as witnesses.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

#: One deviation: choice point (1-based) ":" candidate index (0-based, oldest first).
_DEVIATION = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


class ScheduleError(ValueError):
    """A schedule string that is malformed, or that does not fit the scenario it replays."""


def parse_schedule(text: str) -> dict[int, int]:
    """``"3:1,17:2"`` -> {3: 1, 17: 2}; raises ScheduleError naming the bad part."""
    deviations: dict[int, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        match = _DEVIATION.match(part)
        if match is None:
            raise ScheduleError(
                f'schedule {text!r}: {part.strip()!r} is not POINT:CHOICE; write e.g. "3:1,17:2" '
                "(at choice point 3 take the 2nd-oldest task; the oldest everywhere else)"
            )
        point, choice = int(match.group(1)), int(match.group(2))
        if point < 1:
            raise ScheduleError(f"schedule {text!r}: choice points count from 1, not {point}")
        if point in deviations:
            raise ScheduleError(f"schedule {text!r}: choice point {point} is given twice")
        if choice:
            deviations[point] = choice
    return deviations


def format_schedule(deviations: Mapping[int, int]) -> str:
    """{3: 1, 17: 2} -> ``"3:1,17:2"`` (in choice-point order; index 0 entries dropped)."""
    return ",".join(f"{point}:{choice}" for point, choice in sorted(deviations.items()) if choice)


def deviations_of(choices: Sequence[tuple[int, int]]) -> dict[int, int]:
    """The deviations from the default order in a recorded schedule, (count, chosen) pairs."""
    return {point: chosen for point, (_, chosen) in enumerate(choices, 1) if chosen}


@attrs.define(eq=False)
class ReplayStrategy:
    """Follows a schedule: its deviations at their choice points, the oldest elsewhere.

    A deviation that names a candidate the choice point does not have means the schedule
    was made for another scenario (or seed): that is an error, never a silent guess.
    """

    deviations: Mapping[int, int]
    _point: int = attrs.field(default=0, init=False)

    def choose(self, count: int) -> int:
        self._point += 1
        choice = self.deviations.get(self._point, 0)
        if choice >= count:
            raise ScheduleError(
                f"the schedule takes candidate {choice} at choice point {self._point}, which has only {count} "
                f"(0-{count - 1}): it was made for another scenario or seed"
            )
        return choice

    @property
    def points(self) -> int:
        """Choice points met so far."""
        return self._point


class Strategy(Protocol):
    """Picks which of ``count`` equally-due tasks runs next (index 0 is the oldest)."""

    def choose(self, count: int) -> int: ...


@attrs.define(eq=False)
class FifoStrategy:
    """Always the oldest: the default order that schedule deviations are measured from."""

    def choose(self, count: int) -> int:
        return 0


@attrs.define(eq=False)
class RandomStrategy:
    """A uniform choice from a random stream of its own, seeded by ``seed``."""

    seed: int
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # A string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED.
        self._rng = random.Random(f"sim.schedule:{self.seed}")

    def choose(self, count: int) -> int:
        return self._rng.randrange(count)


@attrs.define(eq=False)
class PCTStrategy:
    """Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010), on tasks.

    Each task gets a random priority the first time it is a candidate (all above
    ``depth``); at every choice point the candidate of highest priority runs. At
    ``depth - 1`` change points, drawn among the first ``steps`` choice points, the task
    chosen there drops to priority 1, 2, ... (below every first priority). A bug that
    needs ``depth`` orderings to line up is found with probability at least
    1 / (tasks x steps^(depth-1)) per run, which random choices do not promise.
    """

    seed: int
    depth: int = 3
    steps: int = 100
    _rng: random.Random = attrs.field(init=False)
    _priorities: dict[object, float] = attrs.field(factory=dict, init=False)
    _changes: dict[int, int] = attrs.field(factory=dict, init=False)
    _step: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"PCT depth {self.depth!r}: give 1 or more")
        self._rng = random.Random(f"sim.pct:{self.seed}")
        points = self._rng.sample(range(1, max(self.steps, self.depth) + 1), self.depth - 1)
        self._changes = {point: low for low, point in enumerate(points, 1)}

    def choose(self, count: int) -> int:
        raise AssertionError("the kernel gives PCTStrategy its candidates with choose_task")

    def choose_task(self, owners: list[object]) -> int:
        """The index of the candidate task of highest priority (owners oldest first)."""
        self._step += 1
        priorities = self._priorities
        for owner in owners:  # first sight: a random priority above every change point's
            if owner not in priorities:
                priorities[owner] = self.depth + self._rng.random()
        chosen = max(range(len(owners)), key=lambda i: priorities[owners[i]])
        low = self._changes.get(self._step)
        if low is not None:
            priorities[owners[chosen]] = float(low)
        return chosen


#: Strategy names accepted by `Simulation` and ``sim run --strategy``.
STRATEGIES = ("random", "fifo")


def make_strategy(name: str, seed: int, *, depth: int = 3, steps: int = 100) -> Strategy:
    """``random``: seeded choices among tasks due together; ``fifo``: oldest first;
    ``pct``: PCT with ``depth`` and ``steps`` (`PCTStrategy`, for `sim explore`)."""
    if name == "random":
        return RandomStrategy(seed)
    if name == "fifo":
        return FifoStrategy()
    if name == "pct":
        return PCTStrategy(seed, depth=depth, steps=steps)
    raise ValueError(f"unknown strategy {name!r}; use one of {', '.join((*STRATEGIES, 'pct'))}")
