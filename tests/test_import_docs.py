"""docs/import.md stays true: every option it documents exists (and every option is
documented), the quoted `sim import` output is what the command prints, the flows example
reads, and the mapping table names every trigger, filter operator and flow action the
importer maps."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sim.arguments import build_parser
from sim.cli import main
from sim.marketo.map_flows import STEP_KINDS
from sim.marketo.map_rules import FIELD_OPERATORS, OTHER_TRIGGERS, SIMPLE_TRIGGERS
from sim.marketo.user_flows import read_user_flows

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC, flags=re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    start = DOC.index(f"\n{title}\n")
    end = DOC.find("\n#", start + len(title) + 2)
    return DOC[start : end if end != -1 else None]


def test_every_option_is_documented_and_every_documented_option_exists() -> None:
    parser = build_parser()
    command = parser._subparsers._group_actions[0].choices["import"]  # type: ignore[union-attr]
    options = {o for action in command._actions for o in action.option_strings if o not in ("-h", "--help")}
    table = section("## The command")
    documented = set(re.findall(r"^\| `(-[-\w]+)", table, flags=re.MULTILINE))
    documented |= set(re.findall(r", `(--[-\w]+)", table))
    assert documented == options


def test_the_quoted_import_prints_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    quoted = [b for b in blocks("text") if b.startswith("$ sim import ")]
    assert len(quoted) == 1
    first, _, expected = quoted[0].partition("\n")
    argv = shlex.split(first[len("$ sim ") :])
    argv[argv.index("-o") + 1] = str(tmp_path / "acme.toml")
    monkeypatch.chdir(ROOT)
    assert main(argv) == 0
    assert capsys.readouterr().out == expected


def test_the_flows_example_reads(tmp_path: Path) -> None:
    (example,) = [b for b in blocks("toml") if b.startswith("# flows.toml")]
    path = tmp_path / "flows.toml"
    path.write_text(example, encoding="utf-8")
    assert list(read_user_flows(path).flows) == ["Score Lead", "1004"]


def first_column(title: str) -> str:
    rows = re.findall(r"^\| ([^|]+) \|", section(title), flags=re.MULTILINE)
    return " ".join(rows).casefold()


def test_the_mapping_table_names_everything_the_importer_maps() -> None:
    triggers = first_column("### Triggers (R1)")
    for name in [*SIMPLE_TRIGGERS, *(t.casefold() for t in OTHER_TRIGGERS)]:
        assert name in triggers, name
    filters = first_column("### Filters")
    for operator in FIELD_OPERATORS:
        assert operator in filters, operator
    steps = first_column("### Flow steps")
    for action in STEP_KINDS:
        assert action in steps, action
