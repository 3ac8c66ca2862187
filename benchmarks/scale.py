"""How `sim run` scales: the default scenario at 1x and at 100x people and load.

Each size runs `sim run FILE --log FILE.jsonl` in its own process (activity logging on),
and reports wall time, activities per wall second and peak resident memory of that
process. The 100x variant multiplies [people] count and every generator rate by the
factor, so the load per person stays the same.

    .venv/bin/python benchmarks/scale.py              # factors 1 and 100
    .venv/bin/python benchmarks/scale.py --factors 1 10 100

Compare rows with each other (same machine, same run), not with numbers from elsewhere.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "lead-lifecycle.toml"


def scaled(text: str, factor: int) -> str:
    """The scenario text with people count and generator rates multiplied by ``factor``."""

    def count(match: re.Match[str]) -> str:
        return f"count = {int(match.group(1)) * factor}"

    def rate(match: re.Match[str]) -> str:
        return f'rate = "{float(match.group(1)) * factor:g}/{match.group(2)}"'

    text = re.sub(r"^count = (\d+)", count, text, flags=re.MULTILINE)
    return re.sub(r'^rate = "([\d.]+)/(\w+)"', rate, text, flags=re.MULTILINE)


def measure(path: Path, log: Path) -> tuple[float, float, int]:
    """(wall seconds, peak MB, activities) of one `sim run` in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(path), "--log", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"sim run {path} failed ({process.returncode}):\n{process.stderr.read().decode()}")
    with log.open("rb") as lines:
        activities = sum(1 for _ in lines)
    return wall, usage.ru_maxrss / 1024, activities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 100], help="scale factors (default: 1 100)")
    parser.add_argument("--scenario", type=Path, default=DEFAULT, help="scenario to scale (default: the bundled one)")
    args = parser.parse_args()
    text = args.scenario.read_text(encoding="utf-8")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for factor in args.factors:
            path = Path(tmp) / f"x{factor}.toml"
            path.write_text(scaled(text, factor), encoding="utf-8")
            print(f"running x{factor} ...", file=sys.stderr, flush=True)
            wall, peak, activities = measure(path, Path(tmp) / f"x{factor}.jsonl")
            rows.append((factor, wall, peak, activities))
    base = rows[0]
    print(f"{'scale':>6} {'activities':>11} {'wall s':>8} {'act/s':>9} {'peak MB':>8} {'time/act vs first':>18}")
    for factor, wall, peak, activities in rows:
        ratio = (wall / activities) / (base[1] / base[3])
        scale = f"x{factor}"
        print(f"{scale:>6} {activities:>11,} {wall:>8.2f} {activities / wall:>9,.0f} {peak:>8,.0f} {ratio:>18.2f}")


if __name__ == "__main__":
    main()
