"""The race detector: one run against exploration, and what detection costs.

1. **One run against many schedules.** For each race design, the detector's one run
   (`sim run --races`) against `sim explore`'s random schedules: how many schedules it
   takes until a second outcome class shows, over 20 exploration seeds. "narrow" is a
   race whose rare order needs one run to take eight steps before the other takes one:
   random schedules hit it about once in 2^8.
2. **Cost.** `sim run --strategy fifo` with and without `--races`, each in a fresh
   process, on the default scenario scaled up (people and load times ``--factor``):
   wall seconds and peak memory, and the ratio of the two runs. Then per access: what
   detection costs, how much of it is the detector's own `access` (its calls recorded in
   one run and replayed into a fresh detector) and how much the race watch's bookkeeping
   around it, against what ``--races`` within 1.5x of the plain run would allow.

    .venv/bin/python benchmarks/race_detector.py
    .venv/bin/python benchmarks/race_detector.py --factor 20

Compare rows of one run with each other: the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import SIM, run_child, table
from scale import scaled

from sim import Scenario, Simulation, load_scenario, parse_scenario
from sim.verify.outcomes import finished_outcome

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

NARROW = """
lists = ["Form Fillers"]

[sim]
duration = "1h"

[fields]
country = ""
score = 0

[[person]]
id = "alice"

[campaigns."Form Fill - Housekeeping"]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [
  { step = "interesting_moment", description = "Filled out {{trigger.form}}" },
  { step = "send_alert", alert = "New form fill" },
  { step = "add_to_list", list = "Form Fillers" },
  { step = "interesting_moment", description = "Country {{lead.country}}" },
  { step = "send_email", email = "Thank You" },
  { step = "interesting_moment", description = "Sent thanks" },
  { step = "send_alert", alert = "Thanks sent" },
  { step = "change_data_value", field = "country", choices = [
    { if = { field = "country", op = "is", value = "usa" }, value = "US" },
  ] },
]

[campaigns."Score Lead"]
qualification = "every time"
triggers = [{ trigger = "fills_out_form" }]
flow = [{ step = "change_score", choices = [{ if = { field = "country", op = "is", value = "US" }, change = "+20" }] }]

[[activities]]
at = "0s"
person = "alice"
type = "fill_out_form"
form = "Contact Us"
fields = { country = "usa" }
"""


def first_difference(scenario: Scenario, start: int, limit: int) -> int | None:
    """How many schedules (strategy seeds start, start+1, ...) until two outcomes differ."""
    seen = set()
    for number in range(1, limit + 1):
        simulation = Simulation(scenario, strategy_seed=start + number)
        simulation.run_sync()
        seen.add(finished_outcome(simulation))
        if len(seen) > 1:
            return number
    return None


def one_run_against_exploration(limit: int) -> None:
    designs = {
        "racing-triggers-one-fill": load_scenario(EXAMPLES / "racing-triggers-one-fill.toml"),
        "request-chain": load_scenario(EXAMPLES / "request-chain.toml"),
        "webhook-writeback": load_scenario(EXAMPLES / "webhook-writeback.toml"),
        "narrow (8 steps)": parse_scenario(NARROW, source="narrow"),
    }
    rows = []
    for name, scenario in designs.items():
        started = time.perf_counter()
        simulation = Simulation(scenario, detect_races=True)
        simulation.run_sync()
        detect = time.perf_counter() - started
        races = simulation.races()
        needed = [first_difference(scenario, start * 10_000, limit) for start in range(20)]
        found = [n for n in needed if n is not None]
        rows.append(
            (
                name,
                f"{len(races)} ({sum(r.same_instant for r in races)} same instant)",
                f"{detect * 1000:.1f}",
                f"{statistics.median(found):g}" if found else "-",
                f"{max(found)}" if found else "-",
                f"{len(needed) - len(found)}",
            )
        )
    print(f"1. One detector run against random schedules until a second outcome shows (20 tries, at most {limit})")
    print(
        table(
            ("design", "races, one run", "detect ms", "schedules: median", "max", f"none in {limit}"),
            rows,
        )
    )


def cost(factor: int) -> None:
    text = scaled((EXAMPLES / "lead-lifecycle.toml").read_text(encoding="utf-8"), factor)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"lead-lifecycle-x{factor}.toml"
        path.write_text(text, encoding="utf-8")
        plain = run_child([*SIM, "run", str(path), "--strategy", "fifo"])
        detected = run_child([*SIM, "run", str(path), "--strategy", "fifo", "--races"])
    races = next(line for line in detected.stdout.splitlines() if line.startswith(("Races:", "No races:")))
    print()
    print(f"2. The cost of detection: the default scenario x{factor} ({1000 * factor:,} people), fifo, fresh processes")
    print(
        table(
            ("case", "wall s", "peak MB"),
            [
                ("sim run", f"{plain.wall:.2f}", f"{plain.peak_mb:,.0f}"),
                ("sim run --races", f"{detected.wall:.2f}", f"{detected.peak_mb:,.0f}"),
            ],
        )
    )
    print(f"--races / plain: wall {detected.wall / plain.wall:.2f}, peak memory {detected.peak_mb / plain.peak_mb:.2f}")
    print(races)
    per_access(text, plain.wall, detected.wall)


def per_access(text: str, plain: float, detected: float) -> None:
    """Where detection's time goes, per access: the detector's own `access` (its calls
    recorded in one run and replayed into a fresh detector, timed) and the engine's
    bookkeeping around it (the rest), against what ``--races`` within 1.5x would allow."""
    from sim.observe.races import RaceDetector
    from sim.observe.simulation import _fewer_collections

    calls: list[tuple[Any, ...]] = []
    record = RaceDetector.access

    def recording(self: RaceDetector, clock: Any, *args: Any, time: float, value: Any = None) -> None:
        calls.append((clock, *args, time, value))
        record(self, clock, *args, time=time, value=value)

    scenario = parse_scenario(text, source="x.toml")
    simulation = Simulation(scenario, strategy="fifo", detect_races=True)
    RaceDetector.access = recording  # type: ignore[method-assign]
    try:
        simulation.run_sync()
    finally:
        RaceDetector.access = record  # type: ignore[method-assign]
    writable = simulation.race_detector.writable
    for clock, *_ in calls:
        clock.task = None  # the replay runs outside trio: one stand-in task for every thread
    replay = RaceDetector(writable=writable, running=lambda: "replay")
    with _fewer_collections():  # the collector as a run has it
        started = time.perf_counter()
        for clock, person, item, op, site, at, value in calls:
            replay.access(clock, person, item, op, site, time=at, value=value)
        alone = (time.perf_counter() - started) / len(calls) * 1e6
    extra = (detected - plain) / len(calls) * 1e6
    allowed = 0.5 * plain / len(calls) * 1e6
    people = len(simulation.engine.people)
    print(
        f"per access ({len(calls):,} accesses, {len(calls) / people:.1f} a person): detection costs {extra:.1f} µs, "
        f"{alone:.1f} in the detector and {extra - alone:.1f} in the race watch's bookkeeping around it; "
        f"within 1.5x of the plain run it may cost {allowed:.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, default=10, help="scale of the default scenario for the cost (10)")
    parser.add_argument("--limit", type=int, default=2000, help="schedules to try per exploration (2000)")
    args = parser.parse_args()
    one_run_against_exploration(args.limit)
    cost(args.factor)


if __name__ == "__main__":
    main()
