"""Backlog vs load: how deep the campaign queue gets as the arrival rate nears capacity.

The scenario is a realistic trigger campaign: a "Contact Us" form fill -> Change Score
(+10) -> Send Email -> Add to List, with lognormal/constant service times (change score
300 ms ± 150 ms, send email 1.2 s ± 0.8 s, add to list 250 ms: 1.75 s of worker time per
run) on 4 workers of the trigger queue, qualification "every time". Capacity is workers /
mean service per run (printed). Form fills arrive as a Poisson process at 0.5x, 0.6x, ...
1.2x of capacity; each load runs `sim run FILE --metrics M.json` in its own process.

    .venv/bin/python benchmarks/backlog.py                       # 2 h simulated per load, ~20 s
    .venv/bin/python benchmarks/backlog.py --hours 8 --workers 8
    .venv/bin/python benchmarks/backlog.py --loads 0.8 0.9 0.95 1.0 1.05 --plot backlog.png

Columns (one row per load; times of simulated seconds):
- rate/h, fills: form fills per hour asked for, and form fills that arrived (runs
  started + runs still queued at the end).
- util: time-weighted busy workers / workers (should track the load below 1.0x).
- mean q, max q: time-weighted mean and maximum of runs waiting for a worker.
- q@T/2, q@T: mean queue length over the 5% of the window ending at T/2 and at T.
  A run of half the length is exactly the first half of this one (arrivals and service
  draws are seeded), so this is the "does the backlog grow with duration" test.
- wait p95: wait for a worker; latency p95: form fill to run end (runs not ended by the
  end of the window are not in it, so past saturation it understates the truth).
- left queued: runs still waiting at the end.
- grows: "yes" when util >= 97%, q@T > 1.5 x q@T/2 and q@T > 2 x workers: the queue grows
  without bound. The saturation point is the first load marked so; queueing theory puts
  it at 1.0x (an M/G/c queue is stable only below capacity; at exactly 1.0x it grows like
  the square root of time, so that row may go either way).

With ``--plot FILE.png`` (needs matplotlib: ``pip install -e '.[bench]'``) it draws the
queue length over time per load and the wait/latency percentiles vs load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from _harness import mean_service, read_json, require_matplotlib, seconds, sim_run, table

from sim.scenario import parse_scenario

CAMPAIGN = "Form Fill - Score and Nurture"

SCENARIO = """\
lists = ["Nurture"]

[sim]
seed = {seed}
duration = "{hours}h"

[fields]
score = 0

[people]
count = 20000

[queue]
workers = {workers}

[queue.service]
change_score = {{ distribution = "lognormal", mean = "300ms", sd = "150ms" }}
send_email = {{ distribution = "lognormal", mean = "1.2s", sd = "0.8s" }}
add_to_list = "250ms"

[campaigns."{campaign}"]
kind = "trigger"
qualification = "every time"
triggers = [{{ trigger = "fills_out_form", form = "Contact Us" }}]
flow = [
  {{ step = "change_score", change = "+10" }},
  {{ step = "send_email", email = "Thanks for contacting us" }},
  {{ step = "add_to_list", list = "Nurture" }},
]

[[load]]
type = "fill_out_form"
form = "Contact Us"
rate = "{rate}/h"
arrivals = "poisson"
"""


def scenario_text(*, seed: int, hours: float, workers: int, rate_per_hour: float) -> str:
    return SCENARIO.format(
        seed=seed, hours=f"{hours:g}", workers=workers, rate=f"{rate_per_hour:.3f}", campaign=CAMPAIGN
    )


def window_mean(series: list[float], upto: float, share: float = 0.05) -> float:
    """Mean of the series bins in the ``share`` of the window ending at fraction ``upto``."""
    n = len(series)
    hi = max(1, round(upto * n))
    lo = max(0, hi - max(1, round(share * n)))
    part = series[lo:hi]
    return sum(part) / len(part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=float, nargs="+", help="loads as multiples of capacity (default 0.5..1.2)")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours per load (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="trigger queue workers (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="draw queue length and latency (matplotlib)")
    args = parser.parse_args()
    loads = args.loads or [round(0.5 + 0.1 * i, 1) for i in range(8)]
    plt = require_matplotlib() if args.plot else None  # fail before the runs, not after

    probe = parse_scenario(scenario_text(seed=args.seed, hours=args.hours, workers=args.workers, rate_per_hour=1.0))
    per_run = mean_service(probe, [CAMPAIGN])
    capacity = args.workers / per_run * 3600
    print(
        f"{CAMPAIGN}: {per_run:.3f} s of worker time per run (mean), {args.workers} workers "
        f"-> capacity {capacity:,.0f} runs/h ({capacity / 3600:.3f}/s); {args.hours:g} h simulated per load"
    )

    rows, results = [], []
    saturation = None
    with tempfile.TemporaryDirectory() as tmp:
        for load in loads:
            rate = load * capacity
            path = Path(tmp) / f"load{load}.toml"
            path.write_text(
                scenario_text(seed=args.seed, hours=args.hours, workers=args.workers, rate_per_hour=rate),
                encoding="utf-8",
            )
            print(f"running load {load:.2f}x ...", file=sys.stderr, flush=True)
            out = Path(tmp) / f"load{load}.json"
            measured = sim_run(path, metrics=out)
            metrics: dict[str, Any] = read_json(out)
            queue = metrics["queues"]["trigger"]
            campaign = metrics["campaigns"][CAMPAIGN]
            series = queue["length"]["mean"]
            half, end = window_mean(series, 0.5), window_mean(series, 1.0)
            left = sum(queue["queued_at_end"].values())
            grows = queue["utilization"] >= 0.97 and end > 1.5 * half and end > 2 * args.workers
            if grows and saturation is None:
                saturation = load
            results.append((load, metrics))
            rows.append(
                (
                    f"{load:.2f}x",
                    f"{rate:,.0f}",
                    f"{campaign['started'] + left:,}",
                    f"{queue['utilization']:.1%}",
                    f"{queue['mean_length']:,.1f}",
                    f"{queue['max_length']:,}",
                    f"{half:,.1f}",
                    f"{end:,.1f}",
                    seconds(queue["wait"]["p95"]),
                    seconds(campaign["latency"]["p95"]),
                    f"{left:,}",
                    "yes" if grows else "no",
                    f"{measured.wall:.1f}",
                )
            )
    header = (
        "load",
        "rate/h",
        "fills",
        "util",
        "mean q",
        "max q",
        "q@T/2",
        "q@T",
        "wait p95",
        "latency p95",
        "left queued",
        "grows",
        "wall s",
    )
    print(table(header, rows))
    if saturation is None:
        print("Saturation: not reached at these loads (no row where the queue grows without bound).")
    else:
        print(
            f"Saturation point: {saturation:.2f}x capacity = {saturation * capacity:,.0f} form fills/h "
            f"(first load where the queue grows without bound; theory: 1.0x = {capacity:,.0f}/h)."
        )
    if plt is not None:
        plot(plt, args.plot, results, args.hours)
        print(f"Plot written to {args.plot}")


def plot(plt: Any, path: Path, results: list[tuple[float, dict[str, Any]]], hours: float) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for load, metrics in results:
        length = metrics["queues"]["trigger"]["length"]
        times = [(i + 0.5) * length["interval"] / 3600 for i in range(len(length["mean"]))]
        left.plot(times, length["mean"], label=f"{load:.2f}x")
    left.set_xlabel("simulated time (h)")
    left.set_ylabel("runs waiting for a worker (mean per bin)")
    left.set_yscale("symlog", linthresh=10)
    left.set_title("Queue length over time, per load")
    left.legend(title="load", fontsize="small")
    loads = [load for load, _ in results]
    for key, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        latency = [m["campaigns"][CAMPAIGN]["latency"][key] for _, m in results]
        right.plot(loads, latency, style, label=f"latency {key}")
    wait95 = [m["queues"]["trigger"]["wait"]["p95"] for _, m in results]
    right.plot(loads, wait95, "x--", label="wait p95")
    right.axvline(1.0, color="grey", linestyle=":", label="capacity")
    right.set_yscale("log")
    right.set_xlabel("load (x capacity)")
    right.set_ylabel("seconds (runs that ended)")
    right.set_title(f"Latency vs load ({hours:g} h window)")
    right.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
