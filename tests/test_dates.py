"""sim.marketo.dates: one parser for Marketo's date-times, shared by the Asset API reader
(a batch's recurrence) and the activity reader (an activity's date)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.marketo.activities import Problems, read_activity_records
from sim.marketo.assets import read_export
from sim.marketo.dates import parse_datetime

NINE_FIFTEEN = datetime(2024, 3, 4, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-04T09:15:00Z+0000",  # the Asset API, as its docs show it
        "2024-03-04T09:15:00Z",
        "2024-03-04T09:15:00+0000",
        "2024-03-04T09:15:00+00:00",
        " 2024-03-04T11:15:00+02:00 ",
        "2024-03-04T09:15:00",  # no offset: UTC
        "2024-03-04T09:15Z",
    ],
)
def test_every_form_marketo_writes_reads_the_same(text: str) -> None:
    assert parse_datetime(text) == NINE_FIFTEEN


@pytest.mark.parametrize("text", ["tomorrow", "", "2024-13-04T09:15:00Z", "2024-03-04T09:15:00ZZ", 20240304, None])
def test_what_is_no_date_time(text: object) -> None:
    assert parse_datetime(text) is None
    assert parse_datetime(text, date_only=True) is None


def test_a_date_alone_only_where_the_caller_allows_it() -> None:
    assert parse_datetime("2024-03-04") is None
    assert parse_datetime("2024-03-04", date_only=True) == datetime(2024, 3, 4, tzinfo=UTC)


def test_both_readers_take_the_asset_apis_form(tmp_path: Path) -> None:
    """The activity reader refused "...Z+0000", the Asset API reader a date alone and
    (before) each accepted what the other refused."""
    page = {
        "success": True,
        "result": [{"leadId": 7, "activityDate": "2024-03-04T09:15:00Z+0000", "activityTypeId": 1}],
    }
    (tmp_path / "page.json").write_text(json.dumps(page), encoding="utf-8")
    problems = Problems()
    assert [r.date for r in read_activity_records(str(tmp_path / "page.json"), problems)] == [NINE_FIFTEEN]
    assert problems.shown == []
    batch = {"id": 1, "name": "B", "type": "batch", "isActive": True, "isRequestable": False}
    batch["recurrence"] = {"startAt": "2024-03-04T09:15:00+00:00"}
    (tmp_path / "page.json").unlink()
    (tmp_path / "c.json").write_text(json.dumps({"success": True, "result": [batch]}), encoding="utf-8")
    assert read_export([tmp_path]).campaigns[1].recurrence.start_at == NINE_FIFTEEN
