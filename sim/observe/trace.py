"""A Chrome/Perfetto trace of a run: ``sim run FILE --trace out.json``.

`TraceSink` turns the activity stream into the Trace Event JSON format (the one
ui.perfetto.dev and chrome://tracing open) as it goes, so a run, a race witness say, can
be looked at on a timeline (docs/races.md, "Looking at a run in Perfetto"):

- a process per person (``process_name`` = the person's id) with a thread track per
  *lane*: lane 1 holds the person's runs; a run that starts while another run of the same
  person is still going gets the next free lane, so two runs racing show one above the
  other. Perfetto orders tracks by how busy they are and ignores sort-index metadata, so
  a process per person is the only way to keep a person's lanes together; a thread per
  person in one process would also break the nesting rule (slices on one thread must
  nest, and concurrent runs of one person overlap without nesting).
- a slice per run, named ``Campaign #run``, from its ``run_started`` (or ``run_queued``,
  with a nested ``queued`` slice until it starts) to its ending; an executed child run
  (R6) nests inside its parent's slice on the parent's lane, since it runs in the
  parent's task. A run still going when the log ends ends at the last activity, with
  ``unfinished: true`` in its end args.
- a 1 µs slice per other activity (a step's effects, external activities, a lone
  ``run_skipped``): a slice rather than an instant event because flow arrows bind to
  slices, and 1 µs is exactly the activity's slot on the timeline (below), so it never
  overlaps the next activity.
- flow arrows, with the destination run's id as flow id, from the activity that caused a
  run (``run_started``'s ``cause``: the triggering activity, or the Request Campaign step,
  R5) and from an Execute Campaign step to its child run (R6).

Times are virtual: ``ts`` is the activity's time in microseconds. Virtual time does not
advance within an instant, so to keep every activity visible and in log order each
activity gets its own 1 µs slot: ``ts = max(time * 1e6, previous ts + 1)``. Within an
instant, activities are therefore 1 µs apart in log order; an instant with more
activities than microseconds before the next one pushes the next ones later by the
overflow, so the order is always the log's and a time is off only after such a pile-up.
Every event's args carry the exact virtual time ``t`` and the ``seq``.

The file is one JSON array written incrementally; `close` ends it, also after Ctrl-C
(the simulation closes its sinks however it ends). Memory is per open run and per person,
plus a bounded window of recent activities to draw arrows from, never the whole log.
"""

from __future__ import annotations

import json
from typing import IO, Any

import attrs

from sim.observe.output import TextOutput, open_output
from sim.run.activity import RUN_ENDINGS, RUN_QUEUED, RUN_STARTED, Activity

# ensure_ascii=False: the file is UTF-8, and "Zürich" reads better than "Z\u00fcrich".
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

#: Where an activity's slice is: (ts, pid, tid).
_Place = tuple[int, int, int]


@attrs.define(eq=False)
class _Lane:
    """One thread track of a person: the runs open on it, outermost first."""

    tid: int
    runs: list[int] = attrs.field(factory=list)


@attrs.define(eq=False)
class _Person:
    pid: int
    lanes: list[_Lane] = attrs.field(factory=list)


@attrs.define(eq=False)
class _OpenRun:
    pid: int
    lane: _Lane
    queued: bool


@attrs.define(eq=False)
class TraceSink:
    """Streams the activities as a Chrome/Perfetto trace (Trace Event JSON array format).

    ``recent`` bounds how many recent activities are remembered as arrow sources: a run
    starts in the same instant as the activity that caused it, so only a pile-up of more
    activities than that within one instant loses an arrow.
    """

    stream: TextOutput | IO[str]
    #: Whether `close` also closes the stream (an `AtomicFile`: publishes it). Without, the
    #: owner decides whether the finished trace replaces the file there (`sim run` does
    #: only when the run gave a summary).
    owns_stream: bool = True
    buffer_events: int = 512
    recent: int = 65_536
    _pending: list[str] = attrs.field(factory=list, init=False)
    _first: bool = attrs.field(default=True, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    _last_ts: int = attrs.field(default=-1, init=False)
    _people: dict[str, _Person] = attrs.field(factory=dict, init=False)
    _next_tid: int = attrs.field(default=1, init=False)
    _runs: dict[int, _OpenRun] = attrs.field(factory=dict, init=False)
    _places: dict[int, _Place] = attrs.field(factory=dict, init=False)
    _executes: dict[int, _Place] = attrs.field(factory=dict, init=False)

    @classmethod
    def open(cls, path: str) -> TraceSink:
        """Start the JSON array for ``path`` (``-``: standard output). The file appears, or
        replaces the one there, only when the sink is closed: whole (`sim.observe.output`)."""
        return cls(stream=open_output(path))

    def __attrs_post_init__(self) -> None:
        self.stream.write("[\n")

    # -- the activity stream

    def write(self, activity: Activity) -> None:
        ts = max(round(activity.time * 1e6), self._last_ts + 1)
        self._last_ts = ts
        person = self._person(activity.person)
        run = activity.run
        if run is None:  # an external activity: a moment on a free lane
            lane = self._free_lane(person)
            self._slice(activity, ts, person.pid, lane.tid, activity.type, "activity")
        elif activity.type in (RUN_STARTED, RUN_QUEUED) and run not in self._runs:
            lane = self._begin_run(activity, ts, person)
        elif activity.type == RUN_STARTED:  # out of the queue: a worker took it
            started = self._runs[run]
            started.queued = False
            lane = started.lane
            self._emit("E", ts, person.pid, lane.tid, "queued", "queue", self._args(activity))
        elif activity.type in RUN_ENDINGS and run in self._runs:
            lane = self._runs[run].lane
            self._end_run(run, ts, {"end": activity.type, **self._args(activity)})
        elif activity.type in RUN_ENDINGS:  # run_skipped: a run that never started
            lane = self._lane_of_child(person, activity)
            name = f"{activity.campaign} #{run} skipped"
            self._slice(activity, ts, person.pid, lane.tid, name, "run")
            self._arrow(activity, (ts, person.pid, lane.tid))
        else:  # a step's activity (or a late one, such as a webhook's write-back: alone)
            open_run = self._runs.get(run)
            lane = open_run.lane if open_run is not None else self._free_lane(person)
            self._slice(activity, ts, person.pid, lane.tid, activity.type, "step")
            if activity.type == "execute_campaign":
                self._executes[run] = (ts, person.pid, lane.tid)
        self._remember(activity.seq, (ts, person.pid, lane.tid))

    def _begin_run(self, activity: Activity, ts: int, person: _Person) -> _Lane:
        lane = self._lane_of_child(person, activity)
        assert activity.run is not None
        lane.runs.append(activity.run)
        queued = activity.type == RUN_QUEUED
        self._runs[activity.run] = _OpenRun(pid=person.pid, lane=lane, queued=queued)
        name = f"{activity.campaign} #{activity.run}"
        args = {"start": activity.type, "person": activity.person, **self._args(activity)}
        self._emit("B", ts, person.pid, lane.tid, name, "run", args)
        # The arrow's end is written before the nested "queued" slice: it binds to the run.
        self._arrow(activity, (ts, person.pid, lane.tid))
        if queued:
            self._emit("B", ts, person.pid, lane.tid, "queued", "queue", {})
        return lane

    def _end_run(self, run: int, end_ts: int, args: dict[str, Any]) -> None:
        """Close ``run``'s slice, and first any child still open inside it (a removal, R11)."""
        open_run = self._runs[run]
        lane = open_run.lane
        while lane.runs:
            inner = lane.runs.pop()
            closing = self._runs.pop(inner)
            if closing.queued:
                self._emit("E", end_ts, closing.pid, lane.tid, "queued", "queue", {})
            self._emit("E", end_ts, closing.pid, lane.tid, "", "run", args if inner == run else {"end": "with parent"})
            self._executes.pop(inner, None)
            if inner == run:
                break

    def _arrow(self, activity: Activity, to: _Place) -> None:
        """A flow arrow into a run's first slice from what caused it, if that is known."""
        details = activity.details
        via = str(details.get("via", ""))
        cause = details.get("cause")
        source: _Place | None = None
        if via == "execute_campaign" and activity.parent is not None:
            source = self._executes.pop(activity.parent, None)
        elif isinstance(cause, int):
            source = self._places.get(cause)
        if source is None:
            return
        flow_id = activity.run
        ts, pid, tid = source
        self._write({"ph": "s", "ts": ts, "pid": pid, "tid": tid, "name": via, "cat": "flow", "id": flow_id})
        ts, pid, tid = to
        self._write({"ph": "f", "bp": "e", "ts": ts, "pid": pid, "tid": tid, "name": via, "cat": "flow", "id": flow_id})

    # -- people and lanes

    def _person(self, person_id: str) -> _Person:
        person = self._people.get(person_id)
        if person is None:
            person = self._people[person_id] = _Person(pid=len(self._people) + 1)
            self._write({"ph": "M", "name": "process_name", "pid": person.pid, "args": {"name": person_id}})
        return person

    def _free_lane(self, person: _Person) -> _Lane:
        """The person's first lane with no run open on it (a new lane when all are busy)."""
        for lane in person.lanes:
            if not lane.runs:
                return lane
        lane = _Lane(tid=self._next_tid)
        self._next_tid += 1
        person.lanes.append(lane)
        pid = person.pid
        name = "runs" if len(person.lanes) == 1 else f"runs (lane {len(person.lanes)})"
        self._write({"ph": "M", "name": "thread_name", "pid": pid, "tid": lane.tid, "args": {"name": name}})
        return lane

    def _lane_of_child(self, person: _Person, activity: Activity) -> _Lane:
        """An executed run's lane is its parent's (same task, R6); any other run takes a free one."""
        if activity.details.get("via") == "execute_campaign" and activity.parent in self._runs:
            return self._runs[activity.parent].lane
        return self._free_lane(person)

    def _remember(self, seq: int, place: _Place) -> None:
        self._places[seq] = place
        if len(self._places) > self.recent:
            del self._places[next(iter(self._places))]  # the oldest: dicts keep insertion order

    # -- events

    @staticmethod
    def _args(activity: Activity) -> dict[str, Any]:
        args: dict[str, Any] = {"seq": activity.seq, "t": activity.time}
        if activity.run is not None:
            args.update(campaign=activity.campaign, run=activity.run, parent=activity.parent)
        if activity.step is not None:
            args.update(step=activity.step, kind=activity.kind)
        args["details"] = dict(activity.details)
        return args

    def _slice(self, activity: Activity, ts: int, pid: int, tid: int, name: str, cat: str) -> None:
        self._write(
            {
                "ph": "X",
                "ts": ts,
                "dur": 1,
                "pid": pid,
                "tid": tid,
                "name": name,
                "cat": cat,
                "args": self._args(activity),
            }
        )

    def _emit(self, ph: str, ts: int, pid: int, tid: int, name: str, cat: str, args: dict[str, Any]) -> None:
        event: dict[str, Any] = {"ph": ph, "ts": ts, "pid": pid, "tid": tid, "cat": cat}
        if name:
            event["name"] = name
        if args:
            event["args"] = args
        self._write(event)

    def _write(self, event: dict[str, Any]) -> None:
        self._pending.append(_ENCODER.encode(event))
        if len(self._pending) >= self.buffer_events:  # also while `close` ends a million runs
            self.flush()

    def flush(self) -> None:
        """Write the buffered events, each one whole, with the array's commas."""
        if not self._pending:
            return
        events, self._pending = self._pending, []  # taken first: never written twice
        text = ",\n".join(events)
        self.stream.write(text if self._first else ",\n" + text)
        self._first = False
        self.stream.flush()

    def close(self) -> None:
        """End every run still open at the last activity (``unfinished``) and the array."""
        if self._closed:
            return
        self._closed = True
        try:
            end_ts = self._last_ts + 1
            for run in sorted(self._runs, reverse=True):  # inner (later) runs first
                if run in self._runs:
                    self._end_run(run, end_ts, {"end": "log ended", "unfinished": True})
            self.flush()
            self.stream.write("\n]\n")
        finally:
            if self.owns_stream:
                self.stream.close()
            else:
                self.stream.flush()
