"""Activity records and the sinks they stream to.

Every change a flow makes to a person, every external activity and every run's start and
end is one `Activity` (R17). The engine hands each to its sinks as it happens, so a
long run never holds its log in memory: `JsonLinesSink` writes a file, `MemorySink`
keeps a list for tests.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

import attrs

from sim.output import utf8_stdout

# One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

#: Activity types that open and close a run (one ``run_started`` and one terminal each,
#: or a lone ``run_skipped``).
RUN_STARTED = "run_started"
#: A run admitted when no worker was free: it waits in the campaign queue (R20, R22).
RUN_QUEUED = "run_queued"
RUN_ENDINGS = ("run_completed", "run_skipped", "run_removed", "run_stopped")


@attrs.frozen(kw_only=True)
class Activity:
    """One activity. ``run`` and ``campaign`` are None for external activities.

    ``parent`` is the executing parent's run for an executed run, the requesting run for
    a requested run. ``step`` is the 1-based flow step that produced it, with its
    ``kind``. ``details`` holds the type's own attributes (field, old_value, ...).
    """

    seq: int
    time: float
    person: str
    type: str
    campaign: str | None = None
    run: int | None = None
    parent: int | None = None
    step: int | None = None
    kind: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> str:
        """One line of JSON with a fixed key order, the same in every process."""
        return _ENCODER.encode(
            {
                "seq": self.seq,
                "t": self.time,
                "person": self.person,
                "campaign": self.campaign,
                "run": self.run,
                "parent": self.parent,
                "step": self.step,
                "kind": self.kind,
                "type": self.type,
                "details": self.details,
            }
        )

    @classmethod
    def from_json(cls, line: str) -> Activity:
        data = json.loads(line)
        return cls(
            seq=data["seq"],
            time=data["t"],
            person=data["person"],
            type=data["type"],
            campaign=data["campaign"],
            run=data["run"],
            parent=data["parent"],
            step=data["step"],
            kind=data["kind"],
            details=data["details"],
        )


class ActivitySink(Protocol):
    """Receives every activity in order; closed once at the end of the run."""

    def write(self, activity: Activity) -> None: ...

    def close(self) -> None: ...


@attrs.define(eq=False)
class MemorySink:
    """Keeps activities in a list: for tests and small runs."""

    activities: list[Activity] = attrs.field(factory=list)

    def write(self, activity: Activity) -> None:
        self.activities.append(activity)

    def close(self) -> None:
        pass


@attrs.define(eq=False)
class JsonLinesSink:
    """Streams one JSON object per line to a file (or standard output for ``-``).

    Lines are buffered and written whole, so an interrupted run leaves only complete
    lines behind.
    """

    stream: IO[str]
    owns_stream: bool = True
    buffer_lines: int = 512
    _pending: list[str] = attrs.field(factory=list, init=False)

    @classmethod
    def open(cls, path: str | Path) -> JsonLinesSink:
        """``-`` is standard output (left open on close)."""
        if str(path) == "-":
            utf8_stdout()
            return cls(stream=sys.stdout, owns_stream=False)
        return cls(stream=open(path, "w", encoding="utf-8"))

    def write(self, activity: Activity) -> None:
        self._pending.append(activity.to_json())
        if len(self._pending) >= self.buffer_lines:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []  # taken first: never written twice
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self.owns_stream:
                self.stream.close()
