"""Writes the acme activity fixtures (tests/data/marketo/acme-activities/): a Bulk Activity
Extract CSV and two Get Lead Activities pages, following the acme instance of the plan
(campaigns 1001-1007, leads 5001-5040) and what its campaigns' flows produce.

Run it again only to change the fixture: `python tests/data/marketo/make_acme_activities.py`.
The draws come from a fixed seed, so it writes the same files every time.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sim.marketo.activities import COLUMNS as ALL_COLUMNS

HERE = Path(__file__).parent / "acme-activities"
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
COLUMNS = ALL_COLUMNS[:-1]  # no actionResult


def php(fields: dict[str, str]) -> str:
    """A flat PHP-serialized array, as Marketo writes a fill's "Form Fields"."""
    body = "".join(f's:{len(k.encode())}:"{k}";s:{len(v.encode())}:"{v}";' for k, v in fields.items())
    return f"a:{len(fields)}:{{{body}}}"


def activities() -> list[dict[str, object]]:
    draw = random.Random(15)
    rows: list[dict[str, object]] = []

    def add(lead: int, at: datetime, type_id: int, campaign: int | None, pid: int | None, pv: str, **attrs: object):
        rows.append(
            {
                "leadId": lead,
                "activityDate": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "activityTypeId": type_id,
                "campaignId": campaign,
                "primaryAttributeValueId": pid,
                "primaryAttributeValue": pv,
                "attributes": attrs,
            }
        )

    def pricing_score(lead: int, at: datetime, old: int) -> None:
        when = at + timedelta(seconds=draw.randint(2, 20))
        change = {"Change Value": "+2", "Old Value": old, "New Value": old + 2, "Reason": "Pricing Interest"}
        add(lead, when, 22, 1006, 31, "Lead Score", **change)

    score: dict[int, int] = {}
    # Visits of /pricing before a form fill (5037, 5038) and without one (5021-5026).
    for lead in (5021, 5022, 5023, 5024, 5025, 5026, 5037, 5038):
        at = START + timedelta(seconds=draw.randint(60, 9000))
        add(
            lead,
            at,
            1,
            None,
            3001,
            "acme.example/pricing",
            **{"Webpage URL": "/pricing", "Client IP Address": "203.0.113.7"},
        )
        pricing_score(lead, at, 0)
        score[lead] = 2
    for lead in range(5027, 5037):  # clicks of the pricing link
        at = START + timedelta(seconds=draw.randint(60, 12000))
        add(lead, at, 3, None, 4001, "https://acme.example/pricing", **{"Webpage ID": 3000, "Referrer URL": ""})
        pricing_score(lead, at, 0)
        score[lead] = 2
    fillers = [*range(5001, 5021), 5037, 5038]
    for lead in fillers:
        at = START + timedelta(seconds=draw.randint(0, 12600)) if lead != 5001 else START
        if lead in (5037, 5038):
            at = START + timedelta(seconds=9300 + (lead - 5037) * 600)
        country = "" if lead in (5018, 5019, 5020) else ("US" if lead % 2 else "Germany")
        fields = {"Email": f"lead{lead}@example.com", "Country": country, "formid": "1101", "munchkinId": "123-ABC-456"}
        add(lead, at, 2, None, 1101, "Contact Us", **{"Form Fields": php(fields), "Client IP Address": "198.51.100.4"})
        if lead not in score:
            add(lead, at, 12, None, None, "", **{"Source Type": "Web form fillout", "Form Name": "Contact Us"})
        if country:
            add(
                lead,
                at,
                13,
                None,
                41,
                "Country",
                **{"New Value": country, "Old Value": None, "Source": "Web form fillout"},
            )
            wait = timedelta(seconds=draw.randint(5, 45))
            old = score.get(lead, 0)
            status = "Engaged US" if country == "US" else "Engaged"
            flow = "Marketo Flow Action"
            add(
                lead, at + wait, 13, 1001, 42, "Lead Status", **{"New Value": status, "Old Value": None, "Source": flow}
            )
            add(
                lead,
                at + wait + timedelta(seconds=1),
                22,
                1001,
                31,
                "Lead Score",
                **{"Change Value": "+10", "Old Value": old, "New Value": old + 10},
            )
            add(lead, at + wait + timedelta(seconds=1), 47, 1001, 1003, "Sync to Sales", Source=flow)
            add(
                lead,
                at + wait + timedelta(seconds=2),
                22,
                1002,
                31,
                "Lead Score",
                **{"Change Value": "+5", "Old Value": old + 10, "New Value": old + 15},
            )
            add(
                lead,
                at + wait + timedelta(seconds=2),
                13,
                1004,
                42,
                "Lead Status",
                **{"New Value": "Routed", "Old Value": status, "Source": flow},
            )
            add(lead, at + wait + timedelta(seconds=2), 24, 1004, 2102, "MQL", Source=flow)
            moment = at + wait + timedelta(seconds=draw.randint(30, 300))
            add(lead, moment, 46, 1003, None, "Web", Description="Filled out Contact Us", Source=flow)
        if 5015 <= lead <= 5020:  # a visit of /pricing after the fill
            later = at + timedelta(seconds=draw.randint(120, 900))
            add(lead, later, 1, None, 3001, "acme.example/pricing", **{"Webpage URL": "/pricing"})
            pricing_score(lead, later, 15 if country else 0)
    for lead in (5003, 5007, 5011, 5039):  # email opens: not modelled
        at = START + timedelta(seconds=draw.randint(600, 13000))
        add(lead, at, 10, None, 501, "Acme Newsletter March", **{"Mailing ID": 501, "Device": "Desktop"})
        if lead == 5039:
            add(
                lead,
                at + timedelta(seconds=40),
                22,
                1007,
                31,
                "Lead Score",
                **{"Change Value": "+1", "Old Value": 0, "New Value": 1},
            )
    # A sales user sets lead 5040's country (no campaign: external).
    add(5040, START + timedelta(seconds=7777), 13, None, 41, "Country", **{"New Value": "US", "Source": "Sales user"})
    for number, row in enumerate(sorted(rows, key=lambda r: (r["activityTypeId"], r["activityDate"])), start=1):
        row["marketoGUID"] = str(700000 + number)
    return rows


def write() -> None:
    rows = activities()
    with open(HERE / "acme-activities.csv", "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in sorted(rows, key=lambda r: int(str(r["marketoGUID"]))):
            cells = {**row, "attributes": json.dumps(row["attributes"], separators=(",", ":"))}
            writer.writerow(["" if cells[name] is None else cells[name] for name in COLUMNS])
    # Get Lead Activities for leads 5001-5003, in two pages of at most 10.
    picked = sorted((r for r in rows if int(str(r["leadId"])) <= 5003), key=lambda r: str(r["activityDate"]))
    for page, chunk in enumerate((picked[:10], picked[10:]), start=1):
        result = []
        for row in chunk:
            record = {"id": int(str(row["marketoGUID"])), "marketoGUID": row["marketoGUID"]}
            record.update({k: row[k] for k in COLUMNS[1:7] if row[k] is not None})
            record["attributes"] = [{"name": k, "value": v} for k, v in row["attributes"].items()]  # type: ignore[union-attr]
            result.append(record)
        more = page == 1
        body = {
            "requestId": f"e42b#{page}",
            "success": True,
            "nextPageToken": f"GIYDAOBNGEYS2MBWKQ{page}====",
            "moreResult": more,
            "result": result,
        }
        (HERE / f"lead-activities-page{page}.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
