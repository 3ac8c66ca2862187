"""``sim import`` end to end through `sim.cli.main`: every fixture imports to a scenario
that `sim check` accepts and `sim run` runs; bad input exits 2 with every problem and
writes nothing; no output overwrites an input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from marketo_payloads import campaign, condition, rule, smart_list

import sim.import_command
from sim.cli import main
from sim.import_command import write_import
from sim.marketo.assets import read_export
from sim.marketo.traffic import Traffic
from sim.marketo.translate import Translation

DATA = Path(__file__).parent / "data" / "marketo"
ACME = DATA / "acme"
BROWSE_ONLY = [
    str(ACME / "smartCampaigns.json"),
    *(str(p) for p in sorted(ACME.glob("smartCampaign/*/smartList.json"))),
]

FIXTURES = {
    "acme": [str(ACME)],
    "docs-example": [str(DATA / "docs-example")],
    "acme-browse-only": BROWSE_ONLY,
    "acme-browse-only-with-flows": [*BROWSE_ONLY, "--flows", str(DATA / "acme-flows.toml")],
}


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_imports_checks_and_runs(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"{name}.toml"
    assert main(["import", *FIXTURES[name], "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "campaign" in printed.out and printed.err.startswith(f"{out}: ok: ")
    assert main(["check", str(out)]) == 0
    assert main(["run", str(out), "--seed", "1"]) == 0


def test_the_printed_report_is_the_pinned_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "acme.toml"
    assert main(["import", str(ACME), "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out == (DATA / "acme-import-report.txt").read_text(encoding="utf-8")
    assert printed.err == (
        f"{out}: ok: 6 campaigns (3 trigger, 2 executable, 1 batch), 13 steps, 0 people, 0 timed activities, "
        "0 generators, 1d simulated\n"
    )
    assert out.read_text(encoding="utf-8") == (DATA / "acme-import-expected.toml").read_text(encoding="utf-8")


def test_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    assert main(["import", str(ACME), "-o", str(tmp_path / "a.toml"), "--report-json", str(report)]) == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["counts"]["step"] == {"mapped": 13, "approximated": 0, "skipped": 1}
    assert [c["marketo_id"] for c in data["campaigns"]] == [1001, 1002, 1003, 1004, 1005, 1006, 1007]
    capsys.readouterr()
    assert main(["import", str(ACME), "-o", str(tmp_path / "b.toml"), "--report-json", "-"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == data  # the JSON on standard output, the text on standard error
    assert printed.err.startswith('campaign 1001 "Contact Us Form Fill": trigger\n')


def test_bad_input_exits_2_with_every_problem_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.toml"
    assert main(["import", str(DATA / "bad"), str(ACME), "-o", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "16 problems found; nothing was written."
    assert all(line.startswith(f"error: {DATA / 'bad'}/") for line in err[:-1])
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["-o", str(ACME / "programs.json")],
            f"-o {ACME / 'programs.json'} is the export file {ACME / 'programs.json'}",
        ),
        (["-o", "OUT", "--report-json", "OUT"], "-o and --report-json are the same file (OUT); give each its own"),
        (
            ["-o", "OUT", "--flows", str(DATA / "acme-flows.toml"), "--report-json", str(DATA / "acme-flows.toml")],
            f"--report-json {DATA / 'acme-flows.toml'} is the flows file {DATA / 'acme-flows.toml'}",
        ),
    ],
)
def test_no_output_overwrites_an_input(
    extra: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    before = (ACME / "programs.json").read_bytes()
    assert main(["import", str(ACME), *extra]) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")
    assert (ACME / "programs.json").read_bytes() == before
    assert not (tmp_path / "OUT").exists()


def test_a_flows_file_whose_steps_do_not_load_is_the_users_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = tmp_path / "flows.toml"
    flows.write_text('"Score Lead" = [{ step = "change_scroe", change = "+5" }]\n', encoding="utf-8")
    assert main(["import", *BROWSE_ONLY, "-o", str(tmp_path / "s.toml"), "--flows", str(flows)]) == 2
    assert capsys.readouterr().err == (
        f'error: {flows}: campaign "Score Lead", step 1 (change_scroe): unknown step '
        f'"change_scroe"; did you mean "change_score"?\n'
        "1 problem found; nothing was written.\n"
    )


def test_output_that_does_not_load_is_reported_as_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        sim.import_command, "translate", lambda *a, **k: Translation(text="[sim]\nseed = 'x'\n", report=None)
    )  # type: ignore[arg-type]
    out = tmp_path / "s.toml"
    assert main(["import", str(ACME), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: sim import wrote {out}, and it does not load: a bug in sim import;\n")
    assert err.endswith(f'error: {out}: [sim]: "seed" must be an integer, not a string ("x")\n')
    assert not out.exists()


def test_write_import_writes_the_replay_beside_the_scenario(tmp_path: Path) -> None:
    traffic = Traffic(
        start=datetime(2026, 3, 2, 8, tzinfo=UTC),
        duration=3600.0,
        replay="time,person,activity,page\n60,5001,visit_page,/pricing\n",
        people=("5001",),
        fields={},
        requested=(),
        external={"Visit Webpage": 1},
        produced={},
        skipped={},
    )
    written = write_import(read_export([ACME]), output=tmp_path / "acme.toml", traffic=traffic)
    assert written.replay == tmp_path / "acme-activities.csv"
    assert written.replay.read_text(encoding="utf-8") == traffic.replay
    assert 'csv = "acme-activities.csv"' in (tmp_path / "acme.toml").read_text(encoding="utf-8")
    assert len(written.scenario.replays[0]) == 1
    assert main(["run", str(tmp_path / "acme.toml")]) == 0


def test_help_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    assert "--report-json PATH" in capsys.readouterr().out


def test_the_scenario_on_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(ACME), "-o", "-"]) == 0
    printed = capsys.readouterr()
    assert printed.out == (DATA / "acme-import-expected.toml").read_text(encoding="utf-8")
    assert printed.err.startswith('campaign 1001 "Contact Us Form Fill": trigger\n')


# --- the activity export and a live fetch, through the command ------------------------------

ACTIVITIES = DATA / "acme-activities"


def test_activities_become_the_load_and_compare_matches_the_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """import -> check -> run -> compare: the export's 47 external activities are the
    replay, its people and fields declared; compare runs it as it is and finds every
    campaign's runs equal to the instance's (no queue: the lags alone differ)."""
    out = tmp_path / "acme.toml"
    export = ["--activities", str(ACTIVITIES / "acme-activities.csv"), "--types", str(ACTIVITIES / "types.json")]
    assert main(["import", str(ACME), "-o", str(out), *export]) == 0
    printed = capsys.readouterr()
    assert printed.err == (
        f"{out}: ok: 6 campaigns (3 trigger, 2 executable, 1 batch), 13 steps, 19 people, 47 timed activities "
        "(1 CSV file), 0 generators, 4h21m48s simulated\n"
    )
    assert (
        "note: activities load: 1 Change Data Value, 10 Click Link, 22 Fill Out Form, 14 Visit Webpage" in printed.out
    )
    replay = tmp_path / "acme-activities.csv"
    assert replay.read_text(encoding="utf-8") == (DATA / "acme-imported.csv").read_text(encoding="utf-8")
    assert 'csv = "acme-activities.csv"' in out.read_text(encoding="utf-8")
    assert main(["run", str(out)]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), *export]) == 0
    compared = capsys.readouterr().out
    assert "the scenario already replays this export" in compared
    runs = [line.split() for line in compared.splitlines() if line.split()[-4:-3] == ["runs"]]
    assert {(row[-5], row[-3], row[-2], row[-1]) for row in runs} == {
        ("1001", "19", "19", "0"),
        ("1002", "19", "19", "0"),
        ("1003", "19", "19", "0"),
        ("1004", "19", "19", "0"),
        ("1005", "0", "0", "0"),
        ("1006", "24", "24", "0"),
    }


def test_two_activity_types_files_must_be_told_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "types.json").write_bytes((ACTIVITIES / "types.json").read_bytes())
    csv = str(ACTIVITIES / "acme-activities.csv")
    args = ["import", str(ACME), str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "x.toml")]
    assert main([*args, "--activities", csv]) == 2
    err = capsys.readouterr().err
    assert "holds 2 activity types files" in err and "name one with --types" in err
    assert not (tmp_path / "x.toml").exists()
    assert main([*args, "--activities", csv, "--types", str(ACTIVITIES / "types.json")]) == 0


def test_where_the_export_comes_from_is_one_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.toml")
    assert main(["import", "-o", out]) == 2
    assert capsys.readouterr().err == (
        "error: give the export (a directory or its JSON files), or --instance URL to fetch it\n"
    )
    # argparse gives --activities every path after it: the export too.
    assert main(["import", "-o", out, "--activities", "acts.csv", str(ACME)]) == 2
    assert capsys.readouterr().err == (
        "error: give the export (a directory or its JSON files), or --instance URL to fetch it (an export given "
        "after --activities is read as an activity file: put it first)\n"
    )
    assert main(["import", str(ACME), "-o", out, "--instance", "https://123-ABC-456.mktorest.com"]) == 2
    assert capsys.readouterr().err == (f"error: give the export's files ({ACME}) or --instance to fetch it, not both\n")
    assert main(["import", str(ACME), "-o", out, "--fetch-dir", str(tmp_path)]) == 2
    assert "without --instance, give the folder as the export" in capsys.readouterr().err
    assert not (tmp_path / "x.toml").exists()


def test_an_instance_is_fetched_imported_and_its_secret_shown_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--instance against a real local HTTP server serving recorded answers (an expired
    token on the way): the fetch lands beside the scenario as NAME-marketo, is imported
    like any export, and the secret (only ever in the environment) is in no output or file."""
    from marketo_server import CLIENT_ID, FakeMarketo, serve

    secret = "acme-SECRET/import+9="
    monkeypatch.setenv("MARKETO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MARKETO_CLIENT_SECRET", secret)
    out = tmp_path / "live.toml"
    with serve(FakeMarketo(secret=secret)) as server:
        server.fail["/rest/asset/v1/smartCampaign/1003/smartList.json"] = ["602"]
        assert main(["import", "--instance", server.base_url, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "7 campaigns read, 6 written." in printed.out
    assert f"wrote 17 files into {tmp_path / 'live-marketo'}" in printed.err
    assert (tmp_path / "live-marketo" / "smartCampaigns.json").exists()
    assert '[programs."Lead Lifecycle"]' in out.read_text(encoding="utf-8")  # the programs answer is fetched too
    assert main(["check", str(out)]) == 0
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert all(secret.encode() not in data for data in written)
    assert secret not in printed.out + printed.err + capsys.readouterr().err
    # A second fetch into the same folder would mix two instances' answers: refused, with
    # the way to import what is there.
    with serve(FakeMarketo(secret=secret)) as server:
        assert main(["import", "--instance", server.base_url, "-o", str(out)]) == 2
        assert server.seen == []
    fetched = tmp_path / "live-marketo"
    assert capsys.readouterr().err == (
        f"error: {fetched}, where --instance fetches to for -o {out}, holds an earlier fetch: import it without "
        f"fetching (sim import {fetched} -o {out}), or fetch anew into --fetch-dir DIR\n"
    )


def test_an_api_request_replays_against_the_campaign_its_id_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two campaigns called "Welcome" (ids 3 and 5): the export's request of id 5 is
    replayed against "Welcome (5)", the name the scenario gives campaign 5."""
    requested = rule("Campaign is Requested", "is", condition("Source", "is", "Web Service API"))
    campaigns = [campaign(3, "Welcome"), campaign(5, "Welcome")]
    write_answer(tmp_path / "c.json", campaigns)
    write_answer(tmp_path / "s.json", [smart_list(3, [requested]), smart_list(5, [requested])])
    activities = tmp_path / "activities.csv"
    activities.write_text(
        "marketoGUID,leadId,activityDate,activityTypeId,campaignId,primaryAttributeValueId,primaryAttributeValue,"
        "attributes\n"
        '1,10,2026-03-02T09:00:00Z,47,,5,Welcome,"{""Source"": ""Web Service API""}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out" / "t.toml"
    out.parent.mkdir()
    argv = ["import", str(tmp_path / "c.json"), str(tmp_path / "s.json"), "-o", str(out)]
    assert main([*argv, "--activities", str(activities)]) == 0
    capsys.readouterr()
    assert (tmp_path / "out" / "t-activities.csv").read_text(encoding="utf-8").splitlines() == [
        "time,person,activity,form,link,page,field,value,campaign,source",
        "0,10,request_campaign,,,,,,Welcome (5),web_service_api",
    ]


def write_answer(path: Path, records: list[dict[str, object]]) -> None:
    """An Asset API answer holding ``records``, as Marketo sends it."""
    path.write_text(json.dumps({"success": True, "errors": [], "warnings": [], "result": records}), encoding="utf-8")


def test_a_sales_insight_request_imports_and_an_unrequestable_one_names_its_first_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requested = rule("Campaign is Requested", "is", condition("Source", "is", "Sales Insight"))
    write_answer(tmp_path / "c.json", [campaign(7, "SI"), campaign(8, "Off", isActive=False)])
    write_answer(tmp_path / "s.json", [smart_list(7, [requested]), smart_list(8, [requested])])
    head = "leadId,activityDate,activityTypeId,primaryAttributeValueId,primaryAttributeValue,attributes\n"
    row = '10,2026-03-02T09:00:00Z,47,{},{},"{{""Source"": ""Sales Insight""}}"\n'
    activities = tmp_path / "activities.csv"
    activities.write_text(head + row.format(7, "SI"), encoding="utf-8")
    argv = ["import", str(tmp_path / "c.json"), str(tmp_path / "s.json"), "-o", str(tmp_path / "t.toml")]
    assert main([*argv, "--activities", str(activities)]) == 0
    capsys.readouterr()
    activities.write_text(head + row.format(7, "SI") + row.format(8, "Off") * 2, encoding="utf-8")
    assert main([*argv, "--activities", str(activities)]) == 2
    assert capsys.readouterr().err == (
        f'error: {activities}:3: the first row requesting campaign "Off" from Sales Insight (R3): it is inactive; '
        'make campaign "Off" requestable from Sales Insight, or leave its rows out of the activity export\n'
        "1 problem found; nothing was written.\n"
    )


def test_a_fetch_that_imports_badly_is_kept_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from marketo_server import CLIENT_ID, FakeMarketo, serve

    monkeypatch.setenv("MARKETO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MARKETO_CLIENT_SECRET", "s3cret")
    out = tmp_path / "live.toml"
    with serve(FakeMarketo(secret="s3cret")) as server:
        argv = ["import", "--instance", server.base_url, "-o", str(out), "--activities", str(tmp_path / "none.csv")]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"1 problem found; nothing was written but the fetch, kept in {tmp_path / 'live-marketo'}.\n")
    assert (tmp_path / "live-marketo" / "smartCampaigns.json").exists() and not out.exists()
