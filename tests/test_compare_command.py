"""``sim compare`` from the command line: what it prints and writes, and its refusals
(exit 2 with every problem, never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

DATA = Path(__file__).parent / "data" / "marketo"
SCENARIO = str(DATA / "acme-imported.toml")
EXPORT = str(DATA / "acme-activities" / "acme-activities.csv")
TYPES = str(DATA / "acme-activities" / "types.json")


def test_compare_prints_the_table_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compare.json"
    code = main(["compare", SCENARIO, "--activities", EXPORT, "--types", TYPES, "--seed", "4", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0] == f"sim compare: {SCENARIO}, seed 4, 4h21m48s simulated"
    assert "  Contact Us Form Fill  1001        runs                 19        19           0" in lines
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["seed"] == 4
    assert [c["marketo_id"] for c in data["campaigns"]] == [1001, 1002, 1004, 1003, 1005, 1006]


def test_json_on_standard_output_sends_the_table_to_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    pages = [str(DATA / "acme-activities" / f"lead-activities-page{n}.json") for n in (1, 2)]
    code = main(["compare", SCENARIO, "--activities", EXPORT, *pages, "--json", "-"])
    captured = capsys.readouterr()
    assert code == 0
    data = json.loads(captured.out)
    assert data["export"]["duplicates"] == 31  # the pages repeat rows of the CSV: counted once
    assert captured.err.startswith("sim compare: ")
    assert "31 duplicates left out" in captured.err


def test_a_bad_export_is_every_problem_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    bad = str(DATA / "acme-activities" / "malformed" / "bad-header.csv")
    code = main(["compare", SCENARIO, "--activities", EXPORT, bad])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f'error: {bad}:1: unknown column "leadID"; did you mean "leadId"?',
        f'error: {bad}:1: unknown column "activityType"; did you mean "activityTypeId"?',
        f'error: {bad}:1: the header has no "leadId" column; leadId, activityDate, activityTypeId are required',
        f'error: {bad}:1: the header has no "activityTypeId" column; leadId, activityDate, activityTypeId are required',
        "4 problems found; nothing was run.",
    ]


def test_bad_types_and_a_bad_scenario_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_types = str(DATA / "acme-activities" / "malformed" / "bad-types.json")
    assert main(["compare", SCENARIO, "--activities", EXPORT, "--types", bad_types]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "4 problems found; nothing was run."
    broken = tmp_path / "broken.toml"
    broken.write_text("[campaigns.X]\nkind = 'sometimes'\n", encoding="utf-8")
    assert main(["compare", str(broken), "--activities", EXPORT]) == 2
    assert capsys.readouterr().err.endswith("1 problem found; nothing was run.\n")


def test_an_output_over_an_input_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", SCENARIO, "--activities", EXPORT, "--json", EXPORT]) == 2
    assert capsys.readouterr().err == (
        f"error: --json {EXPORT} is the activity file {EXPORT}: it would be overwritten; pick another path\n"
    )


def test_activities_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["compare", SCENARIO])
    assert exited.value.code == 2
    assert "the following arguments are required: --activities" in capsys.readouterr().err


def test_the_example_of_docs_compare_is_what_sim_compare_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).parent.parent
    page = (root / "docs" / "compare.md").read_text(encoding="utf-8")
    command, _, rest = page.partition("$ sim compare ")[2].partition("\n")
    quoted = rest[: rest.index("```")]
    monkeypatch.chdir(root)
    assert main(["compare", *command.split()]) == 0
    assert capsys.readouterr().out == quoted
