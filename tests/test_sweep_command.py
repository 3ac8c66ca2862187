"""``sim sweep`` from the command line: what it prints and writes, and its refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"

DD1 = """
[sim]
duration = "1h"
[fields]
score = 0
[people]
count = 10
[queue]
workers = 1
[queue.service]
default = "0s"
change_score = "4s"
[campaigns.Score]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", change = "+1" }]
[[load]]
type = "fill_out_form"
rate = "360/h"
[variants.one]
[variants.two.queue]
workers = 2
"""


@pytest.fixture
def design(tmp_path: Path) -> Path:
    path = tmp_path / "dd1.toml"
    path.write_text(DD1)
    return path


def test_a_sweep_prints_its_table_and_writes_csv_and_json(
    design: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, json_path = tmp_path / "out.csv", tmp_path / "out.json"
    code = main(["sweep", str(design), "--load", "1x,2x", "--replications", "2", "--jobs", "1",
                 "--csv", str(csv_path), "--json", str(json_path)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["variant", "workers", "load", "done/h"]
    assert [line.split()[:3] for line in lines[2:6]] == [
        ["one", "1", "1x"],
        ["one", "1", "2x"],
        ["two", "2", "1x"],
        ["two", "2", "2x"],
    ]
    assert "  one, 1 workers: 2.50x (95% CI 2.50x-2.50x) from utilization; drains at every load swept" in lines
    assert "  two, 2 workers: 5.00x (95% CI 5.00x-5.00x) from utilization; drains at every load swept" in lines
    assert "sweep: 8 simulations in this process" in captured.err
    rows = csv_path.read_text().splitlines()
    assert "two,2,2,all,utilization,2,0.4,0.4,0.4," in rows
    data = json.loads(json_path.read_text())
    assert data["complete"] is True and data["jobs"] == 8
    assert [s["variant"] for s in data["saturation"]] == ["one", "two"]
    assert data["points"][0]["figures"]["all"]["utilization"] == {"mean": 0.4, "ci_low": 0.4, "ci_high": 0.4, "n": 2}
    assert len(data["points"][0]["queue_length"]["mean"]) == 200


def test_the_csv_on_standard_output_sends_the_table_to_standard_error(
    design: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", str(design), "--variant", "two", "--replications", "1", "--jobs", "1", "--csv", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("variant,workers,load,scope,figure,replications,mean,ci_low,ci_high,erlang_c\n")
    assert "two,2,1,all,utilization,1,0.2,0.2,0.2," in captured.out
    assert "done/h" in captured.err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--load", "fast"], "error: --load fast: cannot read it; write START:STOP:STEP such as 0.5x:1.5x:0.1x"),
        (["--workers", "0"], "error: --workers 0: a worker count is a whole number of at least 1, not 0"),
        (["--replications", "0"], "error: --replications 0: give 1 to 1,000"),
        (["--variant", "three"], 'error: --variant "three": no such design; the files give "one", "two"'),
        (["--warmup", "2h"], "error: --warmup 2h: as long as the simulated time or longer; nothing would be measured"),
        (["--warmup", "ten%"], "error: --warmup ten%: write a share such as 10% or a duration such as 30m"),
        (["--duration", "0s"], "error: --duration 0s: a sweep needs some time to simulate; give e.g. 6h"),
        (["--report", "-"], "error: --report -: an HTML page goes to a file; give a path such as sweep.html"),
        (["--csv", "-", "--json", "-"], "error: --csv and --json both go to standard output (-)"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    design: Path, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", str(design), "--jobs", "1", *options]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_an_output_over_an_input_is_refused(design: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(design), "--jobs", "1", "--csv", str(design)]) == 2
    assert f"is the scenario file {design}: it would be overwritten" in capsys.readouterr().err
    assert design.read_text() == DD1


def test_problems_in_every_design_are_listed_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DD1.replace("[variants.two.queue]\nworkers = 2", "[variants.two.queue]\nworkerz = 2"))
    assert main(["sweep", str(bad), str(EXAMPLES / "racing-triggers.toml"), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert f'{bad} [variant two]: [queue]: unknown key "workerz" in [queue]; did you mean "workers"?' in err
    assert "1 problem; nothing was simulated" in err


def test_a_design_without_a_queue_is_refused_with_how_to_fix_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(EXAMPLES / "racing-triggers.toml"), "--jobs", "1"]) == 2
    assert "has no [queue]: without one every run starts at once and nothing waits" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_writes_what_finished(tmp_path: Path) -> None:
    csv_path = tmp_path / "partial.csv"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "sweep",
            str(EXAMPLES / "webinar-backlog.toml"),
            "--load",
            "0.5x:1.5x:0.1x",
            "--jobs",
            "1",
            "--csv",
            str(csv_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    time.sleep(7)  # some of the 33 simulations (about 2 s each) have finished
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "stopped: " in out and " of 33 simulations ran; the figures are theirs" in out
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("variant,workers,load,")
    assert any(row.startswith("webinar-backlog,2,0.5,all,utilization,") for row in rows)


def test_every_option_of_sim_sweep_is_documented() -> None:
    from sim.arguments import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    sweep = commands.choices["sweep"]  # type: ignore[index]
    documented = (Path(__file__).parent.parent / "docs" / "sweeps.md").read_text()
    options = [o for action in sweep._actions for o in action.option_strings if o.startswith("--") and o != "--help"]
    assert options and [o for o in options if f"`{o}" not in documented] == []
