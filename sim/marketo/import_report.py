"""What `sim import` did with each campaign and each of its rules and steps: mapped (sim
has the same thing), approximated (sim has something close; the line says how), skipped
(sim has nothing for it; the line says why and what that changes) or to do (missing from
the export: the user must supply it). Printed as text, and written as JSON.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import attrs

Outcome = Literal["mapped", "approximated", "skipped", "todo"]
OUTCOMES: tuple[Outcome, ...] = ("mapped", "approximated", "skipped", "todo")
#: A rule or step is mapped, approximated or skipped; "to do" is what the export lacked.
RULE_OUTCOMES: tuple[Outcome, ...] = ("mapped", "approximated", "skipped")

#: What a line is about, for the counts: a trigger, filter or flow step (and choice) is
#: counted per type; the rest ("campaign", "qualification", "schedule", ...) per campaign.
RULE_KINDS = ("trigger", "filter", "step")


@attrs.frozen(kw_only=True)
class Line:
    """One thing of one campaign: ``subject`` ("trigger 1 "Fills Out Form"", "step 2
    "Change Score"", "qualification") and what became of it."""

    subject: str
    outcome: Outcome
    detail: str
    kind: str = ""  # "trigger", "filter", "step" or "" (anything else)


@attrs.define(eq=False, kw_only=True)
class CampaignReport:
    """The lines of one Marketo campaign; ``sim_name`` None: not written."""

    marketo_id: int
    name: str
    sim_name: str | None = None
    kind: str = ""
    lines: list[Line] = attrs.field(factory=list)

    def add(self, subject: str, outcome: Outcome, detail: str, kind: str = "") -> None:
        self.lines.append(Line(subject=subject, outcome=outcome, detail=detail, kind=kind))


@attrs.define(eq=False, kw_only=True)
class ImportReport:
    campaigns: list[CampaignReport] = attrs.field(factory=list)
    #: What applies to the whole scenario: fields, lists, programs, time zero, traffic.
    notes: list[str] = attrs.field(factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Outcome counts of the triggers, filters and flow steps (choices included), and
        under "todo" what the export lacked (a smart list, a flow: by subject)."""
        counts: dict[str, Counter[str]] = {kind: Counter() for kind in RULE_KINDS}
        todo: Counter[str] = Counter()
        for campaign in self.campaigns:
            for line in campaign.lines:
                if line.outcome == "todo":
                    todo[line.subject] += 1
                elif line.kind in counts:
                    counts[line.kind][line.outcome] += 1
        found: dict[str, dict[str, int]] = {
            kind: {outcome: counter[outcome] for outcome in RULE_OUTCOMES} for kind, counter in counts.items()
        }
        found["todo"] = dict(sorted(todo.items()))
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "campaigns": [
                {
                    "marketo_id": c.marketo_id,
                    "name": c.name,
                    "sim_name": c.sim_name,
                    "kind": c.kind or None,
                    "lines": [attrs.asdict(line) | {"kind": line.kind or None} for line in c.lines],
                }
                for c in self.campaigns
            ],
            "notes": list(self.notes),
            "counts": self.counts(),
        }


def format_report(report: ImportReport) -> str:
    """The report as ``sim import`` prints it: a block per campaign, the notes, the counts."""
    out = []
    for campaign in report.campaigns:
        if campaign.sim_name is None:
            head = f'campaign {campaign.marketo_id} "{campaign.name}": not written'
        else:
            renamed = "" if campaign.sim_name == campaign.name else f' as "{campaign.sim_name}"'
            head = f'campaign {campaign.marketo_id} "{campaign.name}": {campaign.kind}{renamed}'
        out.append(head)
        width = max((len(line.outcome) for line in campaign.lines), default=0)
        out += [f"  {line.outcome:<{width}}  {line.subject}: {line.detail}" for line in campaign.lines]
    out += [f"note: {note}" for note in report.notes]
    written = sum(c.sim_name is not None for c in report.campaigns)
    read = len(report.campaigns)
    out.append(f"{read} campaign{'' if read == 1 else 's'} read, {written} written.")
    counts = report.counts()
    todo = counts.pop("todo")
    for kind, outcomes in counts.items():
        parts = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
        out.append(f"{kind}s: {parts}")
    if todo:
        parts = ", ".join(f"{count} {subject}{'s' if count != 1 else ''}" for subject, count in todo.items())
        out.append(f"to do: {parts} not in the export (the TODO lines above)")
    return "\n".join(out) + "\n"
