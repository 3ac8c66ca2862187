"""A million people through a trigger flow with a backlog: wall time and peak memory.

N distinct people (default 1,000,000; population N) each fill out a form once. The
trigger campaign "Form Fill - Onboarding" (qualification "once") has five steps:
change data value (lifecycle stage), change score (by job title), Execute Campaign
"Normalize Country" (an executable of two steps: country, then region, R6), add to
list, send email. 10 trigger-queue workers; service times are the defaults (20 ms a
step) except send email (lognormal 50 ms ± 30 ms): 0.15 s of worker time per person,
so capacity is 66.7 people/s = 240,000/h.

The load keeps a backlog: Poisson form fills at 1.25x capacity for the first 60% of the
people, then at 0.8x for the other 40%, so the queue builds to about 12% of N and drains
before the end (the window is the arrivals' span plus 10%). The arrivals are a CSV
replay (``[[load]] csv``): a rate-based ``[[load]]`` draws each arrival's person at
random, with repeats, so it cannot give every arrival a distinct person.

One `sim run FILE --log FILE.jsonl --metrics M.json` process does the run; it is
measured from outside: wall time of the whole process (start, loading the scenario and
its CSV, making the N people, simulating, writing the log and metrics) and its peak
resident memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the only child).
Targets (issue 12): 120 s wall and 2 GB.

    .venv/bin/python benchmarks/million.py --people 100000    # first: ~20 s, extrapolates to 1M
    .venv/bin/python benchmarks/million.py                    # 1,000,000 people: several minutes
    .venv/bin/python benchmarks/million.py --no-log           # the same without --log

The table shows people, activities logged (lines of the log) and log size, the peak
queue length, people completed, wall time of the whole process, its CPU time (user +
system: a busy shared machine inflates it less than wall time), the simulation's own
wall time as `sim run` reports it, people and activities per wall second, peak RSS, and
whether each target is met. A run smaller than 1M also prints a linear extrapolation to 1M.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import SIM, mean_service, read_json, run_child, table

from sim.scenario import parse_scenario

CAMPAIGN = "Form Fill - Onboarding"
WORKERS = 10
TARGET_WALL, TARGET_MB = 120.0, 2048.0
MILLION = 1_000_000

SCENARIO = """\
lists = ["Inbound"]

[sim]
seed = 7
duration = {duration}

[fields]
lifecycle_stage = "Known"
region = ""
score = 0

[fields.country]
values = ["US", "usa", "United States", "Germany", "DE", "France", ""]
weights = [30, 10, 10, 15, 10, 15, 10]

[fields.job_title]
values = ["VP Marketing", "Marketing Ops Manager", "Student", "Engineer", ""]
weights = [15, 30, 10, 30, 15]

[people]
count = {people}

[queue]
workers = {workers}

[queue.service]
send_email = {{ distribution = "lognormal", mean = "50ms", sd = "30ms" }}

[campaigns."{campaign}"]
kind = "trigger"
qualification = "once"
triggers = [{{ trigger = "fills_out_form", form = "Contact Us" }}]
flow = [
  {{ step = "change_data_value", field = "lifecycle_stage", value = "Lead" }},
  {{ step = "change_score", change = "+5", choices = [
    {{ if = {{ field = "job_title", op = "starts with", value = "VP" }}, change = "+40" }},
    {{ if = {{ field = "job_title", op = "contains", value = "Marketing" }}, change = "+25" }},
  ] }},
  {{ step = "execute_campaign", campaign = "Normalize Country" }},
  {{ step = "add_to_list", list = "Inbound" }},
  {{ step = "send_email", email = "Welcome aboard" }},
]

[campaigns."Normalize Country"]
kind = "executable"
qualification = "every time"
flow = [
  {{ step = "change_data_value", field = "country", choices = [
    {{ if = {{ field = "country", op = "is", value = ["usa", "United States"] }}, value = "US" }},
    {{ if = {{ field = "country", op = "is", value = "Germany" }}, value = "DE" }},
    {{ if = {{ field = "country", op = "is empty" }}, value = "Unknown" }},
  ] }},
  {{ step = "change_data_value", field = "region", value = "ROW", choices = [
    {{ if = {{ field = "country", op = "is", value = "US" }}, value = "NA" }},
    {{ if = {{ field = "country", op = "is", value = ["DE", "France"] }}, value = "EMEA" }},
  ] }},
]

[[load]]
csv = "arrivals.csv"
"""


def write_arrivals(path: Path, people: int, capacity: float, seed: int) -> float:
    """Poisson form fills, one per person p1..pN in arrival order: 60% at 1.25x capacity,
    then 40% at 0.8x. Returns the time of the last one."""
    rng = random.Random(f"bench.million:{seed}")
    at = 0.0
    busy = round(0.6 * people)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("time,person,activity,form\n")
        rows = []
        for i in range(1, people + 1):
            at += rng.expovariate((1.25 if i <= busy else 0.8) * capacity)
            rows.append(f"{at:.6f},p{i},fill_out_form,Contact Us\n")
            if len(rows) == 10_000:
                out.writelines(rows)
                rows.clear()
        out.writelines(rows)
    return at


def write_scenario(folder: Path, people: int, seed: int) -> tuple[Path, float, float, float]:
    """Write the flow's scenario and its ``people`` arrivals (arrivals.csv) in ``folder``:
    (the scenario file, worker seconds per person, the last arrival, the window)."""
    text = SCENARIO.format(duration=1, people=1, workers=WORKERS, campaign=CAMPAIGN)
    probe = parse_scenario(text.replace('[[load]]\ncsv = "arrivals.csv"\n', ""))  # no CSV yet
    per_person = mean_service(probe, [CAMPAIGN])
    last = write_arrivals(folder / "arrivals.csv", people, WORKERS / per_person, seed)
    duration = round(last * 1.1, 3)
    path = folder / "million.toml"
    path.write_text(
        SCENARIO.format(duration=duration, people=people, workers=WORKERS, campaign=CAMPAIGN), encoding="utf-8"
    )
    return path, per_person, last, duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=MILLION, help="distinct people, one form fill each (1,000,000)")
    parser.add_argument("--no-log", action="store_true", help="run without --log (the activity log)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the scenario, CSV, log and metrics here")
    parser.add_argument("--seed", type=int, default=1, help="seed of the arrival times (1)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"generating {args.people:,} arrivals ...", file=sys.stderr, flush=True)
        scenario, per_person, last, duration = write_scenario(folder, args.people, args.seed)
        capacity = WORKERS / per_person
        print(
            f"{CAMPAIGN}: {per_person:.3f} s of worker time per person, {WORKERS} workers -> capacity "
            f"{capacity:.1f}/s; {args.people:,} people over {last / 3600:.2f} h, window {duration / 3600:.2f} h"
        )
        log, metrics_path = folder / "million.jsonl", folder / "metrics.json"
        command = [*SIM, "run", str(scenario), "--metrics", str(metrics_path)]
        command += [] if args.no_log else ["--log", str(log)]
        print(f"running: sim run {' '.join(command[4:])}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        if done.returncode != 0:
            raise SystemExit(f"sim run failed ({done.returncode}):\n{done.stderr}")
        simulated = re.search(r"wall ([\d.]+)s", done.stdout)
        sim_wall = float(simulated.group(1)) if simulated else float("nan")
        metrics = read_json(metrics_path)
        queue = metrics["queues"]["trigger"]
        campaign = metrics["campaigns"][CAMPAIGN]
        if args.no_log:
            lines, size = 0, 0
        else:
            with log.open("rb") as stream:
                lines = sum(1 for _ in stream)
            size = log.stat().st_size

    rows = [
        (
            f"{args.people:,}",
            f"{lines:,}" if lines else "(no log)",
            f"{size / 2**30:.2f}" if size else "-",
            f"{queue['max_length']:,}",
            f"{campaign['completed']:,}",
            f"{wall:.1f}",
            f"{cpu:.1f}",
            f"{sim_wall:.1f}",
            f"{args.people / wall:,.0f}",
            f"{lines / wall:,.0f}" if lines else "-",
            f"{peak_mb:,.0f}",
        )
    ]
    header = (
        "people",
        "activities",
        "log GB",
        "queue peak",
        "completed",
        "wall s",
        "cpu s",
        "sim wall s",
        "people/s",
        "act/s",
        "peak MB",
    )
    print(table(header, rows))
    print(
        f"latency p50 {campaign['latency']['p50']:,.0f} s, p95 {campaign['latency']['p95']:,.0f} s, max "
        f"{campaign['latency']['max']:,.0f} s; utilization {queue['utilization']:.1%}; "
        f"left queued at the end {sum(queue['queued_at_end'].values()):,}"
    )
    if campaign["completed"] != args.people:
        print(f"WARNING: {args.people - campaign['completed']:,} people did not complete the flow")
    wall_1m, mb_1m = wall, peak_mb
    if args.people != MILLION:
        # What does not grow with N: starting Python and importing sim.
        base = run_child([sys.executable, "-c", "import sim.cli"])
        scale = MILLION / args.people
        wall_1m = base.wall + (wall - base.wall) * scale
        mb_1m = base.peak_mb + (peak_mb - base.peak_mb) * scale
        print(
            f"linear extrapolation to 1,000,000 people (start-up {base.wall:.2f} s and {base.peak_mb:.0f} MB "
            f"counted once): wall ~{wall_1m:,.0f} s, peak ~{mb_1m:,.0f} MB"
        )
    wall_ok = "met" if wall_1m <= TARGET_WALL else "NOT met"
    mem_ok = "met" if mb_1m <= TARGET_MB else "NOT met"
    where = "" if args.people == MILLION else " (extrapolated)"
    print(f"targets for 1,000,000 people{where}: wall {TARGET_WALL:.0f} s {wall_ok}; peak {TARGET_MB:,.0f} MB {mem_ok}")


if __name__ == "__main__":
    main()
