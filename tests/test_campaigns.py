"""sim.marketo.campaigns: a record's kind (R1, R2, R4), qualification (R18), batch
schedule (R2) and the filters kept of its smart list's logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sim.marketo.asset_records import CampaignRecord, Condition, Origin, Recurrence, Rule, SmartListRecord
from sim.marketo.campaigns import campaign_kind, first_start, map_filters, qualification, schedule
from sim.marketo.declarations import Declarations
from sim.marketo.import_report import CampaignReport

ORIGIN = Origin(file="x.json", path="$.result[0]")
ZERO = datetime(2026, 3, 2, tzinfo=UTC)


def record(**more: object) -> CampaignRecord:
    return CampaignRecord(**({"id": 1, "name": "C", "origin": ORIGIN, "type": "batch"} | more))  # type: ignore[arg-type]


def rules(triggers: int = 0, filters: int = 0, match: str = "all", logic: str | None = None) -> SmartListRecord:
    def rule(n: int) -> Rule:
        return Rule(
            number=n,
            name=f"F{n}",
            rule_type="Attribute",
            operator="is",
            conditions=(Condition(name=f"F{n}", operator="is", values=("x",), primary=True),),
        )

    return SmartListRecord(
        id=1,
        origin=ORIGIN,
        match=match,
        logic=logic,
        triggers=tuple(rule(n) for n in range(1, triggers + 1)),
        filters=tuple(rule(n) for n in range(1, filters + 1)),
    )


def test_kinds() -> None:
    assert campaign_kind(record(type="trigger"), rules(1), ()) == "trigger"
    assert campaign_kind(record(type="batch"), rules(0, 2), ()) == "batch"
    assert campaign_kind(record(type="default"), None, {1}) == "executable"  # R4: something executes it
    assert campaign_kind(record(type="batch", is_executable=True), rules(0, 1), ()) == "executable"
    assert campaign_kind(record(type="trigger"), rules(1), {1}) == "trigger"  # triggers: cannot be an executable


@pytest.mark.parametrize(
    ("rule", "interval", "unit", "written"),
    [
        ("any", None, None, "every time"),
        ("interval", 2, "week", "once every 2 weeks"),
        ("interval", 1, "month", "once every 1 month"),
        ("once", None, None, None),
    ],
)
def test_qualification_rules(rule: str, interval: int | None, unit: str | None, written: str | None) -> None:
    report = CampaignReport(marketo_id=1, name="C")
    assert (
        qualification(record(qualification=rule, qualification_interval=interval, qualification_unit=unit), report)
        == written
    )


def at(hour: int, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("recurrence", "table", "first", "line"),
    [
        (
            Recurrence(start_at=at(2), interval_type="Daily", interval=1),
            {"at": "2h", "every": "daily"},
            7200.0,
            (
                "approximated",
                '{ at = "2h", every = "daily" } (starts 2026-03-02 02:00Z); '
                "a fixed UTC period: daylight saving time not modelled",
            ),
        ),
        (
            Recurrence(start_at=at(2, day=1), interval_type="Weekly", interval=2),
            {"at": "13d2h", "every": "14d"},
            (13 * 24 + 2) * 3600.0,
            (
                "approximated",
                '{ at = "13d2h", every = "14d" } (starts 2026-03-01 02:00Z); '
                "a fixed UTC period: daylight saving time not modelled",
            ),
        ),
        (
            Recurrence(start_at=at(5), interval_type="Monthly", interval=1, weekday_only=True),
            {"at": "5h", "every": "30d"},
            18000.0,
            (
                "approximated",
                '{ at = "5h", every = "30d" } (starts 2026-03-02 05:00Z); monthly as every 30 days; a fixed UTC '
                "period: daylight saving time not modelled; weekdayOnly not modelled: runs on weekends too",
            ),
        ),
        (Recurrence(start_at=at(9)), {"at": "9h"}, 32400.0, ("mapped", '{ at = "9h" } (starts 2026-03-02 09:00Z)')),
        (
            Recurrence(start_at=at(1), interval_type="Hourly", interval=1, end_at=at(3), unread=("dayOfWeek",)),
            {"at": "1h", "every": "hourly"},
            3600.0,
            (
                "approximated",
                '{ at = "1h", every = "hourly" } (starts 2026-03-02 01:00Z); recurrence dayOfWeek not read; '
                "endAt (at 3h) not modelled: keeps running",
            ),
        ),
        (
            Recurrence(start_at=at(2, day=1), end_at=at(23, day=1), interval_type="Hourly"),
            {"at": "0s"},
            None,
            ("skipped", "ended (2026-03-01 23:00Z, endAt) before time zero: written inactive"),
        ),
        (
            Recurrence(start_at=at(9, day=1)),
            {"at": "0s"},
            None,
            ("skipped", "its one run (2026-03-01 09:00Z) is before time zero: inactive"),
        ),
        (
            Recurrence(),
            {"at": "0s"},
            None,
            ("skipped", "not scheduled in Marketo (no recurrence.startAt): written inactive"),
        ),
    ],
)
def test_schedules_from_time_zero(
    recurrence: Recurrence, table: dict, first: float | None, line: tuple[str, str]
) -> None:
    report = CampaignReport(marketo_id=1, name="C")
    assert schedule(record(recurrence=recurrence), ZERO, report) == (table, first)
    assert (report.lines[0].outcome, report.lines[0].detail) == line


def test_time_zero_without_traffic_is_midnight_of_the_first_start() -> None:
    assert first_start([record(recurrence=Recurrence(start_at=at(14))), record()]) == ZERO
    assert first_start([record()]) is None


def test_a_batch_ended_before_the_latest_batch_start_does_not_set_time_zero() -> None:
    ended = record(recurrence=Recurrence(start_at=at(2, day=1), end_at=at(3, day=1), interval_type="Daily"))
    assert first_start([ended, record(recurrence=Recurrence(start_at=at(10)))]) == ZERO
    assert first_start([ended]) == ZERO - timedelta(days=1)


def test_any_keeps_filter_one_and_reports_the_rest() -> None:
    report = CampaignReport(marketo_id=1, name="C")
    filters = map_filters(rules(0, 2, match="any"), Declarations(), report)
    assert filters == [{"field": "F1", "op": "is", "value": "x"}]
    assert [(line.subject, line.outcome) for line in report.lines] == [
        ("filter logic", "approximated"),
        ('filter 1 "F1"', "mapped"),
        ('filter 2 "F2"', "skipped"),
    ]
    assert report.lines[0].detail.startswith('"any" kept as 1: sim ANDs filters')


def test_unreadable_custom_logic_ands_every_filter() -> None:
    report = CampaignReport(marketo_id=1, name="C")
    assert len(map_filters(rules(0, 2, match="custom", logic="1 nand 2"), Declarations(), report)) == 2
    assert (
        report.lines[0].detail == 'cannot read "nand 2" in "1 nand 2"; write e.g. "1 and (2 or 3)": every filter ANDed'
    )
