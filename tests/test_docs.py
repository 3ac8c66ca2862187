"""docs/scenarios.md stays true: every example loads, every quoted output is real.

The page's markup, which this file relies on:

- Every ```toml block is a scenario. The one starting ``# demo.toml`` is the
  page's running example. A block that does not load on its own is a fragment (a step,
  a trigger, a load source): it must load appended to the running example. A block is
  read as if it were a file in ``examples/``, so ``csv = "form-fills.csv"`` names
  ``examples/form-fills.csv``.
- A ```text block whose first line is ``$ sim ...`` quotes a command and its exact
  output. When the command names a file that is neither ``missing.toml`` nor under
  ``examples/``, that file is the ```toml block just before it (the next fenced block
  up; prose may stand between them). ``sim check`` quotes standard output and standard
  error, ``sim run`` standard output only.
- In "## Definition checks" every ```toml block is such a bad example, followed by the
  ``sim check`` output it gives.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from sim.cli import main
from sim.scenario import ScenarioError, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "scenarios.md"
DEMO_MARK = "# demo.toml"
CHECKS_SECTION = "Definition checks"


@attrs.frozen(kw_only=True)
class Block:
    """One fenced block of the page."""

    lang: str
    body: str
    line: int  # 1-based line of the opening fence
    heading: str  # the nearest heading above it
    section: str  # the nearest "## " heading above it


@attrs.frozen(kw_only=True)
class Command:
    """A quoted ``$ sim ...`` command with its expected output, and its scenario block if any."""

    argv: tuple[str, ...]
    expected: str
    block: Block
    scenario: Block | None

    @property
    def name(self) -> str:
        return self.argv[1] if len(self.argv) > 1 else ""

    @property
    def needs_scenario(self) -> bool:
        """Whether the file it names is the ```toml block before it."""
        return self.name != "missing.toml" and not self.name.startswith("examples/")

    def __str__(self) -> str:
        return "$ sim " + " ".join(self.argv)


def read_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    heading = section = ""
    fence: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if fence is not None:
            if line.startswith("```"):
                lang, start, body = fence
                blocks.append(Block(lang=lang, body="".join(body), line=start, heading=heading, section=section))
                fence = None
            else:
                fence[2].append(line + "\n")
        elif line.startswith("```"):
            fence = (line[3:].strip(), number, [])
        elif match := re.match(r"(#{1,6}) +(.+?) *$", line):
            heading = match.group(2)
            if len(match.group(1)) == 2:
                section = heading
    assert fence is None, f"docs/scenarios.md:{fence[1]}: unclosed ``` block"
    return blocks


BLOCKS = read_blocks(DOC.read_text(encoding="utf-8"))


def read_commands(blocks: list[Block]) -> list[Command]:
    commands = []
    for index, block in enumerate(blocks):
        if block.lang != "text" or not block.body.startswith("$ sim "):
            continue
        first, _, expected = block.body.partition("\n")
        argv = tuple(shlex.split(first[len("$ sim ") :]))
        before = blocks[index - 1] if index else None
        scenario = before if before is not None and before.lang == "toml" else None
        command = Command(argv=argv, expected=expected, block=block, scenario=None)
        if command.needs_scenario:
            command = attrs.evolve(command, scenario=scenario)
        commands.append(command)
    return commands


COMMANDS = read_commands(BLOCKS)
PAIRED = {id(c.scenario) for c in COMMANDS if c.scenario is not None}


def demo() -> Block:
    demos = [b for b in BLOCKS if b.lang == "toml" and b.body.startswith(DEMO_MARK)]
    assert len(demos) == 1, f"expected one ```toml block starting {DEMO_MARK!r}, found {len(demos)}"
    return demos[0]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-")


def example_ids(blocks: list[Block]) -> Iterator[str]:
    """Readable, stable test ids: the nearest heading and the block's rank under it."""
    seen: dict[str, int] = {}
    for block in blocks:
        key = slug(block.heading)
        seen[key] = seen.get(key, 0) + 1
        yield f"{key}-{seen[key]}"


def where(block: Block) -> str:
    return f"docs/scenarios.md:{block.line} (under {block.heading!r})"


def problems(text: str, source: str = str(ROOT / "examples" / "example.toml")) -> list[str]:
    """The loader's problems with ``text``; empty when it loads (read as a file in
    examples/, where the CSV files it may replay are)."""
    try:
        parse_scenario(text, source=source)
    except ScenarioError as exc:
        return [str(p) for p in exc.problems]
    return []


def diff(expected: str, got: str, block: Block, what: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True),
        got.splitlines(keepends=True),
        fromfile=f"{where(block)}: as the page quotes it",
        tofile=what,
    )
    return f"{where(block)}: the quoted output is not what `sim` prints; fix the page:\n" + "".join(lines)


# --- every scenario on the page loads -------------------------------------------------------

EXAMPLES = [b for b in BLOCKS if b.lang == "toml" and id(b) not in PAIRED]


def test_the_page_has_examples_and_quoted_outputs() -> None:
    assert demo() in EXAMPLES
    assert len(EXAMPLES) >= 20
    assert sum(c.argv[0] == "check" for c in COMMANDS) >= 8
    assert any(c.argv[0] == "run" and "--log" in c.argv and c.block.section == "The activity log" for c in COMMANDS)


@pytest.mark.parametrize("block", EXAMPLES, ids=list(example_ids(EXAMPLES)))
def test_example_loads(block: Block) -> None:
    alone = problems(block.body)
    if not alone:
        return
    base = demo()
    assert block is not base, f"{where(block)}: the running example does not load:\n" + "\n".join(alone)
    appended = problems(base.body + "\n" + block.body)
    assert not appended, (
        f"{where(block)}: the example loads neither on its own nor appended to the running example "
        f"(docs/scenarios.md:{base.line}).\nOn its own:\n  "
        + "\n  ".join(alone)
        + "\nAppended:\n  "
        + "\n  ".join(appended)
    )


# --- every quoted command prints what the page says ------------------------------------------


def command_id(command: Command) -> str:
    return f"{command.argv[0]}-{command.name}"


@pytest.mark.parametrize("command", COMMANDS, ids=[command_id(c) for c in COMMANDS])
def test_quoted_output_is_real(
    command: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if command.needs_scenario:
        assert command.scenario is not None, (
            f"{where(command.block)}: `{command}` needs its {command.name} in a ```toml block just before it"
        )
        monkeypatch.chdir(tmp_path)
        (tmp_path / command.name).write_text(command.scenario.body, encoding="utf-8")
    else:
        monkeypatch.chdir(ROOT if command.name.startswith("examples/") else tmp_path)
    status = main(list(command.argv))
    out, err = capsys.readouterr()
    if command.argv[0] == "run":
        got, what = out, f"`{command}`, standard output"
        assert status == 0, f"{where(command.block)}: `{command}` exited {status}:\n{err}"
    else:
        got, what = out + err, f"`{command}`, standard output and error"
        ok = command.expected.startswith(f"{command.name}: ok")
        assert status == (0 if ok else 2), f"{where(command.block)}: `{command}` exited {status}:\n{got}"
    assert got == command.expected, diff(command.expected, got, command.block, what)


def test_every_bad_example_quotes_its_messages() -> None:
    """In the definition checks, each ```toml block is followed by the `sim check` output it gives."""
    checked = {id(c.scenario) for c in COMMANDS if c.argv[0] == "check"}
    loose = [b for b in BLOCKS if b.section == CHECKS_SECTION and b.lang == "toml" and id(b) not in checked]
    assert not loose, "bad examples without their `$ sim check` output: " + ", ".join(where(b) for b in loose)


def test_every_mentioned_example_file_loads() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"examples/[\w.-]+\.toml", text)))
    assert names
    for name in names:
        path = ROOT / name
        assert path.is_file(), f"docs/scenarios.md mentions {name}, which does not exist"
        found = problems(path.read_text(encoding="utf-8"), source=name)
        assert not found, f"{name}, mentioned in docs/scenarios.md, does not load:\n" + "\n".join(found)


def test_the_readme_sample_is_what_sim_run_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """README.md quotes `sim run` output; every quoted line (bar wall time and memory) is real."""
    monkeypatch.chdir(ROOT)  # the default scenario is shown relative to the working directory
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```text\nexamples/lead-lifecycle.toml")
    quoted = readme[start + len("```text\n") : readme.index("```", start + 7)].splitlines()
    assert main(["run"]) == 0
    printed = capsys.readouterr().out.splitlines()

    def steady(line: str) -> str:
        return re.sub(r"wall [0-9.]+s, peak memory [0-9,]+ MB", "wall -, peak memory -", line)

    for line in quoted:
        if line != "...":
            assert steady(line) in [steady(p) for p in printed], line


# --- Python examples in README.md and docs/testing.md run as written ----------------

PYTHON_BLOCKS = [
    (doc, block)
    for doc in (ROOT / "README.md", ROOT / "docs" / "testing.md")
    for block in read_blocks(doc.read_text(encoding="utf-8"))
    if block.lang == "python"
]


@pytest.mark.parametrize("doc, block", PYTHON_BLOCKS, ids=[f"{doc.name}:{block.line}" for doc, block in PYTHON_BLOCKS])
def test_python_example_runs(doc: Path, block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ```python block runs from the repository root as written, and every ``test_*``
    function it defines passes (a Hypothesis test runs under the current profile)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)  # files a block writes land here
    namespace: dict[str, object] = {"__name__": f"docs_example_{block.line}"}
    exec(compile(block.body, f"{doc}:{block.line}", "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            value()


def test_readme_racing_example_fails_on_the_racing_design() -> None:
    """What the README says of its example: on racing-triggers.toml a seed breaks the order."""
    from sim.scenario import load_scenario
    from sim.testing import assert_finishes_before, run_scenario

    racing = load_scenario(ROOT / "examples" / "racing-triggers.toml")
    with pytest.raises(AssertionError, match='"Normalize Country" does not always finish before "Score Lead"'):
        assert_finishes_before(run_scenario(racing, seed=1), "Normalize Country", "Score Lead")
