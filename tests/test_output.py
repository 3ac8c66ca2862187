"""Output files (sim.observe.output): never over an input, written whole, at most one on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.observe.output import AtomicFile, output_problem

ROOT = Path(__file__).resolve().parent.parent
DEMO = """
[sim]
duration = "1h"

[people]
count = 3

[campaigns.Score]
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+10" }]

[[activities]]
at = "1m"
person = "p1"
type = "fill_out_form"
"""


def test_an_atomic_file_appears_whole_on_close_and_not_at_all_when_discarded(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old", encoding="utf-8")
    written = AtomicFile.open(path)
    written.write("new")
    assert path.read_text(encoding="utf-8") == "old"  # not yet: the old file stands
    written.close()
    assert path.read_text(encoding="utf-8") == "new"
    dropped = AtomicFile.open(path)
    dropped.write("half")
    dropped.discard()
    assert path.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_output_problems_name_the_option_and_what_it_would_overwrite(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text("", encoding="utf-8")
    inputs = {"the scenario file itself": scenario}
    assert output_problem({"--metrics": str(scenario)}, inputs) == (
        f"--metrics {scenario} is the scenario file itself: it would be overwritten; pick another path"
    )
    same = str(tmp_path / "x")
    assert output_problem({"--log": same, "--metrics": same}, inputs) == (
        f"--log and --metrics are the same file ({same}); give each its own"
    )
    assert output_problem({"--log": "-", "--trace": "-"}, inputs) == (
        "--log and --trace both go to standard output (-); give all but one of them a file"
    )
    assert output_problem({"--trace": str(tmp_path)}, inputs) == f"--trace {tmp_path} is a folder; give a file path"
    missing = tmp_path / "nowhere" / "t.json"
    assert output_problem({"--trace": str(missing)}, inputs) == (
        f"--trace {missing}: there is no folder {missing.parent}; create it first, or pick another path"
    )
    assert output_problem({"--log": "-", "--metrics": str(tmp_path / "m.json")}, inputs) is None


@pytest.mark.parametrize("option", ["--log", "--trace", "--metrics"])
def test_no_output_overwrites_the_scenario(option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(DEMO, encoding="utf-8")
    assert main(["run", str(scenario), option, str(scenario)]) == 2
    assert "is the scenario file itself: it would be overwritten" in capsys.readouterr().err
    assert scenario.read_text(encoding="utf-8") == DEMO


@pytest.mark.parametrize(("first", "second"), [("--log", "--metrics"), ("--trace", "--metrics"), ("--log", "--trace")])
def test_two_outputs_may_not_share_a_file(
    first: str, second: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(DEMO, encoding="utf-8")
    shared = tmp_path / "out"
    assert main(["run", str(scenario), first, str(shared), second, str(shared)]) == 2
    assert f"{first} and {second} are the same file" in capsys.readouterr().err
    assert not shared.exists()


@pytest.mark.parametrize("option", ["--log", "--metrics"])
def test_no_output_overwrites_a_csv_replay(option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("form-fills.toml", "form-fills.csv"):
        (tmp_path / name).write_bytes((ROOT / "examples" / name).read_bytes())
    csv = tmp_path / "form-fills.csv"
    before = csv.read_bytes()
    assert main(["run", str(tmp_path / "form-fills.toml"), option, str(csv)]) == 2
    assert f"is the CSV replay {csv}: it would be overwritten" in capsys.readouterr().err
    assert csv.read_bytes() == before


def test_metrics_and_trace_dash_go_to_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(DEMO, encoding="utf-8")
    assert main(["run", "s.toml", "--metrics", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["duration"] == 3600.0  # stdout holds the metrics alone
    assert "Simulated 1h of virtual time" in err  # the summary went to standard error
    assert main(["run", "s.toml", "--trace", "-"]) == 0
    out, err = capsys.readouterr()
    assert any(event["name"] == "Score #1" for event in json.loads(out))
    assert not (tmp_path / "-").exists()  # never a file named "-"
    assert main(["run", "s.toml", "--log", "-", "--metrics", "-"]) == 2
    assert "--log and --metrics both go to standard output" in capsys.readouterr().err


def test_a_run_that_fails_leaves_the_old_trace_and_the_log_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output that cannot be written fails before the log is emptied, and the trace of
    an earlier run stays: no summary, no new files."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(DEMO, encoding="utf-8")
    log, trace = tmp_path / "l.jsonl", tmp_path / "t.json"
    log.write_text("an earlier log\n", encoding="utf-8")
    trace.write_text("[]\n", encoding="utf-8")
    argv = ["run", str(scenario), "--log", str(log), "--trace", str(trace)]
    assert main([*argv, "--metrics", str(tmp_path / "no-such-dir" / "m.json")]) == 2
    assert f"--metrics {tmp_path / 'no-such-dir' / 'm.json'}: there is no folder" in capsys.readouterr().err
    assert log.read_text(encoding="utf-8") == "an earlier log\n"
    assert trace.read_text(encoding="utf-8") == "[]\n"
    assert main([*argv, "--schedule", "9:1"]) == 2  # a schedule made for another run: no summary
    assert "it was made for another scenario or seed" in capsys.readouterr().err
    assert trace.read_text(encoding="utf-8") == "[]\n"


def test_an_atomic_file_follows_symlinks_keeps_the_mode_and_writes_devices_in_place(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    written = AtomicFile.open(link)
    written.write("new")
    written.close()
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    devnull = AtomicFile.open("/dev/null")  # not a regular file: never replaced
    devnull.write("gone")
    devnull.close()
    assert Path("/dev/null").is_char_device()


def test_a_run_near_its_memory_limit_stops_with_a_summary_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guard looks every few thousand activities: near a limit the run stops at its
    next task switch, prints what it did, writes whole files, and says why it stopped."""
    import sim.scenario.estimate

    checks = []

    def pressure() -> str | None:
        checks.append(1)
        return "the address-space limit (ulimit -v: 1.0 GB)" if len(checks) == 2 else None

    monkeypatch.setattr(sim.scenario.estimate, "memory_pressure", pressure)
    metrics = tmp_path / "m.json"
    assert main(["run", str(ROOT / "examples" / "lead-lifecycle.toml"), "--metrics", str(metrics)]) == 2
    out, err = capsys.readouterr()
    assert "INTERRUPTED after" in out
    assert "error: stopped near the address-space limit (ulimit -v: 1.0 GB) at " in err
    assert json.loads(metrics.read_text(encoding="utf-8"))["duration"] < 3 * 86400


def test_stdout_by_another_name_and_dev_null(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/dev/stdout next to "-" would mix two outputs on one stream: refused. /dev/null
    takes anything, so two outputs may both go there."""
    stdout = tmp_path / "stdout"
    with open(stdout, "w", encoding="utf-8") as stream:
        monkeypatch.setattr("sys.stdout", stream)
        assert output_problem({"--log": str(stdout), "--trace": "-"}, {}) == (
            f"--log {stdout} is standard output, where --trace - goes too; give one of them a file"
        )
    assert output_problem({"--log": "/dev/null", "--trace": "/dev/null"}, {}) is None


def test_a_trace_ends_a_million_open_runs_without_holding_them_in_memory() -> None:
    """Closing the trace of a run cut short with many runs still open (a backlog) writes
    their ends in batches, never all at once: a run stopped near its memory limit must
    not run out while it closes its files."""
    import io as io_module

    from sim.observe.trace import TraceSink
    from sim.run.activity import Activity

    writes: list[int] = []

    class Counting(io_module.StringIO):
        def write(self, text: str) -> int:
            writes.append(len(text))
            return super().write(text)

    stream = Counting()
    sink = TraceSink(stream=stream, buffer_events=10, owns_stream=False)
    for run in range(1, 101):
        sink.write(Activity(seq=run, time=0.0, person=f"p{run}", type="run_queued", campaign="C", run=run))
    before = len(writes)
    sink.close()
    assert len(writes) - before >= 10  # the ends of 100 runs, 10 at a time
    assert len(json.loads(stream.getvalue())) > 200
