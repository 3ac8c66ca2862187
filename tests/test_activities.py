"""sim.marketo.activities: the Bulk Activity Extract CSV, Get Lead Activities pages and the
activity types, read as Marketo documents them; every malformed row a message naming its
file and line or JSON path, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from sim.marketo.activities import (
    PROBLEMS_PER_FILE,
    ActivityRecord,
    Problems,
    read_activity_records,
    read_activity_types,
)
from sim.marketo.activity_types import DEFAULT_ACTIVITY_TYPES
from sim.marketo.problems import ExportError

DATA = Path(__file__).parent / "data" / "marketo" / "acme-activities"
BAD = DATA / "malformed"


def records(path: Path | str) -> tuple[list[ActivityRecord], list[str]]:
    problems = Problems()
    found = list(read_activity_records(str(path), problems))
    return found, [str(p) for p in problems.all()]


def test_the_bulk_extract_csv_of_acme_is_read_row_by_row() -> None:
    found, problems = records(DATA / "acme-activities.csv")
    assert problems == []
    assert len(found) == 248
    first = found[0]
    assert first == ActivityRecord(
        guid="700001",
        lead="5024",
        date=datetime(2026, 3, 2, 9, 5, 36, tzinfo=UTC),
        type_id=1,
        campaign_id=None,
        primary_id=3001,
        primary="acme.example/pricing",
        attributes={"Webpage URL": "/pricing", "Client IP Address": "203.0.113.7"},
        file=str(DATA / "acme-activities.csv"),
        where="2",
    )
    assert {r.type_id for r in found} == {1, 2, 3, 10, 12, 13, 22, 24, 46, 47}


def test_the_lead_activities_pages_hold_the_same_activities_as_the_csv() -> None:
    csv_rows, _ = records(DATA / "acme-activities.csv")
    by_guid = {r.guid: r for r in csv_rows}
    pages = []
    for page in ("lead-activities-page1.json", "lead-activities-page2.json"):
        found, problems = records(DATA / page)
        assert problems == []
        pages += found
    assert len(pages) == 31
    assert pages[0].where == "$.result[0]"
    for record in pages:
        assert attrs.evolve(record, file="", where="") == attrs.evolve(by_guid[record.guid], file="", where="")


def test_the_header_may_name_the_columns_in_any_order_and_leave_optional_ones_out(tmp_path: Path) -> None:
    export = tmp_path / "few.csv"
    export.write_text("activityTypeId,activityDate,leadId\n3,2026-03-02 10:00:00+0100,17\n", encoding="utf-8")
    (record,), problems = records(export)
    assert problems == []
    assert (record.lead, record.type_id, record.campaign_id, record.attributes) == ("17", 3, None, {})
    assert record.date == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # any offset, made UTC; none given means UTC


def test_activity_types_are_read_from_the_get_activity_types_response() -> None:
    types = read_activity_types(str(DATA / "types.json"))
    assert types[10].name == "Open Email"
    assert types[10].sim_activity is None
    assert types[2].sim_activity == "fill_out_form"
    assert {i: t.name for i, t in types.items() if i in DEFAULT_ACTIVITY_TYPES} == DEFAULT_ACTIVITY_TYPES


def test_every_problem_of_a_bad_csv_names_its_line() -> None:
    found, problems = records(BAD / "bad-rows.csv")
    assert [r.guid for r in found] == ["800001"]
    shown = str(BAD / "bad-rows.csv")
    assert [p.removeprefix(shown) for p in problems] == [
        ':3: "leadId": a lead id is a whole number >= 1, not "lead-7"',
        ':4: "activityDate": "yesterday" is not an ISO 8601 date and time such as "2024-03-04T09:15:00Z"',
        ':5: "activityTypeId": an activity type id is a whole number >= 1, not "Visit Webpage"',
        ':6: "campaignId": an id is a whole number >= 1 or empty, not "Score Lead"',
        ':7: "primaryAttributeValueId": an id is a whole number >= 1 or empty, not "x31"',
        ':8: "attributes": not a JSON object: "{New Value: Engaged}"',
        ':9: "attributes": must be a JSON object of name: value, not an array',
        ':10: "attributes": attribute "New Value" must be a plain value (text, number, true/false or null)',
        ":11: 4 cells, but the header names 9 columns",
        ':12: "leadId": a lead id is a whole number >= 1, not empty',
    ]


def test_a_bad_header_says_which_column_it_meant() -> None:
    found, problems = records(BAD / "bad-header.csv")
    shown = str(BAD / "bad-header.csv")
    assert found == []
    assert [p.removeprefix(shown) for p in problems] == [
        ':1: unknown column "leadID"; did you mean "leadId"?',
        ':1: unknown column "activityType"; did you mean "activityTypeId"?',
        ':1: the header has no "leadId" column; leadId, activityDate, activityTypeId are required',
        ':1: the header has no "activityTypeId" column; leadId, activityDate, activityTypeId are required',
    ]


def test_every_problem_of_a_bad_page_names_its_json_path() -> None:
    found, problems = records(BAD / "bad-page.json")
    shown = str(BAD / "bad-page.json")
    assert [r.guid for r in found] == ["900001"]
    assert [p.removeprefix(shown) for p in problems] == [
        ': $.result[1].leadId: a lead id is a whole number >= 1, not "abc"',
        ': $.result[2].activityDate: 1772442000 is not an ISO 8601 date and time such as "2024-03-04T09:15:00Z"',
        ": $.result[3].activityTypeId: an activity type id is a whole number >= 1, not 0",
        ": $.result[4].campaignId: an id is a whole number >= 1 or empty, not -4",
        ': $.result[5].attributes[0]: an attribute must be {"name": ..., "value": ...}',
        ": $.result[6]: an activity must be an object, not a string",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "failed-response.json",
            ": $.success: the response says the request failed (601 Access token invalid); fetch it again",
        ),
        ("truncated.json", ": not JSON: Expecting value at line 1, column 30"),
        ("missing.csv", ": cannot read: No such file or directory"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_problem(name: str, message: str) -> None:
    assert records(BAD / name) == ([], [str(BAD / name) + message])


def test_an_empty_file_a_binary_file_and_a_non_csv_say_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "zeros.csv"
    binary.write_bytes(b"\0" * (2**20 + 10))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("leadId,activityDate,activityTypeId\n1,2026-03-02T09:00:00Z,1,caf\xe9\n".encode("latin-1"))
    plain = tmp_path / "notes.csv"
    plain.write_text("hello,world\n1,2\n")
    assert records(empty)[1] == [
        f"{empty}:1: the file is empty; a Bulk Activity Extract starts with marketoGUID,leadId,activityDate,"
        "activityTypeId,campaignId,primaryAttributeValueId,primaryAttributeValue,attributes"
    ]
    assert records(binary)[1] == [f"{binary}:1: a line longer than 1 MB: not an activity export"]
    assert records(latin)[1][0].startswith(f"{latin}: not UTF-8 text: ")
    assert records(plain)[1] == [
        f'{plain}:1: the first row must name the columns, e.g. "marketoGUID,leadId,activityDate,activityTypeId,'
        'campaignId,primaryAttributeValueId,primaryAttributeValue,attributes"; it is "hello,world"'
    ]


def test_problems_past_twenty_in_a_file_are_counted(tmp_path: Path) -> None:
    export = tmp_path / "bad.csv"
    export.write_text("leadId,activityDate,activityTypeId\n" + "x,2026-03-02T09:00:00Z,1\n" * 25, encoding="utf-8")
    _, problems = records(export)
    assert len(problems) == PROBLEMS_PER_FILE + 1
    assert problems[-1] == f"{export}: 5 more problems in this file not shown"


def test_bad_activity_types_raise_every_problem() -> None:
    with pytest.raises(ExportError) as caught:
        read_activity_types(str(BAD / "bad-types.json"))
    shown = str(BAD / "bad-types.json")
    assert [str(p).removeprefix(shown) for p in caught.value.problems] == [
        ': $.result[1].id: the id must be a whole number >= 1, not "two"',
        ": $.result[2].name: the name must be a non-empty string, not empty",
        ": $.result[3].id: activity type 1 appears twice",
        ": $.result[4]: an activity type must be an object, not an array",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", ': $: a REST response is an object {"success": ..., "result": [...]}, not an array'),
        ('{"success": true, "result": {"id": 1}}', ": $.result: must be an array, not an object"),
        (
            '{"result": [{"leadId": 1, "activityDate": "2026-03-02T09:00:00Z", "activityTypeId": 1, '
            '"primaryAttributeValue": ["a"]}]}',
            ": $.result[0].primaryAttributeValue: must be text, not an array",
        ),
        (
            '{"result": [{"leadId": 1, "activityDate": "2026-03-02T09:00:00Z", "activityTypeId": 1, "attributes": 7}]}',
            ": $.result[0].attributes: must be a JSON object of name: value, not a number",
        ),
    ],
)
def test_every_problem_of_a_json_envelope(tmp_path: Path, text: str, message: str) -> None:
    page = tmp_path / "page.json"
    page.write_text(text, encoding="utf-8")
    assert records(page) == ([], [f"{page}{message}"])


def test_a_column_twice_and_types_with_none_are_problems(tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("leadId,activityDate,activityTypeId,leadId\n", encoding="utf-8")
    assert records(twice)[1] == [f'{twice}:1: column "leadId" appears twice']
    empty = tmp_path / "types.json"
    empty.write_text('{"success": true, "result": []}', encoding="utf-8")
    with pytest.raises(ExportError, match=r"\$\.result: no activity types; give the Get Activity Types response"):
        read_activity_types(str(empty))


def test_a_types_file_that_is_not_one_or_is_another_mapping_is_refused(tmp_path: Path) -> None:
    """A smart campaigns answer given as --types, or the load's own types (1, 2, 3: fixed
    in every instance) named otherwise, would silently turn the load into something else."""
    campaigns = Path(__file__).parent / "data" / "marketo" / "acme" / "smartCampaigns.json"
    with pytest.raises(ExportError) as caught:
        read_activity_types(str(campaigns))
    assert [p.message for p in caught.value.problems] == [
        "these records have no primaryAttribute or attributes: not an activity types answer (GET "
        "/rest/v1/activities/types.json); a smart campaigns answer belongs among the export's files, not --types"
    ]
    swapped = (DATA / "types.json").read_text(encoding="utf-8")
    swapped = swapped.replace('"Fill Out Form"', '"@@"').replace('"Open Email"', '"Fill Out Form"')
    (tmp_path / "types.json").write_text(swapped.replace('"@@"', '"Open Email"'), encoding="utf-8")
    with pytest.raises(ExportError) as caught:
        read_activity_types(str(tmp_path / "types.json"))
    assert [p.message for p in caught.value.problems] == [
        'activity type 2 is "Open Email" here, but "Fill Out Form" in every Marketo instance: is this an '
        "instance's GET /rest/v1/activities/types.json?"
    ]


def test_an_answer_of_another_kind_or_a_folder_given_as_activities_says_where_it_belongs() -> None:
    acme = Path(__file__).parent / "data" / "marketo" / "acme"
    problems = Problems()
    for path in (DATA / "types.json", acme / "smartCampaigns.json", acme):
        assert list(read_activity_records(str(path), problems)) == []
    assert [str(p) for p in problems.shown] == [
        f"{DATA / 'types.json'}: $.result: this is the activity types answer (activities/types.json), not "
        "activities: give it with --types",
        f"{acme / 'smartCampaigns.json'}: $.result: this is an Asset API answer (smart campaigns or smart lists), "
        "not activities: give it as the export, before --activities",
        f"{acme}: a folder: give the export's files (Bulk Activity Extract CSV, Get Lead Activities JSON)",
    ]


def test_a_semicolon_separated_export_is_named_as_such(tmp_path: Path) -> None:
    export = tmp_path / "acts.csv"
    export.write_text("marketoGUID;leadId;activityDate;activityTypeId\n1;2;2026-03-02T09:00:00Z;2\n", encoding="utf-8")
    problems = Problems()
    assert list(read_activity_records(str(export), problems)) == []
    assert [str(p) for p in problems.shown] == [
        f"{export}:1: the columns are separated by ';' (a spreadsheet's export in some locales): save it as CSV "
        "with commas, as Marketo's Bulk Activity Extract writes it"
    ]
