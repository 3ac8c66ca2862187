"""sim.marketo.rule_logic: a smart list's filter logic and the conjunction sim keeps."""

from __future__ import annotations

import pytest

from sim.marketo.rule_logic import match_logic, parse_logic


@pytest.mark.parametrize(
    ("text", "numbers", "kept", "exact"),
    [
        ("1 and 2", [1, 2], [1, 2], True),
        ("1 and (2 or 3)", [1, 2, 3], [1, 2], False),
        ("(1 or 2) and (3 or 4) and 5", [1, 2, 3, 4, 5], [1, 3, 5], False),
        ("1 AND 2 OR 3", [1, 2, 3], [1, 2], False),  # "and" binds tighter, as in Marketo's UI
        ("((4))", [4], [4], True),
    ],
)
def test_custom_logic_keeps_the_first_branch_of_every_or(
    text: str, numbers: list[int], kept: list[int], exact: bool
) -> None:
    logic = parse_logic(text)
    assert (logic.numbers(), logic.kept(), logic.exact()) == (numbers, kept, exact)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 and", '"1 and" ends too early; write e.g. "1 and (2 or 3)"'),
        ("1 and (2 or 3", 'a "(" is not closed in "1 and (2 or 3"'),
        ("1 2", 'unexpected "2" in "1 2"'),
        ("1 xor 2", 'cannot read "xor 2" in "1 xor 2"; write e.g. "1 and (2 or 3)"'),
        ("", 'the logic is empty; write e.g. "1 and (2 or 3)"'),
    ],
)
def test_unreadable_logic_says_what(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_logic(text)
    assert str(caught.value) == message


def test_all_and_any() -> None:
    assert match_logic("all", 3, None).kept() == [1, 2, 3]
    assert match_logic("any", 3, None).kept() == [1]  # "any" is 1 or 2 or 3
    assert match_logic("any", 1, None).exact()
    assert match_logic("custom", 3, "2 and 3").kept() == [2, 3]


def test_custom_logic_naming_a_filter_the_list_lacks_is_refused() -> None:
    """ "1 and 4" over one filter: the campaign's filters are then ANDed, and the report
    says why (sim.marketo.campaigns.map_filters), not silently mapped."""
    with pytest.raises(ValueError) as caught:
        match_logic("custom", 1, "1 and 4")
    assert str(caught.value) == '"1 and 4" names filter 4, but the smart list has 1 filter'
    with pytest.raises(ValueError) as caught:
        match_logic("custom", 2, "0 or 3")
    assert str(caught.value) == '"0 or 3" names filters 0, 3, but the smart list has 2 filters'
