"""Activity records and sinks: the JSON Lines format and whole lines."""

from __future__ import annotations

import io

from sim.activity import Activity, JsonLinesSink, MemorySink


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
