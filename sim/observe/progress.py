"""Progress on a terminal: a bar for long runs (virtual time reached, runs done,
activities), and a line of rows read for long exports."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

import attrs

from sim.run.activity import Activity
from sim.scenario.units import format_duration


@attrs.define(eq=False)
class ProgressSink:
    """An activity sink that redraws one status line at most every ``interval`` seconds.

    Checks the wall clock only every 4,096 activities, so it costs nothing measurable.
    Give it a terminal stream only: on a pipe or file it would leave clutter behind.
    """

    stream: TextIO
    duration: float
    interval: float = 0.5
    width: int = 20
    _count: int = 0
    _done: int = 0
    _last: float = attrs.field(factory=time.monotonic)
    _shown: bool = False

    def write(self, activity: Activity) -> None:
        self._count += 1
        if activity.type == "run_completed":
            self._done += 1
        if self._count & 4095:
            return
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        share = min(1.0, activity.time / self.duration) if self.duration else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(
            f"\r\033[K  [{bar}] {format_duration(activity.time // 60 * 60)} of {format_duration(self.duration)} "
            f"({share:.0%}), {self._done:,} runs done, {self._count:,} activities"
        )
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")  # clear the line before the summary
            self.stream.flush()


@contextlib.contextmanager
def rows_read_line(stream: TextIO | None = None) -> Iterator[Callable[[str, int], None] | None]:
    """A progress line of rows read per file (``reading FILE: N rows``), redrawn in place
    and cleared on the way out; None when ``stream`` (default standard error) is not a
    terminal, where it would only leave clutter."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield None
        return

    def show(file: str, rows: int) -> None:
        out.write(f"\r\033[K  reading {file}: {rows:,} rows")
        out.flush()

    try:
        yield show
    finally:
        out.write("\r\033[K")
        out.flush()
