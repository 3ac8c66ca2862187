"""Schedules as strings: which task ran at each choice point, written compactly.

A run's schedule is the kernel's choice at every choice point with more than one task
due (`Kernel.choices`). The default order takes the oldest task everywhere (index 0,
`FifoStrategy`), so a schedule is written as its *deviations* from it: ``"3:1,17:2"``
means "at the 3rd choice point take the 2nd-oldest task, at the 17th the 3rd-oldest,
and the oldest everywhere else". The empty string is the default order. ``sim run FILE
--schedule STRING`` replays one; ``sim explore`` prints them as witnesses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

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
