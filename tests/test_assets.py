"""sim.marketo.assets and asset_records: an export's files read and classified by content;
every problem named by its file and JSON path (or line), all of them at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.marketo.asset_records import Condition, Recurrence, Rule
from sim.marketo.assets import read_export
from sim.marketo.problems import ExportError

DATA = Path(__file__).parent / "data" / "marketo"
ACME = DATA / "acme"
BAD = DATA / "bad"


def problems(*paths: Path | str) -> list[str]:
    with pytest.raises(ExportError) as caught:
        read_export(list(paths))
    return [str(p) for p in caught.value.problems]


def test_a_directory_is_read_whole_and_each_file_classified_by_content() -> None:
    export = read_export([ACME])
    assert list(export.campaigns) == [1001, 1002, 1003, 1004, 1005, 1006, 1007]
    assert list(export.smart_lists) == [4001, 4002, 4003, 4004, 4005, 4006, 4007]
    assert [(p.id, p.name) for p in export.programs.values()] == [(2001, "Lead Lifecycle")]
    assert len(export.files) == 16
    # The browse answer has no flows; the by-id answers do, and they win.
    assert all(c.flow is not None for c in export.campaigns.values())
    assert export.activity_files == () and export.activity_type_files == ()


def test_the_records_hold_what_the_api_sent() -> None:
    export = read_export([ACME])
    nightly = export.campaigns[1005]
    assert (nightly.type, nightly.qualification, nightly.smart_list_id, nightly.program_id) == (
        "batch",
        "any",
        4005,
        2001,
    )
    assert nightly.recurrence == Recurrence(
        start_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC), interval_type="Daily", interval=1, weekday_only=False
    )
    pricing = export.campaigns[1006]
    assert (pricing.qualification, pricing.qualification_interval, pricing.qualification_unit) == ("interval", 1, "day")
    rules = export.smart_lists[4005]
    assert (rules.match, rules.logic) == ("custom", "1 and (2 or 3)")
    assert rules.filters[2] == Rule(
        number=3,
        name="Member of Program",
        rule_type="Activity",
        operator="in",
        conditions=(
            Condition(name="Program", operator="in", values=("Lead Lifecycle",), primary=True),
            Condition(name="Program Status", operator="is", values=("Member",)),
        ),
    )
    steps = export.campaigns[1001].flow or ()
    assert [s.type_name for s in steps] == ["Change Data Value", "Change Score", "Request Campaign", "Execute Campaign"]
    first = steps[0].choices
    assert [c.default for c in first] == [False, True]
    assert first[0].attribute("new value") == "Engaged US"


def test_the_documented_example_record_reads() -> None:
    """The "Process Bounced Emails" record of the Asset API's smart campaign page."""
    record = read_export([DATA / "docs-example"]).campaigns[1001]
    assert (record.name, record.type, record.is_active, record.status) == (
        "Process Bounced Emails",
        "batch",
        False,
        "Never Run",
    )
    assert record.recurrence == Recurrence() and record.flow is None and record.program_id is None


def test_match_types_are_accepted_as_the_api_and_the_ui_write_them(tmp_path: Path) -> None:
    for written, read in (("All", "all"), ("ANY", "any"), ("Advanced", "custom"), ("custom", "custom")):
        answer = {
            "success": True,
            "result": [{"id": 1, "rules": {"filterMatchType": written, "filterCustomRuleLogic": "1"}}],
        }
        (tmp_path / "sl.json").write_text(json.dumps(answer), encoding="utf-8")
        assert read_export([tmp_path / "sl.json"]).smart_lists[1].match == read


def test_an_executable_flag_is_taken_when_a_payload_has_one(tmp_path: Path) -> None:
    base = {"id": 1, "name": "Score", "isActive": False, "isRequestable": False, "smartListId": 1}
    answer = {
        "success": True,
        "result": [base | {"type": "executable"}, base | {"id": 2, "type": "batch", "isExecutable": True}],
    }
    (tmp_path / "c.json").write_text(json.dumps(answer), encoding="utf-8")
    assert [c.is_executable for c in read_export([tmp_path]).campaigns.values()] == [True, True]


def test_every_problem_of_every_bad_file_at_once() -> None:
    b = f"{BAD}/"
    expected = (
        'sim import reads answers of Marketo\'s REST API, {"success": true, "result": [...]}, of smart campaigns, '
        "smart lists (with rules), programs, activity types or lead activities (docs/import.md)"
    )
    assert problems(BAD) == [
        f"{b}failed.json: $.success: the API answered false (601 Access token invalid); fetch it again",
        f"{b}not-an-answer.json: $: not an API answer: it is an array; {expected}",
        f'{b}rules.json: $.result[0].rules.filterMatchType: unknown match type "sometimes"; known: '
        f'"all", "any", "custom"',
        f"{b}rules.json: $.result[0].rules.triggers: must be an array, not an object ({{}})",
        f"{b}rules.json: $.result[0].rules.filters[1]: must be an object, not a string",
        f'{b}rules.json: $.result[0].rules.filters[0]: "name" is missing; the API always sends it here',
        f'{b}rules.json: $.result[0].rules.filters[0].conditions[0]: "activityAttributeName" (or "attributeName") is '
        "missing; it names the attribute",
        f"{b}syntax.json:2: not valid JSON: Expecting property name enclosed in double quotes (column 47); the API's "
        "answers are JSON as it sent them",
        f'{b}types.json: $.result[0].id: must be an integer, not a string ("1001")',
        f'{b}types.json: $.result[0].isActive: must be true or false, not a string ("yes")',
        f"{b}types.json: $.result[0].qualificationRuleInterval: must be at least 1, not 0",
        f'{b}types.json: $.result[0].qualificationRuleUnit: unknown unit "fortnight"; known: '
        f'"hour", "day", "week", "month"',
        f'{b}types.json: $.result[1]: "name" is missing; the API always sends it here',
        f'{b}types.json: $.result[1].type: unknown campaign type "nurture"; the API sends "batch", '
        f'"trigger" or "default"',
        f'{b}types.json: $.result[1].recurrence.startAt: "tomorrow" is not a date-time like "2026-03-02T02:00:00Z"',
        f"{b}unknown-kind.json: $.result[0]: records of an unknown kind (keys: email, id); {expected}",
    ]


def test_a_missing_path_and_an_empty_directory(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope", tmp_path) == [
        f"{tmp_path}/nope: no such file or directory",
        f"{tmp_path}: a directory with no *.json file",
    ]


def test_a_custom_match_type_without_its_logic(tmp_path: Path) -> None:
    answer = {"success": True, "result": [{"id": 1, "rules": {"filterMatchType": "custom", "filters": []}}]}
    (tmp_path / "sl.json").write_text(json.dumps(answer), encoding="utf-8")
    assert problems(tmp_path / "sl.json") == [
        f'{tmp_path}/sl.json: $.result[0].rules: "filterMatchType" is custom but "filterCustomRuleLogic" is missing; '
        'e.g. "1 and (2 or 3)"'
    ]


def test_an_empty_answer_is_no_problem(tmp_path: Path) -> None:
    (tmp_path / "none.json").write_text('{"success": true, "errors": [], "result": []}', encoding="utf-8")
    assert read_export([tmp_path]).campaigns == {}


def test_an_answer_without_a_result_is_an_empty_one_as_marketo_sends_the_last_page(tmp_path: Path) -> None:
    """Marketo leaves "result" out of the empty last page of a browse (and of Get Lead
    Activities): the recorded answer imports with the others, and adds nothing."""
    last = DATA / "recorded" / "smartCampaigns" / "offset-7.json"
    assert "result" not in json.loads(last.read_text(encoding="utf-8"))
    assert read_export([last]).campaigns == {}
    (tmp_path / "odd.json").write_text('{"errors": []}', encoding="utf-8")
    assert problems(tmp_path / "odd.json")[0].startswith(f"{tmp_path}/odd.json: $: not an API answer: it is an object")


def test_names_a_scenario_cannot_hold_are_refused_where_they_are(tmp_path: Path) -> None:
    campaigns = {
        "success": True,
        "result": [
            {"id": 1, "name": "", "type": "trigger", "isActive": True, "isRequestable": False},
            {"id": 2, "name": "Camp\u0007x", "type": "trigger", "isActive": True, "isRequestable": False},
        ],
    }
    programs = {"success": True, "result": [{"id": 9, "name": "Q1\n", "channel": "Webinar"}]}
    condition = {"activityAttributeName": "\u001bScore", "operator": "is", "values": ["5"]}
    lists = {"success": True, "result": [{"id": 3, "rules": {"filters": [{"name": " ", "conditions": [condition]}]}}]}
    for name, answer in (("c.json", campaigns), ("p.json", programs), ("s.json", lists)):
        (tmp_path / name).write_text(json.dumps(answer), encoding="utf-8")
    control = "holds a control character ({}), which a scenario file cannot hold; rename it in Marketo"
    assert problems(tmp_path) == [
        f"""{tmp_path}/c.json: $.result[0].name: the campaign's name is empty (""); name it in Marketo""",
        f"""{tmp_path}/c.json: $.result[1].name: the campaign's name "Camp\\u0007x" """ + control.format("U+0007"),
        f"""{tmp_path}/p.json: $.result[0].name: the program's name "Q1\\n" """ + control.format("U+000A"),
        f"""{tmp_path}/s.json: $.result[0].rules.filters[0].name: the rule's name is empty (" "); name it in Marketo""",
        f"{tmp_path}/s.json: $.result[0].rules.filters[0].conditions[0].activityAttributeName: the attribute's name "
        '"\\u001bScore" ' + control.format("U+001B"),
    ]


def test_activity_files_are_listed_for_the_activity_reader(tmp_path: Path) -> None:
    types = {
        "success": True,
        "result": [{"id": 1, "name": "Visit Webpage", "primaryAttribute": {"name": "Webpage ID"}}],
    }
    leads = {
        "success": True,
        "result": [{"id": 9, "leadId": 5001, "activityDate": "2026-03-02T08:00:00Z", "activityTypeId": 2}],
    }
    (tmp_path / "types.json").write_text(json.dumps(types), encoding="utf-8")
    (tmp_path / "activities.json").write_text(json.dumps(leads), encoding="utf-8")
    export = read_export([tmp_path])
    assert export.activity_type_files == (str(tmp_path / "types.json"),)
    assert export.activity_files == (str(tmp_path / "activities.json"),)
