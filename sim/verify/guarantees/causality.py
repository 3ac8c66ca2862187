"""Guarantees 3 and 5, what starts a run: request causality (R5) and trigger causality (R1, R17).

Each run a request or an activity started comes after its cause, for the same person;
and the converse, so nothing is lost: each request, and each activity that fires an
active trigger campaign whose filters held, started exactly one run of it.
"""

from __future__ import annotations

from collections import defaultdict

import attrs

from sim.run.activity import Activity
from sim.run.conditions import all_hold, trigger_matches
from sim.scenario import model
from sim.scenario.model import Campaign
from sim.scenario.people import Person
from sim.verify.guarantees.log import Log, Violation, reporter
from sim.verify.guarantees.replay import Probe, Replay, replay


def check_request_causality(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """A requested run starts after the request that caused it; every request gets its run."""
    bad = reporter("request causality", "R5")
    out: list[Violation] = []
    for activity in log.activities:
        if activity.type != "request_campaign":
            continue
        target = activity.details.get("campaign")
        runs = [r for r in log.caused.get(activity.seq, ()) if r.campaign == target]
        if len(runs) != 1:
            out.append(bad(f'a request for "{target}" led to {len(runs)} runs, not 1', activity))
        for record in runs:
            first = record.first
            if first.seq <= activity.seq or first.time < activity.time:
                out.append(bad("a requested run started before its request", first, activity))
            if record.person != activity.person or record.parent != activity.run:
                out.append(bad("a requested run's person or parent is not its requester's", activity, first))
    for record in log.runs.values():
        if record.via == "campaign_is_requested":
            cause = log.by_seq.get(record.cause) if record.cause is not None else None
            if cause is None or cause.type != "request_campaign":
                out.append(bad("a requested run with no request before it", record.first))
    return out


class Firings(Probe):
    """R1, R17: each activity that matches an active trigger campaign's trigger, and
    whether the campaign's filters held for its person just after it."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.listeners: dict[str, list[tuple[Campaign, model.Trigger]]] = defaultdict(list)
        for campaign in log.scenario.campaigns.values():
            if campaign.kind == "trigger" and campaign.active:
                for trigger in campaign.triggers:
                    self.listeners[trigger.activity].append((campaign, trigger))
        #: (cause seq, campaign) -> did the filters hold when the trigger fired?
        self.expected: dict[tuple[int, str], bool] = {}

    def after(self, activity: Activity, person: Person) -> None:
        expected = self.expected
        for campaign, trigger in self.listeners.get(activity.type, ()):
            if (activity.seq, campaign.name) in expected or not trigger_matches(trigger, activity.details):
                continue
            if activity.type == "request_campaign" and activity.details.get("campaign") != campaign.name:
                continue
            expected[activity.seq, campaign.name] = all_hold(campaign.filters, person, self.log.scenario.programs)


def check_trigger_causality(log: Log, replayed: Replay | None = None) -> list[Violation]:
    """A triggered run starts after the activity that fired it, when its filters held then.

    And the converse, so nothing is lost: every activity that matches an active trigger
    campaign's trigger, with the campaign's filters holding at that moment, starts exactly
    one run (or one skipped run) of it (R1, R17).
    """
    bad = reporter("trigger causality", "R1, R17")
    if replayed is None:
        replayed = replay(log, [Firings(log)])
    expected = replayed.probe(Firings).expected
    # The filters were judged on the replayed state: the replay's findings are this check's too.
    out = [attrs.evolve(violation, guarantee="trigger causality") for violation in replayed.changes]
    for record in log.runs.values():
        if record.via not in model.TRIGGER_ACTIVITIES:
            continue
        cause = log.by_seq.get(record.cause) if record.cause is not None else None
        if cause is None or cause.seq >= record.first.seq or cause.time > record.first.time:
            out.append(bad("a triggered run with no activity before it that fired it", record.first))
            continue
        held = expected.get((cause.seq, record.campaign))
        if held is None or cause.person != record.person:
            out.append(bad(f'"{record.campaign}" ran for an activity none of its triggers match', cause, record.first))
        elif held is False and record.first.details.get("reason") != "smart list filters do not hold":
            out.append(bad("a triggered run whose smart list filters did not hold when it fired", cause, record.first))
        elif held is True and record.skipped and not str(record.first.details.get("reason", "")).startswith("qualif"):
            out.append(bad("a run skipped for its filters, which held when it fired", cause, record.first))
    for (seq, name), held in expected.items():
        runs = [r for r in log.caused.get(seq, ()) if r.campaign == name]
        requested = log.by_seq[seq].type == "request_campaign"
        want = 1 if held or requested else 0
        if len(runs) != want:
            out.append(
                bad(f'an activity that should fire "{name}" {want} time(s) fired it {len(runs)}', log.by_seq[seq])
            )
    return out
