"""Choosing where independent simulations run (sim.scale.pools): every pool gives the same
results, placed by index; a worker killed mid-map loses no item; KeyboardInterrupt leaves no
worker behind; a scheduler that does not answer is a message, not a traceback; and Dask is
imported only when it is chosen."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.cli import main
from sim.scale.pools import PoolError, open_pool
from sim.verify import workers

distributed = pytest.importorskip("distributed", reason="Dask is not installed: pip install 'sim[dask]'")
psutil = pytest.importorskip("psutil")

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
ONE_FILL = ROOT / "examples" / "racing-triggers-one-fill.toml"
ITEMS = list(range(40))


def _toy(item: int) -> tuple[int, int]:
    """A pure function of the item and the shared value (workers import it: this module is on
    their path, as LocalCluster's spawned workers inherit it and the external worker is given it)."""
    return item, item * item + workers.shared()


def _slow_toy(item: int) -> tuple[int, int]:
    time.sleep(0.05)
    return _toy(item)


#: The external scheduler and worker of the `scheduler` fixture: not left behind by a test.
_EXTERNAL: set[int] = set()


def _children() -> list[str]:
    """This process's descendants, but the `scheduler` fixture's and multiprocessing's resource
    tracker (one per process, started on first use and kept to the end by design)."""
    found = []
    for child in psutil.Process().children():
        if child.pid in _EXTERNAL:
            continue
        for process in [child, *child.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                line = " ".join(process.cmdline())
                if "resource_tracker" not in line and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(line)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def _cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[subprocess.Popen[bytes]], Path]]:
    """A real `dask scheduler` and one `dask worker` (two threads), as subprocesses on
    localhost; their output goes to a log the `scheduler` fixture shows if one has died."""
    dask = Path(sys.executable).parent / "dask"
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    log_path = tmp_path_factory.mktemp("dask") / "cluster.log"
    with log_path.open("wb") as log:
        quiet = {"stdout": log, "stderr": subprocess.STDOUT, "env": env}
        started = [
            subprocess.Popen(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                **quiet,  # type: ignore[call-overload]
            )
        ]
        try:
            started.append(
                subprocess.Popen(
                    [dask, "worker", address, "--nthreads", "2", "--no-nanny", "--no-dashboard"],
                    **quiet,  # type: ignore[call-overload]
                )
            )
            _EXTERNAL.update(process.pid for process in started)
            with distributed.Client(address, timeout=30) as client:
                client.wait_for_workers(1, timeout=30)
            yield address, started, log_path
        finally:
            for process in reversed(started):
                process.send_signal(signal.SIGTERM)
            for process in reversed(started):
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def scheduler(_cluster: tuple[str, list[subprocess.Popen[bytes]], Path]) -> str:
    """The address of `_cluster`'s scheduler, after checking it and its worker still run: a
    dead worker would leave the test waiting for one forever."""
    address, started, log_path = _cluster
    ended = [process.args[1] for process in started if process.poll() is not None]  # type: ignore[index]
    if ended:
        tail = log_path.read_text(errors="replace")[-3000:]
        pytest.fail(f"the test cluster's {' and '.join(map(str, ended))} ended; its log ends:\n{tail}")
    return address


@pytest.mark.slow
def test_every_pool_gives_the_same_results_in_item_order(scheduler: str) -> None:
    expected = [(item, item * item + 7) for item in ITEMS]
    names = []
    for jobs, address, local in (
        (1, None, "dask"),
        (2, None, "processes"),
        (2, None, "dask"),
        (None, scheduler, "dask"),
    ):
        with open_pool(jobs=jobs, scheduler_address=address, shared=7, local=local) as pool:  # type: ignore[arg-type]
            names.append(pool.name)
            assert pool.map(_toy, ITEMS, chunk=3) == expected
            pairs = list(pool.map_unordered(_toy, ITEMS))
            assert sorted(pairs) == list(enumerate(expected))
    assert names == [
        "in this process",
        "2 processes",
        "Dask LocalCluster, 2 workers",
        f"Dask scheduler {scheduler}, 1 worker",
    ]
    assert _children() == []


@pytest.mark.slow
def test_the_environment_names_the_scheduler_and_jobs_1_still_runs_here(
    scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", scheduler)
    with open_pool(jobs=None, scheduler_address=None, shared=1) as pool:
        assert pool.name.startswith(f"Dask scheduler {scheduler}")
        assert pool.map(_toy, [3]) == [(3, 10)]
    with open_pool(jobs=1, scheduler_address=None, shared=1) as pool:
        assert pool.in_process


@pytest.mark.slow
def test_a_worker_killed_mid_map_loses_no_item() -> None:
    expected = [(item, item * item + 2) for item in ITEMS]
    with open_pool(jobs=2, scheduler_address=None, shared=2) as pool:
        client = pool.client  # type: ignore[attr-defined]
        pids = client.run(os.getpid)
        found: dict[int, tuple[int, int]] = {}
        for index, result in pool.map_unordered(_slow_toy, ITEMS):
            found[index] = result
            if len(found) == 4:
                os.kill(next(iter(pids.values())), signal.SIGKILL)
        assert [found[index] for index in range(len(ITEMS))] == expected
    assert _children() == []


@pytest.mark.slow
def test_keyboard_interrupt_while_iterating_keeps_what_came_and_leaves_no_worker() -> None:
    kept: dict[int, tuple[int, int]] = {}
    with pytest.raises(KeyboardInterrupt), open_pool(jobs=2, scheduler_address=None, shared=3) as pool:
        for index, result in pool.map_unordered(_slow_toy, ITEMS):
            kept[index] = result
            if len(kept) == 3:
                raise KeyboardInterrupt
    assert len(kept) == 3 and all(kept[index] == (index, index * index + 3) for index in kept)
    assert _children() == []


def test_a_scheduler_that_does_not_answer_is_a_message_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    unreachable = rf"cannot reach the Dask scheduler {address} .* within 0.5 s"
    with (
        pytest.raises(PoolError, match=unreachable),
        open_pool(jobs=None, scheduler_address=address, shared=None, connect_timeout=0.5),
    ):
        pass
    assert main(["explore", str(ONE_FILL), "--runs", "2", "--scheduler-address", "nonsense"]) == 2
    assert "error: cannot reach the Dask scheduler nonsense (--scheduler-address" in capsys.readouterr().err


def test_a_scheduler_with_no_worker_says_the_work_waits_for_one() -> None:
    """A map on it would wait for a worker (an adaptive cluster may be starting them): the
    user hears why nothing moves."""
    # A Client that an earlier test failed to connect (test_a_scheduler_that_does_not_answer...)
    # closes itself in __del__, waiting on its event loop; collected by chance inside this
    # LocalCluster's start, that wait never ends (a hung CI run). Collect it first.
    gc.collect()
    scheduler = distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0")
    heard: list[str] = []
    try:
        with open_pool(jobs=None, scheduler_address=scheduler.scheduler_address, shared=0, note=heard.append) as pool:
            assert pool.name == f"Dask scheduler {scheduler.scheduler_address}, 0 workers"
    finally:
        scheduler.close()
    address = scheduler.scheduler_address
    assert heard == [
        f"the Dask scheduler {address} has no worker yet: the work waits until one joins (`dask worker {address}`)"
    ]


def test_without_dask_processes_run_with_a_note_and_a_scheduler_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    heard: list[str] = []
    with open_pool(jobs=2, scheduler_address=None, shared=5, note=heard.append) as pool:
        assert pool.name == "2 processes"
    assert heard == ["Dask is not installed: running in 2 processes; pip install 'sim[dask]' to use a cluster"]
    missing = r"needs Dask, which is not installed here: pip install 'sim\[dask\]'"
    with (
        pytest.raises(PoolError, match=missing),
        open_pool(jobs=2, scheduler_address="tcp://127.0.0.1:8786", shared=None),
    ):
        pass


def test_sim_and_sim_run_import_no_dask(tmp_path: Path) -> None:
    code = (
        "import sys, sim, sim.cli; sim.cli.main(['run', '--seed', '1']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert done.stdout.strip().endswith("[]")


@pytest.mark.slow
def test_explore_prints_the_same_whatever_runs_it(scheduler: str, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for options in (["--jobs", "1"], ["--jobs", "2"], ["--scheduler-address", scheduler]):
        assert main(["explore", str(ONE_FILL), "--runs", "12", "--seed", "3", "--shrink-replays", "20", *options]) == 0
        out = capsys.readouterr().out
        outputs.append(re.sub(r"in [\d.]+s( \([\d,.]+ schedules/s\))?", "in Ts", out))  # timings differ
    assert outputs[0] == outputs[1] == outputs[2]


#: A small sweep (M/M/2, two variants): its CSV must not depend on what ran it.
SWEPT = """
[sim]
seed = 1
duration = "30m"
[fields]
score = 0
[people]
count = 100
[queue]
workers = 2
[queue.service]
default = "0s"
change_score = { distribution = "exponential", mean = "10s" }
[campaigns.Score]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "360/h"
arrivals = "poisson"
[variants.two]
[variants.three.queue]
workers = 3
"""


@pytest.mark.slow
def test_a_sweep_writes_the_same_csv_in_process_on_a_local_cluster_and_on_a_scheduler(
    scheduler: str, tmp_path: Path
) -> None:
    from sim.cli import main

    design = tmp_path / "swept.toml"
    design.write_text(SWEPT)
    written = []
    for name, options in (
        ("here", ["--jobs", "1"]),
        ("local", ["--jobs", "2"]),
        ("remote", ["--scheduler-address", scheduler]),
    ):
        out = tmp_path / f"{name}.csv"
        assert (
            main(["sweep", str(design), "--load", "0.5x,1x,1.5x", "--replications", "2", "--csv", str(out), *options])
            == 0
        )
        written.append(out.read_bytes())
    assert len(written[0]) > 1000 and written[0] == written[1] == written[2]
    assert _children() == []


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_no_point(tmp_path: Path) -> None:
    from sim.scale.sweep import SweepSpec, run_sweep
    from sim.scale.sweep_output import format_csv
    from sim.scenario.loader import load_variants

    design = tmp_path / "swept.toml"
    design.write_text(SWEPT)
    designs = load_variants([design])
    spec = SweepSpec(variants=tuple(designs), loads=(0.5, 1.0, 1.5, 2.0), replications=2, seed=1)
    with open_pool(jobs=1, scheduler_address=None, shared=designs) as pool:
        expected = format_csv(run_sweep(spec, designs, pool))
    with open_pool(jobs=2, scheduler_address=None, shared=designs) as pool:
        pids = list(pool.client.run(os.getpid).values())  # type: ignore[attr-defined]

        def kill_one(done: int, total: int, replication: object) -> None:
            if done == 3:
                os.kill(pids[0], signal.SIGKILL)

        result = run_sweep(spec, designs, pool, progress=kill_one)
    assert result.complete and format_csv(result) == expected
    assert _children() == []
