"""Activity records and sinks: the JSON Lines format and whole lines."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink, MemorySink
from sim.run.activity import Activity, encode_line
from sim.scenario.model import Scenario
from sim.testing import scenarios, seeds


def test_json_round_trip_keeps_every_field_in_a_fixed_order() -> None:
    activity = Activity(
        seq=7,
        time=90.5,
        person="ann",
        type="change_score",
        campaign="Score",
        run=3,
        parent=1,
        step=2,
        kind="change_score",
        details={"field": "score", "change": "+10", "old_value": 0, "new_value": 10},
    )
    line = activity.to_json()
    assert line == (
        '{"seq":7,"t":90.5,"person":"ann","campaign":"Score","run":3,"parent":1,"step":2,'
        '"kind":"change_score","type":"change_score",'
        '"details":{"field":"score","change":"+10","old_value":0,"new_value":10}}'
    )
    assert Activity.from_json(line) == activity


def test_non_ascii_is_written_as_is() -> None:
    line = Activity(seq=1, time=0.0, person="zoë", type="fill_out_form", details={"form": "Café"}).to_json()
    assert '"person":"zoë"' in line and '"form":"Café"' in line


def test_jsonl_sink_writes_whole_lines_in_batches_and_flushes_on_close() -> None:
    stream = io.StringIO()
    sink = JsonLinesSink(stream=stream, owns_stream=False, buffer_lines=3)
    activities = [Activity(seq=i, time=float(i), person="p1", type="visit_page") for i in range(1, 6)]
    for activity in activities[:2]:
        sink.write(activity)
    assert stream.getvalue() == ""  # buffered: nothing half-written
    sink.write(activities[2])
    assert stream.getvalue().count("\n") == 3 and stream.getvalue().endswith("\n")
    for activity in activities[3:]:
        sink.write(activity)
    sink.close()
    assert [Activity.from_json(line) for line in stream.getvalue().splitlines()] == activities
    assert not stream.closed  # standard output is not ours to close


def test_memory_sink_keeps_order() -> None:
    sink = MemorySink()
    first = Activity(seq=1, time=0.0, person="a", type="visit_page")
    second = Activity(seq=2, time=0.0, person="b", type="visit_page")
    sink.write(first)
    sink.write(second)
    sink.close()
    assert sink.activities == [first, second]


def test_a_failed_write_does_not_write_the_same_lines_twice() -> None:
    class Flaky(io.StringIO):
        failures = 1

        def flush(self) -> None:
            if self.failures:
                self.failures -= 1
                raise OSError(28, "No space left on device")
            super().flush()

    stream = Flaky()
    sink = JsonLinesSink(stream=stream, owns_stream=False, buffer_lines=2)
    sink.write(Activity(seq=1, time=0.0, person="p1", type="visit_page"))
    try:
        sink.write(Activity(seq=2, time=0.0, person="p1", type="visit_page"))
    except OSError:
        pass
    sink.close()
    assert [Activity.from_json(line).seq for line in stream.getvalue().splitlines()] == [1, 2]


# --- the fast encoder writes json's bytes (issue 12: logs byte-identical) -----------

_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.sampled_from([1e-4, 1e-5, 9.999e-5, 1e15, 1e16, 9007199254740991.0, 1e300, -0.0])
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(
    seq=st.integers(min_value=1),
    time=st.floats(min_value=0, max_value=3.2e9) | st.sampled_from([0.0, 1e-6, 5e-5, 1e-4, 0.3]),
    person=st.text(),
    details=st.dictionaries(st.text(max_size=6), _values, max_size=4),
)
def test_encode_line_writes_the_bytes_json_writes(seq: int, time: float, person: str, details: dict[str, Any]) -> None:
    """Whatever orjson would write differently (floats outside [1e-4, 1e16), NaN, inf,
    ints over 64 bits) goes through json: the bytes are always json's."""
    record = {
        "seq": seq,
        "t": time,
        "person": person,
        "campaign": "C",
        "run": 1,
        "parent": None,
        "step": 2,
        "kind": "wait",
        "type": "wait",
        "details": details,
    }
    try:
        expected = _JSON.encode(record).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: neither writes it
        return
    assert encode_line(seq, time, person, "C", 1, None, 2, "wait", "wait", details) == expected


def test_non_string_keys_and_huge_ints_fall_back_to_json() -> None:
    details: dict[Any, Any] = {1: 2**80, "x": [1e-7, float("nan")]}
    line = encode_line(1, 1e-6, "p", None, None, None, None, None, "t", details)
    assert line == b'{"seq":1,"t":1e-06,"person":"p","campaign":null,"run":null,"parent":null,"step":null,' + (
        b'"kind":null,"type":"t","details":{"1":1208925819614629174706176,"x":[1e-07,NaN]}}'
    )


@settings(max_examples=10)
@given(scenario=scenarios(), seed=seeds())
def test_the_log_sink_writes_what_the_records_say(scenario: Scenario, seed: int) -> None:
    """The engine hands the log fields, not records (`write_fields`): the same lines."""
    stream = io.BytesIO()
    log = JsonLinesSink(stream=stream, owns_stream=False)
    records = MemorySink()
    trio.run(Simulation(scenario, seed=seed, sinks=[log, records]).run)
    expected = b"".join(activity.to_json().encode("utf-8") + b"\n" for activity in records.activities)
    assert stream.getvalue() == expected


def test_subclasses_and_nested_containers_are_written_as_json_writes_them() -> None:
    """Only exact str, int, bool, None, float, dict, list and tuple take the orjson path:
    a subclass (an OrderedDict holding 1e-07, an IntEnum) is written by json."""
    from collections import OrderedDict
    from enum import IntEnum

    class Level(IntEnum):
        HIGH = 5

    for details in ({"v": [OrderedDict(a=1e-7)]}, {"v": Level.HIGH}, {"v": (True, None, "x", 2**40)}):
        expected = _JSON.encode(
            {
                "seq": 1,
                "t": 2.5,
                "person": "p",
                "campaign": None,
                "run": None,
                "parent": None,
                "step": None,
                "kind": None,
                "type": "t",
                "details": details,
            }
        ).encode("utf-8")
        assert encode_line(1, 2.5, "p", None, None, None, None, None, "t", details) == expected


def test_a_path_given_for_a_stream_is_refused_at_once_with_the_way_to_open_it(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"use JsonLinesSink.open\(path\)"):
        JsonLinesSink(tmp_path / "log.jsonl")  # type: ignore[arg-type]
    assert not (tmp_path / "log.jsonl").exists()
