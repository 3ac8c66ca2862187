"""sim.marketo.import_report: the report's text, JSON and counts."""

from __future__ import annotations

from sim.marketo.import_report import CampaignReport, ImportReport, format_report


def report() -> ImportReport:
    written = CampaignReport(marketo_id=7, name="Form Fill", sim_name="Form Fill (7)", kind="trigger")
    written.add('trigger 1 "Fills Out Form"', "mapped", '{ trigger = "fills_out_form" }', "trigger")
    written.add("flow", "todo", "not exported")
    dropped = CampaignReport(marketo_id=8, name="Opens", kind="trigger")
    dropped.add('trigger 1 "Opens Email"', "skipped", "not modelled", "trigger")
    return ImportReport(campaigns=[written, dropped], notes=["time zero is now"])


def test_text() -> None:
    assert format_report(report()) == (
        'campaign 7 "Form Fill": trigger as "Form Fill (7)"\n'
        '  mapped  trigger 1 "Fills Out Form": { trigger = "fills_out_form" }\n'
        "  todo    flow: not exported\n"
        'campaign 8 "Opens": not written\n'
        '  skipped  trigger 1 "Opens Email": not modelled\n'
        "note: time zero is now\n"
        "2 campaigns read, 1 written.\n"
        "triggers: 1 mapped, 0 approximated, 1 skipped\n"
        "filters: 0 mapped, 0 approximated, 0 skipped\n"
        "steps: 0 mapped, 0 approximated, 0 skipped\n"
        "to do: 1 flow not in the export (the TODO lines above)\n"
    )


def test_json() -> None:
    data = report().to_json()
    assert data["campaigns"][1] == {
        "marketo_id": 8,
        "name": "Opens",
        "sim_name": None,
        "kind": "trigger",
        "lines": [
            {"subject": 'trigger 1 "Opens Email"', "outcome": "skipped", "detail": "not modelled", "kind": "trigger"}
        ],
    }
    assert data["campaigns"][0]["lines"][1]["kind"] is None
    assert data["notes"] == ["time zero is now"]
    assert data["counts"]["trigger"] == {"mapped": 1, "approximated": 0, "skipped": 1}
    assert data["counts"]["todo"] == {"flow": 1}
