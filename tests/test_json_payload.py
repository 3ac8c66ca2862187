"""sim.marketo.json_payload: JSON read with its line and column on a syntax error, and
typed access that names the JSON path of every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.marketo.json_payload import Payload, Unreadable, load_json


def test_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"result": [\n  1,\n  ]\n}', encoding="utf-8")
    with pytest.raises(Unreadable) as caught:
        load_json(path, "a.json")
    assert str(caught.value.problem) == (
        "a.json:3: not valid JSON: Expecting value (column 3); the API's answers are JSON as it sent them"
    )


def test_a_byte_order_mark_is_fine_and_other_bytes_are_not(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"result": []}')
    assert load_json(path, "a.json") == {"result": []}
    path.write_bytes(b'{"name": "\xff"}')
    with pytest.raises(Unreadable) as caught:
        load_json(path, "a.json")
    assert str(caught.value.problem).startswith("a.json: not UTF-8 text:")


def test_typed_access() -> None:
    p = Payload(file="f.json")
    obj = {"id": 1001.0, "on": 1, "name": None, "values": ["a", 2, {}]}
    assert p.get(obj, "$", "id", int) == 1001  # a whole float is an integer
    assert p.get(obj, "$", "on", bool) is None  # 1 is not true
    assert p.get(obj, "$", "name", str, required=False) is None
    assert p.get(obj, "$", "gone", str) is None
    assert p.texts(obj, "$", "values") == ("a", "2")
    assert [str(problem) for problem in p.problems] == [
        "f.json: $.on: must be true or false, not an integer (1)",
        'f.json: $: "gone" is missing; the API always sends it here',
        "f.json: $.values[2]: must be a string or a number, not an object",
    ]


def test_a_cut_off_file_and_an_activity_export_say_what_they_are(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text('{"success": true, "result": [{"id": 1, "na', encoding="utf-8")
    with pytest.raises(Unreadable) as caught:
        load_json(cut, "cut.json")
    assert str(caught.value) == (
        "cut.json:1: not valid JSON: the file ends too soon (Unterminated string starting at): it looks cut off; "
        "export or download it again"
    )
    export = tmp_path / "acts.csv"
    export.write_text("marketoGUID,leadId,activityDate,activityTypeId\n1,2,2026-03-02T09:00:00Z,2\n", encoding="utf-8")
    with pytest.raises(Unreadable) as caught:
        load_json(export, "acts.csv")
    assert str(caught.value) == "acts.csv:1: an activity export (a CSV), not an API answer: give it with --activities"


def test_a_failed_answer_is_read_one_way_for_every_reader() -> None:
    """The asset reader, the activity reader and the live fetch share this reading."""
    from sim.marketo.json_payload import api_errors

    assert api_errors({"success": True, "result": []}) is None
    assert api_errors({"result": []}) is None
    failed = {"success": False, "errors": [{"code": "601", "message": "Access token invalid"}, "junk", {}]}
    assert api_errors(failed) == [("601", "Access token invalid"), ("?", "")]
    assert api_errors({"success": False}) == []
