"""Does `sim sweep` agree with queueing theory? M/M/c designs against Erlang C.

For each worker count c and utilization rho, a design that is exactly M/M/c (Poisson
fills, one trigger campaign whose one step has an exponential service time, every fill
qualifying) is swept with many replications, and each measured figure is set against
Erlang C's steady state:

- wait mean, wait p95, queue mean, utilization: the sweep's mean over replications with
  its 95% interval, Erlang C's value, and whether the interval holds it (a 95% interval
  misses one time in twenty by chance; many misses, or misses all on one side, would be
  a bias);
- saturation: the load multiplier where the queue stops draining, estimated from the
  utilization of the points below 90%, against c * mu / lambda.

    .venv/bin/python benchmarks/sweep_fidelity.py                  # c = 1, 2, 8; ~4 min on 2 cores
    .venv/bin/python benchmarks/sweep_fidelity.py --replications 10 --workers 2

Each design runs `sim sweep FILE --load ... --json` in a process of its own.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _harness import SIM, run_child, table

DESIGN = """
[sim]
seed = 1
duration = "{hours}h"
[fields]
score = 0
[people]
count = 5000
[queue]
workers = {workers}
[queue.service]
default = "0s"
change_score = {{ distribution = "exponential", mean = "{service}s" }}
[campaigns.Score]
qualification = "every time"
triggers = [{{ trigger = "fills_out_form" }}]
flow = [{{ step = "change_score", change = "+1" }}]
[[load]]
type = "fill_out_form"
rate = "{rate}/h"
arrivals = "poisson"
"""

FIGURES = ("wait_mean", "wait_p95", "queue_mean", "utilization")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 8], help="worker counts c (default 1 2 8)")
    parser.add_argument("--rho", type=float, nargs="+", default=[0.5, 0.7, 0.85], help="utilizations to sweep")
    parser.add_argument("--replications", type=int, default=30, help="replications per point (default 30)")
    parser.add_argument("--hours", type=float, default=4, help="simulated hours per replication (default 4)")
    parser.add_argument("--jobs", default=None, help="passed to sim sweep --jobs (default: its own)")
    args = parser.parse_args()
    rows, misses, checks = [], 0, 0
    saturation_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.workers:
            service = 10.0
            rate = 3600 / service * c  # arrivals per hour at rho = 1 (load 1x)
            path = Path(tmp) / f"mm{c}.toml"
            path.write_text(DESIGN.format(hours=f"{args.hours:g}", workers=c, service=service, rate=f"{rate:g}"))
            out = Path(tmp) / f"mm{c}.json"
            loads = ",".join(f"{rho:g}x" for rho in args.rho)
            command = [*SIM, "sweep", str(path), "--load", loads, "--replications", str(args.replications),
                       "--warmup", "30m", "--json", str(out)]  # fmt: skip
            if args.jobs:
                command += ["--jobs", args.jobs]
            measured = run_child(command)
            data = json.loads(out.read_text())
            for point in data["points"]:
                theory = point["erlang_c"]
                for figure in FIGURES:
                    value = point["figures"]["all"][figure]
                    held = value["ci_low"] <= theory[figure] <= value["ci_high"]
                    checks += 1
                    misses += not held
                    rows.append((f"M/M/{c}", f"{point['load']:g}", figure, f"{value['mean']:.4g}",
                                 f"[{value['ci_low']:.4g}, {value['ci_high']:.4g}]", f"{theory[figure]:.4g}",
                                 f"{(value['mean'] / theory[figure] - 1) * 100:+.1f}%" if theory[figure] else "-",
                                 "yes" if held else "NO"))  # fmt: skip
            (saturation,) = data["saturation"]
            estimate = saturation["estimate"]
            saturation_rows.append((f"M/M/{c}", f"{estimate['mean']:.3f}x",
                                    f"[{estimate['ci_low']:.3f}, {estimate['ci_high']:.3f}]",
                                    f"{saturation['theory']:.3f}x", f"{measured.wall:.1f}"))  # fmt: skip
    print(
        f"{args.replications} replications of {args.hours:g} h per point, warm-up 30 min; rho = load (1x = saturation)"
    )
    print(table(("design", "load", "figure", "sweep", "95% CI", "Erlang C", "sweep/theory", "in CI"), rows))
    print(f"\n{checks - misses} of {checks} intervals hold Erlang C's value ({misses} misses; about "
          f"{checks * 0.05:.1f} expected by chance at 95%)")  # fmt: skip
    print()
    print(table(("design", "saturation (sweep)", "95% CI", "Erlang C", "wall s"), saturation_rows))


if __name__ == "__main__":
    main()
