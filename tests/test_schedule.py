"""Schedule strings: parsing, formatting, and replaying a schedule exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.run.schedule import ReplayStrategy, ScheduleError, deviations_of, format_schedule, parse_schedule


def test_a_schedule_string_is_its_deviations_from_the_oldest_first_order() -> None:
    assert parse_schedule("3:1,17:2") == {3: 1, 17: 2}
    assert parse_schedule(" 3 : 1 , 17:2 ,") == {3: 1, 17: 2}
    assert parse_schedule("") == {}
    assert parse_schedule("4:0") == {}  # the oldest is no deviation
    assert format_schedule({17: 2, 3: 1, 5: 0}) == "3:1,17:2"
    assert deviations_of([(2, 0), (3, 1), (2, 0), (4, 3)]) == {2: 1, 4: 3}


@given(st.dictionaries(st.integers(1, 10_000), st.integers(1, 50)))
def test_format_and_parse_round_trip(deviations: dict[int, int]) -> None:
    assert parse_schedule(format_schedule(deviations)) == deviations


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x", "'x' is not POINT:CHOICE"),
        ("3:1,3:2", "choice point 3 is given twice"),
        ("0:1", "choice points count from 1, not 0"),
        ("3:-1", "'3:-1' is not POINT:CHOICE"),
    ],
)
def test_bad_schedule_strings_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_replay_takes_each_deviation_at_its_point_and_the_oldest_elsewhere() -> None:
    strategy = ReplayStrategy({2: 1, 3: 2})
    assert [strategy.choose(3), strategy.choose(2), strategy.choose(3), strategy.choose(5)] == [0, 1, 2, 0]
    assert strategy.points == 4
    with pytest.raises(ScheduleError, match="candidate 4 at choice point 1, which has only 2"):
        ReplayStrategy({1: 4}).choose(2)
