"""sim.marketo.traffic and sim.marketo.external: an export's activities split into the
load (a CSV replay, docs/scenarios.md "CSV replay") and what campaigns produced (kept for
`sim compare`), with the people, fields and duration the scenario must declare."""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.marketo import external, map_rules
from sim.marketo.activities import COLUMNS, read_activity_types
from sim.marketo.external import form_fields
from sim.marketo.problems import ExportError
from sim.marketo.traffic import DRAIN, read_traffic
from sim.scenario import load_scenario

DATA = Path(__file__).parent / "data" / "marketo"


def write_export(path: Path, rows: list[tuple[Any, ...]]) -> str:
    """A Bulk Activity Extract CSV of ``rows`` (the attributes as a dict)."""
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)  # lines end in \r\n, as RFC 4180 has them
        writer.writerow(COLUMNS)
        for row in rows:
            cells = list(row) + [""] * (len(COLUMNS) - len(row))
            cells[7] = json.dumps(cells[7]) if cells[7] != "" else ""
            writer.writerow(["" if cell is None else cell for cell in cells])
    return str(path)


FORM = 'a:3:{s:7:"Country";s:2:"US";s:6:"formid";s:4:"1101";s:5:"Score";i:12;}'
SMALL = [
    (1, 7, "2026-03-02T10:00:30Z", 3, None, 4001, "https://acme.example/pricing", {}),
    (2, 8, "2026-03-02T10:00:00Z", 2, None, 1101, "Contact Us", {"Form Fields": FORM}),
    (3, 8, "2026-03-02T10:00:00Z", 13, None, 41, "Country", {"New Value": "US", "Source": "Web form fillout"}),
    (4, 8, "2026-03-02T10:00:05Z", 22, 1001, 31, "Lead Score", {"Change Value": "+10"}, "succeeded"),
    (5, 9, "2026-03-02T10:00:30Z", 47, None, 1003, "Sync to Sales", {"Source": "Web Service API"}),
    (6, 9, "2026-03-02T10:01:00Z", 13, None, 41, "Country", {"New Value": None, "Source": "Sales user"}),
    (7, 7, "2026-03-02T10:02:00Z", 1, None, 3001, "acme.example/pricing", {"Webpage URL": "/pricing"}),
    (8, 7, "2026-03-02T10:02:03Z", 22, 1006, 31, "Lead Score", {}, "skipped"),
    (9, 7, "2026-03-02T10:02:04Z", 10, None, 501, "Newsletter", {}),
    (10, 8, "2026-03-02T10:03:00Z", 99, None, None, "", {}),
    (11, 9, "2026-03-02T10:04:00Z", 24, None, 2102, "MQL", {}),
    (12, 9, "2026-03-02T11:00:00Z", 24, 1004, 2102, "MQL", {}),
]


def test_a_small_export_gives_this_exact_replay(tmp_path: Path) -> None:
    traffic = read_traffic([write_export(tmp_path / "export.csv", SMALL)])
    assert traffic.replay == (
        "time,person,activity,form,link,page,field,value,campaign,source,field.Country,field.Score\n"
        "0,8,fill_out_form,Contact Us,,,,,,,US,12\n"
        "30,7,click_link,,https://acme.example/pricing,,,,,,,\n"
        "30,9,request_campaign,,,,,,Sync to Sales,web_service_api,,\n"
        "60,9,change_data_value,,,,Country,NULL,,,,\n"
        "120,7,visit_page,,,/pricing,,,,,,\n"
    )
    assert traffic.start == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert traffic.duration == 3600 + DRAIN  # to the last activity of any kind, then an hour
    assert traffic.people == ("7", "9")  # 8 is created by its form fill
    assert traffic.fields == {"Country": "", "Score": 0}
    assert traffic.requested == ("Sync to Sales",)
    assert traffic.external == {
        "Change Data Value": 1,
        "Click Link": 1,
        "Fill Out Form": 1,
        "Request Campaign": 1,
        "Visit Webpage": 1,
    }
    assert traffic.produced == {"Add to List": 1, "Change Score": 1}
    assert traffic.skipped == {
        "Add to List (no campaignId)": 1,
        "Change Data Value (written by a form fill)": 1,
        "Change Score (skipped)": 1,
        "type 10 (not in the activity types)": 1,
        "type 99 (not in the activity types)": 1,
    }
    produced = traffic.produced_rows
    assert (list(produced.times), produced.leads, list(produced.campaigns)) == ([5.0, 3600.0], ("8", "9"), [1001, 1004])
    assert [produced.names[k] for k in produced.kinds] == ["Change Score", "Add to List"]
    assert [traffic.external_rows.names[k] for k in traffic.external_rows.kinds] == [
        "fill_out_form",
        "click_link",
        "request_campaign",
        "change_data_value",
        "visit_page",
    ]


def test_a_requested_campaign_is_named_as_the_scenario_names_it(tmp_path: Path) -> None:
    traffic = read_traffic([write_export(tmp_path / "e.csv", SMALL)], campaign_names={1003: "Sync"})
    assert traffic.requested == ("Sync",)
    assert "30,9,request_campaign,,,,,,Sync,web_service_api,," in traffic.replay.splitlines()


def test_a_flow_action_request_is_produced_and_an_api_request_without_source_is_external(tmp_path: Path) -> None:
    rows = [
        (1, 5, "2026-03-02T10:00:00Z", 47, 1001, 1003, "Sync to Sales", {"Source": "Marketo Flow Action"}),
        (2, 5, "2026-03-02T10:00:01Z", 47, None, 1003, "Sync to Sales", {}),
        (3, 5, "2026-03-02T10:00:02Z", 47, 1003, 1003, "Sync to Sales", {"Source": "Sales Insight"}),
    ]
    traffic = read_traffic([write_export(tmp_path / "e.csv", rows)])
    assert traffic.replay.splitlines()[1:] == [
        "0,5,request_campaign,,,,,,Sync to Sales,web_service_api",
        "1,5,request_campaign,,,,,,Sync to Sales,sales_insight",
    ]
    assert traffic.produced == {"Request Campaign": 1}
    assert list(traffic.produced_rows.times) == [-1.0]  # before t = 0: compare leaves it out


def test_rows_at_the_same_time_keep_the_order_of_the_files_and_duplicates_count_once(tmp_path: Path) -> None:
    first = write_export(tmp_path / "a.csv", [(1, 5, "2026-03-02T10:00:00Z", 3, None, 1, "L1", {})])
    second = write_export(
        tmp_path / "b.csv",
        [(2, 6, "2026-03-02T10:00:00Z", 3, None, 1, "L2", {}), (1, 5, "2026-03-02T10:00:00Z", 3, None, 1, "L1", {})],
    )
    traffic = read_traffic([second, first])
    assert traffic.replay.splitlines()[1:] == ["0,6,click_link,,L2,,,,,", "0,5,click_link,,L1,,,,,"]
    assert (traffic.records, traffic.duplicates) == (3, 1)


def test_an_instances_own_activity_types_name_what_it_exports(tmp_path: Path) -> None:
    types = read_activity_types(str(DATA / "acme-activities" / "types.json"))
    traffic = read_traffic([write_export(tmp_path / "e.csv", SMALL)], types=types)
    assert traffic.skipped["Open Email"] == 1


def test_problems_of_every_file_are_raised_together(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("leadId,activityDate,activityTypeId\nx,2026-03-02T10:00:00Z,1\n", encoding="utf-8")
    with pytest.raises(ExportError) as caught:
        read_traffic([str(bad), str(tmp_path / "gone.json")])
    assert [str(p) for p in caught.value.problems] == [
        f'{bad}:2: "leadId": a lead id is a whole number >= 1, not "x"',
        f"{tmp_path / 'gone.json'}: cannot read: No such file or directory",
    ]


def test_an_export_without_activities_is_a_problem(tmp_path: Path) -> None:
    empty = write_export(tmp_path / "e.csv", [])
    with pytest.raises(ExportError, match="no activities: give an activity export"):
        read_traffic([empty])


def test_the_acme_export_gives_the_replay_its_imported_scenario_holds() -> None:
    types = read_activity_types(str(DATA / "acme-activities" / "types.json"))
    traffic = read_traffic([str(DATA / "acme-activities" / "acme-activities.csv")], types=types)
    assert traffic.replay == (DATA / "acme-imported.csv").read_text(encoding="utf-8")
    assert traffic.external == {"Change Data Value": 1, "Click Link": 10, "Fill Out Form": 22, "Visit Webpage": 14}
    assert traffic.produced == {
        "Add to List": 19,
        "Change Data Value": 38,
        "Change Score": 63,
        "Interesting Moment": 19,
        "Request Campaign": 19,
    }
    assert traffic.skipped == {"Change Data Value (written by a form fill)": 19, "New Lead": 20, "Open Email": 4}
    assert traffic.duration == 15708.0


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        (FORM, (("Country", "US"), ("Score", "12"))),
        ('a:2:{s:4:"Name";s:4:"Zoë";s:3:"Opt";b:1;}', (("Name", "Zoë"), ("Opt", "true"))),
        ('a:2:{s:3:"Age";d:4.5;s:4:"Note";N;}', (("Age", "4.5"),)),
        ('{"Country": "DE", "munchkinId": "1"}', (("Country", "DE"),)),
        ('a:1:{s:9:"Country";s:2:"US";}', ()),  # a wrong length: not read
        ("Country=US", ()),
        (None, ()),
    ],
)
def test_form_fields_are_read_from_php_serialized_or_json(value: str | None, fields: tuple[Any, ...]) -> None:
    assert form_fields(value) == fields


# --- generated exports ----------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_VALUE = st.one_of(_TEXT, st.integers(-1000, 1000).map(str), st.just("NULL"))
_FIELD = st.sampled_from(["Country", "Lead Status", "Job Title", "Employees"])
_ACTIVITY = st.one_of(
    st.tuples(st.just(2), st.none(), _TEXT, st.dictionaries(_FIELD, _VALUE, max_size=3)),
    st.tuples(st.just(1), st.none(), _TEXT, st.none()),
    st.tuples(st.just(3), st.none(), _TEXT, st.none()),
    st.tuples(st.just(13), st.none(), _FIELD, _VALUE),
    st.tuples(st.just(47), st.none(), st.sampled_from(["Route", "Sync"]), st.just("Web Service API")),
    st.tuples(st.sampled_from([22, 24, 46]), st.sampled_from([1001, 1002]), _TEXT, st.none()),
)


def _attributes(type_id: int, extra: Any) -> dict[str, Any]:
    if type_id == 2:
        return {"Form Fields": json.dumps(extra)}
    if type_id == 13:
        return {"New Value": None if extra == "NULL" else extra, "Source": "Sales user"}
    if type_id == 47:
        return {"Source": extra}
    return {}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 7200), _ACTIVITY), max_size=25))
def test_any_well_formed_export_gives_a_replay_the_scenario_loader_accepts(
    generated: list[tuple[int, int, tuple[int, int | None, str, Any]]],
) -> None:
    """Every external activity becomes one row the loader reads back, whatever the text."""
    rows = [
        (
            n,
            lead,
            f"2026-03-02T10:{at // 60 % 60:02d}:{at % 60:02d}+0{at // 3600}00",
            type_id,
            campaign,
            1,
            primary,
            _attributes(type_id, extra),
        )
        for n, (lead, at, (type_id, campaign, primary, extra)) in enumerate(generated, start=1)
    ]
    rows.append((0, 1, "2026-03-02T09:00:00Z", 1, None, 1, "/", {}))  # never an empty export
    with tempfile.TemporaryDirectory() as folder:
        traffic = read_traffic([write_export(Path(folder) / "export.csv", rows)])
        (Path(folder) / "replay.csv").write_text(traffic.replay, encoding="utf-8")
        scenario: dict[str, Any] = {
            "fields": dict(traffic.fields),
            "person": [{"id": person} for person in traffic.people],
            "campaigns": {name: {"triggers": [{"trigger": "campaign_is_requested"}]} for name in traffic.requested},
            "load": [{"csv": "replay.csv"}],
        }
        path = Path(folder) / "scenario.toml"
        path.write_text(tomli_w.dumps(scenario), encoding="utf-8")
        loaded = load_scenario(path)
    assert len(loaded.replays[0]) == sum(traffic.external.values()) == len(traffic.external_rows)
    assert list(loaded.replays[0].times) == list(traffic.external_rows.times)
    assert loaded.replays[0].people == traffic.external_rows.leads


def test_progress_hears_every_50000_rows_and_each_files_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A million-row export takes a minute or more: the reader says how far it is."""
    monkeypatch.setattr("sim.marketo.traffic.PROGRESS_ROWS", 2)
    export = DATA / "acme-activities" / "acme-activities.csv"
    rows = export.read_text(encoding="utf-8").count("\n") - 1
    heard: list[tuple[str, int]] = []
    read_traffic([str(export)], progress=lambda file, count: heard.append((file, count)))
    assert heard == [(str(export), n) for n in range(2, rows + 1, 2)] + [(str(export), rows)]


def test_each_requested_campaign_and_source_keeps_where_its_first_row_is(tmp_path: Path) -> None:
    rows = [*SMALL, (13, 9, "2026-03-02T11:30:00Z", 47, None, 1003, "Sync to Sales", {"Source": "Sales Insight"})]
    path = write_export(tmp_path / "export.csv", [*rows, (14, 7, *rows[-1][2:])])
    assert read_traffic([path]).requests == {
        ("Sync to Sales", "web_service_api"): (path, "6"),
        ("Sync to Sales", "sales_insight"): (path, "14"),
    }


def test_the_request_sources_are_defined_once() -> None:
    """The importer's (Campaign is Requested triggers) and the traffic reader's (the load's
    Request Campaign rows) request sources are one table: Marketo Flow Action is a flow's."""
    assert external.REQUEST_SOURCES is map_rules.OUTSIDE_REQUEST_SOURCES
    assert external.REQUEST_SOURCES == {"web service api": "web_service_api", "sales insight": "sales_insight"}
    assert map_rules.REQUEST_SOURCES["marketo flow action"] == "marketo_flow_action"
