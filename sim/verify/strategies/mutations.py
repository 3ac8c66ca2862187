"""What a fuzzer would try on a scenario file: extreme numbers and durations, and where they go."""

from __future__ import annotations

import re

from hypothesis import strategies as st

# -- fuzzing: inputs a fuzzer would try on a scenario file ----------------------------

#: What `mutated_files` puts in place of a number: zero, a negative, the largest float,
#: an integer no float holds (TOML allows it), and the three floats that are no numbers.
EXTREME_NUMBERS = ("0", "-1", "1e308", "1" + "0" * 309, "nan", "inf", "-inf")
#: A duration no run could simulate (2,738 years).
HUGE_DURATION = '"999999d"'

#: A number as written in TOML, or the digits inside a duration, rate or score change
#: ("2h", "20000/h", "+10").
_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])|(?<=[\"+=/ -])\d+(?:\.\d+)?(?=[a-z/ ])")
#: A duration string ("2h", "30 minutes", "1h30m").
_DURATION = re.compile(r'"\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w|mo|seconds?|minutes?|hours?|days?|weeks?)[^"]*"')


def number_spans(text: str) -> list[tuple[int, int]]:
    """Where the numbers of a scenario (or CSV) text are, comments left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for line in text.splitlines(keepends=True):
        cut = line.find("#")
        end = start + (cut if cut >= 0 else len(line))
        spans.extend(match.span() for match in _NUMBER.finditer(text, start, end))
        start += len(line)
    return spans


def duration_spans(text: str) -> list[tuple[int, int]]:
    """Where the duration strings of a scenario text are ("2h", with the quotes)."""
    return [match.span() for match in _DURATION.finditer(text)]


def mutated_files(text: str) -> st.SearchStrategy[bytes]:
    """A scenario file as a fuzzer would mangle it: one number replaced by an extreme
    (`EXTREME_NUMBERS`), one duration made huge, or a few bytes flipped, inserted or
    deleted. For a property that ``sim check`` either accepts a file (and ``sim run`` then
    runs it) or says what is wrong, never with a traceback. Shrinks towards the first
    number and the first extreme."""
    numbers = number_spans(text)
    durations = duration_spans(text)
    options: list[st.SearchStrategy[bytes]] = []
    if numbers:
        options.append(
            st.builds(
                lambda span, extreme: (text[: span[0]] + extreme + text[span[1] :]).encode(),
                st.sampled_from(numbers),
                st.sampled_from(EXTREME_NUMBERS),
            )
        )
    if durations:
        options.append(
            st.sampled_from(durations).map(lambda span: (text[: span[0]] + HUGE_DURATION + text[span[1] :]).encode())
        )
    options.append(_flipped(text.encode()))
    return st.one_of(options)


@st.composite
def _flipped(draw: st.DrawFn, data: bytes) -> bytes:
    mangled = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not mangled:
            break
        at = draw(st.integers(0, len(mangled) - 1))
        how = draw(st.sampled_from(("replace", "insert", "delete")))
        if how == "replace":
            mangled[at] = draw(st.integers(0, 255))
        elif how == "insert":
            mangled.insert(at, draw(st.sampled_from(b'0123456789"[]{}=.,-+#\n\x00\xff')))
        else:
            del mangled[at]
    return bytes(mangled)
