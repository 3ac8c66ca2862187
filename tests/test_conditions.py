"""Smart-list logic: each filter operator, list and program filters, trigger constraints (R1, R13)."""

from __future__ import annotations

import pytest

from sim.run.conditions import field_holds, holds, trigger_matches
from sim.scenario.model import FieldFilter, ListFilter, Program, ProgramStatusFilter, Trigger, Value, same_value
from sim.scenario.people import Person


@pytest.mark.parametrize(
    ("op", "values", "field", "expected"),
    [
        ("is", ("US",), "us", True),  # Marketo compares strings without case
        ("is", ("US", "DE"), "de", True),  # any of several values
        ("is", ("US",), "USA", False),
        ("is", (5,), 5.0, True),
        ("is", (1,), True, False),  # a boolean is not the number 1
        ("is not", ("US",), "Us", False),
        ("is not", ("US",), None, True),
        ("contains", ("market",), "VP Marketing", True),
        ("not contains", ("market",), "Engineer", True),
        ("starts with", ("vp",), "VP Sales", True),
        ("starts with", ("vp",), None, False),
        ("greater than", (10,), 11, True),
        ("greater than", (10,), 10, False),
        ("at least", (10,), 10, True),
        ("less than", (10,), "9", True),  # a numeric string compares as a number
        ("at most", (10,), 10.5, False),
        ("greater than", (10,), "ten", False),  # not a number: never greater
        ("greater than", (10,), None, False),
        ("is empty", (), "", True),
        ("is empty", (), None, True),
        ("is empty", (), 0, False),
        ("is not empty", (), "x", True),
    ],
)
def test_field_operators(op: str, values: tuple[Value, ...], field: Value, expected: bool) -> None:
    assert field_holds(FieldFilter(field="f", op=op, values=values), field) is expected


def test_list_and_program_status_filters() -> None:
    programs = {"P": Program(name="P", statuses=("Not in Program", "Member", "MQL"))}
    person = Person(id="ann", fields={}, lists={"Hot"}, statuses={"P": 2})
    assert holds(ListFilter(list="Hot"), person, programs)
    assert not holds(ListFilter(list="Hot", member=False), person, programs)
    assert holds(ProgramStatusFilter(program="P", status="MQL"), person, programs)
    assert holds(ProgramStatusFilter(program="P", status="Member", negate=True), person, programs)
    newcomer = Person(id="bob", fields={})
    assert holds(ProgramStatusFilter(program="P", status="Not in Program"), newcomer, programs)


def test_trigger_constraints_need_every_key_to_match_any_value() -> None:
    trigger = Trigger(name="data_value_changes", constraints=(("field", ("country",)), ("new_value", ("US", "DE"))))
    assert trigger_matches(trigger, {"field": "Country", "old_value": "", "new_value": "de"})
    assert not trigger_matches(trigger, {"field": "country", "new_value": "FR"})
    assert not trigger_matches(trigger, {"field": "city", "new_value": "US"})
    assert trigger_matches(Trigger(name="fills_out_form"), {"form": "anything"})


def test_same_value() -> None:
    assert same_value("Acme", "ACME")
    assert same_value(None, None)
    assert not same_value(None, "")
    assert not same_value(False, 0)
