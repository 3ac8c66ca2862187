"""Helpers shared by the benchmark scripts (not a benchmark itself).

Each benchmark runs `sim run` (or a case of its own) in a fresh process, so one case's
memory and garbage never weigh on the next, and measures that process from outside.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from sim.observe.report import format_seconds as seconds  # noqa: F401 (used by the scripts)

#: How the benchmarks start ``sim run``: the interpreter that runs them, so the venv's sim.
SIM = (sys.executable, "-m", "sim")


@attrs.frozen
class Measured:
    """One finished child process: wall seconds, peak resident MB, what it printed."""

    wall: float
    peak_mb: float
    stdout: str


def run_child(command: Sequence[str]) -> Measured:
    """Run ``command``, wait for it with `os.wait4` (its own rusage, not the sum of all
    children) and fail loudly with its standard error if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)  # files: no pipe to fill up
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            shown = " ".join(command)
            raise SystemExit(f"{shown} failed ({process.returncode}):\n{err.read().decode(errors='replace')}")
        return Measured(wall=wall, peak_mb=usage.ru_maxrss / 1024, stdout=out.read().decode())


def sim_run(scenario: Path, *, metrics: Path | None = None, log: Path | None = None) -> Measured:
    """``sim run SCENARIO [--metrics M] [--log L] --strategy fifo`` in a fresh process."""
    command = [*SIM, "run", str(scenario), "--strategy", "fifo"]
    if metrics is not None:
        command += ["--metrics", str(metrics)]
    if log is not None:
        command += ["--log", str(log)]
    return run_child(command)


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return json.load(stream)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mean_service(scenario: Any, campaigns: Iterable[str]) -> float:
    """Mean seconds of worker time a run of each of ``campaigns`` takes, summed: every
    step's mean service time, Execute Campaign children included (they run on the
    parent's worker, R6). Choices do not change a step's kind, so they do not matter."""
    service: Mapping[str, Any] = scenario.queue.service

    def mean(kind: str) -> float:
        spec = service[kind]
        if spec.distribution == "empirical":
            return sum(spec.values) / len(spec.values)
        return float(spec.mean)

    def flow_time(name: str) -> float:
        total = 0.0
        for step in scenario.campaigns[name].flow:
            total += mean(step.kind)
            if step.kind == "execute_campaign" and step.action is not None:
                total += flow_time(step.action.campaign)
        return total

    return sum(flow_time(name) for name in campaigns)


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` with the Agg backend, or exit with how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(
            "--plot needs matplotlib, which is in the optional 'bench' extra: "
            "`.venv/bin/pip install -e '.[bench]'` (or `.venv/bin/pip install matplotlib`)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def best(repeat: int, fn: Callable[[], Any]) -> float:
    """The best wall seconds of ``repeat`` calls of ``fn`` in this process, each after a
    full collection (so one case's garbage is not the next one's cost)."""
    walls = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - started)
    return min(walls)
