"""Fuzz the command line as a user and a fuzzer would, and count the tracebacks.

Every case is one input to ``sim``: a scenario file and the options it is run with. A
case passes when ``sim`` ends with an exit code and, for a bad input, a message; it fails
(a *traceback*) when an exception escapes ``sim.cli.main``. Categories:

- ``numbers``: every number written in an example scenario (TOML values, the digits inside
  durations, rates and score changes) and in its CSV replay, replaced in turn by each of
  0, -1, 1e308, 10**309, nan, inf, -inf and a huge duration ("999999d").
- ``bytes``: the examples with seeded random byte flips, insertions and deletions.
- ``generated``: designs drawn from `sim.testing.scenarios()`, written with
  `dump_scenario`, queue and load included.
- ``options``: every option at its extremes (seeds, runs, jobs, PCT depth, schedules,
  output paths that are the input or each other, ``-``).
- ``inputs``: what is not a scenario file at all: /dev/zero, a BOM, an empty file,
  binary, a directory, a file of only comments.

For each case ``sim check FILE`` runs first; if it accepts the file, ``sim run FILE`` runs
with a log, a trace and metrics, in this process, stopped by a SIGINT after ``--seconds``
of wall time (as Ctrl-C would: that is an exit code, not a failure). The process runs under
an address-space limit (``--memory``), so an allocation without bound shows as a
MemoryError instead of taking the machine down.

    .venv/bin/python benchmarks/fuzz.py [--category C ...] [--limit N] [--seconds S]

Prints, per category: cases, how many ``sim check`` accepted, how many of those ran to an
exit code, and the tracebacks, grouped by exception and the innermost frame of ``sim``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import random
import resource
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs

from sim import cli
from sim.verify.strategies import EXTREME_NUMBERS, HUGE_DURATION, duration_spans, number_spans

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@attrs.frozen
class Case:
    """One input: scenario text (None: the file is given as is) and options."""

    category: str
    name: str
    text: str | bytes | None
    options: tuple[str, ...] = ()
    csv: str | None = None  # the form-fills.csv to put beside it (mutated, or the example's)
    file: str | None = None  # a path to give instead of a written file


@attrs.define
class Tally:
    cases: int = 0
    accepted: int = 0
    ran: int = 0
    stopped: int = 0
    tracebacks: Counter[str] = attrs.field(factory=Counter)
    examples: dict[str, str] = attrs.field(factory=dict)


def number_cases() -> Iterator[Case]:
    for path in sorted(EXAMPLES.glob("*.toml")):
        text = path.read_text()
        for start, end in number_spans(text):
            for extreme in EXTREME_NUMBERS:
                mutated = text[:start] + extreme + text[end:]
                yield Case("numbers", f"{path.name}@{start}={extreme[:8]}", mutated)
        for start, end in duration_spans(text):
            mutated = text[:start] + HUGE_DURATION + text[end:]
            yield Case("numbers", f"{path.name}@{start}=999999d", mutated)
    form_fills = (EXAMPLES / "form-fills.toml").read_text()
    csv_text = (EXAMPLES / "form-fills.csv").read_text()
    for start, end in number_spans(csv_text):
        for extreme in (*EXTREME_NUMBERS, "999999d", "1e400"):
            mutated = csv_text[:start] + extreme + csv_text[end:]
            yield Case("numbers", f"form-fills.csv@{start}={extreme[:8]}", form_fills, csv=mutated)


def byte_cases(count: int, seed: int) -> Iterator[Case]:
    rng = random.Random(f"fuzz.bytes:{seed}")
    paths = sorted(EXAMPLES.glob("*.toml"))
    for number in range(count):
        path = paths[number % len(paths)]
        data = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 4)):  # as sim.testing.mutated_files mangles bytes
            at = rng.randrange(len(data))
            how = rng.random()
            if how < 0.5:
                data[at] = rng.randrange(256)
            elif how < 0.75:
                data.insert(at, rng.choice(b'0123456789"[]{}=.,-+#\n\x00\xff'))
            else:
                del data[at]
        yield Case("bytes", f"{path.name}#{number}", bytes(data))


def generated_cases(count: int, seed: int) -> Iterator[Case]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from sim.scenario.dump import dump_scenario
    from sim.testing import scenarios

    texts: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.one_of(scenarios(), scenarios(queue=True)))
    def collect(scenario: object) -> None:
        texts.append(dump_scenario(scenario))  # type: ignore[arg-type]

    collect()
    for number, text in enumerate(texts):
        yield Case("generated", f"generated#{number}", text)


def option_cases() -> Iterator[Case]:
    racing = (EXAMPLES / "racing-triggers-one-fill.toml").read_text()
    default = (EXAMPLES / "lead-lifecycle.toml").read_text()
    runs: list[tuple[str, ...]] = [
        ("run", "--seed", str(10**30)),
        ("run", "--seed", "-1"),
        ("run", "--seed", "1" + "0" * 5000),
        ("run", "--schedule", "1:" + "9" * 400),
        ("run", "--schedule", "9" * 400 + ":1"),
        ("run", "--schedule", ",".join(f"{i}:1" for i in range(1, 5000))),
        ("run", "--schedule", "0:0"),
        ("run", "--strategy", "fifo", "--races"),
        ("run", "--metrics", "{scenario}"),
        ("run", "--trace", "{scenario}"),
        ("run", "--log", "{scenario}"),
        ("run", "--log", "{out}/x", "--metrics", "{out}/x"),
        ("run", "--trace", "{out}/x", "--metrics", "{out}/x"),
        ("run", "--log", "{out}/x", "--trace", "{out}/x"),
        ("run", "--metrics", "-"),
        ("run", "--trace", "-"),
        ("run", "--log", "-", "--trace", "-"),
        ("run", "--metrics", "{out}"),
        ("run", "--log", "/nonexistent/dir/log"),
        ("run", "--log", "form-fills.csv"),
        ("run", "--metrics", "form-fills.csv"),
        ("run", "--trace", "/nonexistent/dir/trace"),
        ("run", "--metrics", "/nonexistent/dir/metrics"),
        ("explore", "--pct-depth", "1000000000", "--strategy", "pct", "--runs", "2"),
        ("explore", "--pct-depth", "1000000", "--strategy", "pct", "--runs", "2"),
        ("explore", "--runs", "1000000000000"),
        ("explore", "--runs", "0"),
        ("explore", "--jobs", "0"),
        ("explore", "--jobs", "1000", "--runs", "4"),
        ("explore", "--seed", str(10**40), "--runs", "3"),
        ("explore", "--seed", "-5", "--runs", "3"),
    ]
    form_fills = (EXAMPLES / "form-fills.toml").read_text()
    for number, options in enumerate(runs):
        text = racing if options[0] == "explore" else form_fills if "form-fills.csv" in options else default
        yield Case("options", f"options#{number}: {' '.join(o[:20] for o in options)}", text, options)


def input_cases() -> Iterator[Case]:
    default = (EXAMPLES / "lead-lifecycle.toml").read_text()
    yield Case("inputs", "/dev/zero", None, file="/dev/zero")
    yield Case("inputs", "/dev/zero on stdin", None, file="-", options=("<", "/dev/zero"))
    yield Case("inputs", "directory", None, file=str(EXAMPLES))
    yield Case("inputs", "missing", None, file="/nonexistent/file.toml")
    yield Case("inputs", "BOM", "\ufeff" + default)
    yield Case("inputs", "empty", "")
    yield Case("inputs", "comments only", "# nothing here\n")
    yield Case("inputs", "binary", bytes(range(256)) * 4)
    yield Case("inputs", "UTF-16", default.encode("utf-16"))
    yield Case("inputs", "[sim] only", "[sim]\nduration = '1h'\n")
    yield Case("inputs", "latin-1", default.replace("Zurich", "Zürich").encode("latin-1", errors="replace") + b"\xe9")
    yield Case("inputs", "huge text", default + "\n# " + "x" * (200 * 1024 * 1024) + "\n")


def _write(case: Case, folder: Path) -> str:
    if case.file is not None:
        return case.file
    path = folder / "scenario.toml"
    data = case.text.encode() if isinstance(case.text, str) else case.text
    assert data is not None
    path.write_bytes(data)
    csv_path = folder / "form-fills.csv"
    if case.csv is not None:
        csv_path.write_text(case.csv)
    else:
        shutil.copy(EXAMPLES / "form-fills.csv", csv_path)
    return str(path)


@contextlib.contextmanager
def _stdin(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    saved = sys.stdin
    with open(path, "rb") as raw:
        sys.stdin = io.TextIOWrapper(raw)
        try:
            yield
        finally:
            sys.stdin = saved


def _main(argv: Sequence[str], *, stdin: str | None, seconds: float) -> tuple[int | None, str | None]:
    """Run ``sim.cli.main(argv)`` here; (exit code, None) or (None, traceback key)."""
    out, err = io.StringIO(), io.StringIO()
    main_thread = threading.main_thread().ident
    assert main_thread is not None
    done = threading.Event()

    def watchdog() -> None:
        # One SIGINT stops the run with a summary; a second, if it does not, stops it at once.
        for wait in (seconds, 10.0):
            if done.wait(wait):
                return
            signal.pthread_kill(main_thread, signal.SIGINT)

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    try:
        with _stdin(stdin), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
        return code, None
    except SystemExit as exc:  # argparse's own errors: exit 2 with usage
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2, None
    except BaseException as exc:
        return None, _key(exc)
    finally:
        done.set()
        guard.join()


def _key(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/sim/" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} {frames[-1].name}" if frames else "?"
    return f"{type(exc).__name__} at {where}: {str(exc)[:90]}"


def run_case(case: Case, tally: Tally, seconds: float) -> None:
    """Run one case in a forked child (its own memory, killed if it hangs) and tally it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the case, send back what happened, exit at once
        os.close(read)
        try:
            result = _case_result(case, seconds)
        except BaseException as exc:  # a KeyboardInterrupt outside sim, say
            result = ("error", _key(exc))
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 2 * seconds + 60
    chunks = []
    while True:
        ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            chunks = [json.dumps(["error", "hang: no exit code after two SIGINTs and a minute"]).encode()]
            break
        chunk = os.read(read, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    data = b"".join(chunks)
    outcome, detail = json.loads(data) if data else ("error", "the child died without a word (a crash)")
    tally.cases += 1
    if outcome == "error":
        tally.tracebacks[detail] += 1
        tally.examples.setdefault(detail, case.name)
        return
    accepted, ran, stopped = detail
    tally.accepted += accepted
    tally.ran += ran
    tally.stopped += stopped


def _case_result(case: Case, seconds: float) -> tuple[str, object]:
    """("ok", (accepted, ran, stopped)) or ("error", traceback key)."""
    with tempfile.TemporaryDirectory(prefix="sim-fuzz-") as tmp:
        folder = Path(tmp)
        path = _write(case, folder)
        stdin = None
        options: tuple[str, ...] = case.options
        if options[:1] == ("<",):
            stdin, options = options[1], ()
        code, failure = _main(["check", path], stdin=stdin, seconds=seconds)
        if failure is not None:
            return "error", failure
        if code != 0:
            return "ok", (0, 0, 0)
        if options:
            command, rest = options[0], [o.format(scenario=path, out=folder) for o in options[1:]]
        else:
            command = "run"
            rest = ["--log", str(folder / "log.jsonl"), "--trace", str(folder / "trace.json")]
            rest += ["--metrics", str(folder / "metrics.json")]
        before = Path(path).read_bytes() if Path(path).is_file() else None
        csv_before = (folder / "form-fills.csv").read_bytes()
        with contextlib.chdir(folder):
            code, failure = _main([command, path, *rest], stdin=stdin, seconds=seconds)
        if failure is not None:
            return "error", failure
        # Damage without a traceback: an input overwritten, or "-" taken for a file name.
        if before is not None and Path(path).read_bytes() != before:
            return "error", f"damage: the scenario file was overwritten ({' '.join(options[:3])})"
        if (folder / "form-fills.csv").read_bytes() != csv_before:
            return "error", "damage: the CSV replay was overwritten"
        if (folder / "-").exists():
            return "error", f"damage: wrote a file named '-' instead of standard output ({' '.join(options[:3])})"
        for option, target in itertools.pairwise(rest):
            if code != 2 and option in ("--log", "--trace", "--metrics") and target != "-" and Path(target).is_file():
                problem = _invalid(Path(target), lines=option == "--log")
                if problem:
                    return "error", f"damage: {option} {Path(target).name} is not valid JSON ({problem})"
        return "ok", (1, 1, int(code in (130, 143)))


def _invalid(path: Path, *, lines: bool) -> str | None:
    """What is wrong with an output file's JSON (JSON Lines for a log), or None."""
    text = path.read_text(errors="replace")
    try:
        if lines:
            for line in text.splitlines():
                json.loads(line)
            if text and not text.endswith("\n"):
                return "its last line is cut"
        else:
            json.loads(text)
    except ValueError as exc:
        return str(exc)[:60]
    return None


CATEGORIES: dict[str, Callable[[argparse.Namespace], Iterator[Case]]] = {
    "numbers": lambda args: number_cases(),
    "bytes": lambda args: byte_cases(args.bytes, args.seed),
    "generated": lambda args: generated_cases(args.generated, args.seed),
    "options": lambda args: option_cases(),
    "inputs": lambda args: input_cases(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--category", action="append", choices=CATEGORIES, help="only these (repeatable)")
    parser.add_argument("--limit", type=int, default=0, help="at most N cases per category, spread evenly (0: all)")
    parser.add_argument("--seconds", type=float, default=3.0, help="wall seconds before a run is stopped")
    parser.add_argument("--bytes", type=int, default=400, help="byte-mutated cases")
    parser.add_argument("--generated", type=int, default=200, help="generated designs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory", type=float, default=6.0, help="address-space limit, GB")
    args = parser.parse_args()
    limit = int(args.memory * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    started = time.perf_counter()
    print(f"{'category':<10} {'cases':>6} {'accepted':>8} {'ran':>6} {'stopped':>7} {'tracebacks':>10} {'distinct':>8}")
    tallies: dict[str, Tally] = {}
    for name in args.category or CATEGORIES:
        cases = list(CATEGORIES[name](args))
        if args.limit and len(cases) > args.limit:
            step = len(cases) / args.limit
            cases = [cases[int(i * step)] for i in range(args.limit)]
        tally = tallies[name] = Tally()
        for case in cases:
            run_case(case, tally, args.seconds)
        total = sum(tally.tracebacks.values())
        print(
            f"{name:<10} {tally.cases:>6} {tally.accepted:>8} {tally.ran:>6} {tally.stopped:>7} "
            f"{total:>10} {len(tally.tracebacks):>8}",
            flush=True,
        )
        for key, count in tally.tracebacks.most_common():
            print(f"    {count} x {key}\n        e.g. {tally.examples.get(key, '')}", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
