"""Request chain vs executables: the same four steps, two designs, one load and queue.

The logic per form fill: (1) normalize country, (2) score by job title, (3) route
(owner by country), (4) send an email. Two designs (docs/marketo.md R5, R6):

- chain: trigger campaign "Chain 1 - Normalize" does step 1, then Request Campaign
  "Chain 2 - Score", which does step 2 and requests "Chain 3 - Route", which requests
  "Chain 4 - Email". Four runs per person, each queued for a worker on its own (R5),
  plus three Request Campaign steps of worker time.
- executables: trigger campaign "Exec - Lifecycle" executes "Exec Normalize",
  "Exec Score" and "Exec Route" (R6: on the parent's worker, no queueing), then sends
  the email itself. One run per person.

Same trigger queue (4 workers), same service times (change data value and change score
lognormal 250 ms ± 100 ms, send email lognormal 1.2 s ± 0.8 s, request campaign 150 ms,
execute campaign 0), same Poisson form fills (seeded: the same arrival times in both);
loads are multiples of the executables design's capacity (both capacities printed).
Each design at each load runs `sim run FILE --log L.jsonl --metrics M.json` in its own
process.

    .venv/bin/python benchmarks/chain_vs_executables.py                 # loads 0.6 0.75 0.9, 2 h, ~30 s
    .venv/bin/python benchmarks/chain_vs_executables.py --loads 0.8 --hours 8

Columns:
- runs queued: ``run_queued`` activities (runs that found no free worker), all campaigns;
  left queued: still waiting at the end.
- q mean, q max: time-weighted mean and maximum of runs waiting for a worker. A chain
  person can be up to four queue entries over time, an executables person one.
- e2e p50/p95/p99: end-to-end latency per person, from the form fill to the end of the
  Send Email step, computed from the activity log: each ``send_email`` activity's run is
  followed up its ``parent`` links (the requesting run, R5) to the top run, whose
  ``cause`` is the seq of the ``fill_out_form`` activity. Percentiles of a sum are not
  sums of percentiles, so per-campaign latencies cannot give p95; their means can give
  the mean, shown as "sum of means" (chain: the four campaigns' mean latencies added up;
  each Request Campaign step is its run's last step, so a run ends when it requests the
  next). It differs from "e2e mean" only by which runs had ended by the end of the window.
- done: people whose email was sent by the end; unfinished: form fills whose email was
  not (excluded from e2e, so past saturation e2e understates the truth).
Then, per load, the ratios chain / executables: above 1 means the executables win.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from _harness import mean_service, read_json, seconds, sim_run, table

from sim.scenario import parse_scenario

COMMON = """\
[sim]
seed = {seed}
duration = "{hours}h"

[fields]
owner = ""
score = 0

[fields.country]
values = ["US", "usa", "United States", "Germany", "DE", "France", ""]
weights = [30, 10, 10, 15, 10, 15, 10]

[fields.job_title]
values = ["VP Marketing", "Marketing Ops Manager", "Student", "Engineer", ""]
weights = [15, 30, 10, 30, 15]

[people]
count = 20000

[queue]
workers = {workers}

[queue.service]
change_data_value = {{ distribution = "lognormal", mean = "250ms", sd = "100ms" }}
change_score = {{ distribution = "lognormal", mean = "250ms", sd = "100ms" }}
send_email = {{ distribution = "lognormal", mean = "1.2s", sd = "0.8s" }}
request_campaign = "150ms"
execute_campaign = "0s"

[[load]]
type = "fill_out_form"
form = "Contact Us"
rate = "{rate}/h"
arrivals = "poisson"
"""

# The four steps, written once and used by both designs.
NORMALIZE = """{ step = "change_data_value", field = "country", choices = [
    { if = { field = "country", op = "is", value = ["usa", "United States"] }, value = "US" },
    { if = { field = "country", op = "is", value = "Germany" }, value = "DE" },
    { if = { field = "country", op = "is empty" }, value = "Unknown" },
  ] }"""
SCORE = """{ step = "change_score", change = "+5", choices = [
    { if = { field = "job_title", op = "starts with", value = "VP" }, change = "+40" },
    { if = { field = "job_title", op = "contains", value = "Marketing" }, change = "+25" },
  ] }"""
ROUTE = """{ step = "change_data_value", field = "owner", value = "Inside Sales", choices = [
    { if = { field = "country", op = "is", value = "US" }, value = "Americas Team" },
    { if = { field = "country", op = "is", value = ["DE", "France"] }, value = "EMEA Team" },
  ] }"""
EMAIL = """{ step = "send_email", email = "Thanks: your account team will be in touch" }"""

CHAIN_CAMPAIGNS = ("Chain 1 - Normalize", "Chain 2 - Score", "Chain 3 - Route", "Chain 4 - Email")
CHAIN = f"""
[campaigns."Chain 1 - Normalize"]
qualification = "every time"
triggers = [{{ trigger = "fills_out_form", form = "Contact Us" }}]
flow = [{NORMALIZE}, {{ step = "request_campaign", campaign = "Chain 2 - Score" }}]

[campaigns."Chain 2 - Score"]
qualification = "every time"
triggers = [{{ trigger = "campaign_is_requested" }}]
flow = [{SCORE}, {{ step = "request_campaign", campaign = "Chain 3 - Route" }}]

[campaigns."Chain 3 - Route"]
qualification = "every time"
triggers = [{{ trigger = "campaign_is_requested" }}]
flow = [{ROUTE}, {{ step = "request_campaign", campaign = "Chain 4 - Email" }}]

[campaigns."Chain 4 - Email"]
qualification = "every time"
triggers = [{{ trigger = "campaign_is_requested" }}]
flow = [{EMAIL}]
"""

EXEC_PARENT = "Exec - Lifecycle"
EXECUTABLES = f"""
[campaigns."Exec - Lifecycle"]
qualification = "every time"
triggers = [{{ trigger = "fills_out_form", form = "Contact Us" }}]
flow = [
  {{ step = "execute_campaign", campaign = "Exec Normalize" }},
  {{ step = "execute_campaign", campaign = "Exec Score" }},
  {{ step = "execute_campaign", campaign = "Exec Route" }},
  {EMAIL},
]

[campaigns."Exec Normalize"]
kind = "executable"
qualification = "every time"
flow = [{NORMALIZE}]

[campaigns."Exec Score"]
kind = "executable"
qualification = "every time"
flow = [{SCORE}]

[campaigns."Exec Route"]
kind = "executable"
qualification = "every time"
flow = [{ROUTE}]
"""

DESIGNS = {"chain": (CHAIN, CHAIN_CAMPAIGNS), "executables": (EXECUTABLES, (EXEC_PARENT,))}


def scenario_text(design: str, *, seed: int, hours: float, workers: int, rate_per_hour: float) -> str:
    common = COMMON.format(seed=seed, hours=f"{hours:g}", workers=workers, rate=f"{rate_per_hour:.3f}")
    return common + DESIGNS[design][0]


def end_to_end(log: Path) -> tuple[list[float], int]:
    """Per person served: form fill -> end of the Send Email step (seconds), sorted; and
    how many form fills had no email by the end of the window."""
    fills: dict[int, float] = {}  # seq of a fill_out_form -> its time
    runs: dict[int, tuple[int | None, int | None]] = {}  # run -> (parent run, cause seq)
    latencies: list[float] = []
    with log.open(encoding="utf-8") as lines:
        for line in lines:
            activity = json.loads(line)
            kind = activity["type"]
            if kind == "fill_out_form":
                fills[activity["seq"]] = activity["t"]
            elif kind in ("run_queued", "run_started"):
                runs.setdefault(activity["run"], (activity["parent"], activity["details"].get("cause")))
            elif kind == "send_email":
                run = activity["run"]
                while runs[run][0] is not None:  # up the request (or execute) links
                    run = runs[run][0]
                cause = runs[run][1]
                latencies.append(activity["t"] - fills[cause])
    latencies.sort()
    return latencies, len(fills) - len(latencies)


def rank(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile, as sim.observe.metrics computes them."""
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else 0.0


def measure(design: str, load: float, capacity: float, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rate = load * capacity
    stem = Path(tmp) / f"{design}-{load}"
    path = stem.with_suffix(".toml")
    path.write_text(
        scenario_text(design, seed=args.seed, hours=args.hours, workers=args.workers, rate_per_hour=rate),
        encoding="utf-8",
    )
    print(f"running {design} at {load:.2f}x ...", file=sys.stderr, flush=True)
    log, metrics_path = stem.with_suffix(".jsonl"), stem.with_suffix(".json")
    measured = sim_run(path, metrics=metrics_path, log=log)
    metrics = read_json(metrics_path)
    queue = metrics["queues"]["trigger"]
    e2e, unfinished = end_to_end(log)
    with log.open(encoding="utf-8") as lines:
        queued = sum(1 for line in lines if '"type":"run_queued"' in line)
    log.unlink()
    campaigns = DESIGNS[design][1]
    return {
        "design": design,
        "load": load,
        "queued": queued,
        "left": sum(queue["queued_at_end"].values()),
        "q_mean": queue["mean_length"],
        "q_max": queue["max_length"],
        "util": queue["utilization"],
        "done": len(e2e),
        "unfinished": unfinished,
        "e2e_mean": sum(e2e) / len(e2e) if e2e else 0.0,
        "e2e_p50": rank(e2e, 0.50),
        "e2e_p95": rank(e2e, 0.95),
        "e2e_p99": rank(e2e, 0.99),
        "sum_of_means": sum(metrics["campaigns"][name]["latency"]["mean"] for name in campaigns),
        "wall": measured.wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--loads", type=float, nargs="+", default=[0.6, 0.75, 0.9], help="x executables capacity (0.6 0.75 0.9)"
    )
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="trigger queue workers (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    capacities = {}
    for design, (_, campaigns) in DESIGNS.items():
        probe = parse_scenario(scenario_text(design, seed=1, hours=1, workers=args.workers, rate_per_hour=1))
        per_person = mean_service(probe, campaigns)
        capacities[design] = args.workers / per_person * 3600
        print(
            f"{design:>11}: {per_person:.3f} s of worker time per person, {len(campaigns)} queued run(s) per "
            f"person -> capacity {capacities[design]:,.0f} people/h"
        )
    capacity = capacities["executables"]
    own = capacity / capacities["chain"]
    print(f"loads are multiples of the executables capacity; the chain's own load is x{own:.3f} that")

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for load in args.loads:
            for design in DESIGNS:
                results.append(measure(design, load, capacity, args, Path(tmp)))

    header = (
        "load",
        "design",
        "fills/h",
        "util",
        "runs queued",
        "left queued",
        "q mean",
        "q max",
        "done",
        "unfinished",
        "e2e mean",
        "sum of means",
        "e2e p50",
        "e2e p95",
        "e2e p99",
        "wall s",
    )
    rows = [
        (
            f"{r['load']:.2f}x",
            r["design"],
            f"{r['load'] * capacity:,.0f}",
            f"{r['util']:.1%}",
            f"{r['queued']:,}",
            f"{r['left']:,}",
            f"{r['q_mean']:,.1f}",
            f"{r['q_max']:,}",
            f"{r['done']:,}",
            f"{r['unfinished']:,}",
            seconds(r["e2e_mean"]),
            seconds(r["sum_of_means"]),
            seconds(r["e2e_p50"]),
            seconds(r["e2e_p95"]),
            seconds(r["e2e_p99"]),
            f"{r['wall']:.1f}",
        )
        for r in results
    ]
    print(table(header, rows))
    print()
    print("chain / executables (above 1: the executables design wins by that factor):")

    def ratio(a: float, b: float) -> str:
        if b == 0:
            return "-" if a == 0 else "inf"
        return f"{a / b:.2f}"

    ratio_rows = []
    pairs = [{r["design"]: r for r in results if r["load"] == load} for load in args.loads]
    for load, pair in zip(args.loads, pairs, strict=True):
        chain, execs = pair["chain"], pair["executables"]
        ratio_rows.append(
            (
                f"{load:.2f}x",
                ratio(chain["queued"], execs["queued"]),
                ratio(chain["q_mean"], execs["q_mean"]),
                ratio(chain["q_max"], execs["q_max"]),
                ratio(chain["e2e_p50"], execs["e2e_p50"]),
                ratio(chain["e2e_p95"], execs["e2e_p95"]),
                f"{chain['unfinished']:,} vs {execs['unfinished']:,}",
            )
        )
    print(table(("load", "runs queued", "q mean", "q max", "e2e p50", "e2e p95", "unfinished"), ratio_rows))
    p95 = [pair["chain"]["e2e_p95"] / pair["executables"]["e2e_p95"] for pair in pairs]
    means = [pair["chain"]["q_mean"] / max(pair["executables"]["q_mean"], 1e-9) for pair in pairs]
    if all(r > 1 for r in p95):
        winner = "executables win at every load"
    elif all(r < 1 for r in p95):
        winner = "the request chain wins at every load"
    else:
        winner = "neither design wins at every load"
    print(
        f"Verdict: {winner}: chain / executables e2e p95 {min(p95):.2f}x to {max(p95):.2f}x, "
        f"mean queue length {min(means):.2f}x to {max(means):.2f}x."
    )


if __name__ == "__main__":
    main()
