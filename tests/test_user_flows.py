"""sim.marketo.user_flows: the --flows file read, shape-checked, and what it names declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.marketo.declarations import Declarations
from sim.marketo.problems import ExportError
from sim.marketo.user_flows import declare, read_user_flows, user_executed

DATA = Path(__file__).parent / "data" / "marketo"


def test_the_acme_flows_file() -> None:
    flows = read_user_flows(DATA / "acme-flows.toml")
    assert list(flows.flows) == ["Contact Us Form Fill", "Score Lead", "1004"]
    assert [s["step"] for s in flows.flows["1004"]] == ["change_data_value", "add_to_list"]
    assert user_executed(flows.flows.values()) == ["Score Lead", "Route Lead"]
    d = Declarations()
    for steps in flows.flows.values():
        declare(steps, d, "Lead Lifecycle")
    assert (list(d.fields), d.numeric, list(d.lists)) == (
        ["Lead Status", "Country", "Lead Score"],
        {"Lead Score"},
        ["MQL"],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = ", "TOML syntax error: Invalid value (at end of document)"),
        ("", "no flows in it; see docs/import.md"),
        (
            '"A" = 3',
            'campaign "A": must be an array of steps like [{ step = "change_score", change = "+5" }], not an integer',
        ),
        (
            '"A" = [{ change = "+5" }]',
            'campaign "A", step 1: a step is a table with "step" (its kind) and its parameters',
        ),
    ],
)
def test_problems(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "flows.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExportError) as caught:
        read_user_flows(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}: {message}"]


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        read_user_flows(tmp_path / "nope.toml")
    assert str(caught.value) == f"{tmp_path}/nope.toml: cannot read: No such file or directory"
