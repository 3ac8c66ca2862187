"""Golden logs: every example's activity log is byte-identical to the recorded one.

The engine is tuned for speed (issue 12); none of that may change a single byte of a
log. Each example runs under several seeds and strategies, and with the race detector
attached (an observer that must change nothing), and the SHA-256 of its JSON Lines log
is compared with tests/data/golden-logs.json. A change that is meant to change logs
(new semantics) regenerates the file on purpose:

    .venv/bin/python tests/test_golden.py --update
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from sim.observe.simulation import Simulation
from sim.observe.sinks import JsonLinesSink
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
GOLDEN = Path(__file__).resolve().parent / "data" / "golden-logs.json"

#: (label, Simulation options): the scenario's own seed, another seed, FIFO, PCT, and the
#: race detector on (the same log as without it).
CASES: dict[str, dict[str, Any]] = {
    "random": {},
    "random seed 7": {"seed": 7},
    "fifo": {"strategy": "fifo"},
    "pct seed 3": {"strategy": "pct", "strategy_seed": 3},
    "random with races": {"detect_races": True},
}


#: The big example (10,000 form fills through a queue: 8-12 s a run) is pinned under two cases,
#: one per strategy family; the seeds, FIFO and the race detector are pinned on the others.
BIG = {"chain-vs-executables": ("random", "pct seed 3")}


def cases_of(path: Path) -> list[str]:
    return list(BIG.get(path.stem, CASES))


def log_digest(path: Path, options: dict[str, Any]) -> str:
    """The SHA-256 of ``path``'s log under ``options``, as ``sim run --log`` writes it."""
    stream = io.StringIO()
    sink = JsonLinesSink(stream=stream, owns_stream=False)
    Simulation(load_scenario(path), sinks=[sink], **options).run_sync()
    return hashlib.sha256(stream.getvalue().encode("utf-8")).hexdigest()


def _key(path: Path, label: str) -> str:
    return f"{path.name} | {label}"


@pytest.mark.parametrize(
    ("path", "label"),
    [pytest.param(path, label, id=f"{path.stem}-{label}") for path in EXAMPLES for label in cases_of(path)],
)
def test_the_log_is_byte_identical_to_the_golden_one(path: Path, label: str) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    key = _key(path, label)
    assert key in golden, f"no golden hash for {key!r}: run `python tests/test_golden.py --update`"
    assert log_digest(path, CASES[label]) == golden[key]


def _update() -> None:
    digests = {_key(path, label): log_digest(path, options) for path in EXAMPLES for label, options in CASES.items()}
    GOLDEN.write_text(json.dumps(digests, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(digests)} hashes to {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_golden.py --update")
    _update()
