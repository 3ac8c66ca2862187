from __future__ import annotations

import pytest

from sim.units import format_duration, parse_duration, parse_rate


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
