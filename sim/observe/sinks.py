"""The standard activity sinks: a JSON Lines log (`JsonLinesSink`) and a list (`MemorySink`)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import IO, Any

import attrs

from sim.observe.output import utf8_stdout
from sim.run.activity import Activity, encode_fields


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
    lines behind. Make one with `open` from a path; given a stream, the sink closes it
    at the end unless ``owns_stream`` is False (pass False for a stream you go on using,
    such as standard output). ``stream`` may be text or binary; a file `open` makes is binary, and
    gets the encoded lines as they are. The engine hands it an activity's fields
    (`write_fields`), so no `Activity` record is made for the log.
    """

    stream: IO[str] | IO[bytes]
    owns_stream: bool = True
    buffer_lines: int = 512
    _pending: list[bytes] = attrs.field(factory=list, init=False)
    _binary: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.stream, (str, Path)):
            raise TypeError(
                f"JsonLinesSink takes an open stream, not the path {str(self.stream)!r}: "
                "use JsonLinesSink.open(path) to open a file (or '-' for standard output)"
            )
        # Text streams (files opened "w", StringIO, standard output) have an encoding.
        self._binary = not isinstance(self.stream, io.TextIOBase) and not hasattr(self.stream, "encoding")

    @classmethod
    def open(cls, path: str | Path) -> JsonLinesSink:
        """``-`` is standard output (left open on close)."""
        if str(path) == "-":
            utf8_stdout()
            return cls(stream=sys.stdout, owns_stream=False)
        return cls(stream=open(path, "wb"))

    def write(self, activity: Activity) -> None:
        self._add(activity.to_json_bytes())

    def write_fields(self, fields: dict[str, Any]) -> None:
        """`write` from an activity's fields, as `Activity.to_json` writes them."""
        self._add(encode_fields(fields))

    def _add(self, line: bytes) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= self.buffer_lines:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []  # taken first: never written twice
            lines.append(b"")  # the last line's newline, without copying the chunk again
            data = b"\n".join(lines)
            stream: Any = self.stream  # text or binary, as _binary says
            stream.write(data if self._binary else data.decode("utf-8"))
            stream.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self.owns_stream:
                self.stream.close()
