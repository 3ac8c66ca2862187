"""Durations and rates as people write them: "2h", "1h30m", "4 hours", "20000/h"."""

from __future__ import annotations

import datetime
import json
import math
import re

#: Microseconds in a second: virtual time is kept on a grid of whole microseconds.
MICROS = 1_000_000


def micros(seconds: float) -> int:
    """``seconds`` in whole microseconds, rounded to the nearest."""
    return round(seconds * MICROS)


def later(time: float, delay: float) -> float:
    """The instant ``delay`` seconds after ``time``, as the kernel computes it: in whole
    microseconds (0.1 + 0.2 is 0.3 here, not 0.30000000000000004)."""
    return (micros(time) + micros(delay)) / MICROS


#: The longest duration a scenario may give: 100 years. Virtual times stay far below
#: 2**53 µs (285 years), where a float in seconds still holds every microsecond exactly.
MAX_SECONDS = 36_500 * 86_400
_MAX_SHOWN = "36500d (100 years)"


#: Unit word -> seconds. A month is 30 days (R18).
UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
    "mo": 2592000.0,
    "month": 2592000.0,
    "months": 2592000.0,
}


#: How much of a value a message shows.
SHOWN = 80


def show(value: object) -> str:
    """A value as it is written in TOML, for messages: true, "text", [1, 2], { a = 1 }.

    Cut to about `SHOWN` characters: a message about a 1 MB string need not repeat it."""
    text = _written(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN - 30]}... ({len(text):,} characters)"


def _written(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and value.bit_length() > 256:
        return _long_integer(value)
    if isinstance(value, list):
        return "[" + ", ".join(_written(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{_key(str(key))} = {_written(item)}" for key, item in value.items())
        return "{ " + pairs + " }" if value else "{}"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _long_integer(value: int) -> str:
    """An integer of more than about 77 digits, as its first digits and its length
    (str() refuses integers of more than 4,300 digits)."""
    try:
        digits = str(abs(value))
    except ValueError:
        return f"{'-' if value < 0 else ''}an integer of about {int(value.bit_length() * math.log10(2)):,} digits"
    return f"{'-' if value < 0 else ''}{digits[:12]}...({len(digits):,} digits)"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)
_DURATION_HINT = 'write a number and a unit, e.g. "30s", "5m", "2h", "1h30m", "3d" or "4 hours"'


def parse_duration(text: object) -> float:
    """Seconds in a duration string, rounded to the µs; raises ValueError with a hint on
    bad input, and for more than `MAX_SECONDS`.

    A bare number (TOML int or float) is taken as seconds.
    """
    if isinstance(text, bool):
        raise ValueError(f"{show(text)} is not a duration; {_DURATION_HINT}")
    if isinstance(text, int):  # compared as an int: 10**309 has no float
        if text < 0:
            raise ValueError(f"{show(text)} is negative; a duration is zero or more")
        if text > MAX_SECONDS:
            raise ValueError(f"{show(text)} seconds is too long; a duration is at most {_MAX_SHOWN}")
        return float(text)
    if isinstance(text, float):
        if math.isnan(text) or text == -math.inf:
            raise ValueError(f"{show(text)} is not a duration; {_DURATION_HINT}")
        if text < 0:
            raise ValueError(f"{show(text)} is negative; a duration is zero or more")
        if text > MAX_SECONDS:
            raise ValueError(f"{show(text)} seconds is too long; a duration is at most {_MAX_SHOWN}")
        return round(text, 6)
    if not isinstance(text, str):
        raise ValueError(f"{show(text)} is not a duration; {_DURATION_HINT}")
    pos, total, parts = 0, 0.0, 0
    stripped = text.strip()
    while pos < len(stripped):
        match = _PART.match(stripped, pos)
        if match is None or match.group(2).lower() not in UNITS:
            raise ValueError(f"{show(text)} is not a duration; {_DURATION_HINT}")
        total += float(match.group(1)) * UNITS[match.group(2).lower()]
        pos = match.end()
        parts += 1
    if parts == 0:
        raise ValueError(f"{show(text)} is not a duration; {_DURATION_HINT}")
    if total > MAX_SECONDS:  # inf too, from a number with hundreds of digits
        raise ValueError(f"{show(text)} is too long; a duration is at most {_MAX_SHOWN}")
    return round(total, 6)


_RATE_HINT = 'write a count per period, e.g. "20000/h", "5/s", "100/d" or "1/5m"'


def parse_rate(text: object) -> float:
    """Events per second in a rate string like "20000/h"; raises ValueError."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError(f"{show(text)} is not a rate; {_RATE_HINT}")
    count_text, period_text = (part.strip() for part in text.split("/"))
    try:
        count = float(count_text)
    except ValueError:
        raise ValueError(f"{show(text)} is not a rate; {_RATE_HINT}") from None
    if period_text and period_text[0].isalpha():
        period_text = "1" + period_text
    try:
        period = parse_duration(period_text)
    except ValueError as exc:
        if "too long" in str(exc):
            raise ValueError(f"{show(text)}: the period {exc}") from None
        raise ValueError(f"{show(text)} is not a rate; {_RATE_HINT}") from None
    if not math.isfinite(count) or not math.isfinite(period):
        raise ValueError(f"{show(text)} is not a finite rate; {_RATE_HINT}")
    if count < 0 or period <= 0:
        raise ValueError(f"{show(text)} is not a rate; the count must be >= 0 and the period > 0")
    rate = count / period
    if not math.isfinite(rate):
        raise ValueError(f"{show(text)} is not a finite rate; {_RATE_HINT}")
    return rate


def format_duration(seconds: float) -> str:
    """Compact human form: 0s, 45s, 5m, 2h30m, 3d4h (sub-second as ms)."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    out = []
    rest = seconds
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if rest >= size:
            whole = int(rest // size)
            out.append(f"{whole}{unit}")
            rest -= whole * size
    if rest or not out:
        out.append(f"{rest:g}s")
    return "".join(out)
