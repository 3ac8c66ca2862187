"""Activity records, their log line, and the sink protocols a run writes them to.

Every change a flow makes to a person, every external activity and every run's start and
end is one `Activity` (R17). The engine hands each to its sinks as it happens, so a
long run never holds its log in memory; the sinks themselves are in `sim.observe.sinks`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the log is the same, written more slowly
    _orjson = None

# One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

#: Floats in [1e-4, 1e16) (and zero) are the ones orjson writes as json does (Python's
#: repr): outside it, json writes 1e-05 and 1e+16 where orjson writes 0.00001 and 1e16.
_FIXED_FROM, _FIXED_TO = 1e-4, 1e16


def _plain(value: object) -> bool:
    """Whether orjson writes ``value`` byte for byte as json does. Floats must be in
    [1e-4, 1e16) or zero; containers are looked into; any other type but str, int, bool
    and None (a subclass, say) is not plain: json writes it. What orjson cannot write at
    all (ints over 64 bits, keys that are not strings) it refuses: `encode_fields`
    falls back to json then."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return value == 0.0 or _FIXED_FROM <= abs(value) < _FIXED_TO  # type: ignore[arg-type]
    if kind is dict:
        return all(_plain(item) for item in value.values())  # type: ignore[attr-defined]
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)  # type: ignore[attr-defined]
    return False


def encode_line(
    seq: int,
    time: float,
    person: str,
    campaign: str | None,
    run: int | None,
    parent: int | None,
    step: int | None,
    kind: str | None,
    type_: str,
    details: Mapping[str, Any],
) -> bytes:
    """One activity as a line of JSON (UTF-8, no newline), with a fixed key order."""
    return encode_fields(
        {
            "seq": seq,
            "t": time,
            "person": person,
            "campaign": campaign,
            "run": run,
            "parent": parent,
            "step": step,
            "kind": kind,
            "type": type_,
            "details": details,
        }
    )


def encode_fields(fields: dict[str, Any]) -> bytes:
    """An activity's fields, keyed and ordered as its log line (``seq``, ``t``,
    ``person``, ``campaign``, ``run``, ``parent``, ``step``, ``kind``, ``type``,
    ``details``), as that line: UTF-8 JSON, no newline.

    orjson writes it where that gives the very bytes the standard library's encoder
    gives (the log's format, and its golden hashes, are json's), several times faster;
    anything else, and any install without orjson, goes through json.
    """
    time, details = fields["t"], fields["details"]
    if _orjson is not None and type(details) is dict and (time == 0.0 or _FIXED_FROM <= time < _FIXED_TO):
        for value in details.values():  # the guard, written out: this runs for every line
            if not (type(value) is str or type(value) is int or value is None or _plain(value)):
                break
        else:
            try:
                return _orjson.dumps(fields)  # type: ignore[no-any-return]
            except TypeError:  # orjson.JSONEncodeError: an int over 64 bits, a key not a string
                pass
    return _ENCODER.encode(fields).encode("utf-8")


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
        return self.to_json_bytes().decode("utf-8")

    def to_json_bytes(self) -> bytes:
        """`to_json` as UTF-8 bytes (`encode_line`)."""
        return encode_line(
            self.seq,
            self.time,
            self.person,
            self.campaign,
            self.run,
            self.parent,
            self.step,
            self.kind,
            self.type,
            self.details,
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
    """Receives every activity in order; closed once at the end of the run.

    A sink that also has ``write_fields`` (`FieldSink`) gets each activity's fields
    instead, and the engine makes no `Activity` record for it: cheaper, for sinks that
    only count or encode (the JSON Lines log, the memory guard). Field sinks get each
    activity before record sinks do. A sink reads what it gets and changes nothing in
    it: the details are the very mapping the run goes on using (a triggered run's
    {{trigger.x}} tokens read them).
    """

    def write(self, activity: Activity) -> None: ...

    def close(self) -> None: ...


class FieldSink(ActivitySink, Protocol):
    """An `ActivitySink` that the engine hands each activity's fields, keyed and ordered
    as its log line (`encode_fields`), rather than an `Activity`. The dict is the
    sink's to read, not to keep or change."""

    def write_fields(self, fields: dict[str, Any]) -> None: ...
