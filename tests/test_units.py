from __future__ import annotations

import pytest

from sim.scenario.units import format_duration, parse_duration, parse_rate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("3d", 259200.0),
        ("4 hours", 14400.0),
        ("1 month", 2592000.0),  # R18: a month is 30 days
        ("500ms", 0.5),
        (90, 90.0),
        (1.5, 1.5),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5", "5x", "h", "-3s", True, -1, [1], "2h and", float("nan"), float("inf"), "1" + "0" * 400 + "d"]
)
def test_parse_duration_rejects_with_hint(text: object) -> None:
    with pytest.raises(ValueError, match=r"duration|negative|too long"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("3600/h", 1.0), ("20000/h", 20000 / 3600), ("5/s", 5.0), ("1/5m", 1 / 300), ("100/d", 100 / 86400)],
)
def test_parse_rate(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["20000", "x/h", "5/0s", "5/x", 5, "inf/s", "nan/s", "1e400/h"])
def test_parse_rate_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (300, "5m"), (9000, "2h30m"), (273600, "3d4h"), (0.25, "250ms")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_durations_are_rounded_to_the_microsecond_and_at_most_100_years() -> None:
    from sim.scenario.units import MAX_SECONDS

    assert parse_duration("1.5ms") == 0.0015  # 1.5 * 0.001 is 0.0015000000000000000312 in floats
    assert parse_duration(0.1 + 0.2) == 0.3
    assert parse_duration("0.0000004s") == 0.0
    assert parse_duration("36500d") == MAX_SECONDS
    for too_long in ("36500d1s", 10**309, 1e308, "9" * 400 + "s", float("inf")):
        with pytest.raises(ValueError, match="too long; a duration is at most 36500d"):
            parse_duration(too_long)
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(float("nan"))


def test_show_cuts_what_is_too_long_to_read() -> None:
    from sim.scenario.units import show

    assert show(10**309) == "100000000000...(310 digits)"
    assert show(-(10**5000)) == "-an integer of about 5,000 digits"
    assert show("x" * 500) == '"' + "x" * 49 + "... (502 characters)"
    assert show([1, "a"]) == '[1, "a"]'
