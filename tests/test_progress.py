from __future__ import annotations

import io

from sim.observe.progress import ProgressSink, rows_read_line
from sim.run.activity import Activity


def _activity(seq: int, time: float) -> Activity:
    return Activity(seq=seq, time=time, person="p1", type="fill_out_form")


def test_progress_line_shows_virtual_time_and_count_then_clears() -> None:
    stream = io.StringIO()
    sink = ProgressSink(stream=stream, duration=86400.0, interval=0.0)
    for seq in range(1, 8193):
        sink.write(_activity(seq, 43200.0))
    sink.close()
    text = stream.getvalue()
    assert "\r\033[K  [##########..........] 12h of 1d (50%), 0 runs done, 4,096 activities" in text
    assert "8,192 activities" in text
    assert text.endswith("\r\033[K")


def test_progress_counts_completed_runs() -> None:
    stream = io.StringIO()
    sink = ProgressSink(stream=stream, duration=100.0, interval=0.0)
    for seq in range(1, 4097):
        sink.write(Activity(seq=seq, time=99.0, person="p1", type="run_completed" if seq % 2 else "send_email"))
    sink.close()
    assert "[###################.] 1m of 1m40s (99%), 2,048 runs done, 4,096 activities" in stream.getvalue()


def test_progress_stays_silent_on_short_runs() -> None:
    stream = io.StringIO()
    sink = ProgressSink(stream=stream, duration=3600.0, interval=0.0)
    for seq in range(1, 100):
        sink.write(_activity(seq, 60.0))
    sink.close()
    assert stream.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rows_read_line_redraws_in_place_and_clears_on_a_terminal_only() -> None:
    terminal = _Terminal()
    with rows_read_line(terminal) as show:
        assert show is not None
        show("export.csv", 50_000)
        show("export.csv", 100_000)
    assert terminal.getvalue() == (
        "\r\033[K  reading export.csv: 50,000 rows\r\033[K  reading export.csv: 100,000 rows\r\033[K"
    )
    with rows_read_line(io.StringIO()) as show:
        assert show is None
