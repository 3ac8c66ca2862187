"""The Chrome/Perfetto trace (`TraceSink`, ``sim run --trace``): slices, nesting, arrows, valid JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import attrs
import pytest

from sim import Activity, Simulation, TraceSink, load_scenario, parse_scenario
from sim.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DATA = Path(__file__).resolve().parent / "data"

# The log demo of docs/scenarios.md: a trigger, an Execute Campaign (R6), a Request
# Campaign (R5) and a Wait.
DEMO = """
[programs.Webinar]
statuses = ["Not in Program", "Registered"]

[[person]]
id = "alice"

[campaigns."Form Fill"]
program = "Webinar"
triggers = [{ trigger = "fills_out_form", form = "Register" }]
flow = [
  { step = "change_program_status", status = "Registered" },
  { step = "execute_campaign", campaign = "Score" },
  { step = "request_campaign", campaign = "Route" },
]

[campaigns.Score]
kind = "executable"
flow = [{ step = "change_score", change = "+10" }]

[campaigns.Route]
triggers = [{ trigger = "campaign_is_requested" }]
flow = [{ step = "wait", duration = "1h" }, { step = "send_alert", alert = "New lead", to = "sales@example.com" }]

[[activities]]
at = "1m"
person = "alice"
type = "fill_out_form"
form = "Register"
"""

Event = dict[str, Any]


def trace_of(tmp_path: Path, text: str, **options: Any) -> list[Event]:
    out = tmp_path / "trace.json"
    Simulation(parse_scenario(text), sinks=[TraceSink.open(out)], **options).run_sync()
    events: list[Event] = json.loads(out.read_text(encoding="utf-8"))
    return events


def check_well_formed(events: list[Event]) -> None:
    """What a viewer needs: slices nest per track, every arrow has both ends on a slice."""
    tracks: dict[tuple[int, int], list[Event]] = defaultdict(list)
    for event in events:
        if event["ph"] != "M":
            tracks[event["pid"], event["tid"]].append(event)
    for track in tracks.values():
        track.sort(key=lambda e: e["ts"])  # stable: ties keep file order, as viewers do
        stack: list[float] = []  # end ts of each open slice; inf for an open B
        for event in track:
            ts = event["ts"]
            while stack and stack[-1] <= ts and stack[-1] != float("inf"):
                stack.pop()  # X slices that ended
            if event["ph"] == "X":
                assert not stack or ts + event["dur"] <= stack[-1], event
                stack.append(ts + event["dur"])
            elif event["ph"] == "B":
                stack.append(float("inf"))
            elif event["ph"] == "E":
                assert stack and stack[-1] == float("inf"), event
                stack.pop()
            elif event["ph"] in "sf":
                assert stack, f"flow event on no slice: {event}"
        assert all(end != float("inf") for end in stack), "a B without its E"
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    assert starts.keys() == ends.keys()
    for flow_id, start in starts.items():
        assert start["ts"] < ends[flow_id]["ts"] and start["name"] == ends[flow_id]["name"]


def test_demo_trace_exactly(tmp_path: Path) -> None:
    events = trace_of(tmp_path, DEMO, strategy="fifo")
    check_well_formed(events)
    # ts relative to the form fill at 1m (60,000,000 µs); metadata events have none.
    shown = [
        (e["ph"], e["ts"] - 60_000_000 if "ts" in e else None, e.get("tid"), e.get("name"), e.get("id")) for e in events
    ]
    assert shown == [
        ("M", None, None, "process_name", None),
        ("M", None, 1, "thread_name", None),
        ("X", 0, 1, "fill_out_form", None),  # seq 1 at 1m: ts = 60 s in µs
        ("B", 1, 1, "Form Fill #1", None),  # seq 2: one µs later, same instant
        ("s", 0, 1, "fills_out_form", 1),  # the trigger's arrow, from the form fill ...
        ("f", 1, 1, "fills_out_form", 1),  # ... to run 1
        ("X", 2, 1, "change_program_status", None),
        ("X", 3, 1, "execute_campaign", None),
        ("B", 4, 1, "Score #2", None),  # the executed child: same track, inside Form Fill #1 (R6)
        ("s", 3, 1, "execute_campaign", 2),
        ("f", 4, 1, "execute_campaign", 2),
        ("X", 5, 1, "change_score", None),
        ("E", 6, 1, None, None),  # Score #2 ends before the parent's next step
        ("X", 7, 1, "request_campaign", None),
        ("E", 8, 1, None, None),  # Form Fill #1 ends: the requester went straight on (R5)
        ("B", 9, 1, "Route #3", None),  # the requested run, after its requester, same lane (free again)
        ("s", 7, 1, "campaign_is_requested", 3),  # from the Request Campaign step
        ("f", 9, 1, "campaign_is_requested", 3),
        ("X", 10, 1, "wait", None),
        ("X", 3_600_000_000, 1, "send_alert", None),  # an hour later: the timeline is virtual time
        ("E", 3_600_000_001, 1, None, None),
    ]
    assert events[0]["args"] == {"name": "alice"} and events[1]["args"] == {"name": "runs"}
    assert events[3]["args"] == {
        "start": "run_started",
        "person": "alice",
        "seq": 2,
        "t": 60.0,
        "campaign": "Form Fill",
        "run": 1,
        "parent": None,
        "details": {"cause": 1, "via": "fills_out_form"},
    }
    assert events[11]["args"]["details"] == {"field": "score", "change": "+10", "old_value": 0, "new_value": 10}
    assert events[-1]["args"]["end"] == "run_completed" and events[-1]["args"]["t"] == 3660.0


def test_a_race_puts_the_two_runs_on_two_lanes_of_one_person(tmp_path: Path) -> None:
    text = (EXAMPLES / "racing-triggers.toml").read_text(encoding="utf-8")
    events = trace_of(tmp_path, text, seed=1)
    check_well_formed(events)
    p1 = next(e["pid"] for e in events if e["ph"] == "M" and e["args"] == {"name": "p1"})
    lanes = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e.get("pid") == p1 and "tid" in e}
    assert sorted(lanes.values()) == ["runs", "runs (lane 2)"]
    runs = [e for e in events if e["ph"] == "B" and e["pid"] == p1]
    assert {e["name"].split(" #")[0] for e in runs} == {"Normalize Country", "Score Lead"}
    assert {e["tid"] for e in runs} == set(lanes)  # one run per lane: they overlap in time
    form_fill = next(e for e in events if e["ph"] == "X" and e["pid"] == p1 and e["name"] == "fill_out_form")
    arrows = [e for e in events if e["ph"] == "s" and e["pid"] == p1]
    assert [a["ts"] for a in arrows] == [form_fill["ts"]] * 2  # both runs caused by the one form fill


def test_timestamps_follow_the_log_order(tmp_path: Path) -> None:
    text = (EXAMPLES / "racing-triggers-fixed.toml").read_text(encoding="utf-8")
    events = trace_of(tmp_path, text)
    check_well_formed(events)
    by_seq = sorted((e["args"]["seq"], e["ts"]) for e in events if e["ph"] in "XBE" and "seq" in e.get("args", {}))
    stamps = [ts for _, ts in by_seq]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    for seq, ts in by_seq:
        assert ts >= 0 and seq > 0
    executes = [e for e in events if e["ph"] == "f" and e["name"] == "execute_campaign"]
    assert len(executes) == 400  # two executed children per form fill, each with its arrow


@pytest.mark.parametrize(
    "scenario",
    [
        EXAMPLES / "webinar-backlog.toml",
        EXAMPLES / "runaway-cascade.toml",
        EXAMPLES / "webhook-writeback.toml",
        DATA / "queue-removed-after-wait.toml",
        DATA / "queue-routing.toml",
    ],
    ids=lambda path: path.name,
)
def test_every_kind_of_run_gives_a_well_formed_trace(tmp_path: Path, scenario: Path) -> None:
    out = tmp_path / "trace.json"
    Simulation(load_scenario(scenario), sinks=[TraceSink.open(out)]).run_sync()
    check_well_formed(json.loads(out.read_text(encoding="utf-8")))


def test_a_queued_run_has_a_queued_slice_until_it_starts(tmp_path: Path) -> None:
    events = trace_of(tmp_path, (DATA / "queue-routing.toml").read_text(encoding="utf-8"))
    check_well_formed(events)
    begins = [e for e in events if e["ph"] == "B" and e["cat"] == "queue"]
    ends = [e for e in events if e["ph"] == "E" and e["cat"] == "queue"]
    assert len(begins) == len(ends) == 3  # the three run_queued of this scenario
    queued_runs = [e for e in events if e["ph"] == "B" and e["cat"] == "run" and e["args"]["start"] == "run_queued"]
    assert len(queued_runs) == 3
    assert {e["args"]["details"]["via"] for e in ends} <= {"fills_out_form", "campaign_is_requested", "batch"}


@attrs.define
class StopAfter:
    """A sink that stops the simulation after ``count`` activities, as a first Ctrl-C does."""

    simulation: Simulation | None = None
    count: int = 5
    seen: int = 0

    def write(self, activity: Activity) -> None:
        self.seen += 1
        if self.seen == self.count and self.simulation is not None:
            self.simulation.request_stop()

    def close(self) -> None:
        pass


def test_a_stopped_run_leaves_valid_json_with_its_open_runs_unfinished(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    stopper = StopAfter(count=11)  # in the Wait of Route #3
    simulation = Simulation(parse_scenario(DEMO), strategy="fifo", sinks=[TraceSink.open(out), stopper])
    stopper.simulation = simulation
    assert simulation.run_sync().interrupted
    events = json.loads(out.read_text(encoding="utf-8"))
    check_well_formed(events)
    assert events[-1]["ph"] == "E" and events[-1]["args"] == {"end": "log ended", "unfinished": True}
    assert events[-1]["ts"] == events[-2]["ts"] + 1  # right after the last activity (the wait step)


class Boom(Exception):
    pass


@attrs.define
class RaiseAfter:
    count: int
    seen: int = 0

    def write(self, activity: Activity) -> None:
        self.seen += 1
        if self.seen == self.count:
            raise Boom  # as a second Ctrl-C's KeyboardInterrupt would, anywhere in the run

    def close(self) -> None:
        pass


def test_a_run_ended_by_an_exception_still_leaves_valid_json(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    sink = TraceSink.open(out)
    sink.buffer_events = 2  # some events already on disk when it stops
    simulation = Simulation(parse_scenario(DEMO), strategy="fifo", sinks=[sink, RaiseAfter(count=6)])
    with pytest.raises(BaseException) as raised:
        simulation.run_sync()
    assert raised.group_contains(Boom) if isinstance(raised.value, BaseExceptionGroup) else raised.type is Boom
    events = json.loads(out.read_text(encoding="utf-8"))
    check_well_formed(events)
    unfinished = [e for e in events if e["ph"] == "E" and e.get("args", {}).get("unfinished")]
    assert len(unfinished) == 2  # Form Fill #1 and, inside it, Score #2


def test_run_with_trace_writes_the_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "demo.toml"
    scenario.write_text(DEMO, encoding="utf-8")
    out = tmp_path / "out.json"
    assert main(["run", str(scenario), "--strategy", "fifo", "--trace", str(out)]) == 0
    events = json.loads(out.read_text(encoding="utf-8"))
    assert [e["name"] for e in events if e["ph"] == "B"] == ["Form Fill #1", "Score #2", "Route #3"]
    assert "Route" in capsys.readouterr().out  # the summary as usual


def test_run_with_an_unwritable_trace_path_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "demo.toml"
    scenario.write_text(DEMO, encoding="utf-8")
    bad = tmp_path / "no-such-dir" / "out.json"
    assert main(["run", str(scenario), "--trace", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"error: --trace {bad}: there is no folder {bad.parent}; create it first, or pick another path" in err
    assert "Traceback" not in err


def test_trace_refuses_to_overwrite_the_scenario_or_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "demo.toml"
    scenario.write_text(DEMO, encoding="utf-8")
    assert main(["run", str(scenario), "--trace", str(scenario)]) == 2
    assert "is the scenario file itself" in capsys.readouterr().err
    assert scenario.read_text(encoding="utf-8") == DEMO
    log = tmp_path / "log.jsonl"
    assert main(["run", str(scenario), "--log", str(log), "--trace", str(log)]) == 2
    assert "--log and --trace are the same file" in capsys.readouterr().err
