"""`sim import --activities` on a big Bulk Activity Extract: wall time and peak memory,
against sim's own CSV replay loader reading the same external rows in the same run.

An export of N rows (default 200,000) is generated: 70% external activities (form fills
with their Form Fields, page visits, link clicks, by 20,000 leads) and 30% produced by the
acme campaigns (Change Score, Change Data Value with a campaignId), over a day. Two fresh
processes are measured from outside (`_harness.run_child`: wall and peak RSS):

- import: `sim import tests/data/marketo/acme -o big.toml --activities big.csv`
  (reading the export, classifying every row, writing the replay, checking the scenario);
- peer: `sim check big.toml`, sim's own loader on the replay import wrote (the same
  external rows, in sim's CSV format).

The ratio import / peer is what the importer costs over reading the rows at all.

    .venv/bin/python benchmarks/import_speed.py                  # 200,000 rows, ~1 min
    .venv/bin/python benchmarks/import_speed.py --rows 1000000   # a million
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _harness import SIM, run_child, table

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "tests" / "data" / "marketo" / "acme"
COLUMNS = [
    "marketoGUID", "leadId", "activityDate", "activityTypeId", "campaignId",
    "primaryAttributeValueId", "primaryAttributeValue", "attributes",
]  # fmt: skip
START = datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC)


def php(fields: dict[str, str]) -> str:
    """A flat PHP-serialized array, as Marketo writes a fill's "Form Fields"."""
    body = "".join(f's:{len(k.encode())}:"{k}";s:{len(v.encode())}:"{v}";' for k, v in fields.items())
    return f"a:{len(fields)}:{{{body}}}"


def write_export(path: Path, rows: int, *, seed: int = 1) -> None:
    draw = random.Random(seed)
    step = 86400 / rows
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(rows):
            at = (START + timedelta(seconds=i * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
            lead = str(5001 + draw.randrange(20_000))
            kind = draw.random()
            if kind < 0.3:
                country = draw.choice(("US", "Germany", "France"))
                attributes = {"Form Fields": php({"Country": country, "Email": f"{lead}@acme.example"})}
                row = [lead, at, 2, "", 101, "Contact Us", json.dumps(attributes)]
            elif kind < 0.5:
                row = [lead, at, 1, "", 7, "/pricing", json.dumps({"Webpage URL": "/pricing"})]
            elif kind < 0.7:
                link = "https://acme.example/pricing"
                row = [lead, at, 3, "", 9, link, json.dumps({"Link ID": 9})]
            elif kind < 0.85:
                row = [lead, at, 22, 1001, "", "Lead Score", json.dumps({"Change Value": "+10", "New Value": 10})]
            else:
                attributes = {"New Value": "Engaged", "Old Value": "", "Reason": "Change Data Value"}
                row = [lead, at, 13, 1001, "", "Lead Status", json.dumps(attributes)]
            writer.writerow([f"guid-{i}", *row])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder, "big.csv")
        write_export(export, args.rows)
        scenario = Path(folder, "big.toml")
        imported = run_child([*SIM, "import", str(ACME), "-o", str(scenario), "--activities", str(export)])
        replayed = Path(folder, "big-activities.csv").read_text(encoding="utf-8").count("\n") - 1
        checked = run_child([*SIM, "check", str(scenario)])
    rows = [
        ["sim import --activities", f"{args.rows:,}", f"{imported.wall:.1f}", f"{args.rows / imported.wall:,.0f}",
         f"{imported.peak_mb:.0f}"],
        ["sim check (its replay)", f"{replayed:,}", f"{checked.wall:.1f}", f"{replayed / checked.wall:,.0f}",
         f"{checked.peak_mb:.0f}"],
    ]  # fmt: skip
    print(table(["process", "rows", "wall s", "rows/s", "peak MB"], rows))
    print(f"import / check wall: {imported.wall / checked.wall:.1f}x; per row: "
          f"{(imported.wall / args.rows) / (checked.wall / replayed):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
