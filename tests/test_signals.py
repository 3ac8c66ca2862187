"""SIGINT and SIGTERM (sim.observe.signals): the first stops a run with a partial summary and every
file whole, a second stops at once; `sim explore --jobs 2` leaves no process behind.

Each test starts `sim` as a process of its own, waits until it is busy, signals it, and
checks what it leaves: exit code, summary, log lines, trace and metrics JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

#: The default scenario with a load heavy enough to keep a run busy for minutes.
BUSY = (
    (ROOT / "examples" / "lead-lifecycle.toml")
    .read_text(encoding="utf-8")
    .replace("count = 1000 ", "count = 20000 ")
    .replace('rate = "40/h"', 'rate = "40000/h"')
)


#: Every `sim` process a test started: whatever a failing test leaves running is ended.
_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _end_what_is_left() -> Iterator[None]:
    """A test that fails half-way (a timeout) would leave its `sim` and its workers running
    on, stealing the cores from the rest of the suite: their session is killed."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _start(*argv: str, cwd: Path) -> subprocess.Popen[str]:
    # A session of its own: a signal to its group reaches it and its workers, as Ctrl-C
    # in a terminal reaches the foreground group.
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _STARTED.append(process)
    return process


def _wait_until(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _log_lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), "the log's last line is cut"
    return [json.loads(line) for line in text.splitlines()]


def _busy_run(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, Path]]:
    (tmp_path / "busy.toml").write_text(BUSY, encoding="utf-8")
    files = {name: tmp_path / f"out.{name}" for name in ("log", "trace", "metrics")}
    files["metrics"].write_text("the metrics of an earlier run\n", encoding="utf-8")
    process = _start(
        "run",
        "busy.toml",
        *("--log", str(files["log"]), "--trace", str(files["trace"]), "--metrics", str(files["metrics"])),
        cwd=tmp_path,
    )
    _wait_until(lambda: files["log"].exists() and files["log"].stat().st_size > 100_000, "the run to log")
    return process, files


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_first_signal_stops_a_run_with_a_partial_summary_and_whole_files(
    signum: int, code: int, tmp_path: Path
) -> None:
    process, files = _busy_run(tmp_path)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "INTERRUPTED after" in out and "(partial results)" in out
    assert "Traceback" not in err
    log = _log_lines(files["log"])
    assert log[-1]["seq"] == len(log)  # every activity logged, none lost at the end
    events = json.loads(files["trace"].read_text(encoding="utf-8"))
    assert {event["args"]["seq"] for event in events if "seq" in event.get("args", {})} <= set(range(1, len(log) + 1))
    metrics = json.loads(files["metrics"].read_text(encoding="utf-8"))  # this run's, whole
    assert metrics["duration"] < 3 * 86400  # cut short: the virtual time it reached
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_a_second_signal_stops_at_once_and_leaves_whole_lines_and_the_old_metrics(tmp_path: Path) -> None:
    process, files = _busy_run(tmp_path)
    # The second comes while the first is still being acted on, or just after: either
    # way the process ends, with whole log lines and no half-written file.
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err
    _log_lines(files["log"])
    if files["trace"].exists():  # written only if the first signal gave a summary
        json.loads(files["trace"].read_text(encoding="utf-8"))
    metrics = files["metrics"].read_text(encoding="utf-8")
    assert metrics == "the metrics of an earlier run\n" or json.loads(metrics)
    assert not list(tmp_path.glob(".*.tmp"))


def test_sigterm_while_loading_stops_at_once_with_its_exit_code(tmp_path: Path) -> None:
    rows = "time,person,activity,form\n" + "".join(f"{i}s,p1,fill_out_form,F\n" for i in range(1, 400_000))
    (tmp_path / "rows.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "big.toml").write_text(
        '[sim]\nduration = "10d"\n[people]\ncount = 1\n[campaigns.C]\ntriggers = [{ trigger = "fills_out_form" }]\n'
        'flow = [{ step = "send_email", email = "E" }]\n[[load]]\ncsv = "rows.csv"\n',
        encoding="utf-8",
    )
    process = _start("run", "big.toml", cwd=tmp_path)
    # Loading: it has the CSV open (a fixed sleep raced Python's start on a busy machine,
    # and a SIGTERM before `sim` handles signals kills it with the default action).
    _wait_until(lambda: _has_open(process.pid, tmp_path / "rows.csv"), "the CSV to be opened")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "Traceback" not in err


def _has_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux's /proc; the suite runs there)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir())
    except (FileNotFoundError, PermissionError):  # it has ended, or its fd closed meanwhile
        return False


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc (Linux)")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_explore_with_two_jobs_ends_its_workers_and_prints_what_it_explored(
    signum: int, code: int, tmp_path: Path
) -> None:
    process = _start(
        "explore", str(ROOT / "examples" / "racing-triggers.toml"), "--runs", "100000", "--jobs", "2", cwd=tmp_path
    )
    _wait_until(lambda: len(_children(process.pid)) >= 2, "the worker processes")
    time.sleep(1.0)  # some schedules explored
    workers = _children(process.pid)
    if signum == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
    else:
        process.send_signal(signal.SIGTERM)  # kill PID: the parent alone
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "INTERRUPTED after" in out and "of 100,000 schedules" in out
    assert "Traceback" not in err
    _wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "the workers to end", 10)


@pytest.mark.parametrize("signals", [1, 2])
def test_explore_in_one_process_cuts_a_long_schedule_short(signals: int, tmp_path: Path) -> None:
    """With one job the schedule running is stopped at its next task switch, not run to its
    end (it is not counted); a second signal ends at once, and neither is a traceback."""
    (tmp_path / "busy.toml").write_text(BUSY, encoding="utf-8")
    process = _start("explore", "busy.toml", "--runs", "5", cwd=tmp_path)
    time.sleep(3.0)  # loaded, and inside its first schedule (each takes minutes)
    for _ in range(signals):
        process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 20
    assert process.returncode == 143, err
    assert "Traceback" not in err
    if signals == 1:
        assert out.startswith("INTERRUPTED after 0 of 5 schedules")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc (Linux)")
def test_explore_replaces_a_worker_the_os_killed_and_goes_on(tmp_path: Path) -> None:
    """The worker's schedules run again in a new worker (sim.verify.workers; work that kills every worker it
    meets ends with an error: tests/test_workers.py), and Ctrl-C still prints what was explored."""
    process = _start(
        "explore", str(ROOT / "examples" / "racing-triggers.toml"), "--runs", "100000", "--jobs", "2", cwd=tmp_path
    )
    _wait_until(lambda: len(_children(process.pid)) >= 2, "the worker processes")
    time.sleep(1.0)
    workers = _children(process.pid)
    os.kill(max(workers), signal.SIGKILL)  # as the OOM killer would
    _wait_until(lambda: _children(process.pid) - workers, "a worker in its place")
    replaced = _children(process.pid)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert out.startswith("INTERRUPTED after ")
    assert "Traceback" not in err
    _wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers | replaced), "the workers to end", 10)
