"""The sim command: run, check, logs, exit codes, Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.cli import default_scenario_path, main
from sim.run.activity import Activity

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SMALL = """
[sim]
seed = 3
duration = "1h"

[fields]
country = ""

[[person]]
id = "alice"

[campaigns.Normalize]
kind = "trigger"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_data_value", field = "country", value = "US" }]

[[activities]]
at = "1m"
person = "alice"
type = "fill_out_form"
form = "Contact"
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_run_default_scenario_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert default_scenario_path().name in out
    assert "Simulated 3d of virtual time, 1,000 people" in out
    for heading in ("Campaign", "started", "completed", "skipped", "removed", "in progress", "Steps executed"):
        assert heading in out
    assert "Form Fill - Lifecycle" in out and "Normalize Country" in out
    assert "country:" in out and "score:" in out  # final distribution of changed fields


def test_run_with_log_streams_one_json_object_per_activity(tmp_path: Path) -> None:
    log = tmp_path / "out.jsonl"
    assert main(["run", str(write(tmp_path, SMALL)), "--log", str(log)]) == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    activities = [Activity.from_json(line) for line in lines]
    assert [(a.type, a.campaign, a.step) for a in activities] == [
        ("fill_out_form", None, None),
        ("run_started", "Normalize", None),
        ("change_data_value", "Normalize", 1),
        ("run_completed", "Normalize", None),
    ]
    first = json.loads(lines[2])
    assert list(first) == ["seq", "t", "person", "campaign", "run", "parent", "step", "kind", "type", "details"]
    assert first["t"] == 60.0 and first["person"] == "alice" and first["kind"] == "change_data_value"
    assert first["details"] == {"field": "country", "old_value": "", "new_value": "US"}


def test_log_dash_writes_the_log_to_stdout_and_summary_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(write(tmp_path, SMALL)), "--log", "-"]) == 0
    captured = capsys.readouterr()
    types = [json.loads(line)["type"] for line in captured.out.splitlines()]
    assert types == ["fill_out_form", "run_started", "change_data_value", "run_completed"]
    assert "Steps executed: 1" in captured.err


def test_seed_option_overrides_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(write(tmp_path, SMALL)), "--seed", "99"]) == 0
    assert "seed 99" in capsys.readouterr().out


def test_check_valid_file_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "lead-lifecycle.toml")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "ok: 5 campaigns" in out[0]


def test_check_reports_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = SMALL.replace('value = "US"', 'value = "US" }, { step = "wait", duration = "soon"').replace(
        'trigger = "fills_out_form"', 'trigger = "fills_out_forms"'
    )
    path = write(tmp_path, bad)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f'error: {path}: campaign "Normalize", trigger 1: unknown trigger "fills_out_forms"' in err
    assert f'error: {path}: campaign "Normalize", step 2 (wait): "duration": "soon" is not a duration' in err
    assert err.endswith("2 problems found.\n")


def test_run_refuses_a_bad_file_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[sim\nseed = 1\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "TOML syntax error" in err and "line 1" in err and "Traceback" not in err


def test_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: cannot read" in capsys.readouterr().err


def test_unwritable_log_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(write(tmp_path, SMALL)), "--log", str(tmp_path / "no" / "dir" / "x.jsonl")]) == 2
    assert f"there is no folder {tmp_path / 'no' / 'dir'}; create it first" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["check", "--help"]])
def test_help_describes_every_option(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    expected = {
        "--help": ["run", "check", "--version"],
        "run": ["--seed", "--strategy", "--log", "--report", "file"],
        "check": ["FILE"],
    }[argv[0]]
    for word in expected:
        assert word in out


@pytest.mark.slow
def test_python_dash_m_sim_and_ctrl_c_gives_partial_summary_and_exit_130(tmp_path: Path) -> None:
    long_run = SMALL.replace('duration = "1h"', 'duration = "3650d"').replace(
        "[[activities]]", '[[load]]\ntype = "fill_out_form"\nrate = "100/s"\n\n[[unused]]'
    )
    long_run = long_run[: long_run.index("[[unused]]")]
    path = write(tmp_path, long_run.replace('kind = "trigger"', 'kind = "trigger"\nqualification = "every time"'))
    log = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(path), "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 30
    while (not log.exists() or log.stat().st_size < 10_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "INTERRUPTED" in out and "Traceback" not in err
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 10
    for line in lines:  # every line is whole
        json.loads(line)


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    log_to_pipe = subprocess.run(
        f"{sys.executable} -m sim run {EXAMPLES / 'lead-lifecycle.toml'} --log - | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(log_to_pipe.stdout)["seq"] == 1
    assert "Traceback" not in log_to_pipe.stderr and "BrokenPipe" not in log_to_pipe.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_a_message_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "lead-lifecycle.toml"), "--log", "/dev/full"]) == 2
    err = capsys.readouterr().err
    assert "error: cannot write the log to /dev/full: No space left on device" in err


def test_log_refuses_to_overwrite_the_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SMALL)
    assert main(["run", str(path), "--log", str(path)]) == 2
    assert "is the scenario file itself" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == SMALL


def test_check_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(SMALL.encode("utf-8"))))
    assert main(["check", "-"]) == 0
    assert capsys.readouterr().out.startswith("<stdin>: ok: 1 campaign (1 trigger), 1 step, 1 person")


@pytest.mark.slow
def test_unicode_names_on_an_ascii_terminal_do_not_crash(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace("Normalize", '"Formulaire – Zürich 🚀"'))
    result = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"Formulaire \\u2013 Z\\xfcrich \\U0001f680" in result.stdout


@pytest.mark.slow
def test_a_closed_pipe_on_the_log_ends_quietly() -> None:
    result = subprocess.run(
        f"{sys.executable} -m sim run --log - | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout == '{"seq":1,"'
    assert result.stderr == ""


def test_warnings_go_to_stderr_and_do_not_fail_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SMALL.replace('at = "1m"', 'at = "2h"'))
    assert main(["check", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"warning: {path}: [[activities]]: timed activities at or after [sim] duration (1h) never happen (1 of them)\n"
    )
    assert ": ok: " in captured.out


@pytest.mark.slow
def test_the_log_on_an_ascii_stdout_is_still_utf8_json(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace("Normalize", '"Zürich 🚀"'))
    result = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path), "--log", "-"],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        check=True,
    )
    campaigns = {json.loads(line)["campaign"] for line in result.stdout.decode("utf-8").splitlines()}
    assert "Zürich 🚀" in campaigns


def test_standard_input_that_is_not_utf8_is_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x = '\xff'\n")))
    assert main(["check", "-"]) == 2
    assert "error: <stdin>: not UTF-8 text" in capsys.readouterr().err


# --- hardening: what a fuzzer or an impatient user gives -----------------------------------


def test_check_reads_at_most_16_mb_of_a_file_or_of_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "/dev/zero"]) == 2
    assert "error: /dev/zero: larger than 16 MB" in capsys.readouterr().err
    with open("/dev/zero", "rb") as zeros:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(zeros))
        assert main(["run", "-"]) == 2
    err = capsys.readouterr().err
    assert "error: <stdin>: larger than 16 MB, more than any scenario needs" in err
    assert "nothing was run" in err


def test_a_byte_order_mark_is_accepted_and_an_empty_file_says_there_is_nothing_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert main(["check", str(tmp_path / "bom.toml")]) == 0
    assert "bom.toml: ok: 1 campaign" in capsys.readouterr().out
    for name, text in (("empty.toml", ""), ("comments.toml", "# a scenario, one day\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert main(["run", str(tmp_path / name)]) == 2
        assert f"{name}: empty: nothing to run; a scenario needs campaigns and people" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--strategy", "pct", "--pct-depth", "1000000000"], "--pct-depth 1,000,000,000: give 1 to 1,000"),
        (["--runs", "1000000000000"], "--runs 1,000,000,000,000: give 1 to 1,000,000"),
        (["--runs", "0"], "--runs 0: give 1 to 1,000,000"),
        (["--jobs", "0"], "--jobs 0: give 1 or more"),
        (["--shrink-replays", "-1"], "--shrink-replays -1: give 0 to 100,000"),
    ],
)
def test_explore_options_that_size_memory_or_work_are_bounded(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", str(EXAMPLES / "racing-triggers-one-fill.toml"), *options]) == 2
    assert f"error: {message}" in capsys.readouterr().err


def test_explore_runs_no_more_processes_than_cores_or_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(EXAMPLES / "racing-triggers-one-fill.toml"), "--runs", "4", "--jobs", "1000"]) == 0
    out, err = capsys.readouterr()
    assert "note: --jobs 1,000 runs " in err and "worker process" in err
    assert "4 schedules" in out


def test_out_of_memory_in_a_run_is_exit_2_with_a_message_and_whole_log_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.run.engine import Engine

    steps = 0
    run_step = Engine.run_step

    async def failing(self: Engine, *args: object) -> None:
        nonlocal steps
        steps += 1
        if steps == 300:
            raise MemoryError
        await run_step(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "run_step", failing)
    log = tmp_path / "log.jsonl"
    assert main(["run", str(EXAMPLES / "lead-lifecycle.toml"), "--log", str(log)]) == 2
    err = capsys.readouterr().err
    assert "error: out of memory at a peak of " in err and "Traceback" not in err
    text = log.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert len([json.loads(line) for line in text.splitlines()]) > 300  # all written, each whole


def test_the_wall_time_counts_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sim.cli

    load = sim.cli._load

    def slow_load(path: Path) -> object:
        time.sleep(0.5)
        return load(path)

    monkeypatch.setattr(sim.cli, "_load", slow_load)
    (tmp_path / "s.toml").write_text(SMALL, encoding="utf-8")
    assert main(["run", str(tmp_path / "s.toml")]) == 0
    wall = float(capsys.readouterr().out.split(", wall ")[1].split("s")[0])
    assert wall >= 0.5


def test_a_command_puts_the_sigterm_handler_it_found_back(tmp_path: Path) -> None:
    """sim.observe.signals.handling: while a command runs SIGTERM stops it like Ctrl-C; after it,
    the process's own handler is back (a test suite calling main stays stoppable)."""
    before = signal.getsignal(signal.SIGTERM)
    assert main(["check", str(write(tmp_path, SMALL))]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_command_exits_at_once_with_every_output_written(tmp_path: Path) -> None:
    """`sim.cli.command` ends the process without the interpreter's teardown: the exit
    code is main's, standard output is flushed, files are complete."""
    import subprocess
    import sys

    log = tmp_path / "log.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(EXAMPLES / "racing-triggers.toml"), "--log", str(log), "--races"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{EXAMPLES / 'racing-triggers.toml'}: seed") and "Races: 1 pair" in done.stdout
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["seq"] == number for number, line in enumerate(lines, 1))
    missing = subprocess.run([sys.executable, "-m", "sim", "check", str(tmp_path / "nope.toml")], check=False)
    assert missing.returncode == 2
